"""A schema given inline with a request comes from the caller, not from introspection:
keep only what could be real, so the planner never joins on a column that does not
exist (a foreign key naming one) and never trips on an empty key.
Pure logic: no grpc."""

from __future__ import annotations

from dataclasses import replace

from servers.parser.domain import ForeignKeyInfo, SchemaView, TableInfo


def consistent(schema: SchemaView) -> SchemaView:
    """`schema` without nameless tables and columns and without foreign keys whose
    columns are missing on either side or do not pair up."""
    tables = [
        replace(table, columns=tuple(c for c in table.columns if c.name))
        for table in schema.tables
        if table.name
    ]
    by_name = {table.name: table for table in tables}
    kept = tuple(
        replace(table, foreign_keys=tuple(fk for fk in table.foreign_keys if _holds(table, fk, by_name)))
        for table in tables
    )
    return replace(schema, tables=kept)


def _holds(table: TableInfo, fk: ForeignKeyInfo, tables: dict[str, TableInfo]) -> bool:
    target = tables.get(fk.referenced_table)
    return (
        target is not None
        and len(fk.columns) == len(fk.referenced_columns) > 0
        and all(table.column(c) for c in fk.columns)
        and all(target.column(c) for c in fk.referenced_columns)
    )
