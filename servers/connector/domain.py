"""Database-level types shared by the connector's drivers and its core.

Plain dataclasses and enums: no grpc, no driver imports, so the core, the drivers and
the tests all speak the same small vocabulary.

A cell value is one of:
    None | bool | int | float | Decimal | str | bytes | date | datetime | Json | Unsupported
where an aware datetime is a point in time (always UTC when a driver produces it) and a
naive datetime is a wall-clock reading (SQL ``timestamp`` / ``datetime``).
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field

from servers.contracts.cells import Json as Json  # a cell value: the cell codec's type


class ConnectionKind(enum.Enum):
    POSTGRES = "postgres"
    MYSQL = "mysql"
    MONGODB = "mongodb"


class DataType(enum.Enum):
    """Normalised column type: what a client may rely on whatever the database."""

    INTEGER = "integer"
    FLOAT = "float"
    DECIMAL = "decimal"
    TEXT = "text"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    JSON = "json"
    BYTES = "bytes"
    OTHER = "other"


@dataclass(frozen=True)
class Unsupported:
    """A value of a type we do not map (intervals, arrays, geometry...), rendered as text."""

    text: str


@dataclass(frozen=True)
class ConnectionConfig:
    kind: ConnectionKind
    dsn: str  # full DSN with its secret: postgresql://…, mysql://user:pw@host:port/db, mongodb://…/db
    read_only: bool = True
    pool_min_size: int = 1
    pool_max_size: int = 5
    connect_timeout_s: float = 5.0
    statement_timeout_s: float = 30.0
    max_rows: int = 100_000


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: DataType
    native_type: str
    nullable: bool
    primary_key_ordinal: int = 0  # 1-based position in the primary key; 0 = not in it
    comment: str = ""
    default: str = ""
    ordinal: int = 0  # 1-based position in the table


@dataclass(frozen=True)
class ForeignKeyInfo:
    name: str
    columns: tuple[str, ...]
    referenced_schema: str
    referenced_table: str
    referenced_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableInfo:
    name: str
    schema: str
    kind: str  # "table" | "view" | "collection"
    columns: tuple[ColumnInfo, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKeyInfo, ...]
    comment: str
    row_estimate: int


@dataclass(frozen=True)
class SchemaInfo:
    database: str
    tables: tuple[TableInfo, ...]

    def fingerprint(self) -> str:
        """sha256 hex of the structure, row estimates left out: it changes when the
        schema changes, not when rows are added."""
        return hashlib.sha256(_canonical_json(self).encode("utf-8")).hexdigest()

    def table(self, name: str, schema: str | None = None) -> TableInfo | None:
        """The table called `name` (in `schema` when given), or None."""
        for table in self.tables:
            if table.name == name and (schema is None or table.schema == schema):
                return table
        return None


def _canonical_json(schema: SchemaInfo) -> str:
    tables = sorted(schema.tables, key=lambda t: (t.schema, t.name))
    doc = {
        "database": schema.database,
        "tables": [
            {
                "name": t.name,
                "schema": t.schema,
                "kind": t.kind,
                "comment": t.comment,
                "primary_key": list(t.primary_key),
                "columns": [
                    {
                        "name": c.name,
                        "type": c.type.value,
                        "native_type": c.native_type,
                        "nullable": c.nullable,
                        "primary_key_ordinal": c.primary_key_ordinal,
                        "comment": c.comment,
                        "default": c.default,
                        "ordinal": c.ordinal,
                    }
                    for c in t.columns
                ],
                "foreign_keys": [
                    {
                        "name": fk.name,
                        "columns": list(fk.columns),
                        "referenced_schema": fk.referenced_schema,
                        "referenced_table": fk.referenced_table,
                        "referenced_columns": list(fk.referenced_columns),
                    }
                    for fk in sorted(t.foreign_keys, key=lambda f: (f.name, f.columns))
                ],
            }
            for t in tables
        ],
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class SqlQuery:
    sql: str
    params: tuple = ()  # bound by the driver: $1..$n (PostgreSQL), %s (MySQL)


@dataclass(frozen=True)
class MongoFind:
    collection: str
    filter: dict = field(default_factory=dict)
    projection: dict | None = None
    sort: tuple[tuple[str, int], ...] = ()
    skip: int = 0
    limit: int = 0  # 0 = no limit


@dataclass(frozen=True)
class MongoAggregate:
    collection: str
    pipeline: tuple[dict, ...]


Query = SqlQuery | MongoFind | MongoAggregate


@dataclass(frozen=True)
class ResultColumn:
    name: str
    type: DataType
    native_type: str


@dataclass(frozen=True)
class Page:
    columns: tuple[ResultColumn, ...]
    rows: list[tuple]
    has_more: bool
