"""Linking on schemas named in styles the parser was not written against: verbs stay
verbs, a column's own words are no cues, short forms and synonyms find their names."""

import pytest

from servers.parser.domain import Unresolved
from tests.parser.generalise_support import clinic, fleet, library, sports
from tests.parser.language_support import flat


def test_a_verb_after_its_subject_is_not_a_table():
    # "play" sits near `player` in meaning; here it is what teams do
    db = sports()
    assert db.ask("How many teams play in the Northern League?") == [(2,)]
    assert "player" not in db.plan("How many teams play in the Northern League?").tables


def test_a_verb_after_an_auxiliary_is_not_a_table():
    db = sports()
    assert flat(db.ask("Which league does the Bay Sharks team play in?")) == ["Coastal League"]


def test_each_owner_counts_the_rows_it_has():
    db = library()
    assert sorted(db.ask("How many loans did each member take?")) == [
        ("Ivy", 3),
        ("Noah", 1),
        ("Ruth", 1),
        ("Sam", 1),
    ]


def test_a_column_whose_name_holds_count_is_no_count():
    db = library()
    assert sorted(flat(db.ask("Which books have a page count above 500?"))) == [
        "Cold Stars",
        "Winter Maps",
    ]


def test_a_column_whose_name_holds_total_is_no_sum():
    db = sports()
    assert sorted(flat(db.ask("List players whose total points exceed 500"))) == ["Ari", "Cal"]
    assert flat(db.ask("Which player has the highest total points?")) == ["Cal"]


def test_abbreviated_experience_column():
    db = sports()
    assert flat(db.ask("Which players have more than twenty-five years of experience?")) == ["Cal"]
    assert sorted(flat(db.ask("List players with more than 10 years of experience"))) == [
        "Ari",
        "Cal",
    ]
    assert db.ask("How many players have fewer than 5 years experience?") == [(2,)]


def test_most_experienced_ranks_by_experience():
    assert flat(sports().ask("Who is the most experienced player?")) == ["Cal"]


def test_pascal_case_and_title_case_names():
    db = clinic()
    assert sorted(flat(db.ask("Which patients are older than 50?"))) == ["Lea Novak", "Omar Diaz"]
    assert db.ask("What is the total quantity prescribed?") == [(125,)]
    assert db.ask("What is the total quantity of Lipitor prescribed?") == [(90,)]


def test_camel_case_names():
    db = library()
    assert sorted(flat(db.ask("What are the titles of books published before 1960?"))) == [
        "Quiet Rivers",
        "Winter Maps",
    ]
    assert db.ask("What is the mean price of science books?") == [(13.75,)]


def test_the_name_of_the_table_named_after_of():
    # Drug_Name is the only column called "... name" after its table; the patient's is asked
    assert flat(clinic().ask("Show the name of the oldest patient")) == ["Lea Novak"]


@pytest.mark.parametrize(
    ("make", "question", "expected"),
    [
        (library, "Which writers are British?", ["Mira Holt", "Owen Park"]),
        (clinic, "Which medicines are inhalers?", ["Ventolin"]),
        (clinic, "How many medications come as tablets?", [2]),
        (sports, "How many athletes are taller than 190 cm?", [3]),
    ],
)
def test_a_table_named_by_a_synonym(make, question, expected):
    assert sorted(flat(make().ask(question))) == expected


def test_a_word_nothing_links_is_refused_not_guessed():
    with pytest.raises(Unresolved):
        sports().ask("What is the average age of clubs?")


def test_a_key_column_is_not_the_list():
    # "vehicle_no" holds numbers people call "no": the fleet still lists its vehicles
    rows = fleet().ask("Which vehicles are trucks?")
    assert [row[1] for row in rows] == ["AB-102"]


def test_names_of_a_table_whose_name_column_is_not_called_name():
    db = library()
    assert sorted(db.ask("Give me the names of authors and their nationalities")) == [
        ("Lena Ortiz", "Spanish"),
        ("Mira Holt", "British"),
        ("Owen Park", "British"),
        ("Tomas Brandt", "German"),
    ]


def test_a_short_form_for_publication():
    assert library().ask("What is the average publication year of books?") == [(1968.8,)]


@pytest.mark.parametrize(
    ("make", "question", "expected"),
    [
        ("staff", "Who works in Research?", ["Kim", "Mo"]),
        ("films", "Who played the Villain?", ["Jon Roe"]),
        ("sports", "Who plays for the Bay Sharks?", ["Dev", "Eli"]),
        ("library", "Who wrote Winter Maps?", ["Owen Park"]),
        ("clinic", "Who was prescribed Ventolin?", ["Omar Diaz"]),
    ],
)
def test_who_asks_for_people(make, question, expected):
    from tests.parser import generalise_support

    assert sorted(flat(getattr(generalise_support, make)().ask(question))) == expected


def test_a_verb_names_the_table_of_its_events():
    # "prescribed" → Prescription (an event noun); "play" never → player (an agent noun)
    db = clinic()
    plan = db.plan("Which drug was prescribed the most?")
    assert "Prescription" in plan.referenced_tables()
    assert db.ask("How many different drugs were prescribed?") == [(3,)]
    assert "player" not in sports().plan("Which teams play in Spain?").referenced_tables()


def test_a_verb_is_not_the_text_column_sharing_its_lemma():
    from servers.parser.domain import ColumnKind, SchemaView
    from tests.parser.language_support import database, table

    schema = SchemaView(
        (
            table(
                "customer",
                [("id", ColumnKind.INTEGER), ("name", ColumnKind.TEXT), ("place", ColumnKind.TEXT)],
                "id",
            ),
            table(
                "orders",
                [("id", ColumnKind.INTEGER), ("customer_id", ColumnKind.INTEGER)],
                "id",
                [("customer_id", "customer", "id")],
            ),
        )
    )
    db = database(
        schema,
        {"customer": [(1, "Ann", "Leeds"), (2, "Bo", "York")], "orders": [(1, 1), (2, 1), (3, 2)]},
    )
    assert sorted(db.ask("How many orders did each customer place?")) == [("Ann", 2), ("Bo", 1)]
    assert flat(db.ask("Which customers placed more than 1 order?")) == ["Ann"]
    assert flat(db.ask("What place does Ann live in?")) == ["Leeds"]
