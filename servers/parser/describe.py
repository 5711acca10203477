"""Questions about the schema itself: "what tables are there", "which columns does the
orders table have", "describe customers". They run nothing; the answer is the schema,
told in the explanation and listed in the ParsedQuery's tables and columns.

The tables a question names are found by their words (split, lemmatised); none named
means the whole schema.
"""

from __future__ import annotations

from .domain import QueryKind, SchemaView, TableInfo, Understanding
from .language.words import lemma, split_identifier, tokenize

# Words that ask about the schema rather than about rows.
SCHEMA_WORDS = frozenset({"table", "column", "schema", "field", "structure", "describe", "database", "attribute"})
MAX_LISTED_TABLES = 30


def asks_about_schema(question: str, schema: SchemaView, vocabulary: frozenset[str]) -> bool:
    """Whether `question` asks for a schema word the schema does not use itself (a
    "fields" table keeps "which fields…" a question about rows). A schema word right
    after a table's name only points at that table ("the series in the TV channel
    table"): it asks for rows, not for the structure."""
    tails = {lemma(split_identifier(t.name)[-1]) for t in schema.tables if split_identifier(t.name)}
    tokens = tokenize(question)
    for i, token in enumerate(tokens):
        if token.lemma not in SCHEMA_WORDS or token.lemma in vocabulary:
            continue
        if token.lemma in ("table", "column", "field") and i and tokens[i - 1].lemma in tails:
            continue
        return True
    return False


def _named_tables(question: str, schema: SchemaView) -> list[TableInfo]:
    words = [t.lemma for t in tokenize(question)]
    named = []
    for table in schema.tables:
        name = tuple(lemma(w) for w in split_identifier(table.name))
        if any(tuple(words[i : i + len(name)]) == name for i in range(len(words) - len(name) + 1)):
            named.append(table)
    return named


def _column_text(table: TableInfo, column_name: str) -> str:
    column = table.column(column_name)
    if column is None:
        return column_name
    extras = [column.kind.value]
    if column.primary_key:
        extras.append("key")
    for fk in table.foreign_keys:
        if column_name in fk.columns:
            extras.append(f"→ {fk.referenced_table}")
    return f"{column_name} ({', '.join(extras)})"


def describe(question: str, schema: SchemaView) -> Understanding:
    named = _named_tables(question, schema)
    if len(named) == 1:
        table = named[0]
        columns = [c.name for c in table.columns]
        text = f"{table.name} has {len(columns)} columns: " + ", ".join(_column_text(table, c) for c in columns) + "."
        if table.comment:
            text += f" {table.comment}"
        return Understanding(
            QueryKind.DESCRIBE, confidence=0.9, table=table.name, features=columns, explanation=text,
            tables=[table.name],
        )
    tables = named or list(schema.tables)
    shown = tables[:MAX_LISTED_TABLES]
    listing = "; ".join(f"{t.name} ({', '.join(c.name for c in t.columns)})" for t in shown)
    more = f"; and {len(tables) - len(shown)} more" if len(tables) > len(shown) else ""
    text = f"{len(tables)} tables: {listing}{more}."
    return Understanding(QueryKind.DESCRIBE, confidence=0.85, explanation=text, tables=[t.name for t in tables])
