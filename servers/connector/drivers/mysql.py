"""MySQL and MariaDB through aiomysql: one lazily created pool per connection.

Each pooled connection is set up once: multi-statements off (PyMySQL always asks for
them; a stacked "…; COMMIT; DELETE …" must not be possible whatever the SQL guard
says), session time zone UTC, and on a read-only connection SESSION TRANSACTION READ
ONLY, which also refuses DDL (DDL commits implicitly, so START TRANSACTION READ ONLY
alone would let it through).

Each statement then runs with the session's timeout (MariaDB max_statement_time in
seconds, MySQL max_execution_time in ms, SELECT only) and sql_select_limit set to the
rows we will read at most, inside START TRANSACTION [READ ONLY] … ROLLBACK/COMMIT, and
is read through an unbuffered SSCursor. A connection left with unread rows or a
statement in flight (consumer gone, timeout, cancellation) is not drained: the
statement is stopped with KILL QUERY from another connection and the connection is
dropped from the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiomysql
from pymysql import converters as pymysql_converters
from pymysql.constants import COMMAND

from servers.runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
)
from servers.runtime.metrics import PoolUse

from .. import dsn as dsn_util
from ..domain import (
    ConnectionConfig,
    ConnectionKind,
    Page,
    Query,
    ResultColumn,
    SchemaInfo,
    SqlQuery,
)
from . import mysql_schema
from .base import Driver, check_paging, check_stream_args, connect_failure, timeout_ms, within
from .cells import row_converter, sql_param
from .mysql_errors import cannot_connect, is_connection_lost, is_server_error, map_error
from .mysql_types import result_column

log = logging.getLogger(__name__)

NO_LIMIT = 18446744073709551615  # sql_select_limit's default: no limit
_MULTI_STATEMENTS_OFF = struct.pack("<H", 1)  # COM_SET_OPTION MYSQL_OPTION_MULTI_STATEMENTS_OFF
_JSON_TTL_S = 30.0  # how long the MariaDB JSON column list is trusted
_KILL_TIMEOUT_S = 5.0
_CLOSE_GRACE_S = 5.0
_DSN_OPTIONS = {
    "unix_socket",
    "ssl",
    "ssl-mode",
    "ssl_mode",
    "sslmode",
    "ssl-ca",
    "ssl_ca",
    "charset",
}


def connect_params(config: ConnectionConfig) -> dict[str, Any]:
    """aiomysql.connect keyword arguments from a mysql:// or mariadb:// DSN."""
    try:
        parsed = dsn_util.parse(config.dsn)
    except ValueError as exc:
        raise InvalidArgument(f"malformed DSN: {exc}", field="connection.dsn") from None
    if parsed.scheme not in ("mysql", "mariadb", "mysql+aiomysql", "mysql+pymysql"):
        raise InvalidArgument(
            f"a MySQL DSN starts with mysql:// or mariadb://, not {parsed.scheme}://",
            field="connection.dsn",
        )
    options = {k.lower(): v for k, v in parsed.query}
    unknown = sorted(set(options) - _DSN_OPTIONS)
    if unknown:
        raise InvalidArgument(
            f"unsupported DSN option(s) {', '.join(unknown)}; supported: "
            + ", ".join(sorted(_DSN_OPTIONS)),
            field="connection.dsn",
        )
    params: dict[str, Any] = {
        "host": parsed.host,
        "port": parsed.port or 3306,
        "user": parsed.user or "root",
        "password": parsed.password or "",
        "db": parsed.database or None,
        "charset": "utf8mb4",  # always: every cell is Unicode text or bytes
        "autocommit": True,  # transactions are explicit: START TRANSACTION … ROLLBACK
        "connect_timeout": config.connect_timeout_s,
    }
    if options.get("unix_socket"):
        params["unix_socket"] = options["unix_socket"]
    mode = (
        options.get("ssl-mode")
        or options.get("ssl_mode")
        or options.get("sslmode")
        or options.get("ssl")
        or ""
    ).lower()
    if mode and mode not in ("0", "false", "disable", "disabled"):
        context = ssl.create_default_context(cafile=options.get("ssl-ca") or options.get("ssl_ca"))
        if mode not in ("verify_identity", "verify-full", "verify_full"):
            context.check_hostname = False
        if mode in ("1", "true", "require", "required", "preferred", "prefer"):
            context.verify_mode = ssl.CERT_NONE
        params["ssl"] = context
    return params


class _Cursor(aiomysql.Cursor):
    """A buffered cursor for our own statements (setup, ROLLBACK, introspection).

    aiomysql turns server warnings into Python warnings with an extra SHOW WARNINGS
    round trip; a warning from information_schema (a view over a dropped table, say) is
    not our caller's business."""

    async def _show_warnings(self, conn: Any) -> None:
        return None


