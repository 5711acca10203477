"""The gateway's core: a question in, an answer out, and the history of both.

    Ask ─ system question? ───────────────────────────────► core.system (health, jobs, failures)
        ─ level 4 (critical)? ─► UNAVAILABLE
        ─ connection, conversation (previous parsed query = context)
        ─ accepted answer for this question? ─────────────► its statement runs (ACCEPTED_ANSWER)
        ─ result cache (connection, thread, normal form,
          schema + glossary versions) ────────────────────► the cached page (CACHE)
        ─ parser ─ SELECT/COUNT/AGGREGATE/TOP_N/DISTINCT ─► connector, read-only (DATABASE)
                 ─ DESCRIBE ──────────────────────────────► the parser's answer (SCHEMA)
                 ─ TRAIN/PREDICT/MODEL_STATUS/ANOMALY ────► core.ml
                 ─ SYSTEM_STATUS ─────────────────────────► core.system
        ─ history + audit row handed to the background writer (never awaited here)

Level 3 (databases down): when the connector or the database behind it answers
UNAVAILABLE, the cached answer is served if there is one, under the last versions the
gateway saw, with a note; else UNAVAILABLE with the reason. The parser down is
UNAVAILABLE naming the parser (cached answers are looked up before it is called).

Nothing here imports grpc: the parser and the connector are ports (domain.py), errors
are the runtime's error tree.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from chatdb.connector.v1 import connector_service_pb2, statement_pb2
from chatdb.gateway.v1 import chat_service_pb2 as pb
from chatdb.gateway.v1 import query_record_pb2, system_status_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq

from servers.contracts.quotas import QUESTIONS, Quotas
from servers.runtime import identity, tenancy
from servers.runtime.errors import (
    ChatDBError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
    quote,
)
from servers.runtime.metrics import CacheMeter
from servers.runtime.paging import PageTokens, page_size
from servers.runtime.status import to_status_proto

from .accepted import AcceptedAnswers
from .answer import SOURCES, Answer, table
from .cache import CachedAnswer, ResultCache, answer_key
from .domain import (
    PARSER_UNAVAILABLE,
    STATUS_FAILED,
    STATUS_SUCCEEDED,
    AcceptedAnswer,
    AskRequest,
    AskResult,
    Caller,
    ConnectorPort,
    FeedbackRecord,
    MlAnswerer,
    ParserPort,
    QueryFilter,
    QueryRecord,
    StatusReader,
    SystemAnswerer,
    Timings,
    Versions,
)
from .history import HistoryWriter
from .normalise import normalise
from .store import GatewayStore

log = logging.getLogger("chatdb.gateway.core")
# chatdb_cache_hits_total / chatdb_cache_misses_total{cache="gateway_result"}: Ask's lookups.
_RESULT_CACHE = CacheMeter("gateway_result")

MAX_QUESTION_CHARS = 2000
MAX_COMMENT_CHARS = 2000
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
DATABASE_INTENTS = frozenset({pq.INTENT_SELECT, pq.INTENT_COUNT, pq.INTENT_AGGREGATE, pq.INTENT_TOP_N, pq.INTENT_DISTINCT})
ML_INTENTS = frozenset({pq.INTENT_TRAIN, pq.INTENT_PREDICT, pq.INTENT_MODEL_STATUS, pq.INTENT_ANOMALY})
CRITICAL = "CRITICAL"
DATABASES_UNAVAILABLE = "DATABASES_UNAVAILABLE"
ASK_TOKEN = "ask"
ANONYMOUS = Caller()
LIST_TOKEN = "queries"


@dataclass(frozen=True)
class GatewayOptions:
    max_rows: int = 10_000
    versions_ttl_s: float = 5.0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _personal_data_masked() -> bool:
    """Whether the connector masks personal data for the current caller: a principal
    without the admin role (connector/pii.py; the cache keys on it)."""
    principal = identity.current_principal()
    return principal is not None and not principal.is_admin


def masking_note(columns: Iterable[str]) -> str:
    names = list(columns)
    return (f"personal data masked in column{'s' if len(names) > 1 else ''} {', '.join(names)} "
            "(only admins see it unmasked)")


def rows_text(count: int, *, more: bool, truncated: bool) -> str:
    text = f"{count} row" + ("" if count == 1 else "s")
    if more:
        text += " (more on the next page)"
    elif truncated:
        text += " (cut at the row limit)"
    return text


@dataclass
class _Context:
    """What one Ask has found out so far; the history record is built from it whether
    the Ask succeeds or fails."""

    query_id: str
    question: str
    normalised: str
    caller: Caller
    started: float
    create_time: dt.datetime
    connection_id: str = ""
    conversation_id: str = ""
    parsed: pq.ParsedQuery | None = None
    statement: statement_pb2.Statement | None = None
    parse_s: float = 0.0
    execute_s: float = 0.0
    notes: list[str] = field(default_factory=list)  # the gateway's own, added to the answer's


class Gateway:
    # Attached by app.py's wire_answerers after construction (None: not wired yet).
    ml: MlAnswerer | None = None
    system: SystemAnswerer | None = None
    status_reader: StatusReader | None = None

    def __init__(
        self,
        *,
        parser: ParserPort,
        connector: ConnectorPort,
        store: GatewayStore,
        history: HistoryWriter,
        cache: ResultCache | None,
        accepted: AcceptedAnswers,
        tokens: PageTokens,
        options: GatewayOptions = GatewayOptions(),
        quotas: Quotas | None = None,
    ) -> None:
        self.quotas = quotas
        self.parser = parser
        self.connector = connector
        self.store = store
        self.history = history
        self.cache = cache
        self.accepted = accepted
        self.tokens = tokens
        self.options = options
        self.ml = None
        self.system = None
        self.status_reader = None
        self._versions: dict[str, tuple[float, Versions]] = {}

    # ================================================================== Ask

    async def ask(self, request: AskRequest, caller: Caller = ANONYMOUS) -> AskResult:
        started = time.perf_counter()
        question = request.question.strip()
        if not question:
            raise InvalidArgument("the question is empty; ask something, e.g. \"how many customers are there\"",
                                  field="question")
        if len(request.question) > MAX_QUESTION_CHARS:
            raise InvalidArgument(f"the question has {len(request.question)} characters; at most "
                                  f"{MAX_QUESTION_CHARS} are allowed", field="question")
        size = page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        if request.max_rows < 0:
            raise InvalidArgument("must not be negative", field="max_rows")
        max_rows = min(request.max_rows or self.options.max_rows, self.options.max_rows)
        if request.page_token:
            return await self._next_page(request, question, size, max_rows, caller, started)
        if self.quotas is not None:
            # A new question counts against the caller's key (pages after the first are
            # part of the question that produced them); refused, it adds no history row.
            await self.quotas.charge(QUESTIONS)

        ctx = _Context(
            query_id=uuid.uuid4().hex, question=question, normalised=normalise(question), caller=caller,
            started=started, create_time=_utcnow(), connection_id=request.connection_id,
            conversation_id=request.conversation_id,
        )
        try:
            result = await self._answer(ctx, request, size, max_rows)
        except ChatDBError as exc:
            self._record_failure(ctx, exc)
            raise
        except Exception as exc:
            self._record_failure(ctx, Internal("internal error"))
            raise exc
        result.timings.total_s = time.perf_counter() - started
        self._record_success(ctx, result)
        return result

    async def _answer(self, ctx: _Context, request: AskRequest, size: int, max_rows: int) -> AskResult:
        if self.system is not None and self.system.recognises(ctx.question):
            # Before anything else can fail: "is the system healthy?" answers at every level.
            await self._start_conversation(ctx)
            return self._result(ctx, await self.system.answer(ctx.question))
        await self._refuse_when_critical()
        ctx.connection_id = await self._connection(request.connection_id)
        context, context_id = await self._start_conversation(ctx)
        thread = _thread(context)

        accepted = await self.accepted.match(ctx.connection_id, ctx.normalised)
        if accepted is not None and await self._accepted_visible(accepted):
            return await self._run_accepted(ctx, accepted, size, max_rows)

        versions, down = await self._versions_of(ctx.connection_id)
        key = answer_key(ctx.connection_id, thread, ctx.normalised, versions,
                         tenancy.filter_tenant(), masked=_personal_data_masked()) if versions else None
        if key is not None and self.cache is not None and (request.use_cache or down is not None):
            entry = await self.cache.get(key)
            if entry is not None and (down is not None or (entry.page_size == size and entry.max_rows == max_rows)):
                _RESULT_CACHE.hit()
                return self._from_cache(ctx, entry, size, max_rows, down)
            _RESULT_CACHE.miss()
        if down is not None:
            raise self._databases_down(ctx.connection_id, down)

        t = time.perf_counter()
        try:
            parsed = await self.parser.parse(ctx.question, ctx.connection_id,
                                             reference_time=request.reference_time, context=context)
        except Unavailable as exc:
            if exc.reason == PARSER_UNAVAILABLE:
                raise
            # The parser passed on the database's outage (it reads the schema and values
            # through the connector): level 3, as when the statement itself fails.
            return await self._degraded(ctx, key, size, max_rows, exc)
        finally:
            ctx.parse_s = time.perf_counter() - t
        ctx.parsed = parsed
        notes = [f"read as a follow-up of {context_id}"] if parsed.follow_up and context_id else []

        if parsed.intent in ML_INTENTS:
            if self.ml is None:
                raise Unavailable("questions about models are not wired into this gateway yet",
                                  reason="ML_ANSWERS_UNAVAILABLE")
            t = time.perf_counter()
            answer = await self.ml.answer(parsed, question=ctx.question, connection_id=ctx.connection_id)
            ctx.execute_s = answer.execute_s or (time.perf_counter() - t)
            answer.notes[:0] = notes
            return self._result(ctx, answer)
        if parsed.intent == pq.INTENT_SYSTEM_STATUS:
            answer = await (self.system.answer(ctx.question, parsed) if self.system is not None
                            else self._own_status_answer())
            return self._result(ctx, answer)
        if parsed.intent == pq.INTENT_DESCRIBE:
            return self._result(ctx, self._describe(parsed, notes))
        if parsed.intent not in DATABASE_INTENTS or not parsed.statement.WhichOneof("form"):
            raise InvalidArgument(f"the question {quote(ctx.question)} did not become a statement",
                                  field="question", reason="QUESTION_NOT_UNDERSTOOD")

        ctx.statement = parsed.statement
        try:
            page = await self._execute(ctx, parsed.statement, size, max_rows)
        except Unavailable as exc:
            return await self._degraded(ctx, key, size, max_rows, exc)
        result = self._database_result(ctx, page, size, max_rows, SOURCES.ANSWER_SOURCE_DATABASE, notes)
        result.explanation = parsed.explanation
        if key is not None and self.cache is not None and request.use_cache:
            await self.cache.put(key, CachedAnswer(
                response=self._cacheable(result), connector_token=page.next_page_token, page_size=size,
                max_rows=max_rows, cached_at=time.time(), query_id=ctx.query_id,
            ))
        return result

    # ------------------------------------------------------------------ the steps

    async def _refuse_when_critical(self) -> None:
        if self.status_reader is None:
            return
        status = await self.status_reader()
        if status.level >= 4:
            raise Unavailable(f"critical: status only ({status.summary or 'the mesh is down'}); "
                              "ask \"is the system healthy?\" for details", reason=CRITICAL)

    async def _connection(self, connection_id: str) -> str:
        if connection_id:
            return connection_id
        ids = await self.connector.connection_ids(2)
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise InvalidArgument("no connection exists yet; create one (chatdb connector create …) first",
                                  field="connection_id")
        raise InvalidArgument("several connections exist; say which one to ask with connection_id",
                              field="connection_id")

    async def _start_conversation(self, ctx: _Context) -> tuple[pq.ParsedQuery | None, str]:
        """A new conversation (none asked for), or the one asked for with its previous
        answered question: (its parsed query, its query_id)."""
        if not ctx.conversation_id:
            ctx.conversation_id = uuid.uuid4().hex
            self.history.conversation(ctx.conversation_id, ctx.caller.principal, ctx.create_time, tenancy.owner())
            return None, ""
        previous = self.history.last_pending(ctx.conversation_id)
        # For a caller with a principal, the tenant check reads the conversation's row
        # (NOT_FOUND when there is none), so its existence is not asked again below.
        checked = tenancy.filter_tenant() is not None
        if checked and not await self._conversation_visible(ctx, previous):
            return None, ""
        if previous is None and not self.history.pending_conversation(ctx.conversation_id):
            try:
                exists = checked or await self.store.conversation_exists(ctx.conversation_id)
                previous = await self.store.last_answered(ctx.conversation_id) if exists else None
            except Unavailable:
                # The platform database is down: the question is still answered, read
                # on its own, and says so.
                ctx.notes.append("conversation history unavailable (platform database down): "
                                 "read as a question of its own")
                return None, ""
            if not exists:
                raise _no_conversation(ctx)
        if previous is None or previous.parsed is None:
            return None, ""
        return previous.parsed, previous.query_id

    async def _conversation_visible(self, ctx: _Context, previous: QueryRecord | None) -> bool:
        """For a caller with a principal: NOT_FOUND (as for a missing one) unless the
        conversation is its tenant's or shared; False when that cannot be told now (the
        platform database is down), and the question is read on its own."""
        owner = self.history.conversation_tenant(ctx.conversation_id)
        if owner is None:
            try:
                owner = await self.store.conversation_tenant(ctx.conversation_id)
            except Unavailable:
                if previous is not None and tenancy.visible(previous.tenant):
                    return True
                ctx.notes.append("conversation history unavailable (platform database down): "
                                 "read as a question of its own")
                return False
        if owner is None or not tenancy.visible(owner):
            raise _no_conversation(ctx)
        return True

    async def _versions_of(self, connection_id: str) -> tuple[Versions | None, Unavailable | None]:
        """The connection's schema and glossary versions (reused for versions_ttl_s), and
        the connector's Unavailable when it could not be asked (then the last versions
        seen, if any, so level 3 finds the cached answers)."""
        held = self._versions.get(connection_id)
        if held is not None and time.monotonic() - held[0] < self.options.versions_ttl_s:
            return held[1], None
        try:
            versions = await self.connector.versions(connection_id)
        except Unavailable as exc:
            last = held[1] if held is not None else (
                await self.cache.last_versions(connection_id) if self.cache is not None else None)
            return last, exc
        if held is None or held[1] != versions:
            if self.cache is not None:
                await self.cache.remember_versions(connection_id, versions)
        self._versions[connection_id] = (time.monotonic(), versions)
        return versions, None

    async def _execute(self, ctx: _Context, statement: statement_pb2.Statement, size: int, max_rows: int,
                       token: str = "") -> connector_service_pb2.ExecuteQueryResponse:
        t = time.perf_counter()
        try:
            return await self.connector.execute(ctx.connection_id, statement, page_size=size,
                                                page_token=token, max_rows=max_rows)
        finally:
            ctx.execute_s = time.perf_counter() - t

    async def _degraded(self, ctx: _Context, key: str | None, size: int, max_rows: int,
                        exc: Unavailable) -> AskResult:
        """Level 3: the cached answer of this question if there is one (whatever its
        paging, and even when the request said use_cache=false: better than none), else
        UNAVAILABLE with the reason."""
        if key is not None and self.cache is not None:
            entry = await self.cache.get(key)
            if entry is not None:
                return self._from_cache(ctx, entry, size, max_rows, exc)
        raise self._databases_down(ctx.connection_id, exc) from None

    @staticmethod
    def _databases_down(connection_id: str, exc: Unavailable) -> Unavailable:
        return Unavailable(
            f"databases unavailable and no cached answer for this question on connection "
            f"{quote(connection_id)}: {exc.message}",
            reason=DATABASES_UNAVAILABLE, metadata={"cause": exc.reason, **exc.metadata},
        )

    async def _accepted_visible(self, accepted: AcceptedAnswer) -> bool:
        """An accepted answer comes from feedback on one question: a caller with a
        principal reuses only those of its own tenant's or shared questions (on a shared
        connection, tenant A's corrections are not tenant B's answers)."""
        if tenancy.filter_tenant() is None:
            return True
        record = self.history.pending(accepted.query_id)
        if record is None:
            try:
                record = await self.store.get(accepted.query_id)
            except Unavailable:
                return False
        return record is not None and tenancy.visible(record.tenant)

    async def _run_accepted(self, ctx: _Context, accepted: AcceptedAnswer, size: int, max_rows: int) -> AskResult:
        ctx.statement = accepted.statement
        try:
            page = await self._execute(ctx, accepted.statement, size, max_rows)
        except Unavailable as exc:
            raise self._databases_down(ctx.connection_id, exc) from None
        note = f"answer reused from accepted query {accepted.query_id}"
        result = self._database_result(ctx, page, size, max_rows, SOURCES.ANSWER_SOURCE_ACCEPTED_ANSWER, [note])
        result.reused_query_id = accepted.query_id
        result.explanation = note
        return result

    def _database_result(self, ctx: _Context, page: connector_service_pb2.ExecuteQueryResponse, size: int,
                         max_rows: int, source: int, notes: list[str], *, reused: str = "") -> AskResult:
        token = self._page_token(ctx, page.next_page_token, max_rows, source) if page.next_page_token else ""
        if page.masked_columns:
            notes = [*notes, masking_note(page.masked_columns)]
        answer = Answer(
            text=rows_text(len(page.rows), more=bool(token), truncated=page.truncated),
            source=source, columns=list(page.columns), rows=list(page.rows), notes=list(notes),
            execute_s=ctx.execute_s, masked_columns=list(page.masked_columns),
        )
        result = self._result(ctx, answer)
        result.next_page_token = token
        result.truncated = page.truncated
        return result

    def _from_cache(self, ctx: _Context, entry: CachedAnswer, size: int, max_rows: int,
                    down: Unavailable | None) -> AskResult:
        cached = entry.response
        ctx.parsed = cached.parsed_query if cached.HasField("parsed_query") else None
        ctx.statement = cached.statement if cached.HasField("statement") else None
        notes = list(cached.notes)
        if down is not None:
            notes.append(f"databases unavailable: cached answer from {_ago(time.time() - entry.cached_at)} "
                         f"(query {entry.query_id}); {down.message}")
        else:
            notes.append(f"cached answer of query {entry.query_id}, {_ago(time.time() - entry.cached_at)}")
        answer = Answer(text=cached.answer, source=SOURCES.ANSWER_SOURCE_CACHE, columns=list(cached.columns),
                        rows=list(cached.rows), notes=notes, masked_columns=list(cached.masked_columns))
        result = self._result(ctx, answer)
        result.explanation = cached.explanation
        result.truncated = cached.truncated
        result.cached = True
        if entry.connector_token and down is None:
            result.next_page_token = self._page_token(ctx, entry.connector_token, entry.max_rows,
                                                      SOURCES.ANSWER_SOURCE_DATABASE)
        return result

    @staticmethod
    def _cacheable(result: AskResult) -> pb.AskResponse:
        out = pb.AskResponse(columns=result.answer.columns, rows=result.answer.rows, truncated=result.truncated,
                             explanation=result.explanation, answer=result.answer.text,
                             source=result.answer.source, notes=result.answer.notes,
                             masked_columns=result.answer.masked_columns)
        if result.parsed is not None:
            out.parsed_query.CopyFrom(result.parsed)
        if result.statement is not None:
            out.statement.CopyFrom(result.statement)
        return out

    def _describe(self, parsed: pq.ParsedQuery, notes: list[str]) -> Answer:
        if parsed.columns and len(parsed.tables) == 1:
            columns, rows = table(["column"], [[c] for c in parsed.columns])
        else:
            columns, rows = table(["table"], [[t] for t in parsed.tables])
        return Answer(text=parsed.explanation, source=SOURCES.ANSWER_SOURCE_SCHEMA, columns=columns, rows=rows,
                      notes=notes)

    async def _own_status_answer(self) -> Answer:
        status = await self.system_status()
        columns, rows = table(["component", "state", "message"], [
            [c.component, system_status_pb2.ComponentState.Name(c.state).removeprefix("COMPONENT_STATE_"), c.message]
            for c in status.components
        ])
        return Answer(text=f"level {status.level}: {status.summary}", source=SOURCES.ANSWER_SOURCE_SYSTEM,
                      columns=columns, rows=rows)

    def _result(self, ctx: _Context, answer: Answer) -> AskResult:
        answer.notes[:0] = [n for n in ctx.notes if n not in answer.notes]
        return AskResult(
            query_id=ctx.query_id, conversation_id=ctx.conversation_id, answer=answer, parsed=ctx.parsed,
            statement=ctx.statement, explanation=ctx.parsed.explanation if ctx.parsed is not None else "",
            timings=Timings(ctx.parse_s, ctx.execute_s, 0.0), trace_id=ctx.caller.trace_id,
        )

    # ------------------------------------------------------------------ pages after the first

    def _page_token(self, ctx: _Context, connector_token: str, max_rows: int, source: int) -> str:
        statement = ctx.statement.SerializeToString() if ctx.statement is not None else b""
        return self.tokens.issue(ASK_TOKEN, {
            "c": ctx.connection_id, "n": _digest(ctx.normalised), "q": ctx.query_id, "cv": ctx.conversation_id,
            "s": base64.b64encode(statement).decode(), "t": connector_token, "m": max_rows, "src": source,
        })

    async def _next_page(self, request: AskRequest, question: str, size: int, max_rows: int, caller: Caller,
                         started: float) -> AskResult:
        """The next page of an earlier Ask's rows: the same statement, resumed by the
        connector from where the last page ended (its held cursor, or its offset). Pages
        are part of the question that produced them: no new history row."""
        body = self.tokens.open(request.page_token, ASK_TOKEN, bound_to={"n": _digest(normalise(question))})
        if request.connection_id and body.get("c") != request.connection_id:
            raise InvalidArgument("page_token was issued for another connection; repeat the Ask that returned it",
                                  field="page_token", reason="PAGE_TOKEN_MISMATCH")
        ctx = _Context(query_id=body["q"], question=question, normalised=normalise(question), caller=caller,
                       started=started, create_time=_utcnow(), connection_id=body["c"], conversation_id=body["cv"])
        ctx.statement = statement_pb2.Statement.FromString(base64.b64decode(body["s"]))
        try:
            page = await self._execute(ctx, ctx.statement, size, body["m"], token=body["t"])
        except Unavailable as exc:
            raise self._databases_down(ctx.connection_id, exc) from None
        result = self._database_result(ctx, page, size, body["m"], body["src"], [])
        result.timings.total_s = time.perf_counter() - started
        return result

    # ------------------------------------------------------------------ history

    def _record_success(self, ctx: _Context, result: AskResult) -> None:
        self.history.record(self._record(ctx, STATUS_SUCCEEDED, result.timings.total_s, result=result))

    def _record_failure(self, ctx: _Context, error: ChatDBError) -> None:
        self.history.record(self._record(ctx, STATUS_FAILED, time.perf_counter() - ctx.started, error=error))

    def _record(self, ctx: _Context, status: int, total_s: float, *,
                result: AskResult | None = None, error: ChatDBError | None = None) -> QueryRecord:
        record = QueryRecord(
            query_id=ctx.query_id, question=ctx.question, normalised=ctx.normalised,
            connection_id=ctx.connection_id, conversation_id=ctx.conversation_id, status=status,
            create_time=ctx.create_time, principal=ctx.caller.principal, api_key_id=ctx.caller.api_key_id,
            trace_id=ctx.caller.trace_id, statement=ctx.statement, parsed=ctx.parsed, tenant=tenancy.owner(),
            intent=ctx.parsed.intent if ctx.parsed is not None else 0,
            explanation=ctx.parsed.explanation if ctx.parsed is not None else "",
            timings=Timings(ctx.parse_s, ctx.execute_s, total_s),
        )
        if result is not None:
            record.row_count = len(result.answer.rows)
            record.cached = result.cached
            record.source = result.answer.source
            record.reused_query_id = result.reused_query_id
            record.answer = result.answer.text
            record.explanation = result.explanation or record.explanation
        if error is not None:
            record.error = to_status_proto(error)
        return record

    # ================================================================== history reads

    async def get_query(self, query_id: str) -> QueryRecord:
        if not query_id:
            raise InvalidArgument("name the query", field="query_id")
        record = self.history.pending(query_id)
        if record is None:
            record = await self.store.get(query_id)
        if record is None or not tenancy.visible(record.tenant):
            raise NotFound(f"query {quote(query_id)} does not exist", reason="QUERY_NOT_FOUND")
        return record

    async def list_queries(self, where: QueryFilter, *, size: int, token: str) -> tuple[list[QueryRecord], str]:
        limit = page_size(size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        if where.start_time and where.end_time and where.end_time <= where.start_time:
            raise InvalidArgument("end_time must be after start_time", field="end_time")
        bound = _filter_key(where)
        body = self.tokens.open_optional(token, LIST_TOKEN, bound_to={"f": bound})
        after = (dt.datetime.fromisoformat(body["t"]), body["i"]) if body else None
        await self.history.flush()
        records = await self.store.list(where, limit=limit + 1, after=after, tenant=tenancy.filter_tenant())
        next_token = ""
        if len(records) > limit:
            records = records[:limit]
            last = records[-1]
            next_token = self.tokens.issue(LIST_TOKEN, {"f": bound, "t": last.create_time.isoformat(),
                                                        "i": last.query_id})
        return records, next_token

    async def failed_questions(self, since: dt.datetime) -> list[dict]:
        """Questions that failed since `since`, newest first (for "what failed today?")."""
        records = self.history.pending_failed(since)
        seen = {r.query_id for r in records}
        records += [r for r in await self.store.failed_since(since) if r.query_id not in seen]
        records = [r for r in records if tenancy.visible(r.tenant)]
        records.sort(key=lambda r: r.create_time, reverse=True)
        return [
            {"query_id": r.query_id, "question": r.question, "connection_id": r.connection_id,
             "error": r.error.message if r.error is not None else "", "create_time": r.create_time}
            for r in records
        ]

    # ================================================================== feedback

    async def submit_feedback(self, query_id: str, verdict: int, corrected: statement_pb2.Statement | None,
                              comment: str, caller: Caller = ANONYMOUS) -> QueryRecord:
        if not query_id:
            raise InvalidArgument("name the query the feedback is about", field="query_id")
        if len(comment) > MAX_COMMENT_CHARS:
            raise InvalidArgument(f"at most {MAX_COMMENT_CHARS} characters", field="comment")
        if self.history.pending(query_id) is not None:
            await self.history.flush()  # the feedback row refers to the history row
        record = await self.store.get(query_id)
        if record is None or not tenancy.visible(record.tenant):
            raise NotFound(f"query {quote(query_id)} does not exist", reason="QUERY_NOT_FOUND")
        tenancy.check_modify(record.tenant, f"query {quote(query_id)}")
        if verdict not in (query_record_pb2.FEEDBACK_VERDICT_CORRECT, query_record_pb2.FEEDBACK_VERDICT_INCORRECT):
            raise InvalidArgument("say whether the answer was right: CORRECT, or INCORRECT with a "
                                  "corrected_statement", field="verdict")
        if not record.connection_id:
            raise FailedPrecondition(f"query {quote(query_id)} asked no database; there is no statement to accept")
        if verdict == query_record_pb2.FEEDBACK_VERDICT_CORRECT:
            if record.statement is None or not record.statement.WhichOneof("form") or record.status != STATUS_SUCCEEDED:
                raise FailedPrecondition(f"query {quote(query_id)} ran no statement that answered it; mark it "
                                         "INCORRECT with a corrected_statement instead")
            statement = record.statement
            corrected = None
        else:
            if corrected is None or not corrected.WhichOneof("form"):
                raise InvalidArgument("an INCORRECT verdict needs the statement that answers the question",
                                      field="corrected_statement")
            await self._check_runs_read_only(record.connection_id, corrected)
            statement = corrected
        embedding = await self.accepted.embed(record.normalised)
        await self.store.save_feedback(
            query_id,
            FeedbackRecord(verdict, corrected, comment, caller.principal, _utcnow()),
            AcceptedAnswer(record.connection_id, record.normalised, statement, query_id, embedding),
        )
        self.accepted.forget(record.connection_id)
        updated = await self.store.get(query_id)
        assert updated is not None
        return updated

    async def _check_runs_read_only(self, connection_id: str, statement: statement_pb2.Statement) -> None:
        """Run it for one row: the connector refuses what does not suit the connection's
        kind or would write, and says why."""
        try:
            await self.connector.execute(connection_id, statement, page_size=1, max_rows=1)
        except (InvalidArgument, PermissionDenied) as exc:
            # PERMISSION_DENIED is the connector refusing a write on a read-only connection.
            raise InvalidArgument(f"the corrected statement does not run read-only on connection "
                                  f"{quote(connection_id)}: {exc.message}", field="corrected_statement",
                                  reason=exc.reason) from None
        except (FailedPrecondition, NotFound) as exc:
            raise InvalidArgument(f"the corrected statement does not run on connection {quote(connection_id)}: "
                                  f"{exc.message}", field="corrected_statement", reason=exc.reason) from None

    # ================================================================== status

    async def system_status(self) -> system_status_pb2.SystemStatus:
        if self.status_reader is not None:
            return await self.status_reader()
        return system_status_pb2.SystemStatus(
            degradation_level=system_status_pb2.DEGRADATION_LEVEL_UNSPECIFIED, level=0,
            summary="no health checks configured",
        )


def _no_conversation(ctx: _Context) -> NotFound:
    conversation_id, ctx.conversation_id = ctx.conversation_id, ""
    return NotFound(f"conversation {quote(conversation_id)} does not exist; omit conversation_id "
                    "to start a new one", reason="CONVERSATION_NOT_FOUND")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _thread(context: pq.ParsedQuery | None) -> str:
    """What a follow-up's cached answer depends on besides its own words: the previous
    question and its statement (not its id: two conversations at the same point share
    their follow-ups' answers)."""
    if context is None:
        return ""
    return _digest(normalise(context.question) + "\0" + context.statement.SerializeToString(deterministic=True).hex())


def _filter_key(where: QueryFilter) -> str:
    return _digest("\0".join([
        where.connection_id, str(where.status), where.conversation_id,
        where.start_time.isoformat() if where.start_time else "", where.end_time.isoformat() if where.end_time else "",
    ]))

