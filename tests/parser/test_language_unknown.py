"""A column the schema does not have never appears in a plan: Unresolved, with the
closest names as suggestions."""

import pytest

from servers.parser.domain import Unresolved
from tests.parser.language_support import hr, shop


def test_unknown_column_raises_with_suggestions():
    with pytest.raises(Unresolved) as caught:
        hr().understand("What is the height of employees?")
    assert "height" in caught.value.what
    assert caught.value.suggestions


def test_nothing_linked_raises():
    with pytest.raises(Unresolved):
        shop().understand("What is the weather on Mars?")


def test_plans_only_name_real_columns():
    db = shop()
    for question in (
        "Show the phone number of customers",
        "List customers by shoe size",
        "average salary of products",
    ):
        try:
            plan = db.plan(question)
        except Unresolved:
            continue
        for selection in plan.select:
            if selection.column and not selection.column.star:
                assert db.schema.column(selection.column) is not None


def test_a_comparison_with_no_column_is_refused_not_dropped():
    with pytest.raises(Unresolved) as caught:
        shop().understand("Which categories are after 1990?")
    assert "1990" in caught.value.what
