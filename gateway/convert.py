"""Pure conversions between the gateway's domain (domain.py) and its protos."""

from __future__ import annotations

import datetime as dt
import json

from chatdb.connector.v1 import statement_pb2
from chatdb.gateway.v1 import chat_service_pb2 as pb
from chatdb.gateway.v1 import query_record_pb2
from google.protobuf import json_format
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import status_pb2

from servers.runtime.errors import ChatDBError
from servers.runtime.status import to_status_proto

from .domain import AskRequest, AskResult, QueryFilter, QueryRecord, Timings


def statement_text(statement: statement_pb2.Statement | None) -> str:
    """What ran, as one line of text for the audit trail: the SQL, or the MongoDB
    find / pipeline as JSON."""
    if statement is None:
        return ""
    form = statement.WhichOneof("form")
    if form is None:
        return ""
    if form == "sql":
        return statement.sql.sql
    return json.dumps({form: json_format.MessageToDict(getattr(statement, form))}, separators=(",", ":"))


def duration(seconds: float) -> Duration:
    out = Duration()
    out.FromNanoseconds(int(seconds * 1e9))
    return out


def timestamp(value: dt.datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def optional_time(value: Timestamp, present: bool) -> dt.datetime | None:
    return value.ToDatetime(tzinfo=dt.UTC) if present else None


def timings(t: Timings) -> query_record_pb2.StageTimings:
    return query_record_pb2.StageTimings(parse=duration(t.parse_s), execute=duration(t.execute_s), total=duration(t.total_s))


def error_status(error: ChatDBError) -> status_pb2.Status:
    """The google.rpc.Status a client got for this error, as the history keeps it."""
    return to_status_proto(error)


def ask_request(request: pb.AskRequest) -> AskRequest:
    return AskRequest(
        question=request.question,
        connection_id=request.connection_id,
        page_size=request.page_size,
        page_token=request.page_token,
        use_cache=request.use_cache if request.HasField("use_cache") else True,
        conversation_id=request.conversation_id,
        max_rows=request.max_rows,
        reference_time=optional_time(request.reference_time, request.HasField("reference_time")),
    )


def ask_response(result: AskResult) -> pb.AskResponse:
    answer = result.answer
    out = pb.AskResponse(
        query_id=result.query_id,
        columns=answer.columns,
        rows=answer.rows,
        next_page_token=result.next_page_token,
        truncated=result.truncated,
        trace_id=result.trace_id,
        cached=result.cached,
        duration=duration(result.timings.total_s),
        training_job=answer.training_job,
        explanation=result.explanation,
        timings=timings(result.timings),
        conversation_id=result.conversation_id,
        answer=answer.text,
        source=answer.source,
        reused_query_id=result.reused_query_id,
        model_version=answer.model_version,
        notes=answer.notes,
        masked_columns=answer.masked_columns,
    )
    if result.parsed is not None:
        out.parsed_query.CopyFrom(result.parsed)
    if result.statement is not None and result.statement.WhichOneof("form"):
        out.statement.CopyFrom(result.statement)
    return out


def query_record(record: QueryRecord) -> query_record_pb2.QueryRecord:
    out = query_record_pb2.QueryRecord(
        query_id=record.query_id,
        question=record.question,
        connection_id=record.connection_id,
        status=record.status,
        intent=record.intent,
        row_count=record.row_count,
        cached=record.cached,
        create_time=timestamp(record.create_time),
        duration=duration(record.timings.total_s),
        trace_id=record.trace_id,
        api_key_id=record.api_key_id,
        conversation_id=record.conversation_id,
        timings=timings(record.timings),
        principal=record.principal,
        explanation=record.explanation,
        source=record.source,
        reused_query_id=record.reused_query_id,
        answer=record.answer,
    )
    if record.statement is not None and record.statement.WhichOneof("form"):
        out.statement.CopyFrom(record.statement)
    if record.error is not None:
        out.error.CopyFrom(record.error)
    if record.feedback is not None:
        f = record.feedback
        out.feedback.verdict = f.verdict
        if f.corrected_statement is not None:
            out.feedback.corrected_statement.CopyFrom(f.corrected_statement)
        out.feedback.comment = f.comment
        out.feedback.create_time.CopyFrom(timestamp(f.create_time))
        out.feedback.principal = f.principal
    return out


def query_filter(request: pb.ListQueriesRequest) -> QueryFilter:
    return QueryFilter(
        connection_id=request.connection_id,
        status=request.status,
        conversation_id=request.conversation_id,
        start_time=optional_time(request.start_time, request.HasField("start_time")),
        end_time=optional_time(request.end_time, request.HasField("end_time")),
    )
