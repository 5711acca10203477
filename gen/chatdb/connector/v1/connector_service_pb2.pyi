import datetime

from chatdb.connector.v1 import connection_pb2 as _connection_pb2
from chatdb.connector.v1 import glossary_pb2 as _glossary_pb2
from chatdb.connector.v1 import result_pb2 as _result_pb2
from chatdb.connector.v1 import schema_pb2 as _schema_pb2
from chatdb.connector.v1 import statement_pb2 as _statement_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateConnectionRequest(_message.Message):
    __slots__ = ("connection_id", "connection", "request_id")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    connection: _connection_pb2.Connection
    request_id: str
    def __init__(self, connection_id: _Optional[str] = ..., connection: _Optional[_Union[_connection_pb2.Connection, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateConnectionResponse(_message.Message):
    __slots__ = ("connection",)
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: _connection_pb2.Connection
    def __init__(self, connection: _Optional[_Union[_connection_pb2.Connection, _Mapping]] = ...) -> None: ...

class GetConnectionRequest(_message.Message):
    __slots__ = ("connection_id",)
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    def __init__(self, connection_id: _Optional[str] = ...) -> None: ...

class GetConnectionResponse(_message.Message):
    __slots__ = ("connection",)
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: _connection_pb2.Connection
    def __init__(self, connection: _Optional[_Union[_connection_pb2.Connection, _Mapping]] = ...) -> None: ...

class ListConnectionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "kind")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    kind: _connection_pb2.ConnectionKind
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., kind: _Optional[_Union[_connection_pb2.ConnectionKind, str]] = ...) -> None: ...

class ListConnectionsResponse(_message.Message):
    __slots__ = ("connections", "next_page_token")
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    connections: _containers.RepeatedCompositeFieldContainer[_connection_pb2.Connection]
    next_page_token: str
    def __init__(self, connections: _Optional[_Iterable[_Union[_connection_pb2.Connection, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteConnectionRequest(_message.Message):
    __slots__ = ("connection_id", "allow_missing")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOW_MISSING_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    allow_missing: bool
    def __init__(self, connection_id: _Optional[str] = ..., allow_missing: _Optional[bool] = ...) -> None: ...

class DeleteConnectionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetSchemaRequest(_message.Message):
    __slots__ = ("connection_id", "refresh", "schema_names", "tables")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    REFRESH_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_NAMES_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    refresh: bool
    schema_names: _containers.RepeatedScalarFieldContainer[str]
    tables: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, connection_id: _Optional[str] = ..., refresh: _Optional[bool] = ..., schema_names: _Optional[_Iterable[str]] = ..., tables: _Optional[_Iterable[str]] = ...) -> None: ...

class GetSchemaResponse(_message.Message):
    __slots__ = ("schema", "cached")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    schema: _schema_pb2.Schema
    cached: bool
    def __init__(self, schema: _Optional[_Union[_schema_pb2.Schema, _Mapping]] = ..., cached: _Optional[bool] = ...) -> None: ...

class ExecuteQueryRequest(_message.Message):
    __slots__ = ("connection_id", "statement", "page_size", "page_token", "timeout", "max_rows")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    statement: _statement_pb2.Statement
    page_size: int
    page_token: str
    timeout: _duration_pb2.Duration
    max_rows: int
    def __init__(self, connection_id: _Optional[str] = ..., statement: _Optional[_Union[_statement_pb2.Statement, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_rows: _Optional[int] = ...) -> None: ...

class ExecuteQueryResponse(_message.Message):
    __slots__ = ("columns", "rows", "next_page_token", "rows_returned", "truncated", "execution_time", "masked_columns")
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ROWS_RETURNED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    MASKED_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[_result_pb2.ColumnMeta]
    rows: _containers.RepeatedCompositeFieldContainer[_result_pb2.Row]
    next_page_token: str
    rows_returned: int
    truncated: bool
    execution_time: _duration_pb2.Duration
    masked_columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, columns: _Optional[_Iterable[_Union[_result_pb2.ColumnMeta, _Mapping]]] = ..., rows: _Optional[_Iterable[_Union[_result_pb2.Row, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., rows_returned: _Optional[int] = ..., truncated: _Optional[bool] = ..., execution_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., masked_columns: _Optional[_Iterable[str]] = ...) -> None: ...

class StreamQueryRequest(_message.Message):
    __slots__ = ("connection_id", "statement", "batch_size", "timeout", "max_rows")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    statement: _statement_pb2.Statement
    batch_size: int
    timeout: _duration_pb2.Duration
    max_rows: int
    def __init__(self, connection_id: _Optional[str] = ..., statement: _Optional[_Union[_statement_pb2.Statement, _Mapping]] = ..., batch_size: _Optional[int] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_rows: _Optional[int] = ...) -> None: ...

class StreamQueryResponse(_message.Message):
    __slots__ = ("header", "batch", "summary")
    class Header(_message.Message):
        __slots__ = ("columns", "masked_columns")
        COLUMNS_FIELD_NUMBER: _ClassVar[int]
        MASKED_COLUMNS_FIELD_NUMBER: _ClassVar[int]
        columns: _containers.RepeatedCompositeFieldContainer[_result_pb2.ColumnMeta]
        masked_columns: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, columns: _Optional[_Iterable[_Union[_result_pb2.ColumnMeta, _Mapping]]] = ..., masked_columns: _Optional[_Iterable[str]] = ...) -> None: ...
    class RowBatch(_message.Message):
        __slots__ = ("rows", "offset")
        ROWS_FIELD_NUMBER: _ClassVar[int]
        OFFSET_FIELD_NUMBER: _ClassVar[int]
        rows: _containers.RepeatedCompositeFieldContainer[_result_pb2.Row]
        offset: int
        def __init__(self, rows: _Optional[_Iterable[_Union[_result_pb2.Row, _Mapping]]] = ..., offset: _Optional[int] = ...) -> None: ...
    HEADER_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    header: StreamQueryResponse.Header
    batch: StreamQueryResponse.RowBatch
    summary: _result_pb2.QueryStats
    def __init__(self, header: _Optional[_Union[StreamQueryResponse.Header, _Mapping]] = ..., batch: _Optional[_Union[StreamQueryResponse.RowBatch, _Mapping]] = ..., summary: _Optional[_Union[_result_pb2.QueryStats, _Mapping]] = ...) -> None: ...

class SetGlossaryRequest(_message.Message):
    __slots__ = ("connection_id", "glossary", "validate_only")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    GLOSSARY_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    glossary: _glossary_pb2.Glossary
    validate_only: bool
    def __init__(self, connection_id: _Optional[str] = ..., glossary: _Optional[_Union[_glossary_pb2.Glossary, _Mapping]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class SetGlossaryResponse(_message.Message):
    __slots__ = ("glossary",)
    GLOSSARY_FIELD_NUMBER: _ClassVar[int]
    glossary: _glossary_pb2.Glossary
    def __init__(self, glossary: _Optional[_Union[_glossary_pb2.Glossary, _Mapping]] = ...) -> None: ...

class GetGlossaryRequest(_message.Message):
    __slots__ = ("connection_id",)
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    def __init__(self, connection_id: _Optional[str] = ...) -> None: ...

class GetGlossaryResponse(_message.Message):
    __slots__ = ("glossary",)
    GLOSSARY_FIELD_NUMBER: _ClassVar[int]
    glossary: _glossary_pb2.Glossary
    def __init__(self, glossary: _Optional[_Union[_glossary_pb2.Glossary, _Mapping]] = ...) -> None: ...
