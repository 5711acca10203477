"""ConnectorCore: the connector's policy in plain async Python (no grpc, no pb2).

Everything a transport could get wrong lives here, once: request validation (with
field violations), the connect check before a connection is stored, one lazily opened
Driver (pool) per connection, the schema cache, the read-only guard, timeouts, row caps
and page tokens. Servicers only translate.

The parts it uses have files of their own: tokens.py (page tokens), pools.py (a
driver per connection), schema_cache.py, held_cursors.py, read_ahead.py (streams),
glossary.py (a glossary checked against the schema).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from servers.contracts.glossary import Glossary
from servers.runtime import identity, names, tenancy, tracing
from servers.runtime.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from servers.runtime.settings import Settings

from . import dsn as dsnlib
from .domain import (
    Connection,
    ConnectionConfig,
    ConnectionKind,
    ConnectionList,
    ConnectionOptions,
    ConnectionSpec,
    ExecuteRequest,
    MongoAggregate,
    MongoFind,
    Page,
    QueryPage,
    ResultColumn,
    SchemaInfo,
    SchemaResult,
    SqlQuery,
    Statement,
    StreamBatch,
    StreamEvent,
    StreamHeader,
    StreamRequest,
    StreamSummary,
)
from .drivers import Driver, open_driver
from .glossary import StoredGlossary, unknown_names
from .glossary import validate as validate_glossary
from .held_cursors import HeldCursor, HeldCursors
from .pii import SAMPLE_ROWS, Detected, MaskPlan, PersonalData, detect, fallback, sample_sql
from .pools import PoolManager, driver_config
from .read_ahead import ReadAhead
from .schema_cache import SchemaCache
from .sql_guard import (
    Dialect,
    VerdictKind,
    check_mongo_filter,
    check_mongo_pipeline,
    check_read_only,
    check_writable,
)
from .store import ConnectionStore
from .tokens import page_tokens, statement_digest

log = logging.getLogger("chatdb.connector")

T = TypeVar("T")

CONNECTION_ID = names.NAME
MAX_DISPLAY_NAME = 128
MAX_REQUEST_ID = 128
MAX_POOL_SIZE = 100
# Slack between the timeout the database enforces and the one asyncio enforces as a
# last resort (a driver stuck on a dead socket); the database's own error is better.
_LOCAL_TIMEOUT_SLACK_S = 2.0
_DIALECTS = {ConnectionKind.POSTGRES: Dialect.POSTGRES, ConnectionKind.MYSQL: Dialect.MYSQL}


# --------------------------------------------------------------------------- the core


class ConnectorCore:
    def __init__(
        self,
        settings: Settings,
        store: ConnectionStore,
        *,
        opener: Callable[[ConnectionConfig], Driver] = open_driver,
    ) -> None:
        self.settings = settings
        self.store = store
        self._opener = opener
        self.pools = PoolManager(opener)
        self.schemas = SchemaCache(settings.connector_schema_cache_ttl_s)
        self.cursors = HeldCursors(settings.connector_held_cursors, settings.connector_held_cursor_idle_s)
        self.tokens = page_tokens(settings)
        self.personal = PersonalData()
        self._glossaries: dict[str, tuple[float, Glossary]] = {}  # for masking, kept like schemas

    async def aclose(self) -> None:
        await self.cursors.drop()
        await self.pools.aclose()

    # ----------------------------------------------------------------- connections

    async def create_connection(self, connection_id: str, spec: ConnectionSpec, request_id: str = "") -> Connection:
        connection = self._normalize(connection_id, spec, request_id)
        if request_id:
            earlier = await self.store.get_by_request_id(request_id)
            if earlier is not None:
                return self._replay(earlier, connection, request_id)
        if await self.store.exists(connection_id):
            raise _exists(connection_id)
        if not connection.read_only:
            self._require_writable_allowed(connection_id)
        warnings = await self._check_reachable(connection)
        stored = await self.store.insert(connection, request_id or None)
        if stored is None:  # a concurrent create with the same request_id won the race
            earlier = await self.store.get_by_request_id(request_id)
            if earlier is None:
                raise Unavailable("connection create raced with a delete; retry", reason="CREATE_RACE")
            return self._replay(earlier, connection, request_id)
        log.info("connection created", extra={"connection_id": connection_id, "kind": stored.kind.value,
                                               "read_only": stored.read_only})
        return dataclasses.replace(stored, warnings=warnings)

    def _require_writable_allowed(self, connection_id: str) -> None:
        if not self.settings.connector_allow_writable:
            raise FailedPrecondition(
                f"connection {connection_id!r} is writable (read_only=false), and writable connections "
                "are disabled on this server; an operator can enable them with "
                "CHATDB_CONNECTOR_ALLOW_WRITABLE=true, or use read_only=true",
                reason="WRITABLE_CONNECTIONS_DISABLED", metadata={"connection_id": connection_id},
            )

    @staticmethod
    def _replay(earlier: Connection, wanted: Connection, request_id: str) -> Connection:
        if earlier.same_spec(wanted):
            return earlier
        raise InvalidArgument(
            f"request_id {request_id!r} was already used for another create "
            f"(connection {earlier.connection_id!r}); use a new request_id",
            field="request_id", reason="REQUEST_ID_REUSED",
        )

    async def _check_reachable(self, connection: Connection) -> tuple[str, ...]:
        """Connect once; the warnings about the database user that the caller should see."""
        driver = self._opener(driver_config(connection))
        timeout_s = connection.options.connect_timeout_s + _LOCAL_TIMEOUT_SLACK_S
        try:
            async with asyncio.timeout(timeout_s):
                await driver.check()
                return await self._privilege_warnings(connection, driver)
        except TimeoutError:
            raise FailedPrecondition(
                f"cannot connect: no answer from the database within {timeout_s:g}s",
                reason="CANNOT_CONNECT", metadata={"connection_id": connection.connection_id},
            ) from None
        finally:
            with contextlib.suppress(Exception):
                await driver.close()

    @staticmethod
    async def _privilege_warnings(connection: Connection, driver: Driver) -> tuple[str, ...]:
        try:
            found = await driver.privilege_warnings()
        except Exception as exc:  # noqa: BLE001 - a warning that cannot be computed is no error
            log.info("could not check the database user's privileges",
                     extra={"connection_id": connection.connection_id, "error": repr(exc)})
            return ()
        if connection.read_only:
            advice = ("a read-only connection should use a role that can only SELECT "
                      "(see README: read-only connections)")
        else:
            advice = ("statements on this writable connection run with these privileges; "
                      "prefer a role without them")
        warnings = tuple(f"{w}: {advice}" for w in found)
        for warning in warnings:
            log.warning(warning, extra={"connection_id": connection.connection_id,
                                        "read_only": connection.read_only})
        return warnings

    async def get_connection(self, connection_id: str) -> Connection:
        _check_id(connection_id)
        return await self._visible(connection_id, with_secret=False)

    async def _visible(self, connection_id: str, *, with_secret: bool = True) -> Connection:
        """The connection if the caller's tenant may see it; another tenant's is
        NOT_FOUND exactly as a missing one (runtime/tenancy.py)."""
        connection = await self.store.get(connection_id, with_secret=with_secret)
        if not tenancy.visible(connection.tenant):
            raise _not_found(connection_id)
        return connection

    async def list_connections(self, page_size: int = 0, page_token: str = "",
                               kind: ConnectionKind | None = None) -> ConnectionList:
        size = _page_size(page_size, self.settings.connector_default_list_page_size,
                          self.settings.connector_max_list_page_size, "page_size")
        after = self.tokens.read_list_token(page_token, kind) if page_token else ""
        rows = await self.store.list(limit=size + 1, after=after, kind=kind, tenant=tenancy.filter_tenant())
        if len(rows) > size:
            rows = rows[:size]
            return ConnectionList(rows, self.tokens.list_token(rows[-1].connection_id, kind))
        return ConnectionList(rows, "")

    async def delete_connection(self, connection_id: str, allow_missing: bool = False) -> None:
        _check_id(connection_id)
        if tenancy.filter_tenant() is not None:
            try:
                found = await self.store.get(connection_id, with_secret=False)
            except NotFound:
                found = None
            if found is not None and not tenancy.visible(found.tenant):
                if allow_missing:
                    return
                raise _not_found(connection_id)
            if found is not None:
                tenancy.check_modify(found.tenant, f"connection {connection_id!r}")
        deleted = await self.store.delete(connection_id)
        # Always drop what we hold: another replica may have deleted the row.
        await self.cursors.drop(connection_id)
        self.pools.discard(connection_id)
        self.schemas.invalidate(connection_id)
        self.personal.invalidate(connection_id)
        self._glossaries.pop(connection_id, None)
        if not deleted and not allow_missing:
            raise _not_found(connection_id)
        if deleted:
            log.info("connection deleted", extra={"connection_id": connection_id})

    def _normalize(self, connection_id: str, spec: ConnectionSpec, request_id: str) -> Connection:
        """Validate a create request and turn it into the connection to store, with
        every default filled in; all problems are reported at once."""
        v: list[FieldViolation] = []
        _check_identity(connection_id, spec, request_id, v)
        parsed = _check_target(spec, v)
        options = _effective_options(spec.options, self.settings, v)
        if v:
            raise InvalidArgument.from_violations(v)
        kind = spec.kind
        assert kind is not None
        secret, parsed = _secret_dsn(kind, spec, parsed)
        return Connection(
            connection_id=connection_id,
            kind=kind,
            dsn=dsnlib.masked(parsed),
            secret_dsn=secret,
            display_name=spec.display_name,
            host=parsed.host,
            port=parsed.port or dsnlib.DEFAULT_PORTS[kind.value],
            user=parsed.user,
            database=parsed.database,
            has_password=parsed.has_password,
            read_only=spec.read_only,
            options=options,
            tenant=tenancy.owner(),
        )

    # ----------------------------------------------------------------- schema

    async def get_schema(self, connection_id: str, *, refresh: bool = False,
                         schema_names: tuple[str, ...] = (), tables: tuple[str, ...] = (),
                         deadline_s: float | None = None) -> SchemaResult:
        _check_id(connection_id)
        connection = await self._visible(connection_id)
        timeout_s = self._timeout(connection, 0.0, deadline_s)

        async def introspect() -> SchemaInfo:
            driver = self.pools.get(connection)
            return await self._run(connection, driver, driver.introspect(), timeout_s)

        entry, cached = await self.schemas.get(connection, introspect, refresh)
        schema = entry.schema
        if schema_names or tables:
            wanted_schemas, wanted_tables = set(schema_names), set(tables)
            schema = dataclasses.replace(schema, tables=tuple(
                t for t in schema.tables
                if (not wanted_schemas or t.schema in wanted_schemas)
                and (not wanted_tables or t.name in wanted_tables)
            ))
        return SchemaResult(
            connection_id=connection_id,
            schema=schema,
            version=schema.fingerprint(),
            introspect_time=entry.introspect_time,
            expire_time=entry.expire_time,
            cached=cached,
        )

    # ----------------------------------------------------------------- glossary

    async def get_glossary(self, connection_id: str) -> StoredGlossary:
        _check_id(connection_id)
        await self._visible(connection_id, with_secret=False)
        return await self.store.get_glossary(connection_id)

    async def set_glossary(self, connection_id: str, glossary: Glossary, *, validate_only: bool = False,
                           deadline_s: float | None = None) -> StoredGlossary:
        """Check the glossary against the connection's schema, then store it (unless
        `validate_only`). A name that the cached schema lacks gets one fresh
        introspection before it is refused: the user may have just added the column."""
        _check_id(connection_id)
        connection = await self._visible(connection_id, with_secret=False)
        tenancy.check_modify(connection.tenant, f"connection {connection_id!r}")
        checked = Glossary()  # the client's `version` is output only, like update_time
        if not glossary.empty:
            schema = await self.get_schema(connection_id, deadline_s=deadline_s)
            try:
                checked = validate_glossary(glossary, schema.schema, connection.kind, connection.database)
            except InvalidArgument as exc:
                if not schema.cached or not unknown_names(exc):
                    raise
                schema = await self.get_schema(connection_id, refresh=True, deadline_s=deadline_s)
                checked = validate_glossary(glossary, schema.schema, connection.kind, connection.database)
        if validate_only:
            return StoredGlossary(checked)
        stored = await self.store.put_glossary(connection_id, checked)
        self._glossaries.pop(connection_id, None)  # its pii marks apply from the next query
        log.info("glossary set", extra={"connection_id": connection_id, "version": stored.glossary.version})
        return stored

    # ----------------------------------------------------------------- queries

    async def execute(self, request: ExecuteRequest) -> QueryPage:
        s = self.settings
        page_size = _page_size(request.page_size, s.connector_default_page_size, s.connector_max_page_size, "page_size")
        _check_query_limits(request.timeout_s, request.max_rows)
        _check_id(request.connection_id)
        connection = await self._visible(request.connection_id)
        query = self._admit(connection, request.statement, request.sql_dialect)
        cap = self._row_cap(connection, request.max_rows)
        digest = statement_digest(connection.connection_id, request.statement, cap)
        offset = self.tokens.read_query_token(request.page_token, connection.connection_id, digest) if request.page_token else 0
        limit = min(page_size, cap - offset)
        if limit <= 0:  # only a token minted under different limits could get here
            raise InvalidArgument("page_token points past the end of the result", field="page_token",
                                  reason="INVALID_PAGE_TOKEN")
        timeout_s = self._timeout(connection, request.timeout_s, request.deadline_s)
        driver = self.pools.get(connection)
        started = time.perf_counter()
        key = (connection.connection_id, digest, offset)
        with _db_span(connection, query, offset=offset) as span:
            cursor = self.cursors.take(key)
            if cursor is None and offset == 0 and connection.read_only and self.cursors.room_for(
                connection.connection_id, connection.options.pool_max_size or self.settings.connector_pool_max_size
            ):
                cursor = await self._open_cursor(connection, driver, query, page_size, timeout_s, cap)
            page = None
            if cursor is not None:
                try:
                    rows, more = await self._run(connection, driver, cursor.take(limit), timeout_s)
                    page = Page(cursor.columns, rows, more)
                except Exception:
                    await cursor.close()
                    cursor = None
                    if offset == 0:
                        raise
                    # A parked cursor that broke (its connection was killed, its statement
                    # timed out while parked): read this page the stateless way instead.
            if page is None:
                page = await self._run(connection, driver,
                                       driver.fetch_page(query, offset=offset, limit=limit, timeout_s=timeout_s), timeout_s)
            span.set_attribute("db.response.returned_rows", len(page.rows))
        elapsed = time.perf_counter() - started
        end = offset + len(page.rows)
        next_token, truncated = "", False
        if page.has_more and page.rows:
            if end < cap:
                next_token = self.tokens.query_token(connection.connection_id, digest, end)
            else:
                truncated = True
        if cursor is not None:
            if next_token:
                self.cursors.park((connection.connection_id, digest, end), cursor)
            else:
                await cursor.close()
        columns, rows, masked = page.columns, page.rows, ()
        if self._masking():
            plan = await self._mask_plan(connection, driver, query, columns, rows, timeout_s)
            columns, rows, masked = plan.columns(columns), plan.rows(rows), plan.names
        return QueryPage(columns, rows, next_token, truncated, elapsed, masked)

    async def _open_cursor(self, connection: Connection, driver: Driver, query: Any, page_size: int,
                           timeout_s: float, cap: int) -> HeldCursor:
        rows = driver.stream(query, batch_size=page_size, timeout_s=timeout_s, max_rows=cap + 1)
        try:
            columns = await self._run(connection, driver, anext(rows), timeout_s)
        except BaseException:
            await rows.aclose()
            raise
        return HeldCursor(rows, tuple(columns))

    async def stream(self, request: StreamRequest) -> AsyncIterator[StreamEvent]:
        """Header, then batches, then the summary. Closing this generator (a client
        that cancels) closes the driver's, which stops the database work."""
        s = self.settings
        batch_size = _page_size(request.batch_size, s.connector_stream_batch_size,
                                s.connector_max_stream_batch_size, "batch_size")
        _check_query_limits(request.timeout_s, request.max_rows)
        _check_id(request.connection_id)
        connection = await self._visible(request.connection_id)
        query = self._admit(connection, request.statement, request.sql_dialect)
        cap = self._row_cap(connection, request.max_rows)
        timeout_s = self._timeout(connection, request.timeout_s, request.deadline_s)
        driver = self.pools.get(connection)
        started = time.perf_counter()
        # One row past the cap tells "exactly cap rows" from "cut short".
        source = ReadAhead(driver.stream(query, batch_size=batch_size, timeout_s=timeout_s, max_rows=cap + 1))
        total, truncated = 0, False
        with _db_span(connection, query) as span:
            async with contextlib.aclosing(source):
                columns = await self._run(connection, driver, anext(source), timeout_s)
                plan, first = None, None
                if self._masking():
                    # The first batch comes before the header: a statement without lineage
                    # is masked by its values too.
                    with contextlib.suppress(StopAsyncIteration):
                        first = await self._run(connection, driver, anext(source), None)
                    plan = await self._mask_plan(connection, driver, query, tuple(columns), first or [], timeout_s)
                if plan:
                    yield StreamHeader(plan.columns(tuple(columns)), plan.names)
                else:
                    yield StreamHeader(tuple(columns))
                while not truncated:
                    if first is not None:
                        rows, first = first, None
                    else:
                        try:
                            rows = await self._run(connection, driver, anext(source), None)
                        except StopAsyncIteration:
                            break
                    if total + len(rows) > cap:
                        rows, truncated = rows[: cap - total], True
                    if rows:
                        yield StreamBatch(plan.rows(rows) if plan else rows, total)
                        total += len(rows)
            span.set_attribute("db.response.returned_rows", total)
        yield StreamSummary(total, truncated, time.perf_counter() - started)

    # ----------------------------------------------------------------- personal data

    def _masking(self) -> bool:
        """Whether the current caller gets personal data masked: a principal without the
        admin role. An internal caller (no principal) is the platform: the parser's value
        sampling, the worker's datasets, operators with a mesh certificate."""
        if not self.settings.connector_mask_personal_data:
            return False
        principal = identity.current_principal()
        return principal is not None and not principal.is_admin

    async def _mask_plan(self, connection: Connection, driver: Driver, query: Statement,
                         columns: tuple[ResultColumn, ...], rows: list[tuple], timeout_s: float) -> MaskPlan:
        schema_entry, _ = await self.schemas.get(
            connection, lambda: self._run(connection, driver, driver.introspect(), timeout_s), False)
        schema = schema_entry.schema
        glossary = await self._masking_glossary(connection.connection_id)
        key = (connection.connection_id, connection.create_time)
        versions = (self.personal.version_of(schema), glossary.version)

        async def compute() -> Detected:
            return await detect(schema, glossary.pii_columns, glossary.not_pii_columns,
                                self._sampler(connection, driver, timeout_s))

        detected = await self.personal.get(key, *versions, compute)
        if not detected:
            return MaskPlan((), ())
        flags = None
        if isinstance(query, SqlQuery):
            dialect = _DIALECTS[connection.kind].value
            flags = self.personal.lineage(key, versions, query.sql, dialect, schema, detected)
            tables: tuple[str, ...] = ()
        else:
            tables = (query.collection,)
        if flags is None or len(flags) != len(columns):
            flags = fallback(columns, rows, detected, tables)
        return MaskPlan.of(columns, flags)

    async def _masking_glossary(self, connection_id: str) -> Glossary:
        """The glossary's pii marks, re-read after the schema cache's TTL (at once on
        this replica after SetGlossary)."""
        cached = self._glossaries.get(connection_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        glossary = (await self.store.get_glossary(connection_id)).glossary
        self._glossaries[connection_id] = (time.monotonic() + self.settings.connector_schema_cache_ttl_s, glossary)
        return glossary

    def _sampler(self, connection: Connection, driver: Driver, timeout_s: float):
        """Reads a few rows of a table's columns for value detection; a table that
        cannot be read (a timeout, a permission) is left to detection by name."""

        async def sample(table, columns) -> list[tuple]:
            if connection.kind is ConnectionKind.MONGODB:
                statement: Any = MongoFind(collection=table.name)
            else:
                statement = SqlQuery(sample_sql(table, columns, _DIALECTS[connection.kind].value))
            try:
                page = await self._run(connection, driver,
                                       driver.fetch_page(statement, offset=0, limit=SAMPLE_ROWS, timeout_s=timeout_s),
                                       timeout_s)
            except Exception as exc:  # noqa: BLE001 - detection by name still holds
                log.info("personal data: could not sample a table", extra={
                    "connection_id": connection.connection_id, "table": table.name, "error": repr(exc)[:200]})
                return []
            if connection.kind is not ConnectionKind.MONGODB:
                return page.rows
            at = {c.name: i for i, c in enumerate(page.columns)}
            picks = [at.get(c.name) for c in columns]
            return [tuple(row[i] if i is not None else None for i in picks) for row in page.rows]

        return sample

    # ----------------------------------------------------------------- helpers

    def _admit(self, connection: Connection, statement: Statement, sql_dialect: str | None) -> Statement:
        """The statement if this connection may run it; the read-only guard's verdict
        as PERMISSION_DENIED / INVALID_ARGUMENT otherwise."""
        cid = connection.connection_id
        if isinstance(statement, SqlQuery):
            if connection.kind is ConnectionKind.MONGODB:
                raise InvalidArgument(f"connection {cid!r} is MongoDB: send statement.mongo_find or "
                                      "statement.mongo_aggregate, not SQL", field="statement")
            dialect = _DIALECTS[connection.kind]
            if sql_dialect and sql_dialect != dialect.value:
                raise InvalidArgument(f"statement is written for {sql_dialect} but connection {cid!r} is "
                                      f"{dialect.value}", field="statement.sql.dialect")
            if not statement.sql.strip():
                raise InvalidArgument("the SQL statement is empty", field="statement.sql")
            if connection.read_only:
                database = connection.database if dialect is Dialect.MYSQL else None
                verdict = check_read_only(statement.sql, dialect, database=database)
                if verdict.kind is VerdictKind.REFUSED:
                    raise PermissionDenied(
                        f"connection {cid!r} is read-only and the statement was refused: {verdict.reason}",
                        reason="STATEMENT_NOT_READ_ONLY", metadata={"refused": verdict.reason, "connection_id": cid},
                    )
                if verdict.kind is VerdictKind.SYNTAX_ERROR:
                    raise _syntax_error(verdict.reason, verdict.line, verdict.col)
            else:
                self._require_writable_allowed(cid)
                verdict = check_writable(statement.sql, dialect)
                if verdict.kind is VerdictKind.REFUSED:
                    raise PermissionDenied(
                        f"the statement was refused: {verdict.reason} is not allowed through ChatDB, "
                        f"even on a writable connection ({cid!r})",
                        reason="STATEMENT_NOT_ALLOWED", metadata={"refused": verdict.reason, "connection_id": cid},
                    )
                if verdict.kind is VerdictKind.SYNTAX_ERROR:
                    raise _syntax_error(verdict.reason, verdict.line, verdict.col)
            return statement
        if connection.kind is not ConnectionKind.MONGODB:
            raise InvalidArgument(f"connection {cid!r} is {connection.kind.name}: send statement.sql",
                                  field="statement")
        if not connection.read_only:
            self._require_writable_allowed(cid)
        if connection.read_only:
            if isinstance(statement, MongoFind):
                checks = [("statement.mongo_find.filter", check_mongo_filter(statement.filter))]
                if statement.projection:
                    checks.append(("statement.mongo_find.projection", check_mongo_filter(statement.projection)))
            else:
                assert isinstance(statement, MongoAggregate)
                checks = [("statement.mongo_aggregate.pipeline", check_mongo_pipeline(list(statement.pipeline)))]
            for field, verdict in checks:
                if verdict.kind is VerdictKind.REFUSED:
                    raise PermissionDenied(
                        f"connection {cid!r} is read-only and the statement was refused: {verdict.reason}",
                        reason="STATEMENT_NOT_READ_ONLY", metadata={"refused": verdict.reason, "connection_id": cid},
                    )
                if verdict.kind is VerdictKind.SYNTAX_ERROR:
                    raise InvalidArgument(verdict.reason, field=field)
        return statement

    def _row_cap(self, connection: Connection, requested: int) -> int:
        cap = connection.options.max_rows or self.settings.connector_max_rows
        return min(cap, requested) if requested > 0 else cap

    def _timeout(self, connection: Connection, requested_s: float, deadline_s: float | None) -> float:
        """min(call deadline, the request's timeout, the connection's statement timeout)."""
        timeout = connection.options.statement_timeout_s or self.settings.connector_statement_timeout_s
        if requested_s > 0:
            timeout = min(timeout, requested_s)
        if deadline_s is not None:
            if deadline_s <= 0:
                raise DeadlineExceeded("the call's deadline passed before the statement started")
            # Leave the database's timeout error a moment to reach the client before the
            # client's own deadline fires, so it carries the database's message.
            timeout = min(timeout, max(deadline_s - min(0.1, deadline_s * 0.1), 0.001))
        return timeout

    async def _run(self, connection: Connection, driver: Driver, awaitable: Awaitable[T],
                   timeout_s: float | None) -> T:
        """Await a driver call: a local timeout as the last resort behind the database's
        own, and a driver that lost its database dropped so the next call rebuilds it."""
        try:
            if timeout_s is None:
                return await awaitable
            async with asyncio.timeout(timeout_s + _LOCAL_TIMEOUT_SLACK_S):
                return await awaitable
        except TimeoutError:
            self.pools.discard(connection.connection_id, driver)
            raise DeadlineExceeded(f"the statement did not finish within {timeout_s:g}s",
                                   reason="STATEMENT_TIMEOUT") from None
        except Unavailable:
            self.pools.discard(connection.connection_id, driver)
            raise


_DB_SYSTEMS = {ConnectionKind.POSTGRES: "postgresql", ConnectionKind.MYSQL: "mysql", ConnectionKind.MONGODB: "mongodb"}


def _db_span(connection: Connection, query: Statement, **attributes: Any):
    """The tracing span of one statement run on the connection's database (the SQL as
    run, or the MongoDB command as JSON)."""
    if isinstance(query, SqlQuery):
        operation = query.sql.lstrip(" (\n\t").split(None, 1)[0].upper() if query.sql.strip() else "SQL"
        text = query.sql
    elif isinstance(query, MongoFind):
        operation = "find"
        text = json.dumps({"find": query.collection, "filter": query.filter, "projection": query.projection,
                           "sort": query.sort, "skip": query.skip, "limit": query.limit}, default=str)
    else:
        operation = "aggregate"
        text = json.dumps({"aggregate": query.collection, "pipeline": list(query.pipeline)}, default=str)
    return tracing.db_span(_DB_SYSTEMS[connection.kind], connection.database or "", text, operation,
                           **{"chatdb.connection_id": connection.connection_id, **attributes})


def _not_found(connection_id: str) -> NotFound:
    return NotFound(f"connection {connection_id!r} not found", reason="CONNECTION_NOT_FOUND",
                    metadata={"connection_id": connection_id})


def _exists(connection_id: str) -> AlreadyExists:
    return AlreadyExists(f"connection {connection_id!r} already exists", reason="CONNECTION_EXISTS",
                         metadata={"connection_id": connection_id})


def _check_id(connection_id: str) -> None:
    if not CONNECTION_ID.match(connection_id or ""):
        raise InvalidArgument(
            "connection_id must be 1-63 characters of lowercase letters, digits and hyphens, "
            "starting with a letter", field="connection_id",
        )


def _page_size(value: int, default: int, maximum: int, field: str) -> int:
    if value < 0:
        raise InvalidArgument(f"{field} must not be negative", field=field)
    return min(value or default, maximum)


def _check_query_limits(timeout_s: float, max_rows: int) -> None:
    v = []
    if timeout_s < 0:
        v.append(FieldViolation("timeout", "must not be negative"))
    if max_rows < 0:
        v.append(FieldViolation("max_rows", "must not be negative"))
    if v:
        raise InvalidArgument.from_violations(v)


def _syntax_error(message: str, line: int | None, col: int | None) -> InvalidArgument:
    where = f" (line {line}, column {col})" if line is not None and col is not None and f"line {line}" not in message else ""
    metadata = {"line": str(line), "column": str(col)} if line is not None and col is not None else {}
    return InvalidArgument(f"syntax error: {message}{where}", field="statement.sql",
                           reason="SQL_SYNTAX_ERROR", metadata=metadata)


# ----------------------------------------------------------------------- create checks


def _check_identity(connection_id: str, spec: ConnectionSpec, request_id: str, v: list[FieldViolation]) -> None:
    """The id, request id, display name and kind of a create request."""
    if not CONNECTION_ID.match(connection_id or ""):
        v.append(FieldViolation("connection_id", "must be 1-63 characters of lowercase letters, digits "
                                "and hyphens, starting with a letter"))
    if len(request_id) > MAX_REQUEST_ID:
        v.append(FieldViolation("request_id", f"must be at most {MAX_REQUEST_ID} characters"))
    if len(spec.display_name) > MAX_DISPLAY_NAME:
        v.append(FieldViolation("connection.display_name", f"must be at most {MAX_DISPLAY_NAME} characters"))
    if spec.kind is None:
        v.append(FieldViolation("connection.kind", "is required (POSTGRES, MYSQL or MONGODB)"))


def _check_target(spec: ConnectionSpec, v: list[FieldViolation]) -> dsnlib.ParsedDsn | None:
    """Where the connection points: its DSN, parsed, when it has one; else its host,
    port and database fields are checked (and None returned)."""
    kind = spec.kind
    parsed: dsnlib.ParsedDsn | None = None
    if spec.dsn:
        try:
            parsed = dsnlib.parse(spec.dsn)
        except dsnlib.DsnError as exc:
            v.append(FieldViolation("connection.dsn", str(exc)))
        else:
            if kind is not None and parsed.scheme not in dsnlib.SCHEMES[kind.value]:
                v.append(FieldViolation("connection.dsn", f"scheme {parsed.scheme!r} does not match kind "
                                        f"{kind.name}; use {' or '.join(dsnlib.SCHEMES[kind.value])}"))
            if not parsed.database:
                v.append(FieldViolation("connection.dsn", "names no database (…/database)"))
    else:
        if not spec.host:
            v.append(FieldViolation("connection.host", "is required when connection.dsn is not set"))
        if not spec.database:
            v.append(FieldViolation("connection.database", "is required when connection.dsn is not set"))
        if not 0 <= spec.port <= 65535:
            v.append(FieldViolation("connection.port", "must be between 0 and 65535"))
        if any(c in spec.host for c in "/@?#, "):
            v.append(FieldViolation("connection.host", "must be a host name or IP address"))
    return parsed


def _effective_options(o: ConnectionOptions, s: Settings, v: list[FieldViolation]) -> ConnectionOptions:
    """The requested options checked against the server's limits, with each 0 (the
    default) replaced by the server's value."""
    pool_min = o.pool_min_size or s.connector_pool_min_size
    pool_max = o.pool_max_size or max(s.connector_pool_max_size, pool_min)
    if o.pool_min_size < 0 or o.pool_min_size > MAX_POOL_SIZE:
        v.append(FieldViolation("connection.options.pool_min_size", f"must be between 0 and {MAX_POOL_SIZE}"))
    if o.pool_max_size < 0 or o.pool_max_size > MAX_POOL_SIZE:
        v.append(FieldViolation("connection.options.pool_max_size", f"must be between 0 and {MAX_POOL_SIZE}"))
    elif pool_min > pool_max:
        v.append(FieldViolation("connection.options.pool_max_size", "must not be less than pool_min_size"))
    if o.connect_timeout_s < 0:
        v.append(FieldViolation("connection.options.connect_timeout", "must not be negative"))
    if o.statement_timeout_s < 0 or o.statement_timeout_s > s.connector_max_statement_timeout_s:
        v.append(FieldViolation("connection.options.statement_timeout",
                                f"must be between 0 and {s.connector_max_statement_timeout_s:g}s"))
    if o.max_rows < 0 or o.max_rows > s.connector_row_cap:
        v.append(FieldViolation("connection.options.max_rows", f"must be between 0 and {s.connector_row_cap}"))
    for key in o.driver_options:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,63}", key):
            v.append(FieldViolation("connection.options.driver_options", f"invalid option name {key!r}"))
        elif key.lower() in ("password", "pwd", "passwd"):
            v.append(FieldViolation("connection.options.driver_options",
                                    "must not carry the password; use connection.password"))
    return ConnectionOptions(
        pool_min_size=pool_min,
        pool_max_size=pool_max,
        connect_timeout_s=o.connect_timeout_s or s.connector_connect_timeout_s,
        statement_timeout_s=o.statement_timeout_s or s.connector_statement_timeout_s,
        max_rows=o.max_rows or min(s.connector_max_rows, s.connector_row_cap),
        driver_options=dict(o.driver_options),
    )


def _secret_dsn(kind: ConnectionKind, spec: ConnectionSpec,
                parsed: dsnlib.ParsedDsn | None) -> tuple[str, dsnlib.ParsedDsn]:
    """The DSN to connect with, password included, and its parse."""
    if parsed is None:
        secret = dsnlib.build(kind.value, spec.host, spec.port, spec.user, spec.password, spec.database)
        return secret, dsnlib.parse(secret)
    secret = spec.dsn
    if spec.password and parsed.password is None:
        # A DSN without a password plus a separate password field: combine them.
        secret = dsnlib.unparse(parsed, password=spec.password, query=parsed.query)
        parsed = dsnlib.parse(secret)
    return secret, parsed
