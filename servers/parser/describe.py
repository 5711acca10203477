"""The answer to a question about the schema itself (the language side recognises one:
language/describe.py): the schema told in words. Nothing runs; the ParsedQuery lists
the tables (and, for one table, its columns) and the explanation says what they hold."""

from __future__ import annotations

from .domain import QueryKind, SchemaView, TableInfo, Understanding

MAX_LISTED_TABLES = 30


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


def tell(asked: Understanding, schema: SchemaView) -> Understanding:
    """`asked` (kind DESCRIBE, `table` the one asked about or empty for all) with the
    schema's answer filled in."""
    table = schema.table(asked.table) if asked.table else None
    if table is not None:
        columns = [c.name for c in table.columns]
        text = f"{table.name} has {len(columns)} columns: " + ", ".join(_column_text(table, c) for c in columns) + "."
        if table.comment:
            text += f" {table.comment.rstrip('.')}."
        return Understanding(
            QueryKind.DESCRIBE, confidence=asked.confidence, table=table.name, features=columns,
            explanation=text, tables=[table.name], notes=asked.notes,
        )
    tables = list(schema.tables)
    shown = tables[:MAX_LISTED_TABLES]
    listing = "; ".join(f"{t.name} ({', '.join(c.name for c in t.columns)})" for t in shown)
    more = f"; and {len(tables) - len(shown)} more" if len(tables) > len(shown) else ""
    return Understanding(
        QueryKind.DESCRIBE, confidence=asked.confidence, explanation=f"{len(tables)} tables: {listing}{more}.",
        tables=[t.name for t in tables], notes=asked.notes,
    )
