"""Schema linking: tables and columns found by their words, plural or singular, split
identifiers, abbreviations and the table's name around a column."""

from servers.parser.domain import ColumnRef
from tests.parser.language_support import flat, hr, shop


def test_plural_question_word_finds_the_table_and_its_column():
    db = shop()
    assert sorted(flat(db.ask("List the emails of all customers"))) == sorted(
        [
            "ada@example.com",
            "grace@example.com",
            "alan@example.com",
            "edsger@example.com",
            "barbara@example.com",
        ]
    )


def test_abbreviated_column_names_are_read_as_words():
    db = hr()
    plan = db.plan("Show the first name and last name of every employee")
    assert [s.column for s in plan.select] == [
        ColumnRef("employees", "fname"),
        ColumnRef("employees", "lname"),
    ]


def test_a_column_shared_by_two_tables_is_taken_from_the_table_named_with_it():
    db = shop()
    plan = db.plan("Show the product name of every order item")
    assert ColumnRef("products", "name") in [s.column for s in plan.select]


def test_a_question_about_one_table_selects_its_name_column():
    db = shop()
    assert sorted(flat(db.ask("Which products are in the books category?"))) == ["Compiler Book"]


def test_run_together_lower_case_names_are_split():
    from servers.parser.language.words import split_identifier

    assert split_identifier("unitprice") == ("unit", "price")
    assert split_identifier("orderno") == ("order", "number")
    assert split_identifier("password") == ("password",)


def test_a_bare_name_after_a_table_word_is_that_tables_name():
    db = hr()
    plan = db.plan("List the department names and budgets")
    assert [s.column for s in plan.select] == [
        ColumnRef("departments", "dept_name"),
        ColumnRef("departments", "budget"),
    ]


def test_where_asks_for_a_place_column():
    assert flat(shop().ask("Where does the youngest customer live?")) == ["Rotterdam"]