class _Session:
    """A pooled connection for one statement, and whether it can go back to the pool.

    `busy` is true while the server may still be executing or sending rows: such a
    connection must not be reused."""

    def __init__(self, conn: aiomysql.Connection) -> None:
        self.conn = conn
        self.cursor: aiomysql.SSCursor | None = None
        self.busy = False
        self.broken = False

    async def execute(self, sql: str, params: tuple, timeout_s: float) -> aiomysql.SSCursor:
        cursor = await self.conn.cursor(aiomysql.SSCursor)
        self.busy = True
        try:
            # No parameters: no %-interpolation, so a literal % needs no doubling.
            await within(cursor.execute(sql, params if params else None), timeout_s)
        except Exception as exc:
            if is_server_error(exc):
                self.busy = False  # the server said no; nothing is left to read
            raise
        self.cursor = cursor
        if cursor.description is None:
            self.busy = False  # a statement without a result set
        return cursor

    async def fetch(self, n: int, timeout_s: float) -> list[tuple]:
        assert self.cursor is not None
        try:
            rows = await within(self.cursor.fetchmany(n), timeout_s)
        except Exception as exc:
            if is_server_error(exc):
                self.busy = False
            raise
        rows = list(rows or ())
        if len(rows) < n:
            self.busy = False  # end of the result read
        return rows


