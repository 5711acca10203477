"""The tenancy rule itself (servers/runtime/tenancy.py), without a transport."""

from __future__ import annotations

import pytest

from servers.runtime import tenancy
from servers.runtime.errors import PermissionDenied
from servers.runtime.identity import Principal, reset_principal, set_principal


@pytest.fixture
def as_():
    tokens = []

    def become(principal):
        tokens.append(set_principal(principal))

    yield become
    for token in reversed(tokens):
        reset_principal(token)


def test_internal_caller_sees_and_changes_everything(as_):
    as_(None)
    assert tenancy.owner() == "" and tenancy.filter_tenant() is None
    assert tenancy.visible("a") and tenancy.visible("") and tenancy.may_modify("a") and tenancy.may_modify("")


def test_a_user_sees_own_and_shared_and_changes_only_its_own(as_):
    as_(Principal("key:u", tenant="a", role="user"))
    assert tenancy.owner() == "a" and tenancy.filter_tenant() == "a"
    assert tenancy.visible("a") and tenancy.visible("") and not tenancy.visible("b")
    assert tenancy.may_modify("a") and not tenancy.may_modify("") and not tenancy.may_modify("b")
    with pytest.raises(PermissionDenied):
        tenancy.check_modify("", "connection 'demo'")


def test_an_admin_changes_shared_but_not_another_tenants(as_):
    as_(Principal("key:adm", tenant="a", role="admin"))
    assert tenancy.may_modify("") and tenancy.may_modify("a") and not tenancy.may_modify("b")
    assert not tenancy.visible("b")


def test_visible_to_is_visible_for_a_known_tenant():
    assert tenancy.visible_to("a", None) and tenancy.visible_to("", "b") and tenancy.visible_to("b", "b")
    assert not tenancy.visible_to("a", "b")
