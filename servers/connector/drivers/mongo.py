"""MongoDB through motor, all in this one module (so that motor can later give way to
PyMongo's own async client without touching anything else).

Queries arrive as dicts (extended JSON is the caller's concern): a find (filter,
projection, sort, skip, limit) or an aggregate pipeline. Documents become rows whose
columns are the union of the top-level fields seen (_id first, then by first
appearance); a field missing from a document is NULL. Nested documents and arrays are
JSON cells (relaxed extended JSON, so ObjectIds and dates inside stay recognisable).

A page is read with skip/limit (+1 to know whether more follows); a stream reads a
server cursor with batch_size and takes its columns from the first batch (a field
first seen in a later batch is not a column of the stream). Server-side timeouts use
maxTimeMS. On a read-only connection $out and $merge stages are refused here too.

Cell values: ObjectId -> hex text; Decimal128 -> Decimal; datetime -> aware UTC;
Int64 -> int; Binary -> bytes (UUIDs -> text); dict/list -> Json; others Unsupported.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pymongo.errors as mongo_errors
from bson import Decimal128, Int64, ObjectId, json_util
from bson.binary import Binary
from motor.motor_asyncio import AsyncIOMotorClient

from servers.runtime.errors import (
    ChatDBError,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unavailable,
)
from servers.runtime.metrics import PoolUse

from .. import dsn as dsn_util
from ..domain import (
    ColumnInfo,
    ConnectionConfig,
    ConnectionKind,
    DataType,
    Json,
    MongoAggregate,
    MongoFind,
    Page,
    Query,
    ResultColumn,
    SchemaInfo,
    TableInfo,
    Unsupported,
)
from .base import (
    Driver,
    check_paging,
    check_stream_args,
    connect_failure,
    deadline_error,
    timeout_ms,
    within,
)

SAMPLE_SIZE = 200  # documents sampled per collection to infer its fields (half oldest, half newest)
NESTED_DEPTH = 3  # dotted sub-fields of embedded documents listed by introspect()
_WRITE_STAGES = ("$out", "$merge")
_JSON_OPTIONS = json_util.RELAXED_JSON_OPTIONS

# -- values -----------------------------------------------------------------------------


def classify(value: Any) -> tuple[DataType | None, str]:
    """(DataType, BSON type name) of a document value; None for a null."""
    if value is None:
        return None, "null"
    if isinstance(value, bool):
        return DataType.BOOLEAN, "bool"
    if isinstance(value, Int64):
        return DataType.INTEGER, "long"
    if isinstance(value, int):
        return DataType.INTEGER, "int" if -(2**31) <= value < 2**31 else "long"
    if isinstance(value, float):
        return DataType.FLOAT, "double"
    if isinstance(value, Decimal128 | Decimal):
        return DataType.DECIMAL, "decimal"
    if isinstance(value, str):
        return DataType.TEXT, "string"
    if isinstance(value, ObjectId):
        return DataType.TEXT, "objectId"
    if isinstance(value, datetime):
        return DataType.TIMESTAMP, "date"
    if isinstance(value, uuid.UUID):
        return DataType.TEXT, "uuid"
    if isinstance(value, bytes):  # bson.Binary is bytes
        return DataType.BYTES, "binData"
    if isinstance(value, Mapping):
        return DataType.JSON, "object"
    if isinstance(value, list | tuple):
        return DataType.JSON, "array"
    return DataType.OTHER, type(value).__name__


def cell(value: Any) -> Any:
    """A document value as a cell."""
    if value is None or isinstance(value, bool | float | str):
        return value
    if isinstance(value, int):
        return int(value)  # Int64 -> int
    if isinstance(value, Decimal128):
        return value.to_decimal()
    if isinstance(value, Decimal):
        return value
    if isinstance(value, ObjectId | uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, Binary):
        return bytes(value)
    if isinstance(value, bytes):
        return value
    if isinstance(value, Mapping | list | tuple):
        return Json(json_util.dumps(value, json_options=_JSON_OPTIONS, ensure_ascii=False))
    return Unsupported(str(value))


def merge_types(types: Iterable[DataType]) -> DataType:
    found = set(types)
    if not found:
        return DataType.OTHER
    if len(found) == 1:
        return found.pop()
    if found <= {DataType.INTEGER, DataType.FLOAT}:
        return DataType.FLOAT
    if found <= {DataType.INTEGER, DataType.FLOAT, DataType.DECIMAL}:
        return DataType.DECIMAL
    return DataType.OTHER


class _FieldStats:
    """What a sample says about one field: types seen, and how often it was there."""

    def __init__(self) -> None:
        self.types: dict[DataType, None] = {}
        self.natives: dict[str, None] = {}
        self.present = 0
        self.nulls = 0

    def add(self, value: Any) -> None:
        dtype, native = classify(value)
        self.present += 1
        self.natives[native] = None
        if dtype is None:
            self.nulls += 1
        else:
            self.types[dtype] = None

    @property
    def type(self) -> DataType:
        return merge_types(self.types)

    @property
    def native(self) -> str:
        natives = [n for n in self.natives if n != "null"] or ["null"]
        return "|".join(sorted(natives))


def _field_order(names: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(names))
    if "_id" in names:
        names.remove("_id")
        names.insert(0, "_id")
    return names


def result_columns(docs: list[Mapping], projection: Mapping | None) -> tuple[ResultColumn, ...]:
    stats: dict[str, _FieldStats] = {}
    for doc in docs:
        for key, value in doc.items():
            stats.setdefault(key, _FieldStats()).add(value)
    if not docs and projection:
        # No document to learn from: the projection's included fields, at least.
        included = [k for k, v in projection.items() if v and not k.startswith("$")]
        if included and projection.get("_id", 1):
            included.insert(0, "_id")
        for key in included:
            stats.setdefault(key, _FieldStats())
    return tuple(
        ResultColumn(name=name, type=stats[name].type, native_type=stats[name].native)
        for name in _field_order(stats)
    )


def to_rows(docs: list[Mapping], columns: tuple[ResultColumn, ...]) -> list[tuple]:
    names = [c.name for c in columns]
    return [tuple(cell(doc.get(name)) for name in names) for doc in docs]


# -- schema inference -------------------------------------------------------------------


def infer_columns(docs: list[Mapping]) -> tuple[ColumnInfo, ...]:
    """Columns of a collection from sampled documents: top-level fields, and dotted
    sub-fields of embedded documents (not of arrays) down to NESTED_DEPTH levels."""
    stats: dict[str, _FieldStats] = {}

    def walk(doc: Mapping, prefix: str, depth: int) -> None:
        for key, value in doc.items():
            name = f"{prefix}{key}"
            stats.setdefault(name, _FieldStats()).add(value)
            if isinstance(value, Mapping) and depth < NESTED_DEPTH:
                walk(value, f"{name}.", depth + 1)

    for doc in docs:
        walk(doc, "", 1)
    columns = []
    for ordinal, name in enumerate(_field_order(stats), 1):
        st = stats[name]
        columns.append(
            ColumnInfo(
                name=name,
                type=st.type,
                native_type=st.native,
                nullable=name != "_id" and (st.nulls > 0 or st.present < len(docs)),
                primary_key_ordinal=1 if name == "_id" else 0,
                ordinal=ordinal,
            )
        )
    return tuple(columns)


# -- errors -----------------------------------------------------------------------------


def map_error(exc: BaseException, *, timeout_s: float | None, field: str) -> ChatDBError:
    if isinstance(exc, ChatDBError):
        return exc
    if isinstance(exc, mongo_errors.ExecutionTimeout):
        return deadline_error(timeout_s) if timeout_s else DeadlineExceeded(str(exc))
    if isinstance(exc, mongo_errors.OperationFailure):
        code = exc.code or 0
        text = (exc.details or {}).get("errmsg") or str(exc)
        meta = {"code": str(code)}
        if code == 50:
            return deadline_error(timeout_s) if timeout_s else DeadlineExceeded(text)
        if code == 18:
            return FailedPrecondition(
                f"cannot connect: authentication failed ({text})", metadata=meta
            )
        if code == 13:
            return PermissionDenied(
                f"permission denied by the database: {text}",
                reason="DATABASE_PERMISSION_DENIED",
                metadata=meta,
            )
        return InvalidArgument(text, field=field, reason="QUERY_ERROR", metadata=meta)
    if isinstance(exc, mongo_errors.ConnectionFailure):  # incl. server selection timeouts
        return Unavailable(f"database unavailable: {_short(exc)}", reason="DATABASE_UNAVAILABLE")
    if isinstance(exc, mongo_errors.ConfigurationError):
        return FailedPrecondition(f"cannot connect: {exc}")
    if isinstance(exc, mongo_errors.PyMongoError | TypeError | ValueError):
        return InvalidArgument(f"invalid query: {exc}", field=field)
    if isinstance(exc, NotImplementedError):  # mongomock: an operator it lacks
        return InvalidArgument(f"not supported by this server: {exc}", field=field)
    return Unavailable(f"database unavailable: {type(exc).__name__}: {exc}")


def _short(exc: BaseException) -> str:
    """pymongo's server selection errors end with a long topology dump: drop it."""
    return str(exc).split(", Timeout: ")[0].split(", Topology Description: ")[0]


