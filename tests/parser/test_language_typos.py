"""Typo tolerance: a near-miss spelling of a name or a value, explained in the notes."""

from servers.parser.domain import ColumnRef
from tests.parser.language_support import flat, shop


def test_misspelled_value():
    db = shop()
    assert sorted(flat(db.ask("List customers from Londn"))) == ["Ada Lovelace", "Alan Turing"]
    assert any("London" in note for note in db.understand("List customers from Londn").notes)


def test_misspelled_column():
    db = shop()
    understanding = db.understand("Show the emial of every customer")
    assert [s.column for s in understanding.plan.select] == [ColumnRef("customers", "email")]
    assert any("spelling" in note for note in understanding.notes)
