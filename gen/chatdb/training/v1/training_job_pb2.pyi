import datetime

from chatdb.training.v1 import job_state_pb2 as _job_state_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Task(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_UNSPECIFIED: _ClassVar[Task]
    TASK_CLASSIFICATION: _ClassVar[Task]
    TASK_REGRESSION: _ClassVar[Task]
    TASK_TEXT_CLASSIFICATION: _ClassVar[Task]
    TASK_ANOMALY_DETECTION: _ClassVar[Task]
TASK_UNSPECIFIED: Task
TASK_CLASSIFICATION: Task
TASK_REGRESSION: Task
TASK_TEXT_CLASSIFICATION: Task
TASK_ANOMALY_DETECTION: Task

class TrainingJob(_message.Message):
    __slots__ = ("name", "job_id", "model_name", "task", "algorithm", "dataset", "target", "features", "hyperparameters", "test_fraction", "seed", "state", "progress", "metrics", "attempts", "max_attempts", "model_version", "create_time", "start_time", "end_time", "update_time", "error", "tenant")
    class HyperparametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TEST_FRACTION_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    name: str
    job_id: str
    model_name: str
    task: Task
    algorithm: str
    dataset: Dataset
    target: str
    features: _containers.RepeatedScalarFieldContainer[str]
    hyperparameters: _containers.MessageMap[str, _struct_pb2.Value]
    test_fraction: float
    seed: int
    state: _job_state_pb2.JobState
    progress: TrainingProgress
    metrics: _containers.ScalarMap[str, float]
    attempts: int
    max_attempts: int
    model_version: ModelVersionRef
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    error: _status_pb2.Status
    tenant: str
    def __init__(self, name: _Optional[str] = ..., job_id: _Optional[str] = ..., model_name: _Optional[str] = ..., task: _Optional[_Union[Task, str]] = ..., algorithm: _Optional[str] = ..., dataset: _Optional[_Union[Dataset, _Mapping]] = ..., target: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ..., hyperparameters: _Optional[_Mapping[str, _struct_pb2.Value]] = ..., test_fraction: _Optional[float] = ..., seed: _Optional[int] = ..., state: _Optional[_Union[_job_state_pb2.JobState, str]] = ..., progress: _Optional[_Union[TrainingProgress, _Mapping]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., attempts: _Optional[int] = ..., max_attempts: _Optional[int] = ..., model_version: _Optional[_Union[ModelVersionRef, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., tenant: _Optional[str] = ...) -> None: ...

class Dataset(_message.Message):
    __slots__ = ("csv_path", "inline_records", "connection_query")
    class InlineRecords(_message.Message):
        __slots__ = ("records",)
        RECORDS_FIELD_NUMBER: _ClassVar[int]
        records: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
        def __init__(self, records: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ...) -> None: ...
    class ConnectionQuery(_message.Message):
        __slots__ = ("connection_id", "sql")
        CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
        SQL_FIELD_NUMBER: _ClassVar[int]
        connection_id: str
        sql: str
        def __init__(self, connection_id: _Optional[str] = ..., sql: _Optional[str] = ...) -> None: ...
    CSV_PATH_FIELD_NUMBER: _ClassVar[int]
    INLINE_RECORDS_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_QUERY_FIELD_NUMBER: _ClassVar[int]
    csv_path: str
    inline_records: Dataset.InlineRecords
    connection_query: Dataset.ConnectionQuery
    def __init__(self, csv_path: _Optional[str] = ..., inline_records: _Optional[_Union[Dataset.InlineRecords, _Mapping]] = ..., connection_query: _Optional[_Union[Dataset.ConnectionQuery, _Mapping]] = ...) -> None: ...

class TrainingProgress(_message.Message):
    __slots__ = ("fraction", "stage", "message")
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    fraction: float
    stage: str
    message: str
    def __init__(self, fraction: _Optional[float] = ..., stage: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ModelVersionRef(_message.Message):
    __slots__ = ("model", "version")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...
