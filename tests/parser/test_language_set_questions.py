"""Set questions: "both … and …" is an INTERSECT, "… or …" either value."""

from servers.parser.domain import SetOperator
from tests.parser.language_support import flat, shop


def test_both_values_intersect():
    db = shop()
    plan = db.plan("Which customers ordered both a Keyboard and a Monitor?")
    assert plan.set_operation is not None and plan.set_operation[0] is SetOperator.INTERSECT
    assert flat(db.ask("Which customers ordered both a Keyboard and a Monitor?")) == [
        "Ada Lovelace"
    ]


def test_either_value():
    assert sorted(flat(shop().ask("Show products in the books or stationery category"))) == [
        "Compiler Book",
        "Notebook",
    ]


def test_numbers_joined_by_or_are_either():
    assert sorted(flat(shop().ask("Show customers aged 36 or 41"))) == [
        "Ada Lovelace",
        "Alan Turing",
    ]


def test_contradictory_conditions_on_one_column_intersect():
    db = shop()
    question = "Which cities have customers younger than 40 and customers older than 40?"
    plan = db.plan(question)
    assert plan.set_operation is not None and plan.set_operation[0] is SetOperator.INTERSECT
    assert flat(db.ask(question)) == ["London"]


def test_two_values_of_the_listed_rows_own_column_are_either():
    # a customer lives in one city: "in London and Rotterdam" can only mean either
    assert sorted(flat(shop().ask("List the customers in London and Rotterdam"))) == [
        "Ada Lovelace",
        "Alan Turing",
        "Edsger Dijkstra",
    ]


def test_a_count_of_rows_with_both_values():
    # customers with both a shipped and a pending order: only Ada
    assert shop().ask("How many customers have both shipped and pending orders?") == [(1,)]
