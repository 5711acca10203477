import datetime

from chatdb.connector.v1 import data_type_pb2 as _data_type_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TableKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TABLE_KIND_UNSPECIFIED: _ClassVar[TableKind]
    TABLE_KIND_TABLE: _ClassVar[TableKind]
    TABLE_KIND_VIEW: _ClassVar[TableKind]
    TABLE_KIND_COLLECTION: _ClassVar[TableKind]
TABLE_KIND_UNSPECIFIED: TableKind
TABLE_KIND_TABLE: TableKind
TABLE_KIND_VIEW: TableKind
TABLE_KIND_COLLECTION: TableKind

class Schema(_message.Message):
    __slots__ = ("connection_id", "schema_version", "database", "tables", "introspect_time", "expire_time")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    INTROSPECT_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    schema_version: str
    database: str
    tables: _containers.RepeatedCompositeFieldContainer[Table]
    introspect_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, connection_id: _Optional[str] = ..., schema_version: _Optional[str] = ..., database: _Optional[str] = ..., tables: _Optional[_Iterable[_Union[Table, _Mapping]]] = ..., introspect_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Table(_message.Message):
    __slots__ = ("name", "schema_name", "kind", "columns", "primary_key", "foreign_keys", "comment", "row_estimate")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEY_FIELD_NUMBER: _ClassVar[int]
    FOREIGN_KEYS_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    ROW_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    schema_name: str
    kind: TableKind
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    primary_key: _containers.RepeatedScalarFieldContainer[str]
    foreign_keys: _containers.RepeatedCompositeFieldContainer[ForeignKey]
    comment: str
    row_estimate: int
    def __init__(self, name: _Optional[str] = ..., schema_name: _Optional[str] = ..., kind: _Optional[_Union[TableKind, str]] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., primary_key: _Optional[_Iterable[str]] = ..., foreign_keys: _Optional[_Iterable[_Union[ForeignKey, _Mapping]]] = ..., comment: _Optional[str] = ..., row_estimate: _Optional[int] = ...) -> None: ...

class Column(_message.Message):
    __slots__ = ("name", "type", "native_type", "nullable", "primary_key_ordinal", "comment", "default_expression", "ordinal_position")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NATIVE_TYPE_FIELD_NUMBER: _ClassVar[int]
    NULLABLE_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEY_ORDINAL_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    ORDINAL_POSITION_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: _data_type_pb2.DataType
    native_type: str
    nullable: bool
    primary_key_ordinal: int
    comment: str
    default_expression: str
    ordinal_position: int
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[_data_type_pb2.DataType, str]] = ..., native_type: _Optional[str] = ..., nullable: _Optional[bool] = ..., primary_key_ordinal: _Optional[int] = ..., comment: _Optional[str] = ..., default_expression: _Optional[str] = ..., ordinal_position: _Optional[int] = ...) -> None: ...

class ForeignKey(_message.Message):
    __slots__ = ("name", "columns", "referenced_schema_name", "referenced_table", "referenced_columns")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    REFERENCED_SCHEMA_NAME_FIELD_NUMBER: _ClassVar[int]
    REFERENCED_TABLE_FIELD_NUMBER: _ClassVar[int]
    REFERENCED_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    name: str
    columns: _containers.RepeatedScalarFieldContainer[str]
    referenced_schema_name: str
    referenced_table: str
    referenced_columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., columns: _Optional[_Iterable[str]] = ..., referenced_schema_name: _Optional[str] = ..., referenced_table: _Optional[str] = ..., referenced_columns: _Optional[_Iterable[str]] = ...) -> None: ...
