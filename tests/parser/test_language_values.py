"""Value linking: a value in the question finds the column that holds it, with the
database's own spelling."""

from servers.parser.domain import ColumnRef, Op
from tests.parser.language_support import flat, shop


def test_a_multi_word_value_finds_its_column():
    db = shop()
    assert sorted(flat(db.ask("Show the names of customers in New York"))) == [
        "Barbara Liskov",
        "Grace Hopper",
    ]


def test_the_stored_capitalisation_is_used():
    db = shop()
    plan = db.plan("how many customers live in london")
    assert plan.where[0].column == ColumnRef("customers", "city")
    assert plan.where[0].values == ("London",)
    assert db.ask("how many customers live in london") == [(2,)]


def test_a_quoted_value_is_a_literal_even_with_schema_words():
    db = shop()
    plan = db.plan("How many orders have status 'shipped'?")
    assert (plan.where[0].column, plan.where[0].op, plan.where[0].values) == (
        ColumnRef("orders", "status"),
        Op.EQ,
        ("shipped",),
    )


def test_two_values_of_one_column_with_or():
    db = shop()
    assert db.ask("How many customers are from London or Rotterdam?") == [(3,)]


def test_a_value_through_a_join():
    db = shop()
    assert sorted(flat(db.ask("Show the names of customers who ordered a Monitor"))) == [
        "Ada Lovelace"
    ]


def test_a_quoted_part_of_a_name_is_a_substring():
    db = shop()
    assert sorted(flat(db.ask("Show customers with 'Lo' in their name"))) == ["Ada Lovelace"]


def test_sql_in_a_question_stays_a_literal():
    db = shop()
    for question in (
        "customers from London'; DROP TABLE orders; --",
        'Show customers named "x\' OR 1=1 --"',
        "customers; drop table orders",
    ):
        try:
            db.ask(question)
        except Exception as error:  # noqa: BLE001 — Unresolved is a fine answer too
            assert type(error).__name__ == "Unresolved"
    assert db.connection.execute("SELECT count(*) FROM orders").fetchone() == (6,)


def test_a_yes_no_column_named_beside_the_rows_is_a_condition():
    from servers.parser.domain import ColumnInfo, ColumnKind, SchemaView, TableInfo
    from tests.parser.language_support import database

    school = SchemaView(
        (
            TableInfo(
                "students",
                (
                    ColumnInfo("student_id", ColumnKind.INTEGER, primary_key=True),
                    ColumnInfo("name", ColumnKind.TEXT),
                    ColumnInfo("is_enrolled", ColumnKind.TEXT),
                ),
                ("student_id",),
            ),
        )
    )
    db = database(school, {"students": [(1, "Ann", "Y"), (2, "Bo", "N"), (3, "Cy", "Y")]})
    assert sorted(flat(db.ask("List the names of enrolled students"))) == ["Ann", "Cy"]
    assert flat(db.ask("Which students are not enrolled?")) == ["Bo"]


def test_words_for_one_letter_codes():
    from servers.parser.domain import ColumnInfo, ColumnKind, SchemaView, TableInfo
    from tests.parser.language_support import database

    club = SchemaView(
        (
            TableInfo(
                "members",
                (
                    ColumnInfo("member_id", ColumnKind.INTEGER, primary_key=True),
                    ColumnInfo("name", ColumnKind.TEXT),
                    ColumnInfo("sex", ColumnKind.TEXT),
                ),
                ("member_id",),
            ),
        )
    )
    db = database(club, {"members": [(1, "Ann", "F"), (2, "Bo", "M"), (3, "Cy", "F")]})
    assert db.ask("How many female members are there?") == [(2,)]
    assert flat(db.ask("List the names of male members")) == ["Bo"]
