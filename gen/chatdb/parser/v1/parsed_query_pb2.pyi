import datetime

from chatdb.connector.v1 import result_pb2 as _result_pb2
from chatdb.connector.v1 import statement_pb2 as _statement_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Intent(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTENT_UNSPECIFIED: _ClassVar[Intent]
    INTENT_SELECT: _ClassVar[Intent]
    INTENT_COUNT: _ClassVar[Intent]
    INTENT_AGGREGATE: _ClassVar[Intent]
    INTENT_TOP_N: _ClassVar[Intent]
    INTENT_DISTINCT: _ClassVar[Intent]
    INTENT_DESCRIBE: _ClassVar[Intent]
    INTENT_TRAIN: _ClassVar[Intent]
    INTENT_PREDICT: _ClassVar[Intent]
    INTENT_UNKNOWN: _ClassVar[Intent]
    INTENT_MODEL_STATUS: _ClassVar[Intent]
    INTENT_SYSTEM_STATUS: _ClassVar[Intent]
    INTENT_ANOMALY: _ClassVar[Intent]

class FilterOperator(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILTER_OPERATOR_UNSPECIFIED: _ClassVar[FilterOperator]
    FILTER_OPERATOR_EQ: _ClassVar[FilterOperator]
    FILTER_OPERATOR_NE: _ClassVar[FilterOperator]
    FILTER_OPERATOR_LT: _ClassVar[FilterOperator]
    FILTER_OPERATOR_LE: _ClassVar[FilterOperator]
    FILTER_OPERATOR_GT: _ClassVar[FilterOperator]
    FILTER_OPERATOR_GE: _ClassVar[FilterOperator]
    FILTER_OPERATOR_LIKE: _ClassVar[FilterOperator]
    FILTER_OPERATOR_IN: _ClassVar[FilterOperator]
    FILTER_OPERATOR_NOT_IN: _ClassVar[FilterOperator]
    FILTER_OPERATOR_BETWEEN: _ClassVar[FilterOperator]
    FILTER_OPERATOR_IS_NULL: _ClassVar[FilterOperator]
    FILTER_OPERATOR_IS_NOT_NULL: _ClassVar[FilterOperator]

class AggregateFunction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGGREGATE_FUNCTION_UNSPECIFIED: _ClassVar[AggregateFunction]
    AGGREGATE_FUNCTION_COUNT: _ClassVar[AggregateFunction]
    AGGREGATE_FUNCTION_SUM: _ClassVar[AggregateFunction]
    AGGREGATE_FUNCTION_AVG: _ClassVar[AggregateFunction]
    AGGREGATE_FUNCTION_MIN: _ClassVar[AggregateFunction]
    AGGREGATE_FUNCTION_MAX: _ClassVar[AggregateFunction]

class SortDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SORT_DIRECTION_UNSPECIFIED: _ClassVar[SortDirection]
    SORT_DIRECTION_ASCENDING: _ClassVar[SortDirection]
    SORT_DIRECTION_DESCENDING: _ClassVar[SortDirection]
INTENT_UNSPECIFIED: Intent
INTENT_SELECT: Intent
INTENT_COUNT: Intent
INTENT_AGGREGATE: Intent
INTENT_TOP_N: Intent
INTENT_DISTINCT: Intent
INTENT_DESCRIBE: Intent
INTENT_TRAIN: Intent
INTENT_PREDICT: Intent
INTENT_UNKNOWN: Intent
INTENT_MODEL_STATUS: Intent
INTENT_SYSTEM_STATUS: Intent
INTENT_ANOMALY: Intent
FILTER_OPERATOR_UNSPECIFIED: FilterOperator
FILTER_OPERATOR_EQ: FilterOperator
FILTER_OPERATOR_NE: FilterOperator
FILTER_OPERATOR_LT: FilterOperator
FILTER_OPERATOR_LE: FilterOperator
FILTER_OPERATOR_GT: FilterOperator
FILTER_OPERATOR_GE: FilterOperator
FILTER_OPERATOR_LIKE: FilterOperator
FILTER_OPERATOR_IN: FilterOperator
FILTER_OPERATOR_NOT_IN: FilterOperator
FILTER_OPERATOR_BETWEEN: FilterOperator
FILTER_OPERATOR_IS_NULL: FilterOperator
FILTER_OPERATOR_IS_NOT_NULL: FilterOperator
AGGREGATE_FUNCTION_UNSPECIFIED: AggregateFunction
AGGREGATE_FUNCTION_COUNT: AggregateFunction
AGGREGATE_FUNCTION_SUM: AggregateFunction
AGGREGATE_FUNCTION_AVG: AggregateFunction
AGGREGATE_FUNCTION_MIN: AggregateFunction
AGGREGATE_FUNCTION_MAX: AggregateFunction
SORT_DIRECTION_UNSPECIFIED: SortDirection
SORT_DIRECTION_ASCENDING: SortDirection
SORT_DIRECTION_DESCENDING: SortDirection

class ParsedQuery(_message.Message):
    __slots__ = ("question", "intent", "confidence", "tables", "columns", "filters", "aggregations", "group_by", "order_by", "limit", "time_range", "statement", "explanation", "parse_duration", "used_fallback", "model_name", "target", "notes", "intent_source", "follow_up", "conversation")
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    AGGREGATIONS_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    PARSE_DURATION_FIELD_NUMBER: _ClassVar[int]
    USED_FALLBACK_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    INTENT_SOURCE_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_UP_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    question: str
    intent: Intent
    confidence: float
    tables: _containers.RepeatedScalarFieldContainer[str]
    columns: _containers.RepeatedScalarFieldContainer[str]
    filters: _containers.RepeatedCompositeFieldContainer[Filter]
    aggregations: _containers.RepeatedCompositeFieldContainer[Aggregation]
    group_by: _containers.RepeatedScalarFieldContainer[str]
    order_by: _containers.RepeatedCompositeFieldContainer[OrderBy]
    limit: int
    time_range: TimeRange
    statement: _statement_pb2.Statement
    explanation: str
    parse_duration: _duration_pb2.Duration
    used_fallback: bool
    model_name: str
    target: str
    notes: _containers.RepeatedScalarFieldContainer[str]
    intent_source: str
    follow_up: bool
    conversation: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, question: _Optional[str] = ..., intent: _Optional[_Union[Intent, str]] = ..., confidence: _Optional[float] = ..., tables: _Optional[_Iterable[str]] = ..., columns: _Optional[_Iterable[str]] = ..., filters: _Optional[_Iterable[_Union[Filter, _Mapping]]] = ..., aggregations: _Optional[_Iterable[_Union[Aggregation, _Mapping]]] = ..., group_by: _Optional[_Iterable[str]] = ..., order_by: _Optional[_Iterable[_Union[OrderBy, _Mapping]]] = ..., limit: _Optional[int] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ..., statement: _Optional[_Union[_statement_pb2.Statement, _Mapping]] = ..., explanation: _Optional[str] = ..., parse_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., used_fallback: _Optional[bool] = ..., model_name: _Optional[str] = ..., target: _Optional[str] = ..., notes: _Optional[_Iterable[str]] = ..., intent_source: _Optional[str] = ..., follow_up: _Optional[bool] = ..., conversation: _Optional[_Iterable[str]] = ...) -> None: ...

class Filter(_message.Message):
    __slots__ = ("column", "operator", "values")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    column: str
    operator: FilterOperator
    values: _containers.RepeatedCompositeFieldContainer[_result_pb2.Cell]
    def __init__(self, column: _Optional[str] = ..., operator: _Optional[_Union[FilterOperator, str]] = ..., values: _Optional[_Iterable[_Union[_result_pb2.Cell, _Mapping]]] = ...) -> None: ...

class Aggregation(_message.Message):
    __slots__ = ("function", "column", "alias", "distinct")
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_FIELD_NUMBER: _ClassVar[int]
    function: AggregateFunction
    column: str
    alias: str
    distinct: bool
    def __init__(self, function: _Optional[_Union[AggregateFunction, str]] = ..., column: _Optional[str] = ..., alias: _Optional[str] = ..., distinct: _Optional[bool] = ...) -> None: ...

class OrderBy(_message.Message):
    __slots__ = ("column", "direction")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    column: str
    direction: SortDirection
    def __init__(self, column: _Optional[str] = ..., direction: _Optional[_Union[SortDirection, str]] = ...) -> None: ...

class TimeRange(_message.Message):
    __slots__ = ("column", "start_time", "end_time", "expression")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    column: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    expression: str
    def __init__(self, column: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expression: _Optional[str] = ...) -> None: ...
