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
