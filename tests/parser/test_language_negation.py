"""Negation: "not" with a value is <>, "without" / "never" / "no" with a table is NOT IN."""

from servers.parser.domain import ColumnRef, Op
from tests.parser.language_support import flat, hr, shop


def test_not_a_value():
    db = shop()
    assert db.plan("Show products whose category is not hardware").where[0].op is Op.NE
    assert sorted(flat(db.ask("Show products whose category is not hardware"))) == [
        "Compiler Book",
        "Notebook",
    ]


def test_without_rows_in_another_table():
    assert flat(shop().ask("Which customers have never placed an order?")) == [
        "Edsger Dijkstra",
        "Barbara Liskov",
    ] or sorted(flat(shop().ask("Which customers have never placed an order?"))) == [
        "Barbara Liskov",
        "Edsger Dijkstra",
    ]


def test_no_rows():
    assert flat(hr().ask("Which departments have no employees?")) == ["Legal"]


def test_not_in_keeps_the_excluded_rows_conditions_inside():
    # only Alan has a cancelled order
    rows = shop().ask("Which customers have no orders with status 'cancelled'?")
    assert sorted(flat(rows)) == [
        "Ada Lovelace",
        "Barbara Liskov",
        "Edsger Dijkstra",
        "Grace Hopper",
    ]


def test_never_through_a_link_table():
    # products ← order_items → orders: the link table holds the product keys
    db = shop()
    question = "Which products are not in any order?"
    condition = db.plan(question).where[0]
    assert condition.op is Op.NOT_IN
    assert condition.subquery.select[0].column == ColumnRef("order_items", "product_id")
    assert db.ask(question) == []  # every product was ordered


def test_a_negated_value_of_another_table_excludes_its_rows():
    # "not … shipped orders": customers none of whose orders shipped, not customers
    # with some order that did not ship
    rows = shop().ask("Which customers have not placed shipped orders?")
    assert sorted(flat(rows)) == ["Alan Turing", "Barbara Liskov", "Edsger Dijkstra"]
