"""The connector's types: database-level ones shared by its drivers and its core
(schemas, statements, pages, cell values), then the service-level ones the core takes
and returns (connections, requests, results).

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

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

    def __str__(self) -> str:  # the cell writer renders unknown types with str()
        return self.text


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


# ----------------------------------------------------------------------------------
# Service-level types: connections, requests and results, what the core takes and
# returns (the types above are also the drivers').


Statement = SqlQuery | MongoFind | MongoAggregate


@dataclass(frozen=True)
class ConnectionOptions:
    """Pooling, timeouts and driver options. On input 0 means "the default"; stored
    connections carry the effective values."""

    pool_min_size: int = 0
    pool_max_size: int = 0
    connect_timeout_s: float = 0.0
    statement_timeout_s: float = 0.0
    max_rows: int = 0
    driver_options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectionSpec:
    """A connection as a client asked for it (input form), secrets included."""

    kind: ConnectionKind | None
    display_name: str = ""
    dsn: str = field(default="", repr=False)
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = field(default="", repr=False)
    database: str = ""
    read_only: bool = True
    options: ConnectionOptions = field(default_factory=ConnectionOptions)


@dataclass(frozen=True)
class Connection:
    """A stored connection. `dsn` is masked; only `secret_dsn` holds the password, and
    it never leaves the connector (converters do not read it; repr hides it). It is ""
    when the store was asked for the connection without its secret."""

    connection_id: str
    kind: ConnectionKind
    dsn: str
    secret_dsn: str = field(repr=False)
    display_name: str = ""
    host: str = ""
    port: int = 0
    user: str = ""
    database: str = ""
    has_password: bool = False
    read_only: bool = True
    options: ConnectionOptions = field(default_factory=ConnectionOptions)
    create_time: datetime | None = None
    update_time: datetime | None = None
    # The owning tenant; "" = shared (created by an internal caller), see runtime/tenancy.py.
    tenant: str = ""
    # Output only, not stored: what CreateConnection found worth a warning about the
    # database user (a superuser behind a read-only connection, say).
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def same_spec(self, other: Connection) -> bool:
        """Whether `other` describes the same connection (ignoring times): what an
        idempotent create compares."""
        keys = ("connection_id", "kind", "dsn", "secret_dsn", "display_name", "host", "port",
                "user", "database", "has_password", "read_only", "options", "tenant")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


@dataclass(frozen=True)
class ConnectionList:
    connections: list[Connection]
    next_page_token: str = ""


@dataclass(frozen=True)
class SchemaResult:
    connection_id: str
    schema: SchemaInfo
    version: str
    introspect_time: datetime
    expire_time: datetime
    cached: bool


@dataclass(frozen=True)
class ExecuteRequest:
    connection_id: str
    statement: Statement
    # The dialect the client says the SQL is in ("postgres" | "mysql"); None = unset.
    sql_dialect: str | None = None
    page_size: int = 0
    page_token: str = ""
    timeout_s: float = 0.0  # the request's own timeout; 0 = none
    max_rows: int = 0  # 0 = the connection's
    deadline_s: float | None = None  # time left on the call (transport deadline); None = none


@dataclass(frozen=True)
class QueryPage:
    columns: tuple[ResultColumn, ...]
    rows: list[tuple]
    next_page_token: str
    truncated: bool
    execution_time_s: float
    masked_columns: tuple[str, ...] = ()  # personal data masked for this caller (pii.py)


@dataclass(frozen=True)
class StreamRequest:
    connection_id: str
    statement: Statement
    sql_dialect: str | None = None
    batch_size: int = 0
    timeout_s: float = 0.0
    max_rows: int = 0
    deadline_s: float | None = None


@dataclass(frozen=True)
class StreamHeader:
    columns: tuple[ResultColumn, ...]
    masked_columns: tuple[str, ...] = ()  # personal data masked in every batch (pii.py)


@dataclass(frozen=True)
class StreamBatch:
    rows: list[tuple]
    offset: int


@dataclass(frozen=True)
class StreamSummary:
    rows_returned: int
    truncated: bool
    execution_time_s: float


StreamEvent = StreamHeader | StreamBatch | StreamSummary