class MySQLDriver(Driver):
    kind = ConnectionKind.MYSQL
    dialect = "mysql"

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self._params = connect_params(config)
        self._pool: aiomysql.Pool | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._mariadb = True  # learnt from the first connection's server version
        self._json_columns: frozenset[tuple[str, str, str]] = frozenset()
        self._json_checked_at = float("-inf")
        self._background: set[asyncio.Task] = set()

    # -- pool and sessions --------------------------------------------------------------

    async def _get_pool(self) -> aiomysql.Pool:
        pool = self._pool
        if pool is not None:
            return pool
        async with self._lock:
            if self._closed:
                raise FailedPrecondition("the connection's driver has been closed")
            if self._pool is None:
                max_size = max(1, self.config.pool_max_size)
                self._pool = await aiomysql.create_pool(
                    minsize=min(max(0, self.config.pool_min_size), max_size),
                    maxsize=max_size,
                    pool_recycle=3600,
                    **self._params,
                )
            return self._pool

    async def _prepare_connection(self, conn: aiomysql.Connection) -> None:
        """Once per pooled connection (see the module docstring)."""
        if getattr(conn, "_chatdb_ready", False):
            return
        self._mariadb = "mariadb" in conn.get_server_info().lower()
        # PyMySQL has no API for COM_SET_OPTION; the command is one packet, answered by
        # an EOF (or an error, which _read_packet raises).
        await conn._execute_command(COMMAND.COM_SET_OPTION, _MULTI_STATEMENTS_OFF)
        await conn._read_packet()
        async with conn.cursor(_Cursor) as cur:
            await cur.execute("SET time_zone = '+00:00'")
            if self.config.read_only:
                await cur.execute("SET SESSION TRANSACTION READ ONLY")
        conn._chatdb_ready = True

    async def _setup(self, conn: aiomysql.Connection, timeout_s: float, select_limit: int) -> None:
        await self._prepare_connection(conn)
        async with conn.cursor(_Cursor) as cur:
            if self._mariadb:
                await cur.execute(
                    "SET SESSION max_statement_time = %s, SESSION sql_select_limit = %s",
                    (round(timeout_s, 3), select_limit),
                )
            else:
                await cur.execute(
                    "SET SESSION max_execution_time = %s, SESSION sql_select_limit = %s",
                    (timeout_ms(timeout_s), select_limit),
                )
            if self._mariadb and time.monotonic() - self._json_checked_at > _JSON_TTL_S:
                self._json_columns = await mysql_schema.json_columns(cur)
                self._json_checked_at = time.monotonic()
            await cur.execute(
                "START TRANSACTION READ ONLY" if self.config.read_only else "START TRANSACTION"
            )

    @contextlib.asynccontextmanager
    async def _session(self, timeout_s: float, select_limit: int) -> AsyncIterator[_Session]:
        """A set-up connection inside a transaction. A connection found dead during the
        setup (the server restarted, or killed it) is dropped with the pool's idle ones
        and the setup retried once on a fresh one; a statement that was in flight is
        never re-run."""
        timeout_ms(timeout_s)  # validates
        pool = await within(self._get_pool(), timeout_s)
        for attempt in (1, 2):
            conn = await within(pool.acquire(), timeout_s)
            session = _Session(conn)
            try:
                try:
                    await within(self._setup(conn, timeout_s, select_limit), timeout_s)
                except BaseException as exc:
                    session.broken = True
                    if attempt == 1 and isinstance(exc, Exception) and is_connection_lost(exc):
                        # Its idle siblings are most likely dead too (server restart):
                        # close them all, so the retry opens a fresh connection.
                        with contextlib.suppress(Exception):
                            await within(pool.clear(), timeout_s)
                        continue
                    raise
                try:
                    yield session
                except BaseException:
                    if not session.busy and not conn.closed:
                        await self._end(session, commit=False, timeout_s=timeout_s)
                    raise
                if not session.busy:
                    await self._end(session, commit=not self.config.read_only, timeout_s=timeout_s)
                return
            finally:
                self._release(pool, session)

    async def _end(self, session: _Session, *, commit: bool, timeout_s: float) -> None:
        try:
            async with session.conn.cursor(_Cursor) as cur:
                await within(cur.execute("COMMIT" if commit else "ROLLBACK"), timeout_s)
        except Exception:
            session.broken = True
            if commit:
                raise
            # A failed ROLLBACK only costs the connection.
        except BaseException:  # cancelled: the connection may be mid-command
            session.broken = True
            raise

    def _release(self, pool: aiomysql.Pool, session: _Session) -> None:
        conn = session.conn
        if session.busy:
            # The statement may still run or send rows: stop it from another connection,
            # and never read the rest (an SSCursor would drain everything on close).
            # Even when aiomysql has closed the socket (it does on cancellation) the
            # server goes on until it next writes to it, which a sort may not do for long.
            self._spawn(self._kill_query(conn.thread_id()))
        if session.busy or session.broken:
            conn.close()
        _release(pool, conn)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _kill_query(self, thread_id: int) -> None:
        try:
            params = {**self._params, "db": None}  # the database may be gone; no matter
            conn = await asyncio.wait_for(aiomysql.connect(**params), _KILL_TIMEOUT_S)
            try:
                async with conn.cursor(_Cursor) as cur:
                    await asyncio.wait_for(
                        cur.execute(f"KILL QUERY {int(thread_id)}"), _KILL_TIMEOUT_S
                    )
            finally:
                conn.close()
        except Exception as exc:  # 1094 unknown thread: it has already ended
            log.debug("KILL QUERY %s: %s", thread_id, exc)

    # -- Driver -------------------------------------------------------------------------

    async def check(self) -> None:
        timeout_s = self.config.connect_timeout_s
        try:
            pool = await within(self._get_pool(), timeout_s)
            conn = await within(pool.acquire(), timeout_s)
            try:
                await within(self._prepare_connection(conn), timeout_s)
                async with conn.cursor(_Cursor) as cur:
                    await within(cur.execute("SELECT 1"), timeout_s)
            except BaseException:
                conn.close()
                raise
            finally:
                _release(pool, conn)
        except Exception as exc:
            failure = connect_failure(exc, timeout_s, cannot_connect)
            if failure is exc:
                raise
            raise failure from exc

    async def privilege_warnings(self) -> list[str]:
        # USER_PRIVILEGES lists the current account's global privileges (all of them
        # for root); SUPER and FILE (INTO OUTFILE, LOAD_FILE, LOAD DATA) stand out.
        timeout_s = self.config.connect_timeout_s
        try:
            async with self._session(timeout_s, NO_LIMIT) as session:
                async with session.conn.cursor(_Cursor) as cur:
                    await within(cur.execute(
                        "SELECT CURRENT_USER(), PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES"
                    ), timeout_s)
                    rows = await within(cur.fetchall(), timeout_s)
        except Exception as exc:
            raise map_error(exc, timeout_s=timeout_s) from exc
        privileges = {str(r[1]).upper() for r in rows}
        user = rows[0][0] if rows else "?"
        if "SUPER" in privileges:
            return [f"database user {user!r} has the SUPER privilege (a superuser)"]
        return [f"database user {user!r} has the FILE privilege"] if "FILE" in privileges else []

    async def introspect(self) -> SchemaInfo:
        timeout_s = self.config.statement_timeout_s
        try:
            async with self._session(timeout_s, NO_LIMIT) as session:
                async with session.conn.cursor(_Cursor) as cur:
                    schema = await within(
                        mysql_schema.introspect(cur, mariadb=self._mariadb), timeout_s
                    )
        except Exception as exc:
            raise map_error(exc, timeout_s=timeout_s) from exc
        return schema

    async def fetch_page(self, query: Query, *, offset: int, limit: int, timeout_s: float) -> Page:
        check_paging(offset, limit)
        sql, params = _statement(query)
        # The server sends at most offset + limit + 1 rows (unless the statement's own
        # LIMIT is larger: that wins, and the rest is killed rather than read).
        cap = min(offset + limit + 1, NO_LIMIT)
        try:
            async with self._session(timeout_s, cap) as session:
                cursor = await session.execute(sql, params, timeout_s)
                if cursor.description is None:
                    return Page(columns=(), rows=[], has_more=False)
                columns, convert = self._describe(cursor)
                skipped = 0
                while skipped < offset and session.busy:
                    skipped += len(await session.fetch(min(10_000, offset - skipped), timeout_s))
                rows = await session.fetch(limit + 1, timeout_s) if session.busy else []
                if session.busy:
                    await session.fetch(1, timeout_s)  # normally reads the end of the result
        except Exception as exc:
            raise map_error(exc, timeout_s=timeout_s) from exc
        return Page(
            columns=columns, rows=[convert(r) for r in rows[:limit]], has_more=len(rows) > limit
        )

    async def stream(
        self, query: Query, *, batch_size: int, timeout_s: float, max_rows: int
    ) -> AsyncIterator[tuple[ResultColumn, ...] | list[tuple]]:
        check_stream_args(batch_size, max_rows)
        sql, params = _statement(query)
        try:
            async with self._session(timeout_s, max_rows) as session:
                cursor = await session.execute(sql, params, timeout_s)
                if cursor.description is None:
                    yield ()
                    return
                columns, convert = self._describe(cursor)
                yield columns
                sent = 0
                while sent < max_rows and session.busy:
                    want = min(batch_size, max_rows - sent)
                    rows = await session.fetch(want, timeout_s)
                    if rows:
                        yield [convert(r) for r in rows]
                    sent += len(rows)
                if session.busy:
                    await session.fetch(1, timeout_s)  # normally reads the end of the result
        except Exception as exc:
            raise map_error(exc, timeout_s=timeout_s) from exc

    def pool_use(self) -> PoolUse:
        pool, max_size = self._pool, max(1, self.config.pool_max_size)
        if pool is None:
            return PoolUse(0, 0, max_size)
        size = pool.size
        return PoolUse(size, max(0, size - pool.freesize), pool.maxsize)

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if self._background:
            await asyncio.wait(set(self._background), timeout=_KILL_TIMEOUT_S)
        if pool is not None:
            pool.close()
            try:
                await asyncio.wait_for(pool.wait_closed(), _CLOSE_GRACE_S)
            except Exception:
                pool.terminate()

    # -- helpers ------------------------------------------------------------------------

    def _describe(self, cursor: aiomysql.SSCursor):
        fields = cursor._result.fields  # PyMySQL field packets: type code, flags, charset
        described = [result_column(f, self._json_columns) for f in fields]
        return tuple(c for c, _ in described), row_converter([conv for _, conv in described])


