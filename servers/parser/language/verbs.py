"""Verbs and negating prefixes that name schema things: "never sold" names the table
that records sales, "unpaid" the no value of a paid flag, and "sold" beside a sold_on
column is the verb, not the date. Nothing here names a table, column or value of a
particular database."""

from __future__ import annotations

from collections.abc import Mapping

from servers.parser.domain import (
    ColumnRef,
    SchemaView,
)
from servers.parser.language.words import Token, lemma, lemmas, split_identifier

_TIME_NOUNS = frozenset({"date", "time", "day", "week", "month", "year", "when"})


def is_verb(token: Token) -> bool:
    """ "sold", "sell", "ordered": a verb form (never a time noun such as "date")."""
    from lemminflect import getAllLemmas

    if token.lower in _TIME_NOUNS:
        return False
    return token.lemma != token.lower or "VERB" in getAllLemmas(token.lower)


# Verbs whose rows a table holds under a noun of its own: "never sold" → sales.
_VERB_NOUNS = {
    "sell": "sale",
    "buy": "purchase",
    "purchase": "purchase",
    "pay": "payment",
    "ship": "shipment",
    "deliver": "delivery",
    "rent": "rental",
    "book": "booking",
    "enroll": "enrollment",
    "rate": "rating",
    "review": "review",
    "order": "order",
    "invoice": "invoice",
    "borrow": "loan",
    "visit": "visit",
}


def verb_table(schema: SchemaView, token: Token) -> str | None:
    """The table that records what a verb does ("sold" → sales, "paid" → payments),
    when exactly one table is named for it."""
    noun = _VERB_NOUNS.get(token.lemma)
    if noun is None or token.lower == noun or not is_verb(token):
        return None
    named = [t.name for t in schema.tables if noun in lemmas(split_identifier(t.name))]
    return named[0] if len(named) == 1 else None


_NEGATING_PREFIXES = ("non-", "non", "un", "in", "dis")


def negated_flag(
    word: str, flags: Mapping[ColumnRef, tuple[object, object]], tables: list[str]
) -> ColumnRef | None:
    """The yes/no column that `word` negates ("unpaid" → paid, "inactive" →
    is_active), among the tables in play, main first."""
    for prefix in _NEGATING_PREFIXES:
        if not word.startswith(prefix) or len(word) - len(prefix) < 3:
            continue
        rest = lemma(word[len(prefix) :])
        for table in dict.fromkeys(tables):
            for ref in flags:
                words = lemmas(split_identifier(ref.column))
                if ref.table == table and rest in words and len(words) <= 2:
                    return ref
    return None
