"""Service-level domain types of the connector: connections, requests and results.

The database-level types (schemas, statements, pages, cell values) live in `domain.py`,
shared with the drivers; these are what the core takes and returns. No grpc, no pb2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .domain import (
    ConnectionKind,
    MongoAggregate,
    MongoFind,
    ResultColumn,
    SchemaInfo,
    SqlQuery,
)

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
    # Output only, not stored: what CreateConnection found worth a warning about the
    # database user (a superuser behind a read-only connection, say).
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def same_spec(self, other: Connection) -> bool:
        """Whether `other` describes the same connection (ignoring times): what an
        idempotent create compares."""
        keys = ("connection_id", "kind", "dsn", "secret_dsn", "display_name", "host", "port",
                "user", "database", "has_password", "read_only", "options")
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
