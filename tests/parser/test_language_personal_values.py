"""Values of personal columns (names, e-mails… — contracts/personal_data.py, or marked pii
in the glossary) are linked exactly only: a near miss is never corrected to a real
person's stored spelling, which the statement would then show to the caller."""

from servers.contracts.glossary import Glossary
from servers.parser.domain import ColumnRef
from tests.parser.language_support import shop


def _where(db, question: str) -> list[tuple[ColumnRef, tuple]]:
    return [(w.column, w.values) for w in db.plan(question).where]


def test_a_near_miss_name_is_not_corrected_but_an_exact_one_links():
    db = shop()
    assert _where(db, 'Show orders of "Ada Lovelace"') == [(ColumnRef("customers", "name"), ("Ada Lovelace",))]
    assert ("Ada Lovelace",) not in [v for _, v in _where(db, 'Show the names of customers called "Ada Lovelase"')]


def test_other_values_are_still_corrected():
    db = shop()
    assert _where(db, 'how many customers live in "Rotterdm"') == [(ColumnRef("customers", "city"), ("Rotterdam",))]


def test_the_glossary_decides_both_ways():
    not_personal = shop(Glossary(not_pii_columns=("customers.name",)))
    assert _where(not_personal, 'Show the names of customers called "Ada Lovelase"') == [
        (ColumnRef("customers", "name"), ("Ada Lovelace",))]
    personal_city = shop(Glossary(pii_columns=("customers.city",)))
    assert ("Rotterdam",) not in [v for _, v in _where(personal_city, 'how many customers live in "Rotterdm"')]
