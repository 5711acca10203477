"""The gateway's types: what the core is asked and answers, the history record, and the
ports the core talks through (parser, connector, the answerers the composition root
attaches). core.py, store.py, cache.py and the answerers import these; nothing here
does I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from chatdb.connector.v1 import connector_service_pb2, result_pb2, statement_pb2
from chatdb.gateway.v1 import query_record_pb2, system_status_pb2
from chatdb.parser.v1 import parsed_query_pb2
from google.rpc import status_pb2

from .answer import Answer

# --------------------------------------------------------------------------- answerers


class MlAnswerer(Protocol):
    async def answer(self, parsed: parsed_query_pb2.ParsedQuery, *, question: str, connection_id: str) -> Answer:
        # parsed.intent is INTENT_TRAIN, INTENT_PREDICT, INTENT_MODEL_STATUS or INTENT_ANOMALY; raises runtime errors
        # (Unavailable naming the service that is down, NotFound for an unknown model, InvalidArgument with field)
        ...


class SystemAnswerer(Protocol):
    def recognises(self, question: str) -> bool:
        # cheap, no I/O: "is the system healthy?", "which jobs are running?", "what failed today?"
        ...

    async def answer(self, question: str, parsed: parsed_query_pb2.ParsedQuery | None = None) -> Answer: ...


StatusReader = Callable[[], Awaitable[system_status_pb2.SystemStatus]]  # current snapshot, never raises


# --------------------------------------------------------------------------- ports

# Reasons of the Unavailable a port raises when the service behind it does not answer.
PARSER_UNAVAILABLE = "PARSER_UNAVAILABLE"
CONNECTOR_UNAVAILABLE = "CONNECTOR_UNAVAILABLE"


class ParserPort(Protocol):
    async def parse(
        self,
        question: str,
        connection_id: str,
        *,
        reference_time: dt.datetime | None,
        context: parsed_query_pb2.ParsedQuery | None,
    ) -> parsed_query_pb2.ParsedQuery: ...


@dataclass(frozen=True)
class Versions:
    """What a cached answer depends on besides the question: the connection's schema and
    glossary as the connector last described them."""

    schema: str
    glossary: str


class ConnectorPort(Protocol):
    async def execute(
        self,
        connection_id: str,
        statement: statement_pb2.Statement,
        *,
        page_size: int,
        page_token: str = "",
        max_rows: int,
    ) -> connector_service_pb2.ExecuteQueryResponse: ...

    async def connection_ids(self, limit: int) -> list[str]: ...

    async def versions(self, connection_id: str) -> Versions: ...


# --------------------------------------------------------------------------- requests and answers

STATUS_SUCCEEDED = query_record_pb2.QUERY_STATUS_SUCCEEDED
STATUS_FAILED = query_record_pb2.QUERY_STATUS_FAILED


@dataclass(frozen=True)
class AskRequest:
    question: str
    connection_id: str = ""
    page_size: int = 0
    page_token: str = ""
    use_cache: bool = True
    conversation_id: str = ""
    max_rows: int = 0
    reference_time: dt.datetime | None = None


@dataclass(frozen=True)
class Caller:
    """Who asks, and the request's trace id. The principal comes from metadata the edge
    sets (x-chatdb-principal): trusted only behind the edge, which strips it from
    clients; a direct caller could claim any name."""

    principal: str = "anonymous"
    trace_id: str = ""
    api_key_id: str = ""


@dataclass
class Timings:
    parse_s: float = 0.0
    execute_s: float = 0.0
    total_s: float = 0.0


@dataclass
class AskResult:
    query_id: str
    conversation_id: str
    answer: Answer
    parsed: parsed_query_pb2.ParsedQuery | None = None
    statement: statement_pb2.Statement | None = None
    explanation: str = ""
    next_page_token: str = ""
    truncated: bool = False
    cached: bool = False
    reused_query_id: str = ""
    timings: Timings = field(default_factory=Timings)
    trace_id: str = ""


@dataclass
class FeedbackRecord:
    verdict: int
    corrected_statement: statement_pb2.Statement | None
    comment: str
    principal: str
    create_time: dt.datetime


@dataclass
class QueryRecord:
    """One asked question in the history (and, with its principal, the audit trail)."""

    query_id: str
    question: str
    normalised: str
    connection_id: str
    conversation_id: str
    status: int
    create_time: dt.datetime
    principal: str = "anonymous"
    api_key_id: str = ""
    trace_id: str = ""
    statement: statement_pb2.Statement | None = None
    parsed: parsed_query_pb2.ParsedQuery | None = None
    intent: int = 0
    row_count: int = 0
    cached: bool = False
    source: int = 0
    reused_query_id: str = ""
    explanation: str = ""
    answer: str = ""
    error: status_pb2.Status | None = None
    timings: Timings = field(default_factory=Timings)
    feedback: FeedbackRecord | None = None
    # The asker's tenant; "" = asked without a principal (shared), runtime/tenancy.py.
    tenant: str = ""


@dataclass(frozen=True)
class QueryFilter:
    connection_id: str = ""
    status: int = 0
    conversation_id: str = ""
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None


@dataclass(frozen=True)
class AcceptedAnswer:
    """A question whose answer somebody accepted (CORRECT) or corrected (INCORRECT): its
    statement runs for the same question on the same connection from then on."""

    connection_id: str
    normalised: str
    statement: statement_pb2.Statement
    query_id: str
    embedding: tuple[float, ...] = ()


Rows = list[result_pb2.Row]
Columns = list[result_pb2.ColumnMeta]
