"""The registry's SQL (platform PostgreSQL, asyncpg) and its live event wake-ups.

`RegistryStore` reads; `RegistryStore.transaction()` gives a `RegistryTransaction` whose
methods the core sequences into one unit of work (lock the model, number the version,
move an alias, append events). `EventNotifier` keeps one LISTEN connection per process
and wakes the watchers of that process. Driver errors become domain errors here.

Event ordering (why a resuming watcher never skips an event)
------------------------------------------------------------
A watcher reads `sequence > last_seen` and remembers the highest sequence it got. With a
plain bigserial that is unsound: transaction A takes 10, B takes 11, B commits first, a
watcher reads 11 and moves past 10, which commits a moment later and is never seen.

So sequence numbers are not taken from a sequence object: `append_event` increments the
single row of `registry_event_counter` and uses the new value. The UPDATE takes that row's
lock and holds it until the transaction ends, which serialises every event-writing
transaction from the moment it numbers its first event until it commits or rolls back:

* B cannot get 11 before A, holding 10, has finished; PostgreSQL makes A's commit visible
  before it releases A's locks, so by the time B can commit, 10 is already visible. Any
  snapshot that shows 11 therefore shows 10: visible sequences are always a prefix.
* A rollback undoes the increment too, so the sequence has no gaps (1, 2, 3, …).

Writers also lock the model row first and the counter last (always in that order, so
they cannot deadlock); the counter is held only for the tail of each transaction. All of
this lives in PostgreSQL, so it holds across any number of registry replicas.

Live delivery: `append_event` also runs pg_notify(CHANNEL) in the same transaction;
PostgreSQL delivers it only after the commit, to every replica's listener, which wakes
its watchers to re-read `sequence > last_seen`. A periodic poll is the backstop for a lost
listener connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg

from servers.runtime.errors import Aborted, DeadlineExceeded, InvalidArgument
from servers.runtime.pg import platform_errors

from .domain import (
    Artifact,
    EventType,
    Model,
    ModelEvent,
    ModelVersion,
    NewEvent,
    TensorSpec,
    VersionSpec,
    VersionState,
)

log = logging.getLogger("chatdb.registry.store")

CHANNEL = "chatdb_registry_events"

_MODEL_COLUMNS = """
    m.name, m.description, m.latest_version, m.create_time, m.update_time, m.tenant,
    coalesce((SELECT jsonb_object_agg(a.alias, a.version) FROM registry_aliases a
              WHERE a.model = m.name), '{}'::jsonb)::text AS aliases
"""

_VERSION_COLUMNS = """
    model, version, state, artifact_sha256, artifact_size_bytes, artifact_format,
    artifact_uri, inputs::text AS inputs, outputs::text AS outputs, metric_names,
    metric_values, dataset_fingerprint, library_versions::text AS library_versions,
    training_job_id, task, description, create_time, tenant
"""

_EVENT_COLUMNS = "sequence, type, model, version, alias, previous_version, event_time"


@contextlib.contextmanager
def _translating() -> Iterator[None]:
    """Driver errors → domain errors, at the store's boundary (connection loss through
    the runtime's one translation: PLATFORM_DATABASE_UNAVAILABLE)."""
    with platform_errors():
        try:
            yield
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as exc:
            raise Aborted(f"registry transaction conflicted, retry: {exc}", reason="TRANSACTION_CONFLICT") from exc
        except asyncpg.QueryCanceledError as exc:
            raise DeadlineExceeded("registry query took too long", reason="QUERY_CANCELLED") from exc
        except asyncpg.DataError as exc:
            raise InvalidArgument(f"a value cannot be stored: {exc}") from exc


# --- row mapping -------------------------------------------------------------------------


def _specs(raw: str) -> tuple[TensorSpec, ...]:
    return tuple(
        TensorSpec(d["name"], d.get("datatype", ""), tuple(int(x) for x in d.get("shape", ())))
        for d in json.loads(raw)
    )


def _specs_json(specs: tuple[TensorSpec, ...]) -> str:
    return json.dumps([{"name": s.name, "datatype": s.datatype, "shape": list(s.shape)} for s in specs])


