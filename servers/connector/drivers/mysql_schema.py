"""MySQL / MariaDB schema introspection from information_schema, for the database the
connection names.

MariaDB has no JSON type: a JSON column is LONGTEXT with a CHECK (json_valid(`col`))
constraint that MariaDB adds itself (information_schema.CHECK_CONSTRAINTS, LEVEL
'Column'); such columns are reported as json. MySQL 8 has a real JSON type and no
TABLE_NAME in CHECK_CONSTRAINTS, so the lookup runs on MariaDB only.

Row estimates are information_schema.TABLES.TABLE_ROWS: InnoDB's estimate, refreshed by
ANALYZE TABLE (and on MySQL 8 cached for information_schema_stats_expiry seconds).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from servers.runtime.errors import FailedPrecondition

from ..domain import ColumnInfo, ForeignKeyInfo, SchemaInfo, TableInfo
from .mysql_types import schema_type

_TABLES = """
SELECT TABLE_NAME, TABLE_TYPE, COALESCE(TABLE_COMMENT, ''), COALESCE(TABLE_ROWS, 0)
  FROM information_schema.TABLES
 WHERE TABLE_SCHEMA = DATABASE()
 ORDER BY TABLE_NAME
"""

_COLUMNS = """
SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_DEFAULT, IS_NULLABLE, DATA_TYPE,
       COLUMN_TYPE, COALESCE(COLUMN_COMMENT, '')
  FROM information_schema.COLUMNS
 WHERE TABLE_SCHEMA = DATABASE()
 ORDER BY TABLE_NAME, ORDINAL_POSITION
"""

_KEYS = """
SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA,
       REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
  FROM information_schema.KEY_COLUMN_USAGE
 WHERE TABLE_SCHEMA = DATABASE()
   AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL)
 ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION
"""

# An explicit LIMIT: it wins over the session's sql_select_limit whatever that is.
_JSON_CHECKS = """
SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CHECK_CLAUSE
  FROM information_schema.CHECK_CONSTRAINTS
 WHERE CONSTRAINT_SCHEMA = DATABASE() AND CHECK_CLAUSE LIKE 'json\\_valid(%'
 LIMIT 1000000
"""
_JSON_VALID = re.compile(r"json_valid\(`((?:[^`]|``)+)`\)", re.IGNORECASE)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


async def json_columns(cur: Any) -> frozenset[tuple[str, str, str]]:
    """(schema, table, column) of the MariaDB JSON columns of the current database."""
    await cur.execute(_JSON_CHECKS)
    found = set()
    for schema, table, clause in await cur.fetchall():
        match = _JSON_VALID.fullmatch(_text(clause).strip())
        if match:
            found.add((_text(schema), _text(table), match.group(1).replace("``", "`")))
    return frozenset(found)


async def introspect(cur: Any, *, mariadb: bool) -> SchemaInfo:
    await cur.execute("SELECT DATABASE()")
    (database,) = await cur.fetchone()
    if not database:
        raise FailedPrecondition(
            "the connection names no database: add one to the DSN (mysql://…/<database>)"
        )
    database = _text(database)
    json_cols = await json_columns(cur) if mariadb else frozenset()

    await cur.execute(_TABLES)
    tables = [tuple(map(_text, row[:3])) + (int(row[3] or 0),) for row in await cur.fetchall()]

    primary_keys, foreign_keys = await _read_keys(cur)
    columns = await _read_columns(cur, database, json_cols, primary_keys)

    return SchemaInfo(
        database=database,
        tables=tuple(
            TableInfo(
                name=name,
                schema=database,
                kind="view" if table_type.upper() == "VIEW" else "table",
                columns=tuple(columns.get(name, ())),
                primary_key=tuple(primary_keys.get(name, ())),
                foreign_keys=tuple(foreign_keys.get(name, ())),
                # MySQL puts "VIEW" in a view's comment.
                comment="" if table_type.upper() == "VIEW" and comment == "VIEW" else comment,
                row_estimate=0 if table_type.upper() == "VIEW" else rows,
            )
            for name, table_type, comment, rows in tables
        ),
    )


async def _read_keys(cur: Any) -> tuple[dict[str, list[str]], dict[str, list[ForeignKeyInfo]]]:
    """Primary key columns and foreign keys per table of the database."""
    await cur.execute(_KEYS)
    primary_keys: dict[str, list[str]] = defaultdict(list)
    fk_parts: dict[tuple[str, str], list[tuple[str, str, str, str]]] = defaultdict(list)
    for table, constraint, column, ref_schema, ref_table, ref_column in await cur.fetchall():
        table, constraint, column = _text(table), _text(constraint), _text(column)
        if constraint == "PRIMARY":
            primary_keys[table].append(column)
        else:
            fk_parts[(table, constraint)].append(
                (column, _text(ref_schema), _text(ref_table), _text(ref_column))
            )
    foreign_keys: dict[str, list[ForeignKeyInfo]] = defaultdict(list)
    for (table, constraint), parts in sorted(fk_parts.items()):
        foreign_keys[table].append(
            ForeignKeyInfo(
                name=constraint,
                columns=tuple(p[0] for p in parts),
                referenced_schema=parts[0][1],
                referenced_table=parts[0][2],
                referenced_columns=tuple(p[3] for p in parts),
            )
        )
    return primary_keys, foreign_keys


async def _read_columns(
    cur: Any, database: str, json_cols: frozenset, primary_keys: dict[str, list[str]]
) -> dict[str, list[ColumnInfo]]:
    """The columns per table of the database."""
    await cur.execute(_COLUMNS)
    columns: dict[str, list[ColumnInfo]] = defaultdict(list)
    for row in await cur.fetchall():
        table, name = _text(row[0]), _text(row[1])
        default, nullable, data_type, column_type, comment = row[3], row[4], row[5], row[6], row[7]
        dtype, native = schema_type(
            _text(data_type), _text(column_type), (database, table, name) in json_cols
        )
        pk = primary_keys.get(table, [])
        columns[table].append(
            ColumnInfo(
                name=name,
                type=dtype,
                native_type=native,
                nullable=_text(nullable).upper() == "YES",
                primary_key_ordinal=pk.index(name) + 1 if name in pk else 0,
                comment=_text(comment),
                # MariaDB spells "no default" as the string NULL; MySQL as SQL NULL.
                default="" if default is None or _text(default) == "NULL" else _text(default),
                ordinal=int(row[2]),
            )
        )
    return columns
