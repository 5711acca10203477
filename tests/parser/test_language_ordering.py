"""Ordering: "ordered by", "sorted descending by", "in alphabetical order"."""

from tests.parser.language_support import flat, shop


def test_ordered_by_a_column():
    assert flat(shop().ask("List products sorted by price")) == [
        "Notebook",
        "Mouse",
        "Keyboard",
        "Compiler Book",
        "Monitor",
    ]


def test_descending():
    assert flat(shop().ask("List the prices of products in descending order")) == [
        180.0,
        60.0,
        45.0,
        20.0,
        3.5,
    ]


def test_alphabetical():
    assert flat(shop().ask("List the cities of customers in alphabetical order")) == [
        "London",
        "London",
        "New York",
        "New York",
        "Rotterdam",
    ]


def test_the_word_order_as_a_table_is_not_an_ordering():
    assert shop().ask("How many orders are there?") == [(6,)]


def test_two_ordering_columns():
    rows = shop().ask("List the name and city of customers sorted by city and then name")
    assert rows == [
        ("Ada Lovelace", "London"),
        ("Alan Turing", "London"),
        ("Barbara Liskov", "New York"),
        ("Grace Hopper", "New York"),
        ("Edsger Dijkstra", "Rotterdam"),
    ]