def _model(row: asyncpg.Record) -> Model:
    return Model(
        name=row["name"],
        description=row["description"],
        latest_version=row["latest_version"],
        aliases={k: int(v) for k, v in json.loads(row["aliases"]).items()},
        create_time=row["create_time"],
        update_time=row["update_time"],
        tenant=row["tenant"],
    )


def _version(row: asyncpg.Record) -> ModelVersion:
    return ModelVersion(
        model=row["model"],
        version=row["version"],
        state=VersionState(row["state"]),
        artifact=Artifact(
            sha256=row["artifact_sha256"],
            size_bytes=row["artifact_size_bytes"],
            format=row["artifact_format"],
            uri=row["artifact_uri"],
        ),
        spec=VersionSpec(
            inputs=_specs(row["inputs"]),
            outputs=_specs(row["outputs"]),
            metrics=dict(zip(row["metric_names"], row["metric_values"], strict=True)),
            dataset_fingerprint=row["dataset_fingerprint"],
            library_versions=json.loads(row["library_versions"]),
            training_job_id=row["training_job_id"],
            task=row["task"],
            description=row["description"],
            format=row["artifact_format"],
        ),
        create_time=row["create_time"],
        tenant=row["tenant"],
    )


def _event(row: asyncpg.Record) -> ModelEvent:
    return ModelEvent(
        sequence=row["sequence"],
        type=EventType(row["type"]),
        model=row["model"],
        version=row["version"],
        alias=row["alias"],
        previous_version=row["previous_version"],
        event_time=row["event_time"],
    )


# --- queries shared by the store (on the pool) and transactions (on one connection) ------

Executor = Any  # asyncpg.Pool or asyncpg.Connection: both have fetch/fetchrow/fetchval


async def _get_model(db: Executor, name: str) -> Model | None:
    row = await db.fetchrow(f"SELECT {_MODEL_COLUMNS} FROM registry_models m WHERE m.name = $1", name)
    return _model(row) if row else None


async def _get_version(db: Executor, model: str, version: int) -> ModelVersion | None:
    row = await db.fetchrow(
        f"SELECT {_VERSION_COLUMNS} FROM registry_model_versions WHERE model = $1 AND version = $2",
        model, version,
    )
    return _version(row) if row else None


async def _aliases(db: Executor, model: str) -> dict[str, int]:
    rows = await db.fetch("SELECT alias, version FROM registry_aliases WHERE model = $1", model)
    return {r["alias"]: r["version"] for r in rows}


