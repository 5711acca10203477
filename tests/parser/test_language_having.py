"""HAVING: a count or an aggregate compared, per group."""

from tests.parser.language_support import flat, hr, shop


def test_more_than_n_counted_rows():
    assert flat(shop().ask("Which customers have more than 2 orders?")) == ["Ada Lovelace"]


def test_at_least_n():
    assert sorted(flat(hr().ask("Show departments with at least 2 employees"))) == [
        "Engineering",
        "Sales",
    ]


def test_an_aggregate_compared():
    assert flat(shop().ask("Which cities have an average age above 40?")) == ["New York"]
