import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConnectionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONNECTION_KIND_UNSPECIFIED: _ClassVar[ConnectionKind]
    CONNECTION_KIND_POSTGRES: _ClassVar[ConnectionKind]
    CONNECTION_KIND_MYSQL: _ClassVar[ConnectionKind]
    CONNECTION_KIND_MONGODB: _ClassVar[ConnectionKind]
CONNECTION_KIND_UNSPECIFIED: ConnectionKind
CONNECTION_KIND_POSTGRES: ConnectionKind
CONNECTION_KIND_MYSQL: ConnectionKind
CONNECTION_KIND_MONGODB: ConnectionKind

class Connection(_message.Message):
    __slots__ = ("connection_id", "display_name", "kind", "dsn", "host", "port", "user", "password", "database", "read_only", "options", "has_password", "create_time", "update_time", "tenant")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DSN_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    HAS_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    display_name: str
    kind: ConnectionKind
    dsn: str
    host: str
    port: int
    user: str
    password: str
    database: str
    read_only: bool
    options: ConnectionOptions
    has_password: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    tenant: str
    def __init__(self, connection_id: _Optional[str] = ..., display_name: _Optional[str] = ..., kind: _Optional[_Union[ConnectionKind, str]] = ..., dsn: _Optional[str] = ..., host: _Optional[str] = ..., port: _Optional[int] = ..., user: _Optional[str] = ..., password: _Optional[str] = ..., database: _Optional[str] = ..., read_only: _Optional[bool] = ..., options: _Optional[_Union[ConnectionOptions, _Mapping]] = ..., has_password: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tenant: _Optional[str] = ...) -> None: ...

class ConnectionOptions(_message.Message):
    __slots__ = ("pool_min_size", "pool_max_size", "connect_timeout", "statement_timeout", "max_rows", "driver_options")
    class DriverOptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    POOL_MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    POOL_MAX_SIZE_FIELD_NUMBER: _ClassVar[int]
    CONNECT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_FIELD_NUMBER: _ClassVar[int]
    DRIVER_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    pool_min_size: int
    pool_max_size: int
    connect_timeout: _duration_pb2.Duration
    statement_timeout: _duration_pb2.Duration
    max_rows: int
    driver_options: _containers.ScalarMap[str, str]
    def __init__(self, pool_min_size: _Optional[int] = ..., pool_max_size: _Optional[int] = ..., connect_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., statement_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_rows: _Optional[int] = ..., driver_options: _Optional[_Mapping[str, str]] = ...) -> None: ...