class RegistryStore:
    """Reads of models, versions, aliases and events; `transaction()` for writes."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[RegistryTransaction]:
        with _translating():
            async with self._pool.acquire() as conn, conn.transaction():
                yield RegistryTransaction(conn)

    async def list_models(self, *, after: str | None, name_prefix: str, limit: int,
                          tenant: str | None = None) -> list[Model]:
        """With `tenant`, only that tenant's models and shared ones."""
        with _translating():
            rows = await self._pool.fetch(
                f"""SELECT {_MODEL_COLUMNS} FROM registry_models m
                    WHERE ($1::text IS NULL OR m.name > $1) AND starts_with(m.name, $2)
                      AND ($4::text IS NULL OR m.tenant = '' OR m.tenant = $4)
                    ORDER BY m.name LIMIT $3""",
                after, name_prefix, limit, tenant,
            )
        return [_model(r) for r in rows]

    async def get_model(self, name: str) -> Model | None:
        with _translating():
            return await _get_model(self._pool, name)

    async def list_versions(
        self, model: str, *, before: int | None, state: VersionState | None, limit: int
    ) -> list[ModelVersion]:
        with _translating():
            rows = await self._pool.fetch(
                f"""SELECT {_VERSION_COLUMNS} FROM registry_model_versions
                    WHERE model = $1 AND ($2::bigint IS NULL OR version < $2)
                      AND ($3::text IS NULL OR state = $3)
                    ORDER BY version DESC LIMIT $4""",
                model, before, state.value if state else None, limit,
            )
        return [_version(r) for r in rows]

    async def get_version(self, model: str, version: int) -> ModelVersion | None:
        with _translating():
            return await _get_version(self._pool, model, version)

    async def latest_ready_version(self, model: str) -> ModelVersion | None:
        with _translating():
            row = await self._pool.fetchrow(
                f"""SELECT {_VERSION_COLUMNS} FROM registry_model_versions
                    WHERE model = $1 AND state = 'ready' ORDER BY version DESC LIMIT 1""",
                model,
            )
        return _version(row) if row else None

    async def alias_target(self, model: str, alias: str) -> int | None:
        with _translating():
            return await self._pool.fetchval(
                "SELECT version FROM registry_aliases WHERE model = $1 AND alias = $2", model, alias
            )

    async def last_sequence(self) -> int:
        with _translating():
            return await self._pool.fetchval("SELECT last_sequence FROM registry_event_counter")

    async def events_after(self, sequence: int, model: str | None, limit: int,
                           tenant: str | None = None) -> list[ModelEvent]:
        """With `tenant`, only events of that tenant's models and shared ones."""
        with _translating():
            if tenant is not None:
                rows = await self._pool.fetch(
                    f"""SELECT {_EVENT_COLUMNS} FROM registry_events e
                        WHERE sequence > $1 AND ($3::text IS NULL OR e.model = $3)
                          AND EXISTS (SELECT 1 FROM registry_models m WHERE m.name = e.model
                                      AND (m.tenant = '' OR m.tenant = $4))
                        ORDER BY sequence LIMIT $2""",
                    sequence, limit, model, tenant,
                )
            elif model is None:
                rows = await self._pool.fetch(
                    f"SELECT {_EVENT_COLUMNS} FROM registry_events WHERE sequence > $1 ORDER BY sequence LIMIT $2",
                    sequence, limit,
                )
            else:
                rows = await self._pool.fetch(
                    f"""SELECT {_EVENT_COLUMNS} FROM registry_events
                        WHERE model = $1 AND sequence > $2 ORDER BY sequence LIMIT $3""",
                    model, sequence, limit,
                )
        return [_event(r) for r in rows]


