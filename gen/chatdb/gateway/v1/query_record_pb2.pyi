import datetime

from chatdb.connector.v1 import statement_pb2 as _statement_pb2
from chatdb.parser.v1 import parsed_query_pb2 as _parsed_query_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueryStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUERY_STATUS_UNSPECIFIED: _ClassVar[QueryStatus]
    QUERY_STATUS_SUCCEEDED: _ClassVar[QueryStatus]
    QUERY_STATUS_FAILED: _ClassVar[QueryStatus]

class AnswerSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANSWER_SOURCE_UNSPECIFIED: _ClassVar[AnswerSource]
    ANSWER_SOURCE_DATABASE: _ClassVar[AnswerSource]
    ANSWER_SOURCE_CACHE: _ClassVar[AnswerSource]
    ANSWER_SOURCE_ACCEPTED_ANSWER: _ClassVar[AnswerSource]
    ANSWER_SOURCE_SCHEMA: _ClassVar[AnswerSource]
    ANSWER_SOURCE_TRAINING: _ClassVar[AnswerSource]
    ANSWER_SOURCE_PREDICTION: _ClassVar[AnswerSource]
    ANSWER_SOURCE_REGISTRY: _ClassVar[AnswerSource]
    ANSWER_SOURCE_SYSTEM: _ClassVar[AnswerSource]

class FeedbackVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FEEDBACK_VERDICT_UNSPECIFIED: _ClassVar[FeedbackVerdict]
    FEEDBACK_VERDICT_CORRECT: _ClassVar[FeedbackVerdict]
    FEEDBACK_VERDICT_INCORRECT: _ClassVar[FeedbackVerdict]
QUERY_STATUS_UNSPECIFIED: QueryStatus
QUERY_STATUS_SUCCEEDED: QueryStatus
QUERY_STATUS_FAILED: QueryStatus
ANSWER_SOURCE_UNSPECIFIED: AnswerSource
ANSWER_SOURCE_DATABASE: AnswerSource
ANSWER_SOURCE_CACHE: AnswerSource
ANSWER_SOURCE_ACCEPTED_ANSWER: AnswerSource
ANSWER_SOURCE_SCHEMA: AnswerSource
ANSWER_SOURCE_TRAINING: AnswerSource
ANSWER_SOURCE_PREDICTION: AnswerSource
ANSWER_SOURCE_REGISTRY: AnswerSource
ANSWER_SOURCE_SYSTEM: AnswerSource
FEEDBACK_VERDICT_UNSPECIFIED: FeedbackVerdict
FEEDBACK_VERDICT_CORRECT: FeedbackVerdict
FEEDBACK_VERDICT_INCORRECT: FeedbackVerdict

class StageTimings(_message.Message):
    __slots__ = ("parse", "execute", "total")
    PARSE_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    parse: _duration_pb2.Duration
    execute: _duration_pb2.Duration
    total: _duration_pb2.Duration
    def __init__(self, parse: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., execute: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., total: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Feedback(_message.Message):
    __slots__ = ("verdict", "corrected_statement", "comment", "create_time", "principal")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_STATEMENT_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    verdict: FeedbackVerdict
    corrected_statement: _statement_pb2.Statement
    comment: str
    create_time: _timestamp_pb2.Timestamp
    principal: str
    def __init__(self, verdict: _Optional[_Union[FeedbackVerdict, str]] = ..., corrected_statement: _Optional[_Union[_statement_pb2.Statement, _Mapping]] = ..., comment: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., principal: _Optional[str] = ...) -> None: ...

class QueryRecord(_message.Message):
    __slots__ = ("query_id", "question", "connection_id", "statement", "status", "intent", "row_count", "cached", "create_time", "duration", "error", "trace_id", "api_key_id", "conversation_id", "timings", "principal", "feedback", "explanation", "source", "reused_query_id", "answer")
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REUSED_QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    query_id: str
    question: str
    connection_id: str
    statement: _statement_pb2.Statement
    status: QueryStatus
    intent: _parsed_query_pb2.Intent
    row_count: int
    cached: bool
    create_time: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    error: _status_pb2.Status
    trace_id: str
    api_key_id: str
    conversation_id: str
    timings: StageTimings
    principal: str
    feedback: Feedback
    explanation: str
    source: AnswerSource
    reused_query_id: str
    answer: str
    def __init__(self, query_id: _Optional[str] = ..., question: _Optional[str] = ..., connection_id: _Optional[str] = ..., statement: _Optional[_Union[_statement_pb2.Statement, _Mapping]] = ..., status: _Optional[_Union[QueryStatus, str]] = ..., intent: _Optional[_Union[_parsed_query_pb2.Intent, str]] = ..., row_count: _Optional[int] = ..., cached: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., trace_id: _Optional[str] = ..., api_key_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., timings: _Optional[_Union[StageTimings, _Mapping]] = ..., principal: _Optional[str] = ..., feedback: _Optional[_Union[Feedback, _Mapping]] = ..., explanation: _Optional[str] = ..., source: _Optional[_Union[AnswerSource, str]] = ..., reused_query_id: _Optional[str] = ..., answer: _Optional[str] = ...) -> None: ...