# -- driver -----------------------------------------------------------------------------


def database_name(dsn: str) -> str:
    try:
        parsed = dsn_util.parse(dsn)
    except ValueError as exc:
        raise InvalidArgument(f"malformed DSN: {exc}", field="connection.dsn") from None
    if parsed.scheme not in ("mongodb", "mongodb+srv"):
        raise InvalidArgument(
            f"a MongoDB DSN starts with mongodb:// or mongodb+srv://, not {parsed.scheme}://",
            field="connection.dsn",
        )
    if not parsed.database:
        raise InvalidArgument(
            "a MongoDB DSN names its database: mongodb://host:27017/<database>",
            field="connection.dsn",
        )
    return parsed.database


class MongoDriver(Driver):
    kind = ConnectionKind.MONGODB
    dialect = "mongodb"

    def __init__(self, config: ConnectionConfig, *, client: Any = None) -> None:
        """`client`: an existing motor-compatible client to use (and not close), e.g.
        mongomock-motor's AsyncMongoMockClient in tests."""
        super().__init__(config)
        self._database = database_name(config.dsn)
        self._client = client
        self._owns_client = client is None
        self._lock = asyncio.Lock()
        self._closed = False

    async def _db(self) -> Any:
        if self._closed:
            raise FailedPrecondition("the connection's driver has been closed")
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    # Creating the client does not connect; it connects on first use.
                    cfg = self.config
                    self._client = AsyncIOMotorClient(
                        cfg.dsn,
                        tz_aware=True,
                        uuidRepresentation="standard",
                        appname="chatdb-connector",
                        minPoolSize=max(0, cfg.pool_min_size),
                        maxPoolSize=max(1, cfg.pool_max_size),
                        connectTimeoutMS=timeout_ms(cfg.connect_timeout_s),
                        serverSelectionTimeoutMS=timeout_ms(cfg.connect_timeout_s),
                    )
        return self._client[self._database]

    async def check(self) -> None:
        timeout_s = self.config.connect_timeout_s
        try:
            db = await self._db()
            await within(db.command("ping"), timeout_s)
            await within(db.list_collection_names(), timeout_s)  # authorised on this database?
        except Exception as exc:
            failure = connect_failure(exc, timeout_s, _describe_connect_error)
            if failure is exc:
                raise
            raise failure from exc

    async def introspect(self) -> SchemaInfo:
        timeout_s = self.config.statement_timeout_s
        try:
            db = await self._db()
            names = await within(db.list_collection_names(), timeout_s)
            tables = []
            for name in sorted(n for n in names if not n.startswith("system.")):
                tables.append(
                    await within(self._describe_collection(db[name], timeout_s), timeout_s)
                )
        except Exception as exc:
            raise map_error(exc, timeout_s=timeout_s, field="collection") from exc
        return SchemaInfo(database=self._database, tables=tuple(tables))

    async def _describe_collection(self, coll: Any, timeout_s: float) -> TableInfo:
        # The sample is the oldest and the newest documents by _id rather than $sample:
        # deterministic, so that the fingerprint only moves when the data's shape does,
        # and it sees fields added as the application evolved.
        ms = timeout_ms(timeout_s)
        half = SAMPLE_SIZE // 2
        oldest = [d async for d in coll.find({}, sort=[("_id", 1)], limit=half, max_time_ms=ms)]
        newest = [d async for d in coll.find({}, sort=[("_id", -1)], limit=half, max_time_ms=ms)]
        seen = {_key(d.get("_id")) for d in oldest}
        docs = oldest + [d for d in reversed(newest) if _key(d.get("_id")) not in seen]
        try:
            estimate = int(await coll.estimated_document_count())
        except mongo_errors.OperationFailure:  # a view has no count of its own
            estimate = len(docs)
        columns = infer_columns(docs)
        return TableInfo(
            name=coll.name,
            schema=self._database,
            kind="collection",
            columns=columns,
            primary_key=("_id",) if any(c.name == "_id" for c in columns) else (),
            foreign_keys=(),
            comment="",
            row_estimate=estimate,
        )

    async def fetch_page(self, query: Query, *, offset: int, limit: int, timeout_s: float) -> Page:
        check_paging(offset, limit)
        field = _field(query)
        try:
            cursor = await self._page_cursor(query, offset, limit, timeout_s)
            if cursor is None:
                docs = []
            else:
                try:
                    docs = await within(_take(cursor, limit + 1), timeout_s)
                finally:
                    with contextlib.suppress(Exception):
                        await cursor.close()
        except Exception as exc:
            raise map_error(exc, timeout_s=timeout_s, field=field) from exc
        projection = query.projection if isinstance(query, MongoFind) else None
        columns = result_columns(docs[:limit], projection)
        return Page(
            columns=columns, rows=to_rows(docs[:limit], columns), has_more=len(docs) > limit
        )

    async def stream(
        self, query: Query, *, batch_size: int, timeout_s: float, max_rows: int
    ) -> AsyncIterator[tuple[ResultColumn, ...] | list[tuple]]:
        check_stream_args(batch_size, max_rows)
        field = _field(query)
        projection = query.projection if isinstance(query, MongoFind) else None
        cursor = None
        try:
            if max_rows == 0:
                yield result_columns([], projection)
                return
            cursor = await self._stream_cursor(query, batch_size, max_rows, timeout_s)
            docs = await within(_take(cursor, batch_size), timeout_s)
            columns = result_columns(docs, projection)
            yield columns
            while docs:
                yield to_rows(docs, columns)
                if len(docs) < batch_size:
                    break
                docs = await within(_take(cursor, batch_size), timeout_s)
        except Exception as exc:
            raise map_error(exc, timeout_s=timeout_s, field=field) from exc
        finally:
            if cursor is not None:
                # Kills the server cursor when the consumer stopped early.
                with contextlib.suppress(Exception):
                    await cursor.close()

    def pool_use(self) -> PoolUse | None:
        """From pymongo's pools (not a public API: None when they cannot be read, as
        with mongomock or another pymongo's internals)."""
        client = self._client
        if client is None:
            return PoolUse(0, 0, max(1, self.config.pool_max_size))
        try:
            pools = [server.pool for server in client.delegate._topology._servers.values()]
            active = sum(int(pool.active_sockets) for pool in pools)
            idle = sum(len(pool.conns) for pool in pools)
        except (AttributeError, TypeError, RuntimeError):
            return None
        return PoolUse(active + idle, active, max(1, self.config.pool_max_size))

    async def close(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            client.close()

    # -- cursors ------------------------------------------------------------------------

    def _check(self, query: Query) -> None:
        if isinstance(query, MongoFind):
            if not isinstance(query.filter, Mapping):
                raise InvalidArgument("the filter must be a document", field="statement.filter")
            if query.skip < 0 or query.limit < 0:
                raise InvalidArgument("skip and limit must be >= 0", field="statement.limit")
        elif isinstance(query, MongoAggregate):
            for i, stage in enumerate(query.pipeline):
                if not isinstance(stage, Mapping) or len(stage) != 1:
                    raise InvalidArgument(
                        f"pipeline stage {i} must be a document with exactly one stage operator",
                        field="statement.pipeline",
                    )
                if self.config.read_only and next(iter(stage)) in _WRITE_STAGES:
                    raise PermissionDenied(
                        f"refused on a read-only connection: pipeline stage {i} "
                        f"({next(iter(stage))}) writes to a collection",
                        reason="READ_ONLY_VIOLATION",
                    )
        else:
            raise InvalidArgument(
                "a MongoDB connection runs find or aggregate queries, not SQL",
                field="statement",
            )

    async def _page_cursor(self, query: Query, offset: int, limit: int, timeout_s: float) -> Any:
        self._check(query)
        db = await self._db()
        coll = db[query.collection]
        ms = timeout_ms(timeout_s)
        if isinstance(query, MongoFind):
            want = limit + 1
            if query.limit:
                remaining = query.limit - offset
                if remaining <= 0:
                    return None
                want = min(want, remaining)
            return _find(coll, query, skip=query.skip + offset, limit=want, ms=ms)
        pipeline = list(query.pipeline)
        if offset:
            pipeline.append({"$skip": offset})
        pipeline.append({"$limit": limit + 1})
        return coll.aggregate(pipeline, maxTimeMS=ms)

    async def _stream_cursor(
        self, query: Query, batch_size: int, max_rows: int, timeout_s: float
    ) -> Any:
        self._check(query)
        db = await self._db()
        coll = db[query.collection]
        ms = timeout_ms(timeout_s)
        if isinstance(query, MongoFind):
            limit = min(query.limit, max_rows) if query.limit else max_rows
            return _find(coll, query, skip=query.skip, limit=limit, ms=ms, batch_size=batch_size)
        pipeline = [*query.pipeline, {"$limit": max_rows}]
        return coll.aggregate(pipeline, maxTimeMS=ms, batchSize=batch_size)


def _find(
    coll: Any, query: MongoFind, *, skip: int, limit: int, ms: int, batch_size: int = 0
) -> Any:
    kwargs: dict[str, Any] = {
        "filter": dict(query.filter),
        "projection": query.projection or None,
        "skip": skip,
        "limit": limit,
        "max_time_ms": ms,
    }
    if query.sort:
        kwargs["sort"] = [(name, int(direction)) for name, direction in query.sort]
    if batch_size:
        kwargs["batch_size"] = batch_size
    return coll.find(**kwargs)


async def _take(cursor: Any, n: int) -> list[Mapping]:
    """The next n documents of a cursor (fewer at its end); the cursor stays open."""
    docs: list[Mapping] = []
    if n <= 0:
        return docs
    async for doc in cursor:
        docs.append(doc)
        if len(docs) >= n:
            break
    return docs


def _key(value: Any) -> str:
    return f"{type(value).__name__}:{value!r}"


def _field(query: Query) -> str:
    if isinstance(query, MongoAggregate):
        return "statement.pipeline"
    return "statement.filter"


def _describe_connect_error(exc: Exception) -> str:
    err = map_error(exc, timeout_s=None, field="connection.dsn")
    return err.message.removeprefix("cannot connect: ").removeprefix("database unavailable: ")

