import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_EVENT_TYPE_UNSPECIFIED: _ClassVar[ModelEventType]
    MODEL_EVENT_TYPE_VERSION_CREATED: _ClassVar[ModelEventType]
    MODEL_EVENT_TYPE_ALIAS_MOVED: _ClassVar[ModelEventType]
    MODEL_EVENT_TYPE_VERSION_ARCHIVED: _ClassVar[ModelEventType]
MODEL_EVENT_TYPE_UNSPECIFIED: ModelEventType
MODEL_EVENT_TYPE_VERSION_CREATED: ModelEventType
MODEL_EVENT_TYPE_ALIAS_MOVED: ModelEventType
MODEL_EVENT_TYPE_VERSION_ARCHIVED: ModelEventType

class ModelEvent(_message.Message):
    __slots__ = ("sequence", "type", "model", "version", "alias", "previous_version", "event_time")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    type: ModelEventType
    model: str
    version: int
    alias: str
    previous_version: int
    event_time: _timestamp_pb2.Timestamp
    def __init__(self, sequence: _Optional[int] = ..., type: _Optional[_Union[ModelEventType, str]] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., alias: _Optional[str] = ..., previous_version: _Optional[int] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
