"""The one name rule every service validates names against."""

from __future__ import annotations

import pytest

from servers.connector.core import CONNECTION_ID
from servers.contracts.ml.validation import MODEL_NAME
from servers.prediction import core as prediction_core
from servers.registry.core import NAME as REGISTRY_NAME
from servers.runtime.names import NAME, is_name
from servers.training import validation as training_validation


@pytest.mark.parametrize("value", ["a", "churn", "churn-v2", "x" * 63, "a1-"])
def test_names_that_follow_the_rule(value):
    assert is_name(value)


@pytest.mark.parametrize("value", ["", "1a", "-a", "Churn", "churn_v2", "x" * 64, "a b", "é", None, 7])
def test_names_that_break_it(value):
    assert not is_name(value)


def test_every_service_uses_the_same_rule():
    assert CONNECTION_ID is NAME
    assert REGISTRY_NAME is NAME
    assert MODEL_NAME is NAME
    assert prediction_core._ALIAS is NAME
    assert training_validation._MODEL_NAME is NAME
