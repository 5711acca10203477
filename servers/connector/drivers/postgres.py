"""PostgreSQL through asyncpg: one lazily created pool per connection.

Every statement runs in its own transaction: READ ONLY, REPEATABLE READ on a read-only
connection (the second wall behind the SQL guard), with `statement_timeout` set LOCAL
to the query's timeout so that the server itself stops a slow query. Rows are read
through a portal (asyncpg cursor): a page moves past `offset` rows on the server and
fetches `limit + 1`; a stream fetches batch by batch, so memory stays flat.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import asyncpg

from servers.runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
)
from servers.runtime.metrics import PoolUse

from ..domain import (
    ConnectionConfig,
    ConnectionKind,
    Page,
    Query,
    ResultColumn,
    SchemaInfo,
    SqlQuery,
)
from . import pg_schema, pg_types
from .base import (
    Driver,
    check_paging,
    check_stream_args,
    connect_failure,
    timeout_ms,
    within,
)
from .cells import row_converter, sql_param
from .pg_errors import cannot_connect, is_connection_lost, map_error

_SET_TIMEOUT = "SELECT set_config('statement_timeout', $1, true)"
_TYPTYPES = "SELECT oid, typtype::text FROM pg_type WHERE oid = ANY($1::oid[])"
_CLOSE_GRACE_S = 5.0
# Superuser, and the predefined roles that reach the server's files and programs (COPY
# ... PROGRAM, pg_read_file): a user holding any of them is more than a reader.
_PRIVILEGES = """
SELECT current_user AS name, r.rolsuper AS superuser,
       pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER') AS programs,
       pg_has_role(current_user, 'pg_read_server_files', 'MEMBER') AS reads,
       pg_has_role(current_user, 'pg_write_server_files', 'MEMBER') AS writes
