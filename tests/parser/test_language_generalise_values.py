"""Values written lower-case or in the plural find the column that stores them."""

import pytest

from tests.parser.generalise_support import clinic, fleet, library, sports
from tests.parser.language_support import flat


@pytest.mark.parametrize(
    ("make", "question", "expected"),
    [
        (clinic, "How many uninsured patients are there?", [(2,)]),
        (clinic, "How many patients are uninsured?", [(2,)]),
        (library, "How many premium members are there?", [(2,)]),
        (fleet, "How many vans are there?", [(3,)]),
        (fleet, "How many trucks are there?", [(1,)]),
        (fleet, "How many vehicles are in the north region?", [(2,)]),
        (fleet, "How many vehicles are at center depots?", [(4,)]),
        (fleet, "How many vehicles are based in centers?", [(4,)]),
        (sports, "How many teams are from Leeds?", [(1,)]),
        (library, "How many authors are British?", [(2,)]),
        (library, "Count the books written by German authors", [(2,)]),
        (clinic, "How many prescriptions are there for Lipitor?", [(2,)]),
    ],
)
def test_counts_with_a_value(make, question, expected):
    assert make().ask(question) == expected


@pytest.mark.parametrize(
    ("make", "question", "expected"),
    [
        (fleet, "List the depots that are centers", ["North Yard", "South Point"]),
        (fleet, "Which depots are hubs?", ["East Gate"]),
        (clinic, "Which drugs come as a tablet?", ["Amoxil", "Lipitor"]),
        (clinic, "Which patients were prescribed Ventolin?", ["Omar Diaz"]),
        (library, "Which members hold a premium membership?", ["Ivy", "Sam"]),
        (library, "Which members live in Leeds?", ["Ivy", "Ruth"]),
        (library, "Which books were written by Mira Holt?", ["Quiet Rivers"]),
        (sports, "Which teams are in Spain?", ["Bay Sharks"]),
    ],
)
def test_rows_with_a_value(make, question, expected):
    assert sorted(flat(make().ask(question))) == expected


def test_a_value_averaged_by_group():
    assert sorted(clinic().ask("What is the average weight of uninsured patients?")) == [(86.25,)]


def _sites():
    from servers.parser.domain import ColumnKind, SchemaView
    from tests.parser.language_support import database, table

    schema = SchemaView(
        (
            table(
                "Site",
                [
                    ("SiteNo", ColumnKind.INTEGER),
                    ("SiteName", ColumnKind.TEXT),
                    ("SiteKind", ColumnKind.TEXT),
                    ("AreaSqM", ColumnKind.NUMBER),
                    ("OpenedYr", ColumnKind.INTEGER),
                ],
                "SiteNo",
            ),
        )
    )
    rows = [
        (1, "Alpha", "Distribution Center", 500.0, 1999),
        (2, "Beta", "retail outlet", 120.0, 2010),
        (3, "Gamma", "Distribution Center", 800.0, 2015),
    ]
    return database(schema, {"Site": rows})


def test_a_plural_phrase_finds_a_stored_singular():
    db = _sites()
    assert db.ask("How many distribution centers are there?") == [(2,)]
    assert flat(db.ask("List the retail outlets")) == ["Beta"]


def test_opened_after_a_year_on_a_short_year_column():
    assert sorted(flat(_sites().ask("Which sites opened after 2000?"))) == ["Beta", "Gamma"]


def test_all_information_about_rows_lists_every_column():
    rows = library().ask("Show all information about members from Leeds")
    assert sorted(rows) == [
        (1, "Ivy", "Reed", 1990, "Leeds", "premium"),
        (3, "Ruth", "Kim", 1961, "Leeds", "standard"),
    ]
