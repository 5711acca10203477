"""Questions about the schema itself: "describe customers", "what columns does the
orders table have", "which tables are there". They run no statement: the kind is
DESCRIBE and `table` names the table asked about (empty: the whole schema); the service
tells the schema (servers/parser/describe.py).

A structure word the schema uses as a name of its own ("fields" of a sports schema)
keeps its meaning as data: "which fields are the largest" asks for rows."""

from __future__ import annotations

from servers.parser.domain import QueryKind, Understanding
from servers.parser.language.prepared import Prepared
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
    ("list", "all", "tables"),
    ("show", "the", "tables"),
    ("show", "tables"),
    ("schema", "of"),
    ("structure", "of"),
    ("columns", "of"),
    ("columns", "in"),
)


_STRUCTURE_WORDS = {"columns": "column", "fields": "field", "tables": "table"}


def describe_request(reading: Reading, prepared: Prepared) -> Understanding | None:
    words = reading.words
    asked = [phrase for phrase in _ASKS_STRUCTURE if reading.has(*phrase) is not None]
    if not asked:
        return None
    structure = {_STRUCTURE_WORDS[w] for phrase in asked for w in phrase if w in _STRUCTURE_WORDS}
    if structure and structure <= prepared.schema_words and ("describe",) not in asked:
        return None
    if words and words[0] not in ("describe", "what", "which", "list", "show", "give", "tell"):
        return None
    tables = [c.table for m in reading.mentions for c in m.tables]
    table = tables[0] if tables and "tables" not in words else ""
    return Understanding(kind=QueryKind.DESCRIBE, plan=None, confidence=0.9, table=table)
