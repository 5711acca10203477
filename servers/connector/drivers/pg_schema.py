"""PostgreSQL schema introspection from the system catalogs (three queries).

Every schema but the system ones, tables / partitioned tables / foreign tables as
"table", views and materialised views as "view"; only relations the connection's role
may SELECT from (the parser should not suggest the others). Row estimates are
pg_class.reltuples (what ANALYZE / autovacuum last saw; 0 when never analysed).
"""

from __future__ import annotations

from collections import defaultdict

import asyncpg

from ..domain import ColumnInfo, ForeignKeyInfo, SchemaInfo, TableInfo
from . import pg_types

_RELATIONS = """
SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text,
       coalesce(obj_description(c.oid, 'pg_class'), '') AS comment,
       CASE WHEN c.relkind = 'p' THEN
           (SELECT coalesce(sum(greatest(pc.reltuples, 0)), 0)
              FROM pg_partition_tree(c.oid) t JOIN pg_class pc ON pc.oid = t.relid
             WHERE t.isleaf)
       ELSE greatest(c.reltuples, 0) END::bigint AS estimate
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm')
   AND NOT c.relispartition
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
   AND has_table_privilege(c.oid, 'SELECT')
 ORDER BY n.nspname, c.relname
"""

# Domains are described by their base type (one level), enums by typtype 'e'.
_COLUMNS = """
SELECT a.attrelid, a.attname::text, a.attnum,
       format_type(a.atttypid, a.atttypmod) AS native,
       NOT a.attnotnull AS nullable,
       coalesce(col_description(a.attrelid, a.attnum), '') AS comment,
       coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS default_expr,
       CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END::text AS typname,
       CASE WHEN t.typtype = 'd' THEN bt.typtype ELSE t.typtype END::text AS typtype
  FROM pg_attribute a
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum
"""

_KEYS = """
SELECT con.conrelid, con.contype::text, con.conname::text,
       ARRAY(SELECT a.attname::text
               FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, i)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
              ORDER BY k.i) AS columns,
       coalesce(fn.nspname::text, '') AS ref_schema,
       coalesce(fc.relname::text, '') AS ref_table,
       ARRAY(SELECT a.attname::text
               FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, i)
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
              ORDER BY k.i) AS ref_columns
  FROM pg_constraint con
  LEFT JOIN pg_class fc ON fc.oid = con.confrelid
  LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
 WHERE con.conrelid = ANY($1::oid[]) AND con.contype IN ('p', 'f')
 ORDER BY con.conrelid, con.conname
"""

_KINDS = {"r": "table", "p": "table", "f": "table", "v": "view", "m": "view"}


async def introspect(conn: asyncpg.Connection) -> SchemaInfo:
    database = await conn.fetchval("SELECT current_database()")
    relations = await conn.fetch(_RELATIONS)
    oids = [r["oid"] for r in relations]
    columns = defaultdict(list)
    for row in await conn.fetch(_COLUMNS, oids):
        columns[row["attrelid"]].append(row)
    primary_keys: dict[int, list[str]] = {}
    foreign_keys = defaultdict(list)
    for row in await conn.fetch(_KEYS, oids):
        if row["contype"] == "p":
            primary_keys[row["conrelid"]] = list(row["columns"])
        else:
            foreign_keys[row["conrelid"]].append(
                ForeignKeyInfo(
                    name=row["conname"],
                    columns=tuple(row["columns"]),
                    referenced_schema=row["ref_schema"],
                    referenced_table=row["ref_table"],
                    referenced_columns=tuple(row["ref_columns"]),
                )
            )
    tables = []
    for rel in relations:
        pk = primary_keys.get(rel["oid"], [])
        tables.append(
            TableInfo(
                name=rel["relname"],
                schema=rel["nspname"],
                kind=_KINDS[rel["relkind"]],
                columns=tuple(_column(row, pk, i) for i, row in enumerate(columns[rel["oid"]], 1)),
                primary_key=tuple(pk),
                foreign_keys=tuple(foreign_keys[rel["oid"]]),
                comment=rel["comment"],
                row_estimate=int(rel["estimate"]),
            )
        )
    return SchemaInfo(database=database, tables=tuple(tables))


def _column(row: asyncpg.Record, primary_key: list[str], ordinal: int) -> ColumnInfo:
    name = row["attname"]
    return ColumnInfo(
        name=name,
        type=pg_types.data_type(row["typname"], row["typtype"]),
        native_type=row["native"],
        nullable=row["nullable"],
        primary_key_ordinal=primary_key.index(name) + 1 if name in primary_key else 0,
        comment=row["comment"],
        default=row["default_expr"],
        ordinal=ordinal,
    )
