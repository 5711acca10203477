from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PredictionView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PREDICTION_VIEW_UNSPECIFIED: _ClassVar[PredictionView]
    PREDICTION_VIEW_PREDICTIONS: _ClassVar[PredictionView]
    PREDICTION_VIEW_OUTPUTS: _ClassVar[PredictionView]
    PREDICTION_VIEW_FULL: _ClassVar[PredictionView]
PREDICTION_VIEW_UNSPECIFIED: PredictionView
PREDICTION_VIEW_PREDICTIONS: PredictionView
PREDICTION_VIEW_OUTPUTS: PredictionView
PREDICTION_VIEW_FULL: PredictionView

class NamedTensor(_message.Message):
    __slots__ = ("name", "datatype", "shape", "contents", "raw_contents")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATATYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    RAW_CONTENTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    datatype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    contents: TensorContents
    raw_contents: bytes
    def __init__(self, name: _Optional[str] = ..., datatype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., contents: _Optional[_Union[TensorContents, _Mapping]] = ..., raw_contents: _Optional[bytes] = ...) -> None: ...

class TensorContents(_message.Message):
    __slots__ = ("bool_contents", "int_contents", "int64_contents", "fp32_contents", "fp64_contents", "bytes_contents", "string_contents")
    BOOL_CONTENTS_FIELD_NUMBER: _ClassVar[int]
    INT_CONTENTS_FIELD_NUMBER: _ClassVar[int]
    INT64_CONTENTS_FIELD_NUMBER: _ClassVar[int]
    FP32_CONTENTS_FIELD_NUMBER: _ClassVar[int]
    FP64_CONTENTS_FIELD_NUMBER: _ClassVar[int]
    BYTES_CONTENTS_FIELD_NUMBER: _ClassVar[int]
    STRING_CONTENTS_FIELD_NUMBER: _ClassVar[int]
    bool_contents: _containers.RepeatedScalarFieldContainer[bool]
    int_contents: _containers.RepeatedScalarFieldContainer[int]
    int64_contents: _containers.RepeatedScalarFieldContainer[int]
    fp32_contents: _containers.RepeatedScalarFieldContainer[float]
    fp64_contents: _containers.RepeatedScalarFieldContainer[float]
    bytes_contents: _containers.RepeatedScalarFieldContainer[bytes]
    string_contents: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, bool_contents: _Optional[_Iterable[bool]] = ..., int_contents: _Optional[_Iterable[int]] = ..., int64_contents: _Optional[_Iterable[int]] = ..., fp32_contents: _Optional[_Iterable[float]] = ..., fp64_contents: _Optional[_Iterable[float]] = ..., bytes_contents: _Optional[_Iterable[bytes]] = ..., string_contents: _Optional[_Iterable[str]] = ...) -> None: ...

class Prediction(_message.Message):
    __slots__ = ("label", "probabilities", "value", "score", "is_anomaly")
    class ProbabilitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    IS_ANOMALY_FIELD_NUMBER: _ClassVar[int]
    label: _struct_pb2.Value
    probabilities: _containers.ScalarMap[str, float]
    value: float
    score: float
    is_anomaly: bool
    def __init__(self, label: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., probabilities: _Optional[_Mapping[str, float]] = ..., value: _Optional[float] = ..., score: _Optional[float] = ..., is_anomaly: _Optional[bool] = ...) -> None: ...
