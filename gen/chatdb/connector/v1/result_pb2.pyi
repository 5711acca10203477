import datetime

from chatdb.connector.v1 import data_type_pb2 as _data_type_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ColumnMeta(_message.Message):
    __slots__ = ("name", "type", "native_type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NATIVE_TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: _data_type_pb2.DataType
    native_type: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[_data_type_pb2.DataType, str]] = ..., native_type: _Optional[str] = ...) -> None: ...

class Row(_message.Message):
    __slots__ = ("cells",)
    CELLS_FIELD_NUMBER: _ClassVar[int]
    cells: _containers.RepeatedCompositeFieldContainer[Cell]
    def __init__(self, cells: _Optional[_Iterable[_Union[Cell, _Mapping]]] = ...) -> None: ...

class Cell(_message.Message):
    __slots__ = ("null_value", "int64_value", "double_value", "decimal_value", "text_value", "bool_value", "bytes_value", "date_value", "timestamp_value", "datetime_value", "json_value")
    NULL_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT64_VALUE_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    DECIMAL_VALUE_FIELD_NUMBER: _ClassVar[int]
    TEXT_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUE_FIELD_NUMBER: _ClassVar[int]
    DATE_VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_VALUE_FIELD_NUMBER: _ClassVar[int]
    DATETIME_VALUE_FIELD_NUMBER: _ClassVar[int]
    JSON_VALUE_FIELD_NUMBER: _ClassVar[int]
    null_value: _struct_pb2.NullValue
    int64_value: int
    double_value: float
    decimal_value: str
    text_value: str
    bool_value: bool
    bytes_value: bytes
    date_value: str
    timestamp_value: _timestamp_pb2.Timestamp
    datetime_value: str
    json_value: str
    def __init__(self, null_value: _Optional[_Union[_struct_pb2.NullValue, str]] = ..., int64_value: _Optional[int] = ..., double_value: _Optional[float] = ..., decimal_value: _Optional[str] = ..., text_value: _Optional[str] = ..., bool_value: _Optional[bool] = ..., bytes_value: _Optional[bytes] = ..., date_value: _Optional[str] = ..., timestamp_value: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., datetime_value: _Optional[str] = ..., json_value: _Optional[str] = ...) -> None: ...

class QueryStats(_message.Message):
    __slots__ = ("rows_returned", "truncated", "execution_time")
    ROWS_RETURNED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    rows_returned: int
    truncated: bool
    execution_time: _duration_pb2.Duration
    def __init__(self, rows_returned: _Optional[int] = ..., truncated: _Optional[bool] = ..., execution_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
