from chatdb.connector.v1 import result_pb2 as _result_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SqlDialect(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SQL_DIALECT_UNSPECIFIED: _ClassVar[SqlDialect]
    SQL_DIALECT_POSTGRES: _ClassVar[SqlDialect]
    SQL_DIALECT_MYSQL: _ClassVar[SqlDialect]
SQL_DIALECT_UNSPECIFIED: SqlDialect
SQL_DIALECT_POSTGRES: SqlDialect
SQL_DIALECT_MYSQL: SqlDialect

class Statement(_message.Message):
    __slots__ = ("sql", "mongo_find", "mongo_aggregate")
    SQL_FIELD_NUMBER: _ClassVar[int]
    MONGO_FIND_FIELD_NUMBER: _ClassVar[int]
    MONGO_AGGREGATE_FIELD_NUMBER: _ClassVar[int]
    sql: SqlStatement
    mongo_find: MongoFind
    mongo_aggregate: MongoAggregate
    def __init__(self, sql: _Optional[_Union[SqlStatement, _Mapping]] = ..., mongo_find: _Optional[_Union[MongoFind, _Mapping]] = ..., mongo_aggregate: _Optional[_Union[MongoAggregate, _Mapping]] = ...) -> None: ...

class SqlStatement(_message.Message):
    __slots__ = ("sql", "params", "dialect")
    SQL_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    DIALECT_FIELD_NUMBER: _ClassVar[int]
    sql: str
    params: _containers.RepeatedCompositeFieldContainer[_result_pb2.Cell]
    dialect: SqlDialect
    def __init__(self, sql: _Optional[str] = ..., params: _Optional[_Iterable[_Union[_result_pb2.Cell, _Mapping]]] = ..., dialect: _Optional[_Union[SqlDialect, str]] = ...) -> None: ...

class MongoFind(_message.Message):
    __slots__ = ("collection", "filter", "projection", "sort", "skip", "limit")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PROJECTION_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    SKIP_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: str
    projection: str
    sort: str
    skip: int
    limit: int
    def __init__(self, collection: _Optional[str] = ..., filter: _Optional[str] = ..., projection: _Optional[str] = ..., sort: _Optional[str] = ..., skip: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class MongoAggregate(_message.Message):
    __slots__ = ("collection", "pipeline")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    collection: str
    pipeline: str
    def __init__(self, collection: _Optional[str] = ..., pipeline: _Optional[str] = ...) -> None: ...
