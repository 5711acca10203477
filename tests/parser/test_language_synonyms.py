"""Words nothing else links, matched by meaning (wordllama), with a note."""

from servers.parser.domain import ColumnRef
from tests.parser.language_support import hr, shop


def test_wage_means_salary():
    db = hr()
    understanding = db.understand("list employees with a wage above 70000")
    assert understanding.plan.where[0].column == ColumnRef("employees", "salary")
    assert any("meaning" in note for note in understanding.notes)
    assert sorted(r[0] for r in db.ask("list employees with a wage above 70000")) == [
        "Amara",
        "Maria",
        "Wei",
    ]


def test_cost_means_price():
    assert shop().ask("What is the average cost of products?") == [(61.7,)]


def test_verbs_are_not_matched_by_meaning():
    db = hr()
    assert db.ask("How many employees work here?") == [(4,)]


def test_a_comparison_finds_its_column_by_the_word_before_it():
    db = hr()
    question = "employees earning more than 70000 in Engineering"
    assert db.plan(question).where[-1].column == ColumnRef("employees", "salary")
    assert sorted(r[0] for r in db.ask(question)) == ["Maria", "Wei"]


def test_a_verb_is_not_matched_by_meaning():
    # "place" could be a noun near "city"; after "did" it is the verb
    db = shop()
    assert db.ask("How many orders did Ada Lovelace place?") == [(3,)]
