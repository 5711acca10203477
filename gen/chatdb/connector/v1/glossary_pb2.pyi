import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Glossary(_message.Message):
    __slots__ = ("metrics", "segments", "synonyms", "relationships", "version", "update_time", "pii_columns", "not_pii_columns")
    METRICS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    SYNONYMS_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIPS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PII_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    NOT_PII_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    metrics: _containers.RepeatedCompositeFieldContainer[Metric]
    segments: _containers.RepeatedCompositeFieldContainer[Segment]
    synonyms: _containers.RepeatedCompositeFieldContainer[Synonym]
    relationships: _containers.RepeatedCompositeFieldContainer[Relationship]
    version: str
    update_time: _timestamp_pb2.Timestamp
    pii_columns: _containers.RepeatedScalarFieldContainer[str]
    not_pii_columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, metrics: _Optional[_Iterable[_Union[Metric, _Mapping]]] = ..., segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ..., synonyms: _Optional[_Iterable[_Union[Synonym, _Mapping]]] = ..., relationships: _Optional[_Iterable[_Union[Relationship, _Mapping]]] = ..., version: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pii_columns: _Optional[_Iterable[str]] = ..., not_pii_columns: _Optional[_Iterable[str]] = ...) -> None: ...

class Metric(_message.Message):
    __slots__ = ("name", "table", "expression", "filters", "time_column", "description", "synonyms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    TIME_COLUMN_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SYNONYMS_FIELD_NUMBER: _ClassVar[int]
    name: str
    table: str
    expression: str
    filters: _containers.RepeatedScalarFieldContainer[str]
    time_column: str
    description: str
    synonyms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., table: _Optional[str] = ..., expression: _Optional[str] = ..., filters: _Optional[_Iterable[str]] = ..., time_column: _Optional[str] = ..., description: _Optional[str] = ..., synonyms: _Optional[_Iterable[str]] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("name", "table", "condition", "description", "synonyms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SYNONYMS_FIELD_NUMBER: _ClassVar[int]
    name: str
    table: str
    condition: str
    description: str
    synonyms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., table: _Optional[str] = ..., condition: _Optional[str] = ..., description: _Optional[str] = ..., synonyms: _Optional[_Iterable[str]] = ...) -> None: ...

class Synonym(_message.Message):
    __slots__ = ("term", "target")
    TERM_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    term: str
    target: str
    def __init__(self, term: _Optional[str] = ..., target: _Optional[str] = ...) -> None: ...

class Relationship(_message.Message):
    __slots__ = ("from_table", "from_columns", "to_table", "to_columns", "name")
    FROM_TABLE_FIELD_NUMBER: _ClassVar[int]
    FROM_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    TO_TABLE_FIELD_NUMBER: _ClassVar[int]
    TO_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    from_table: str
    from_columns: _containers.RepeatedScalarFieldContainer[str]
    to_table: str
    to_columns: _containers.RepeatedScalarFieldContainer[str]
    name: str
    def __init__(self, from_table: _Optional[str] = ..., from_columns: _Optional[_Iterable[str]] = ..., to_table: _Optional[str] = ..., to_columns: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ...) -> None: ...
