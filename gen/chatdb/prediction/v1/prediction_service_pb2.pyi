import datetime

from chatdb.prediction.v1 import prediction_pb2 as _prediction_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PredictRequest(_message.Message):
    __slots__ = ("model", "version", "alias", "records", "tensors", "include_outputs")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    alias: str
    records: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    tensors: _containers.RepeatedCompositeFieldContainer[_prediction_pb2.NamedTensor]
    include_outputs: bool
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., alias: _Optional[str] = ..., records: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., tensors: _Optional[_Iterable[_Union[_prediction_pb2.NamedTensor, _Mapping]]] = ..., include_outputs: _Optional[bool] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("model", "version", "predictions", "outputs", "inference_duration")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_DURATION_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    predictions: _containers.RepeatedCompositeFieldContainer[_prediction_pb2.Prediction]
    outputs: _containers.RepeatedCompositeFieldContainer[_prediction_pb2.NamedTensor]
    inference_duration: _duration_pb2.Duration
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., predictions: _Optional[_Iterable[_Union[_prediction_pb2.Prediction, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[_prediction_pb2.NamedTensor, _Mapping]]] = ..., inference_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class BatchPredictRequest(_message.Message):
    __slots__ = ("model", "version", "alias", "records", "columns", "rows", "batch_size", "tensors", "view")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    alias: str
    records: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    columns: _containers.RepeatedScalarFieldContainer[str]
    rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.ListValue]
    batch_size: int
    tensors: _containers.RepeatedCompositeFieldContainer[_prediction_pb2.NamedTensor]
    view: _prediction_pb2.PredictionView
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., alias: _Optional[str] = ..., records: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., columns: _Optional[_Iterable[str]] = ..., rows: _Optional[_Iterable[_Union[_struct_pb2.ListValue, _Mapping]]] = ..., batch_size: _Optional[int] = ..., tensors: _Optional[_Iterable[_Union[_prediction_pb2.NamedTensor, _Mapping]]] = ..., view: _Optional[_Union[_prediction_pb2.PredictionView, str]] = ...) -> None: ...

class BatchPredictResponse(_message.Message):
    __slots__ = ("model", "version", "predictions", "inference_duration", "outputs")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_DURATION_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    predictions: _containers.RepeatedCompositeFieldContainer[_prediction_pb2.Prediction]
    inference_duration: _duration_pb2.Duration
    outputs: _containers.RepeatedCompositeFieldContainer[_prediction_pb2.NamedTensor]
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., predictions: _Optional[_Iterable[_Union[_prediction_pb2.Prediction, _Mapping]]] = ..., inference_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., outputs: _Optional[_Iterable[_Union[_prediction_pb2.NamedTensor, _Mapping]]] = ...) -> None: ...
