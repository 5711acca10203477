"""Counts, count distinct, sum, average, min and max."""

from servers.parser.domain import QueryKind
from tests.parser.language_support import hr, shop


def test_how_many():
    db = shop()
    assert db.understand("How many customers are there?").kind is QueryKind.COUNT
    assert db.ask("How many customers are there?") == [(5,)]


def test_count_distinct():
    assert shop().ask("How many different cities do customers live in?") == [(3,)]


def test_average_minimum_and_maximum():
    assert hr().ask("What is the average, minimum and maximum salary of employees?") == [
        (83000.0, 60000.0, 105000.0)
    ]


def test_total():
    assert shop().ask("What is the total quantity of all order items?") == [(19,)]


def test_average_number_of_is_an_average_not_a_count():
    assert shop().ask("What is the average quantity of order items?")[0][0] > 2


def test_above_the_average_is_a_subquery():
    db = hr()
    plan = db.plan("Which employees earn a salary above the average salary?")
    assert plan.where[0].subquery is not None
    assert sorted(
        r[0] for r in db.ask("Which employees earn a salary above the average salary?")
    ) == ["Maria", "Wei"]


def test_how_much_sums():
    assert hr().ask("How much budget do all departments have combined?") == [(790000.0,)]


def test_how_many_of_a_stored_amount_sums_it():
    from servers.parser.domain import ColumnInfo, ColumnKind, SchemaView, TableInfo
    from tests.parser.language_support import database

    towns = SchemaView(
        (
            TableInfo(
                "districts",
                (
                    ColumnInfo("district_id", ColumnKind.INTEGER, primary_key=True),
                    ColumnInfo("name", ColumnKind.TEXT),
                    ColumnInfo("region", ColumnKind.TEXT),
                    ColumnInfo("population", ColumnKind.INTEGER),
                ),
                ("district_id",),
            ),
        )
    )
    db = database(
        towns,
        {
            "districts": [
                (1, "Old Town", "North", 1200),
                (2, "Harbour", "North", 800),
                (3, "Hill", "South", 500),
            ]
        },
    )
    assert db.ask("How many people live in the North region?") == [(2000,)]
    assert db.ask("How many districts are in the North region?") == [(2,)]
