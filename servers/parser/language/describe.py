"""Questions about the schema itself: "describe customers", "what columns does the
orders table have", "which tables are there". They run no statement: the kind is
DESCRIBE and `table` names the table asked about (empty: the whole schema)."""

from __future__ import annotations

from servers.parser.domain import QueryKind, Understanding
from servers.parser.language.reading import Reading

_ASKS_STRUCTURE = (
    ("describe",),
    ("what", "columns"),
    ("which", "columns"),
    ("what", "fields"),
    ("which", "fields"),
    ("what", "tables"),
    ("which", "tables"),
    ("list", "the", "tables"),
    ("list", "tables"),
    ("show", "the", "tables"),
    ("show", "tables"),
    ("schema", "of"),
    ("structure", "of"),
    ("columns", "of"),
    ("columns", "in"),
)


def describe_request(reading: Reading) -> Understanding | None:
    words = reading.words
    if not any(reading.has(*phrase) is not None for phrase in _ASKS_STRUCTURE):
        return None
    if words and words[0] not in ("describe", "what", "which", "list", "show", "give", "tell"):
        return None
    tables = [c.table for m in reading.mentions for c in m.tables]
    table = tables[0] if tables and "tables" not in words else ""
    return Understanding(kind=QueryKind.DESCRIBE, plan=None, confidence=0.9, table=table)
