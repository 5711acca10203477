"""Joins no foreign key declares, inferred from names: a column named like another
table (orders.customer, orders.customer_code → customers' key) links the two when the
schema offers no path between them at all. Many real schemas (and exports from
spreadsheets or SQLite) declare no foreign keys; without these the question "how many
orders does each customer have" could not be answered. They are handed to the renderer
with the glossary's relationships, which win when both exist."""

from __future__ import annotations

from servers.contracts.glossary import Relationship
from servers.parser.domain import ColumnInfo, SchemaView, TableInfo
from servers.parser.language.words import lemmas, split_identifier

_KEY_WORDS = ("id", "code", "number", "key", "uid")


def _components(schema: SchemaView) -> dict[str, int]:
    """Which tables the declared foreign keys already connect (union-find by name)."""
    parent = {table.name: table.name for table in schema.tables}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for table in schema.tables:
        for fk in table.foreign_keys:
            if fk.referenced_table in parent:
                parent[find(table.name)] = find(fk.referenced_table)
    roots = {find(name) for name in parent}
    index = {root: i for i, root in enumerate(sorted(roots))}
    return {name: index[find(name)] for name in parent}


def _compatible(a: ColumnInfo, b: ColumnInfo) -> bool:
    return a.kind is b.kind or (a.kind.numeric and b.kind.numeric)


def _names_table(column: ColumnInfo, table: TableInfo) -> bool:
    words = lemmas(split_identifier(column.name))
    while words and words[-1] in _KEY_WORDS:
        words = words[:-1]
    return bool(words) and words == lemmas(split_identifier(table.name))


def infer_relationships(schema: SchemaView) -> tuple[Relationship, ...]:
    component = _components(schema)
    found: list[Relationship] = []
    for table in schema.tables:
        declared = {c for fk in table.foreign_keys for c in fk.columns}
        for column in table.columns:
            # a table's own single key refers to nothing; a part of a composite key may
            if column.name in declared or table.primary_key == (column.name,):
                continue
            for other in schema.tables:
                if other.name == table.name or component[other.name] == component[table.name]:
                    continue
                if len(other.primary_key) != 1 or not _names_table(column, other):
                    continue
                key = other.column(other.primary_key[0])
                if key is None or not _compatible(column, key):
                    continue
                found.append(
                    Relationship(
                        table.name,
                        (column.name,),
                        other.name,
                        (key.name,),
                        name="inferred from names",
                    )
                )
    return tuple(found)
