import datetime

from chatdb.connector.v1 import schema_pb2 as _schema_pb2
from chatdb.connector.v1 import statement_pb2 as _statement_pb2
from chatdb.parser.v1 import parsed_query_pb2 as _parsed_query_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ParseQueryRequest(_message.Message):
    __slots__ = ("question", "connection_id", "dialect", "schema", "reference_time", "context")
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    DIALECT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_TIME_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    question: str
    connection_id: str
    dialect: _statement_pb2.SqlDialect
    schema: _schema_pb2.Schema
    reference_time: _timestamp_pb2.Timestamp
    context: _parsed_query_pb2.ParsedQuery
    def __init__(self, question: _Optional[str] = ..., connection_id: _Optional[str] = ..., dialect: _Optional[_Union[_statement_pb2.SqlDialect, str]] = ..., schema: _Optional[_Union[_schema_pb2.Schema, _Mapping]] = ..., reference_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., context: _Optional[_Union[_parsed_query_pb2.ParsedQuery, _Mapping]] = ...) -> None: ...

class ParseQueryResponse(_message.Message):
    __slots__ = ("parsed_query",)
    PARSED_QUERY_FIELD_NUMBER: _ClassVar[int]
    parsed_query: _parsed_query_pb2.ParsedQuery
    def __init__(self, parsed_query: _Optional[_Union[_parsed_query_pb2.ParsedQuery, _Mapping]] = ...) -> None: ...
