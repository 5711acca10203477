"""Superlatives that ask for a value, and aggregates whose column is named by meaning,
on schemas of our own."""

import pytest

from servers.parser.domain import Aggregate, ColumnRef, Unresolved
from tests.parser.generalise_support import clinic, fleet, library, sports
from tests.parser.language_support import flat


@pytest.mark.parametrize(
    ("make", "question", "expected"),
    [
        (sports, "How tall is the tallest player?", 210),
        (sports, "How heavy is the heaviest player?", 112.0),
        (sports, "What is the weight of the lightest player?", 71.0),
        (library, "What is the page count of the thickest book?", 880),
        (library, "What is the highest price of a book?", 31.0),
        (fleet, "What is the largest payload?", 9000),
    ],
)
def test_a_superlative_asking_for_the_value(make, question, expected):
    assert make().ask(question) == [(expected,)]


def test_a_superlative_asking_for_the_row():
    assert flat(library().ask("Which book is the most expensive?")) == ["Winter Maps"]
    assert [row[1] for row in fleet().ask("Which van has the highest mileage?")] == ["AB-101"]


def test_an_aggregate_of_a_word_near_a_measure_in_meaning():
    db = library()
    understanding = db.understand("What is the average penalty paid on loans?")
    assert understanding.plan.select[0].aggregate is Aggregate.AVG
    assert understanding.plan.select[0].column == ColumnRef("loan", "fineAmt")
    assert db.ask("What is the average penalty paid on loans?") == [(10 / 6,)]


def test_per_row_of_the_same_table_groups_nothing():
    assert library().ask("What is the average fee charged per loan?") == [(10 / 6,)]


def test_an_aggregate_with_no_measure_near_is_refused():
    # the clinic's patients carry two measures, neither near "rent"
    with pytest.raises(Unresolved) as raised:
        clinic().understand("What is the average rent of patients?")
    assert "rent" in raised.value.what


@pytest.mark.parametrize(
    ("make", "question", "expected"),
    [
        (library, "What is the total fine amount?", [(10.0,)]),
        (sports, "What is the average height of players?", [(194.4,)]),
        (clinic, "What is the average age of insured patients?", [(52.5,)]),
        (clinic, "What is the average unit price of tablets?", [(1.15,)]),
        (fleet, "What is the average payload of vans?", [(1200.0,)]),
        (fleet, "What is the average mileage of cars?", [(61000.0,)]),
    ],
)
def test_plain_aggregates(make, question, expected):
    assert make().ask(question) == expected


def test_counts_per_owner_on_each_schema():
    assert sorted(sports().ask("How many players does each team have?")) == [
        ("Bay Sharks", 2),
        ("Harbor Hawks", 2),
        ("Valley Rams", 1),
    ]
    assert sorted(fleet().ask("How many vehicles does each depot have?")) == [
        ("East Gate", 1),
        ("North Yard", 2),
        ("South Point", 2),
    ]
    assert sorted(clinic().ask("How many prescriptions does each patient have?")) == [
        ("Hana Ito", 1),
        ("Lea Novak", 1),
        ("Omar Diaz", 2),
        ("Raj Mehta", 1),
    ]


def test_how_many_of_a_measure_sums_it():
    assert sports().ask("How many points did Ari score?") == [(880,)]


def test_born_most_recently_ranks_the_birth_year():
    assert flat(library().ask("Which member was born most recently?")) == ["Noah"]


def test_founded_first_is_the_earliest():
    assert flat(sports().ask("Which team was founded first?")) == ["Harbor Hawks"]


def test_weighs_the_most_ranks_the_weight():
    assert flat(clinic().ask("Which patient weighs the most?")) == ["Omar Diaz"]


def test_the_most_of_a_value_counts_the_rows_holding_it():
    plan = fleet().plan("Which depot has the most vans?")
    assert plan.order_by[0].aggregate is Aggregate.COUNT and plan.order_by[0].descending
    assert plan.limit == 1
    assert [(c.column.column, c.values) for c in plan.where] == [("vehicle_type", ("van",))]


def test_a_verb_is_not_merged_into_the_column_named_before_it():
    rows = library().ask("Show titles and publication years of books published after 1960")
    assert sorted(rows) == [("Cold Stars", 1970), ("Small Engines", 1982), ("The Salt Road", 2011)]


@pytest.mark.parametrize(
    ("make", "question", "expected"),
    [
        (clinic, "How old is the oldest patient?", [71]),
        (sports, "Which is the oldest team?", ["Harbor Hawks"]),
        (library, "In which year was the oldest book published?", [1931]),
    ],
)
def test_oldest_without_an_age(make, question, expected):
    assert flat(make().ask(question)) == expected


def test_a_superlative_named_only_by_a_unit():
    from tests.parser.generalise_support import films

    assert films().ask("How long is the longest movie?") == [(142,)]
    assert films().ask("When was the oldest movie released?") == [(1995,)]
    assert [row[1] for row in fleet().ask("Which is the heaviest vehicle?")] == ["AB-102"]
