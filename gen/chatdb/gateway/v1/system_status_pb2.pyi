import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DegradationLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEGRADATION_LEVEL_UNSPECIFIED: _ClassVar[DegradationLevel]
    DEGRADATION_LEVEL_HEALTHY: _ClassVar[DegradationLevel]
    DEGRADATION_LEVEL_TRAINING_DOWN: _ClassVar[DegradationLevel]
    DEGRADATION_LEVEL_ML_DOWN: _ClassVar[DegradationLevel]
    DEGRADATION_LEVEL_DATABASES_DOWN: _ClassVar[DegradationLevel]
    DEGRADATION_LEVEL_CRITICAL: _ClassVar[DegradationLevel]

class ComponentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPONENT_STATE_UNSPECIFIED: _ClassVar[ComponentState]
    COMPONENT_STATE_SERVING: _ClassVar[ComponentState]
    COMPONENT_STATE_DEGRADED: _ClassVar[ComponentState]
    COMPONENT_STATE_NOT_SERVING: _ClassVar[ComponentState]
    COMPONENT_STATE_UNKNOWN: _ClassVar[ComponentState]
DEGRADATION_LEVEL_UNSPECIFIED: DegradationLevel
DEGRADATION_LEVEL_HEALTHY: DegradationLevel
DEGRADATION_LEVEL_TRAINING_DOWN: DegradationLevel
DEGRADATION_LEVEL_ML_DOWN: DegradationLevel
DEGRADATION_LEVEL_DATABASES_DOWN: DegradationLevel
DEGRADATION_LEVEL_CRITICAL: DegradationLevel
COMPONENT_STATE_UNSPECIFIED: ComponentState
COMPONENT_STATE_SERVING: ComponentState
COMPONENT_STATE_DEGRADED: ComponentState
COMPONENT_STATE_NOT_SERVING: ComponentState
COMPONENT_STATE_UNKNOWN: ComponentState

class SystemStatus(_message.Message):
    __slots__ = ("degradation_level", "level", "components", "summary", "check_time")
    DEGRADATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CHECK_TIME_FIELD_NUMBER: _ClassVar[int]
    degradation_level: DegradationLevel
    level: int
    components: _containers.RepeatedCompositeFieldContainer[ComponentStatus]
    summary: str
    check_time: _timestamp_pb2.Timestamp
    def __init__(self, degradation_level: _Optional[_Union[DegradationLevel, str]] = ..., level: _Optional[int] = ..., components: _Optional[_Iterable[_Union[ComponentStatus, _Mapping]]] = ..., summary: _Optional[str] = ..., check_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ComponentStatus(_message.Message):
    __slots__ = ("component", "state", "message", "check_time", "latency")
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CHECK_TIME_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    component: str
    state: ComponentState
    message: str
    check_time: _timestamp_pb2.Timestamp
    latency: _duration_pb2.Duration
    def __init__(self, component: _Optional[str] = ..., state: _Optional[_Union[ComponentState, str]] = ..., message: _Optional[str] = ..., check_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
