"""The query parser's core: question + connection → what it asks, and the statement.

    schema (connector, cached per version) ─┐
    sampled values (connector, per version) ├─ prepare (language/, cached) ─┐
    glossary (connector, per version)      ─┘                               ├─ understand → plan → render
    intent (prediction's query-intent model, or rules when it is down)  ───┘

Routing: a question the intent step calls TRAIN / PREDICT / MODEL_STATUS /
SYSTEM_STATUS, or that asks for unusual rows (ANOMALY), is not a database question; it gets no statement, only what it names
(ml_questions.py). Everything else goes through the language side, whose plan decides
the query kind (it sees the schema; the intent model only sees words).

Nothing here imports grpc: the connector and prediction clients are passed in, and
errors are the runtime's domain errors.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from chatdb.connector.v1 import connection_pb2, schema_pb2, statement_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq

from servers.contracts.clients import ConnectorClient
from servers.contracts.glossary import Glossary
from servers.runtime import tenancy
from servers.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, clip, quote
from servers.runtime.metrics import CacheMeter

from . import convert, describe, followups, inline_schema, language, plan_check, routing
from .domain import (
    ForeignKeyInfo,
    QueryKind,
    QueryPlan,
    SchemaFlavour,
    SchemaView,
    Understanding,
    Unresolved,
)
from .intent import IntentClassifier, IntentResult
from .intent_rules import anomaly_cues
from .ml_questions import understand_ml
from .render.explain import explain
from .render.mongo import render_mongo
from .render.sql import build_query, query_sql
from .samples import ValueSampler

log = logging.getLogger("chatdb.parser.core")
# chatdb_cache_hits_total / chatdb_cache_misses_total{cache="parser_schema"}
_SCHEMA_CACHE = CacheMeter("parser_schema")

MAX_QUESTION_CHARS = 2000
ROUTED_ELSEWHERE = (QueryKind.TRAIN, QueryKind.PREDICT, QueryKind.MODEL_STATUS, QueryKind.SYSTEM_STATUS,
                    QueryKind.ANOMALY)

_FLAVOURS = {
    connection_pb2.CONNECTION_KIND_POSTGRES: SchemaFlavour.POSTGRES,
    connection_pb2.CONNECTION_KIND_MYSQL: SchemaFlavour.MYSQL,
    connection_pb2.CONNECTION_KIND_MONGODB: SchemaFlavour.MONGODB,
}
_DIALECT_FLAVOURS = {
    statement_pb2.SQL_DIALECT_POSTGRES: SchemaFlavour.POSTGRES,
    statement_pb2.SQL_DIALECT_MYSQL: SchemaFlavour.MYSQL,
}
_SQL_DIALECTS = {
    SchemaFlavour.POSTGRES: ("postgres", statement_pb2.SQL_DIALECT_POSTGRES),
    SchemaFlavour.MYSQL: ("mysql", statement_pb2.SQL_DIALECT_MYSQL),
}

K = TypeVar("K")
V = TypeVar("V")


class SingleFlightCache(Generic[K, V]):
    """An LRU of computed values where concurrent callers of one missing key share one
    computation (twenty questions arriving on a cold connection sample its values once).
    A failed computation is not cached."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._done: OrderedDict[K, V] = OrderedDict()
        self._running: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        if key in self._done:
            self._done.move_to_end(key)
            return self._done[key]
        running = self._running.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            value = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        else:
            future.set_result(value)
            self._done[key] = value
            while len(self._done) > self.size:
                self._done.popitem(last=False)
            return value
        finally:
            del self._running[key]


@dataclass(frozen=True)
class ParseRequest:
    question: str
    connection_id: str = ""
    dialect: int = statement_pb2.SQL_DIALECT_UNSPECIFIED
    schema: schema_pb2.Schema | None = None
    reference_time: dt.datetime | None = None
    context: pq.ParsedQuery | None = None


@dataclass
class _Timed(Generic[V]):
    value: V
    at: float


