"""Negation: "not" with a value is <>, "without" / "never" / "no" with a table is NOT IN."""

from servers.parser.domain import Op
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
