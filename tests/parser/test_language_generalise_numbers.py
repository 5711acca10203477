"""Years and units on schemas of our own: a year compared with a year kept as a number,
a unit said with a number pointing at the column whose name carries it."""

from servers.parser.domain import ColumnRef
from tests.parser.generalise_support import clinic, fleet, library, sports
from tests.parser.language_support import flat


def test_born_before_a_year_with_date_columns_in_the_schema():
    # the library has a loan date: "before 1910" is still the author's birth year
    db = library()
    assert sorted(flat(db.ask("List the writers born before 1910"))) == ["Mira Holt", "Owen Park"]
    assert sorted(flat(db.ask("Which authors were born after 1930?"))) == [
        "Lena Ortiz",
        "Tomas Brandt",
    ]


def test_born_finds_a_birth_year_column():
    db = library()
    plan = db.plan("List the members who were born after 2000")
    assert plan.where[0].column == ColumnRef("member", "birthYear")
    assert flat(db.ask("List the members who were born after 2000")) == ["Noah"]


def test_born_after_a_year_without_date_columns():
    assert sorted(flat(sports().ask("Which players were born after 2002?"))) == ["Ben", "Eli"]


def test_founded_before_a_year():
    db = sports()
    assert sorted(flat(db.ask("Which teams were founded before 1950?"))) == [
        "Bay Sharks",
        "Harbor Hawks",
    ]
    assert flat(db.ask("List teams founded after 1950")) == ["Valley Rams"]


def test_kilograms_point_at_the_kg_column():
    assert sorted(flat(sports().ask("Which players weigh more than 100 kilograms?"))) == [
        "Ari",
        "Eli",
    ]
    assert sorted(flat(clinic().ask("Which patients weigh more than 75 kg?"))) == [
        "Omar Diaz",
        "Raj Mehta",
    ]


def test_centimetres_compare_and_are_not_listed():
    assert sorted(flat(sports().ask("List players taller than 200 cm"))) == ["Ari", "Eli"]


def test_dollars_point_at_the_usd_column():
    assert sorted(flat(library().ask("Show titles of books that cost more than 15 dollars"))) == [
        "Cold Stars",
        "Winter Maps",
    ]
    assert library().ask("How many books cost less than 10 dollars?") == [(2,)]
    assert sorted(flat(clinic().ask("List the drugs cheaper than 2 dollars"))) == [
        "Amoxil",
        "Lipitor",
    ]


def test_thousands_compare_with_a_column_kept_in_thousands():
    rows = fleet().ask("Which vehicles cost more than 40 thousand dollars?")
    assert sorted(row[1] for row in rows) == ["AB-102", "CD-201", "EF-301"]


def test_kilometres_compare_the_km_column():
    rows = fleet().ask("Which vehicles have a mileage over 50000 km?")
    assert sorted(row[1] for row in rows) == ["AB-101", "AB-102", "CD-202"]


def test_a_unit_with_a_value_condition():
    rows = fleet().ask("Which vans have a payload above 1150 kilograms?")
    assert sorted(row[1] for row in rows) == ["AB-101", "EF-301"]
    assert fleet().ask("How many vehicles weigh over 1000 kg?") == [(4,)]


def test_either_of_two_disjoint_bounds():
    assert clinic().ask("How many patients are older than 60 or younger than 30?") == [(2,)]


def test_heavier_than_the_average():
    assert sorted(flat(sports().ask("Which players are heavier than the average?"))) == [
        "Ari",
        "Cal",
        "Eli",
    ]


def test_top_by_a_column_is_highest_first():
    assert flat(sports().ask("List the top 2 players by total points")) == ["Cal", "Ari"]


def test_a_unit_of_the_same_kind_converts():
    from tests.parser.generalise_support import films

    assert films().ask("How many movies run longer than 2 hours?") == [(2,)]
    assert sorted(flat(sports().ask("Which players are taller than 2 metres?"))) == ["Ari", "Eli"]
    assert fleet().ask("How many vehicles carry more than 1 tonne?") == [(4,)]


def test_a_unit_with_a_means_one():
    from tests.parser.generalise_support import films

    assert clinic().ask("How many drugs cost less than a dollar?") == [(1,)]
    assert sorted(flat(films().ask("Which movies cost over a hundred million dollars?"))) == [
        "Blue Moon"
    ]


def test_scales_written_into_the_number():
    from tests.parser.generalise_support import clubs, films, staff

    assert sorted(flat(staff().ask("Which employees earn more than 5k?"))) == ["Kim", "Mo"]
    assert flat(clubs().ask("Which coaches earn more than 100k?")) == ["Ann"]
    assert flat(films().ask("Which movies had a budget over $100m?")) == ["Blue Moon"]


def test_a_measure_said_with_a_or_no_is_present_or_absent():
    from tests.parser.generalise_support import staff

    assert library().ask("How many loans had a fine?") == [(3,)]
    assert library().ask("How many loans had no fine?") == [(3,)]
    assert sorted(flat(staff().ask("Which employees earn a commission?"))) == ["Lu", "Ng"]
    assert sorted(flat(staff().ask("Which employees have no commission?"))) == ["Kim", "Mo"]


def test_a_count_of_years_is_no_year_column():
    plan = sports().plan("Which players joined before 2000?")
    assert all(c.column != ColumnRef("player", "yrs_exp") for c in plan.where)


def test_year_and_date_of_birth_and_death_short_forms():
    from servers.parser.domain import ColumnKind, SchemaView
    from tests.parser.language_support import database, table

    schema = SchemaView(
        (
            table(
                "Poet",
                [
                    ("PoetID", ColumnKind.INTEGER),
                    ("PoetName", ColumnKind.TEXT),
                    ("YOB", ColumnKind.INTEGER),
                    ("DOD", ColumnKind.DATE),
                ],
                "PoetID",
            ),
        )
    )
    db = database(
        schema, {"Poet": [(1, "Ana", 1850, "1900-01-01"), (2, "Ben", 1920, "1990-05-05")]}
    )
    assert flat(db.ask("Which poets were born before 1900?")) == ["Ana"]
    assert flat(db.ask("Which poets died after 1950?")) == ["Ben"]
    assert flat(db.ask("Who is the oldest poet?")) == ["Ana"]