def with_relationships(schema: SchemaView, glossary: Glossary | None) -> SchemaView:
    """The schema with the glossary's relationships added as foreign keys, so the join
    planner walks them like declared ones."""
    if glossary is None or not glossary.relationships:
        return schema
    extra: dict[str, list[ForeignKeyInfo]] = {}
    for r in glossary.relationships:
        extra.setdefault(r.from_table, []).append(ForeignKeyInfo(r.from_columns, r.to_table, r.to_columns))
    tables = tuple(
        replace(t, foreign_keys=t.foreign_keys + tuple(extra.get(t.name, ()))) if t.name in extra else t
        for t in schema.tables
    )
    return replace(schema, tables=tables, version=f"{schema.version}+{glossary.version}")


class Parser:
    def __init__(
        self,
        connector: ConnectorClient,
        sampler: ValueSampler,
        intents: IntentClassifier,
        *,
        glossary_reader: Callable[[str], Awaitable[Glossary | None]] | None = None,
        schema_ttl_s: float = 5.0,
        prepared_cache_size: int = 32,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.connector = connector
        self.sampler = sampler
        self.intents = intents
        self.glossary_reader = glossary_reader
        self.schema_ttl_s = schema_ttl_s
        self.clock = clock
        # connection id → (its flavour, its tenant): the tenant checks cached inputs (tenancy)
        self._flavours: dict[str, _Timed[tuple[SchemaFlavour, str]]] = {}
        self._schemas: dict[str, _Timed[SchemaView]] = {}
        self._joined: dict[tuple[str, str, str, str], SchemaView] = {}  # with the glossary's relationships
        self._glossaries: dict[str, _Timed[Glossary | None]] = {}
        self._samples: SingleFlightCache[tuple[str, str], Any] = SingleFlightCache(prepared_cache_size)
        self._vocabularies: dict[tuple[str, str], frozenset[str]] = {}
        self._prepared: SingleFlightCache[tuple[str, str, str], Any] = SingleFlightCache(prepared_cache_size)

    # ------------------------------------------------------------------ inputs

    def _fresh(self, entry: _Timed[Any] | None) -> bool:
        return entry is not None and time.monotonic() - entry.at < self.schema_ttl_s

    async def _flavour(self, connection_id: str) -> tuple[SchemaFlavour, str]:
        """The connection's flavour and tenant. Asked of the connector as the caller (the
        channel forwards its identity), so another tenant's connection is NOT_FOUND there;
        from the cache, the tenant is checked here (_check_tenant)."""
        entry = self._flavours.get(connection_id)
        if not self._fresh(entry):
            connection = await self.connector.connection(connection_id)
            flavour = _FLAVOURS.get(connection.kind, SchemaFlavour.POSTGRES)
            entry = self._flavours[connection_id] = _Timed((flavour, getattr(connection, "tenant", "")),
                                                           time.monotonic())
        return entry.value

    async def _schema(self, connection_id: str) -> SchemaView:
        # The connector caches schemas too; a short cache here saves the round trip (and
        # the conversion) on every question while a schema change still shows within
        # schema_ttl_s.
        entry = self._schemas.get(connection_id)
        if not self._fresh(entry):
            _SCHEMA_CACHE.miss()
            view = convert.schema_view(await self.connector.schema(connection_id), SchemaFlavour.POSTGRES)
            entry = self._schemas[connection_id] = _Timed(view, time.monotonic())
        else:
            _SCHEMA_CACHE.hit()
        return entry.value

    async def _glossary(self, connection_id: str) -> Glossary | None:
        if self.glossary_reader is None or not connection_id:
            return None
        entry = self._glossaries.get(connection_id)
        if not self._fresh(entry):
            entry = self._glossaries[connection_id] = _Timed(await self.glossary_reader(connection_id), time.monotonic())
        return entry.value

    async def _prepare(self, connection_id: str, schema: SchemaView, glossary: Glossary | None) -> Any:
        async def samples() -> Any:
            if not connection_id:
                return {}  # a schema given inline: there is no database to sample
            started = time.perf_counter()
            values = await self.sampler.sample(connection_id, schema)
            log.info("sampled values", extra={
                "connection_id": connection_id, "schema_version": schema.version,
                "columns": len(values), "elapsed_ms": round((time.perf_counter() - started) * 1000, 1)})
            return values

        async def prepared() -> Any:
            values = await self._samples.get((connection_id, schema.version), samples)
            return await asyncio.to_thread(language.prepare, schema, values, glossary)

        key = (connection_id, schema.version, glossary.version if glossary else "")
        return await self._prepared.get(key, prepared)

    def _vocabulary(self, schema: SchemaView, glossary: Glossary | None) -> frozenset[str]:
        key = (schema.version, glossary.version if glossary else "")
        words = self._vocabularies.get(key)
        if words is None:
            if len(self._vocabularies) > 64:
                self._vocabularies.clear()
            words = self._vocabularies[key] = routing.schema_words(schema, glossary)
        return words

    # ------------------------------------------------------------------ parse

    async def parse(self, request: ParseRequest) -> pq.ParsedQuery:
        started = time.perf_counter()
        question = " ".join(request.question.split())
        if not question:
            raise InvalidArgument("question must not be empty", field="question")
        if len(request.question) > MAX_QUESTION_CHARS:
            raise InvalidArgument(f"question has {len(request.question)} characters; at most {MAX_QUESTION_CHARS}", field="question")
        if not request.connection_id and request.schema is None:
            raise InvalidArgument("connection_id is required unless a schema is given", field="connection_id")

        intent_task = asyncio.ensure_future(self.intents.classify(question))
        try:
            schema, glossary = await self._inputs(request)
        except BaseException:
            intent_task.cancel()
            raise
        intent = await intent_task
        now = request.reference_time or self.clock()

        vocabulary = self._vocabulary(schema, glossary)
        kind = routing.reclassified(question, intent.kind)
        kind = routing.with_anomaly(question, kind, vocabulary)
        routed = routing.route(question, kind, vocabulary) if kind in ROUTED_ELSEWHERE else None
        resolved = None
        if routed is not None and routed.elsewhere and kind is QueryKind.SYSTEM_STATUS:
            understanding = Understanding(QueryKind.SYSTEM_STATUS, confidence=intent.confidence)
        elif routed is not None and routed.elsewhere:
            understanding = self._understand(lambda: understand_ml(question, kind, schema), question, schema)
        else:
            prepared = await self._prepare(request.connection_id, schema, glossary)
            # the thread comes back in the context on every turn (followups.py): no state here
            thread = followups.thread_of(request.context)
            resolved = self._understand(
                lambda: followups.resolve(question, thread, prepared, now=now), question, schema
            )
            understanding = resolved.understanding
        if understanding.kind is QueryKind.DESCRIBE:
            understanding = describe.tell(understanding, schema)
        if routed is not None and routed.note:
            understanding.notes.append(routed.note)
        elif kind is QueryKind.ANOMALY and intent.kind is not QueryKind.ANOMALY:
            understanding.notes.append(f"read as a question about unusual rows, not {intent.kind.value.replace('_', ' ')}: "
                                       f"{', '.join(sorted(anomaly_cues(question)))}")
        elif kind is not intent.kind:
            understanding.notes.append(f"read as {kind.value.replace('_', ' ')}: a failure with nothing named that failed")
        if intent.fallback_reason:
            understanding.notes.append(f"intent from rules: {intent.fallback_reason}")

        statement, explanation = None, ""
        if understanding.plan is not None:
            understanding.plan = plan_check.bounded(understanding.plan)
        if understanding.plan is not None and understanding.kind.runs_a_statement:
            statement = self._render(understanding.plan, schema)
            explanation = explain(understanding.plan, schema)
            if resolved is not None:
                explanation = followups.explanation(resolved, explanation)
        else:
            explanation = _routed_explanation(understanding)

        confidence = understanding.confidence if understanding.plan is not None else intent.confidence
        elapsed = time.perf_counter() - started
        return convert.parsed_query(
            question,
            understanding,
            statement=statement,
            explanation=explanation,
            intent_confidence=confidence,
            intent_source=intent.source,
            used_fallback=bool(intent.fallback_reason),
            elapsed_s=elapsed,
            follow_up=resolved is not None and resolved.follow_up,
            conversation=resolved.conversation if resolved is not None else [question],
        )

    async def _inputs(self, request: ParseRequest) -> tuple[SchemaView, Glossary | None]:
        if request.schema is not None and request.schema.tables:
            flavour = _DIALECT_FLAVOURS.get(request.dialect, SchemaFlavour.POSTGRES)
            # Caches key on the version: two inline schemas that share one (or have
            # none) must not be answered from each other's words, so the content is in it.
            content = hashlib.sha256(request.schema.SerializeToString(deterministic=True)).hexdigest()[:16]
            view = inline_schema.consistent(convert.schema_view(request.schema, flavour))
            return replace(view, version=f"{view.version}+inline-{content}"), None
        (flavour, owner), schema, glossary = await asyncio.gather(
            self._flavour(request.connection_id),
            self._schema(request.connection_id),
            self._glossary(request.connection_id),
        )
        if not tenancy.visible(owner):
            # Cached for another tenant's question: answered as the connector answers a
            # connection this caller may not see.
            raise NotFound(f"connection {request.connection_id!r} not found", reason="CONNECTION_NOT_FOUND",
                           metadata={"connection_id": request.connection_id})
        if not schema.tables:
            raise FailedPrecondition(
                f"connection {quote(request.connection_id)} has no tables to ask about", reason="EMPTY_SCHEMA"
            )
        if flavour is not SchemaFlavour.MONGODB and request.dialect in _DIALECT_FLAVOURS:
            flavour = _DIALECT_FLAVOURS[request.dialect]
        if schema.flavour is not SchemaFlavour.MONGODB:  # collections are MongoDB whatever the kind says
            schema = replace(schema, flavour=flavour)
        key = (request.connection_id, schema.version, schema.flavour.value, glossary.version if glossary else "")
        joined = self._joined.get(key)
        if joined is None:
            if len(self._joined) > 64:
                self._joined.clear()
            joined = self._joined[key] = with_relationships(schema, glossary)
        return joined, glossary

    def _understand(self, run: Callable[[], V], question: str, schema: SchemaView) -> V:
        try:
            return run()
        except Unresolved as exc:
            hint = f"; closest in the schema: {', '.join(exc.suggestions[:10])}" if exc.suggestions else ""
            raise _not_understood(exc, f"could not answer {quote(question, 120)}: {clip(exc.what, 200)}{hint}") from None

    def _render(self, plan: QueryPlan, schema: SchemaView) -> statement_pb2.Statement:
        try:
            if schema.flavour is SchemaFlavour.MONGODB:
                # MongoDB compares and accumulates across types without failing
                return convert.mongo_statement(render_mongo(plan, schema))
            dialect, dialect_pb = _SQL_DIALECTS[schema.flavour]
            # one tree: checked, then written out
            tree = build_query(plan, schema, dialect)
            refused = plan_check.problems(plan, schema, tree)
            if refused:
                raise Unresolved("; ".join(refused))
            return statement_pb2.Statement(
                sql=statement_pb2.SqlStatement(sql=query_sql(tree, dialect), dialect=dialect_pb)
            )
        except Unresolved as exc:
            raise _not_understood(
                exc, f"the question cannot be answered on this connection: {clip(exc.what, 200)}"
            ) from None


def _not_understood(exc: Unresolved, message: str) -> InvalidArgument:
    """INVALID_ARGUMENT on `question`: what could not be resolved and the closest names."""
    return InvalidArgument(
        message,
        field="question",
        reason="QUESTION_NOT_UNDERSTOOD",
        metadata={"unresolved": exc.what[:200], "suggestions": ", ".join(exc.suggestions[:10])},
    )


def _routed_explanation(u: Understanding) -> str:
    if u.kind is QueryKind.TRAIN:
        what = f" to predict {u.target}" if u.target else ""
        source = f" from {u.table}" if u.table else ""
        return f"Trains a model{what}{source}; no statement runs on the database."
    if u.kind is QueryKind.PREDICT:
        return f"Asks the model {u.model_name or '(unnamed)'} for a prediction; no statement runs on the database."
    if u.kind is QueryKind.MODEL_STATUS:
        return f"Reports how the model {u.model_name or '(unnamed)'} is doing; no statement runs on the database."
    if u.kind is QueryKind.ANOMALY:
        return (f"Finds the rows of {u.table} that an anomaly model of the table flags as unusual (trained on "
                "first ask); no statement is generated.")
    if u.kind is QueryKind.SYSTEM_STATUS:
        return "Reports the state of ChatDB's services and jobs; no statement runs on the database."
    if u.kind is QueryKind.DESCRIBE:
        return f"{u.explanation or 'Describes the schema.'} No statement runs on the database."
    return "Not understood; no statement runs."


__all__ = ["IntentResult", "ParseRequest", "Parser", "SingleFlightCache", "with_relationships"]