def _release(pool: aiomysql.Pool, conn: aiomysql.Connection) -> None:
    """Give a connection back; a closed one is discarded, making room for a new one."""
    closed = conn.closed
    pool.release(conn)
    if closed:
        # aiomysql wakes the tasks waiting for a connection only when an open one comes
        # back; without this nudge a full pool would keep them waiting.
        wakeup = getattr(pool, "_wakeup", None)
        if wakeup is not None:
            asyncio.get_running_loop().create_task(wakeup())


def _statement(query: Query) -> tuple[str, tuple]:
    if not isinstance(query, SqlQuery):
        raise InvalidArgument(
            "a MySQL connection runs SQL statements, not MongoDB queries", field="statement"
        )
    if not query.sql.strip():
        raise InvalidArgument("the SQL statement is empty", field="statement.sql")
    return query.sql, tuple(_param(p) for p in query.params)


class _Bytes:
    """A bytes parameter. aiomysql 0.3's Connection.escape() special-cases bytes through
    a PyMySQL helper that PyMySQL 1.2 removed (a TypeError); any other type goes through
    PyMySQL's encoder table, where this one is registered with PyMySQL's escape_bytes."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


pymysql_converters.encoders.setdefault(
    _Bytes, lambda value, mapping=None: pymysql_converters.escape_bytes(value.data, mapping)
)


def _param(value: Any) -> Any:
    value = sql_param(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        # The session time zone is UTC; PyMySQL would drop the offset silently.
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, bytes | bytearray | memoryview):
        return _Bytes(bytes(value))
    return value
