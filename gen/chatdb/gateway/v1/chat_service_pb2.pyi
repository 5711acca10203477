import datetime

from chatdb.connector.v1 import result_pb2 as _result_pb2
from chatdb.connector.v1 import statement_pb2 as _statement_pb2
from chatdb.gateway.v1 import query_record_pb2 as _query_record_pb2
from chatdb.gateway.v1 import system_status_pb2 as _system_status_pb2
from chatdb.parser.v1 import parsed_query_pb2 as _parsed_query_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AskRequest(_message.Message):
    __slots__ = ("question", "connection_id", "page_size", "page_token", "use_cache", "conversation_id", "max_rows", "reference_time")
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    USE_CACHE_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_TIME_FIELD_NUMBER: _ClassVar[int]
    question: str
    connection_id: str
    page_size: int
    page_token: str
    use_cache: bool
    conversation_id: str
    max_rows: int
    reference_time: _timestamp_pb2.Timestamp
    def __init__(self, question: _Optional[str] = ..., connection_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., use_cache: _Optional[bool] = ..., conversation_id: _Optional[str] = ..., max_rows: _Optional[int] = ..., reference_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AskResponse(_message.Message):
    __slots__ = ("query_id", "parsed_query", "statement", "columns", "rows", "next_page_token", "truncated", "trace_id", "cached", "duration", "training_job", "explanation", "timings", "conversation_id", "answer", "source", "reused_query_id", "model_version", "notes", "masked_columns")
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    PARSED_QUERY_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    TRAINING_JOB_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REUSED_QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    MASKED_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    query_id: str
    parsed_query: _parsed_query_pb2.ParsedQuery
    statement: _statement_pb2.Statement
    columns: _containers.RepeatedCompositeFieldContainer[_result_pb2.ColumnMeta]
    rows: _containers.RepeatedCompositeFieldContainer[_result_pb2.Row]
    next_page_token: str
    truncated: bool
    trace_id: str
    cached: bool
    duration: _duration_pb2.Duration
    training_job: str
    explanation: str
    timings: _query_record_pb2.StageTimings
    conversation_id: str
    answer: str
    source: _query_record_pb2.AnswerSource
    reused_query_id: str
    model_version: str
    notes: _containers.RepeatedScalarFieldContainer[str]
    masked_columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, query_id: _Optional[str] = ..., parsed_query: _Optional[_Union[_parsed_query_pb2.ParsedQuery, _Mapping]] = ..., statement: _Optional[_Union[_statement_pb2.Statement, _Mapping]] = ..., columns: _Optional[_Iterable[_Union[_result_pb2.ColumnMeta, _Mapping]]] = ..., rows: _Optional[_Iterable[_Union[_result_pb2.Row, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., truncated: _Optional[bool] = ..., trace_id: _Optional[str] = ..., cached: _Optional[bool] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., training_job: _Optional[str] = ..., explanation: _Optional[str] = ..., timings: _Optional[_Union[_query_record_pb2.StageTimings, _Mapping]] = ..., conversation_id: _Optional[str] = ..., answer: _Optional[str] = ..., source: _Optional[_Union[_query_record_pb2.AnswerSource, str]] = ..., reused_query_id: _Optional[str] = ..., model_version: _Optional[str] = ..., notes: _Optional[_Iterable[str]] = ..., masked_columns: _Optional[_Iterable[str]] = ...) -> None: ...

class GetQueryRequest(_message.Message):
    __slots__ = ("query_id",)
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    query_id: str
    def __init__(self, query_id: _Optional[str] = ...) -> None: ...

class GetQueryResponse(_message.Message):
    __slots__ = ("query",)
    QUERY_FIELD_NUMBER: _ClassVar[int]
    query: _query_record_pb2.QueryRecord
    def __init__(self, query: _Optional[_Union[_query_record_pb2.QueryRecord, _Mapping]] = ...) -> None: ...

class ListQueriesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "connection_id", "status", "conversation_id", "start_time", "end_time")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    connection_id: str
    status: _query_record_pb2.QueryStatus
    conversation_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., connection_id: _Optional[str] = ..., status: _Optional[_Union[_query_record_pb2.QueryStatus, str]] = ..., conversation_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListQueriesResponse(_message.Message):
    __slots__ = ("queries", "next_page_token")
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    queries: _containers.RepeatedCompositeFieldContainer[_query_record_pb2.QueryRecord]
    next_page_token: str
    def __init__(self, queries: _Optional[_Iterable[_Union[_query_record_pb2.QueryRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetSystemStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetSystemStatusResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _system_status_pb2.SystemStatus
    def __init__(self, status: _Optional[_Union[_system_status_pb2.SystemStatus, _Mapping]] = ...) -> None: ...

class SubmitFeedbackRequest(_message.Message):
    __slots__ = ("query_id", "verdict", "corrected_statement", "comment")
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_STATEMENT_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    query_id: str
    verdict: _query_record_pb2.FeedbackVerdict
    corrected_statement: _statement_pb2.Statement
    comment: str
    def __init__(self, query_id: _Optional[str] = ..., verdict: _Optional[_Union[_query_record_pb2.FeedbackVerdict, str]] = ..., corrected_statement: _Optional[_Union[_statement_pb2.Statement, _Mapping]] = ..., comment: _Optional[str] = ...) -> None: ...

class SubmitFeedbackResponse(_message.Message):
    __slots__ = ("query",)
    QUERY_FIELD_NUMBER: _ClassVar[int]
    query: _query_record_pb2.QueryRecord
    def __init__(self, query: _Optional[_Union[_query_record_pb2.QueryRecord, _Mapping]] = ...) -> None: ...