FROM pg_roles r WHERE r.rolname = current_user
"""


class PostgresDriver(Driver):
    kind = ConnectionKind.POSTGRES
    dialect = "postgres"

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        # pg_type.typtype of non-builtin result types seen so far (enums are text).
        self._typtypes: dict[int, str] = {}

    # -- pool -------------------------------------------------------------------------

    async def _get_pool(self) -> asyncpg.Pool:
        pool = self._pool
        if pool is not None:
            return pool
        async with self._lock:
            if self._closed:
                raise FailedPrecondition("the connection's driver has been closed")
            if self._pool is None:
                cfg = self.config
                settings = {"application_name": "chatdb-connector"}
                if cfg.read_only:
                    # A third wall: even a transaction we did not open is read-only.
                    settings["default_transaction_read_only"] = "on"
                max_size = max(1, cfg.pool_max_size)
                # A pool that fails to fill is not kept: the next call tries again.
                self._pool = await asyncpg.create_pool(
                    cfg.dsn,
                    min_size=min(max(0, cfg.pool_min_size), max_size),
                    max_size=max_size,
                    timeout=cfg.connect_timeout_s,
                    command_timeout=None,
                    server_settings=settings,
                )
            return self._pool

    @contextlib.asynccontextmanager
    async def _transaction(self, timeout_s: float) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection inside a transaction with statement_timeout set.

        A connection that turns out to be dead before the statement is sent (the
        database restarted since it was pooled) is dropped, the pool's other connections
        expired, and the setup retried once on a fresh one; a failure after that is the
        caller's to see. A statement that was in flight is never re-run."""
        ms = str(timeout_ms(timeout_s))
        pool = await within(self._get_pool(), timeout_s)
        for attempt in (1, 2):
            # Waiting for a free pooled connection counts against the query's deadline.
            conn = await within(pool.acquire(), timeout_s)
            try:
                tx = conn.transaction(
                    isolation="repeatable_read" if self.config.read_only else None,
                    readonly=self.config.read_only,
                )
                try:
                    await within(tx.start(), timeout_s)
                    await within(conn.execute(_SET_TIMEOUT, ms), timeout_s)
                except Exception as exc:
                    if attempt == 1 and is_connection_lost(exc):
                        # When one pooled connection is dead (the server restarted, an
                        # admin terminated backends), its siblings most likely are too:
                        # replace them all, so the retry gets a fresh one.
                        with contextlib.suppress(Exception):  # may be detached already
                            conn.terminate()
                        await pool.expire_connections()
                        continue
                    raise
                try:
                    yield conn
                except BaseException:
                    with contextlib.suppress(Exception):  # a dead connection cannot roll back
                        if not conn.is_closed():
                            await tx.rollback()
                    raise
                await within(tx.commit(), timeout_s)
                return
            finally:
                await pool.release(conn)

    # -- Driver -----------------------------------------------------------------------

    async def check(self) -> None:
        timeout_s = self.config.connect_timeout_s
        try:
            pool = await within(self._get_pool(), timeout_s)
            async with pool.acquire(timeout=timeout_s) as conn:
                await within(conn.fetchval("SELECT 1"), timeout_s)
        except Exception as exc:
            failure = connect_failure(exc, timeout_s, cannot_connect)
            if failure is exc:
                raise
            raise failure from exc

    async def privilege_warnings(self) -> list[str]:
        timeout_s = self.config.connect_timeout_s
        try:
            async with self._transaction(timeout_s) as conn:
                row = await within(conn.fetchrow(_PRIVILEGES), timeout_s)
        except Exception as exc:
            raise map_error(exc, timeout_s=timeout_s) from exc
        if row is None:
            return []
        name = row["name"]
        if row["superuser"]:
            return [f"database user {name!r} is a superuser"]
        return [
            f"database user {name!r} is a member of {role}"
            for key, role in (("programs", "pg_execute_server_program"),
                              ("reads", "pg_read_server_files"),
                              ("writes", "pg_write_server_files"))
            if row[key]
        ]

    async def introspect(self) -> SchemaInfo:
        timeout_s = self.config.statement_timeout_s
        try:
            async with self._transaction(timeout_s) as conn:
                return await within(pg_schema.introspect(conn), timeout_s)
        except Exception as exc:
            raise map_error(exc, timeout_s=timeout_s) from exc

    async def fetch_page(self, query: Query, *, offset: int, limit: int, timeout_s: float) -> Page:
        check_paging(offset, limit)
        sql, params = _statement(query)
        try:
            async with self._transaction(timeout_s) as conn:
                stmt = await within(conn.prepare(sql), timeout_s)
                columns, convert = await self._describe(conn, stmt, timeout_s)
                if not columns:  # a statement without a result (DML on a writable connection)
                    await within(stmt.fetch(*params), timeout_s)
                    return Page(columns=(), rows=[], has_more=False)
                cursor = await within(stmt.cursor(*params), timeout_s)
                if offset:
                    await within(cursor.forward(offset), timeout_s)
                records = await within(cursor.fetch(limit + 1), timeout_s)
        except Exception as exc:
            raise map_error(exc, timeout_s=timeout_s) from exc
        rows = [convert(r) for r in records[:limit]]
        return Page(columns=columns, rows=rows, has_more=len(records) > limit)

    async def stream(
        self, query: Query, *, batch_size: int, timeout_s: float, max_rows: int
    ) -> AsyncIterator[tuple[ResultColumn, ...] | list[tuple]]:
        check_stream_args(batch_size, max_rows)
        sql, params = _statement(query)
        try:
            # Closing this generator (or cancelling its consumer) unwinds the transaction:
            # a fetch in flight is cancelled on the server by asyncpg, then ROLLBACK closes
            # the portal. Between batches the server holds no running query.
            async with self._transaction(timeout_s) as conn:
                stmt = await within(conn.prepare(sql), timeout_s)
                columns, convert = await self._describe(conn, stmt, timeout_s)
                yield columns
                if not columns:
                    await within(stmt.fetch(*params), timeout_s)
                    return
                cursor = await within(stmt.cursor(*params), timeout_s)
                sent = 0
                while sent < max_rows:
                    want = min(batch_size, max_rows - sent)
                    records = await within(cursor.fetch(want), timeout_s)
                    if records:
                        yield [convert(r) for r in records]
                    sent += len(records)
                    if len(records) < want:
                        break
        except Exception as exc:
            raise map_error(exc, timeout_s=timeout_s) from exc

    def pool_use(self) -> PoolUse:
        pool, max_size = self._pool, max(1, self.config.pool_max_size)
        if pool is None:
            return PoolUse(0, 0, max_size)
        size = pool.get_size()
        return PoolUse(size, max(0, size - pool.get_idle_size()), pool.get_max_size())

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), _CLOSE_GRACE_S)
            except Exception:
                pool.terminate()

    # -- helpers ----------------------------------------------------------------------

    async def _describe(
        self,
        conn: asyncpg.Connection,
        stmt: asyncpg.prepared_stmt.PreparedStatement,
        timeout_s: float,
    ) -> tuple[tuple[ResultColumn, ...], Callable[[Sequence[Any]], tuple]]:
        attributes = stmt.get_attributes()
        unknown = [
            a.type.oid
            for a in attributes
            if not pg_types.is_known(a.type.name)
            and a.type.kind == "scalar"
            and a.type.oid not in self._typtypes
        ]
        if unknown:
            for oid, typtype in await within(conn.fetch(_TYPTYPES, unknown), timeout_s):
                self._typtypes[oid] = typtype
        columns, converters = [], []
        for attr in attributes:
            typ = attr.type
            typtype = self._typtypes.get(typ.oid, "b") if typ.kind == "scalar" else "x"
            dtype = pg_types.data_type(typ.name, typtype)
            columns.append(ResultColumn(name=attr.name, type=dtype, native_type=typ.name))
            converters.append(pg_types.converter(typ.name, dtype))
        return tuple(columns), row_converter(converters)


def _statement(query: Query) -> tuple[str, tuple]:
    if not isinstance(query, SqlQuery):
        raise InvalidArgument(
            "a PostgreSQL connection runs SQL statements, not MongoDB queries",
            field="statement",
        )
    if not query.sql.strip():
        raise InvalidArgument("the SQL statement is empty", field="statement.sql")
    return query.sql, tuple(sql_param(p) for p in query.params)