class RegistryTransaction:
    """The writes of one transaction on one connection; the core decides their order."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def lock_model(self, name: str) -> Model | None:
        """Take the model's row lock (serialises version numbering and alias moves)."""
        if await self._conn.fetchval("SELECT 1 FROM registry_models WHERE name = $1 FOR UPDATE", name) is None:
            return None
        return await _get_model(self._conn, name)

    async def lock_or_create_model(self, name: str, description: str, tenant: str = "") -> Model:
        """The model, locked; created for `tenant` when new (an existing model keeps its
        own tenant: the caller checks it)."""
        # A concurrent creator of the same new model makes this INSERT wait for its
        # commit (unique index), then do nothing; the FOR UPDATE below then queues.
        await self._conn.execute(
            """INSERT INTO registry_models (name, description, tenant) VALUES ($1, $2, $3)
               ON CONFLICT (name) DO NOTHING""",
            name, description, tenant,
        )
        model = await self.lock_model(name)
        assert model is not None  # inserted above, and models are never deleted
        return model

    async def get_model(self, name: str) -> Model | None:
        return await _get_model(self._conn, name)

    async def get_version(self, model: str, version: int) -> ModelVersion | None:
        return await _get_version(self._conn, model, version)

    async def version_by_request_id(self, model: str, request_id: str) -> ModelVersion | None:
        row = await self._conn.fetchrow(
            f"SELECT {_VERSION_COLUMNS} FROM registry_model_versions WHERE model = $1 AND request_id = $2",
            model, request_id,
        )
        return _version(row) if row else None

    async def insert_version(
        self, model: str, version: int, artifact: Artifact, spec: VersionSpec, request_id: str | None,
        tenant: str = "",
    ) -> ModelVersion:
        row = await self._conn.fetchrow(
            f"""INSERT INTO registry_model_versions (
                    model, version, state, artifact_sha256, artifact_size_bytes, artifact_format,
                    artifact_uri, inputs, outputs, metric_names, metric_values, dataset_fingerprint,
                    library_versions, training_job_id, task, description, request_id, tenant)
                VALUES ($1, $2, 'ready', $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11,
                        $12::jsonb, $13, $14, $15, $16, $17)
                RETURNING {_VERSION_COLUMNS}""",
            model, version, artifact.sha256, artifact.size_bytes, artifact.format, artifact.uri,
            _specs_json(spec.inputs), _specs_json(spec.outputs),
            list(spec.metrics), [float(v) for v in spec.metrics.values()],
            spec.dataset_fingerprint, json.dumps(spec.library_versions), spec.training_job_id,
            spec.task, spec.description, request_id, tenant,
        )
        return _version(row)

    async def update_model(
        self, name: str, *, latest_version: int | None = None, description: str | None = None
    ) -> None:
        """Bump update_time, and set latest_version / description when given."""
        await self._conn.execute(
            """UPDATE registry_models
               SET latest_version = coalesce($2, latest_version),
                   description = coalesce($3, description),
                   update_time = now()
               WHERE name = $1""",
            name, latest_version, description,
        )

    async def aliases(self, model: str) -> dict[str, int]:
        return await _aliases(self._conn, model)

    async def put_alias(self, model: str, alias: str, version: int) -> int:
        """Point the alias at `version`; returns where it pointed before (0 when new).
        The caller holds the model's row lock, so nothing moves it in between."""
        previous = await self._conn.fetchval(
            "SELECT version FROM registry_aliases WHERE model = $1 AND alias = $2", model, alias
        )
        if previous != version:
            await self._conn.execute(
                """INSERT INTO registry_aliases (model, alias, version) VALUES ($1, $2, $3)
                   ON CONFLICT (model, alias) DO UPDATE SET version = EXCLUDED.version, update_time = now()""",
                model, alias, version,
            )
        return previous or 0

    async def set_version_state(self, model: str, version: int, state: VersionState) -> ModelVersion:
        row = await self._conn.fetchrow(
            f"""UPDATE registry_model_versions SET state = $3 WHERE model = $1 AND version = $2
                RETURNING {_VERSION_COLUMNS}""",
            model, version, state.value,
        )
        return _version(row)

    async def append_event(self, event: NewEvent) -> int:
        """Number the event from the counter row (whose lock this transaction now holds
        until it ends — see the module docstring) and notify listeners at commit."""
        sequence = await self._conn.fetchval(
            """WITH next AS (
                   UPDATE registry_event_counter SET last_sequence = last_sequence + 1
                   RETURNING last_sequence)
               INSERT INTO registry_events (sequence, type, model, version, alias, previous_version, event_time)
               SELECT last_sequence, $1, $2, $3, $4, $5, clock_timestamp() FROM next
               RETURNING sequence""",
            event.type.value, event.model, event.version, event.alias, event.previous_version,
        )
        await self._conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(sequence))
        return sequence


class EventNotifier:
    """One LISTEN connection per process that wakes every local watcher on each NOTIFY.

    Watchers `subscribe()` for an asyncio.Event that is set on every notification (and
    after the listener reconnects, since notifications may have been lost meanwhile);
    leaving the `with` block removes the subscription."""

    def __init__(self, dsn: str, *, channel: str = CHANNEL, reconnect_s: float = 1.0) -> None:
        self._dsn = dsn
        self._channel = channel
        self._reconnect_s = reconnect_s
        self._subscribers: set[asyncio.Event] = set()
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Event]:
        wake = asyncio.Event()
        self._subscribers.add(wake)
        try:
            yield wake
        finally:
            self._subscribers.discard(wake)

    def wake_all(self) -> None:
        for wake in self._subscribers:
            wake.set()

    async def start(self) -> None:
        with _translating():
            await self._connect()
        self._task = asyncio.create_task(self._supervise(), name="registry-event-listener")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)
            self._conn = None
        self.wake_all()

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(self._channel, self._on_notify)
        except BaseException:
            await conn.close()
            raise
        self._conn, self._lost = conn, lost

    def _on_notify(self, conn: object, pid: int, channel: str, payload: str) -> None:
        self.wake_all()

    async def _supervise(self) -> None:
        while True:
            await self._lost.wait()
            log.warning("event listener connection lost; watchers fall back to polling until it is back")
            self._conn = None
            self.wake_all()
            while True:
                await asyncio.sleep(self._reconnect_s)
                try:
                    await self._connect()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("event listener reconnect failed", extra={"error": str(exc)})
                    continue
                log.info("event listener reconnected")
                self.wake_all()
                break
