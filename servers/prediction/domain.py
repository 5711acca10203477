"""Domain types of the prediction service: plain dataclasses, no grpc, no protobuf.

The transports (service.py: PredictionService and KServe v2) convert their messages to
these (convert.py) and back; the core (core.py) and the model cache (sessions.py) work on them.
Types made once per request are plain slotted dataclasses (a frozen dataclass's
__init__ costs microseconds on the hot path); treat them as immutable all the same.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from servers.runtime.errors import FieldViolation, InvalidArgument

PRODUCTION = "production"


def invalid(field: str, description: str) -> InvalidArgument:
    """INVALID_ARGUMENT for one field, with the field named in the message too (KServe
    clients such as tritonclient show the message only, not the field violations)."""
    return InvalidArgument.from_violations([FieldViolation(field, description)])

# Element types in the Open Inference Protocol's terms, and their numpy dtypes.
NUMPY_DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}

# ONNX Runtime's type strings ("tensor(float)") → datatype.
ORT_DATATYPES: dict[str, str] = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}


@dataclass(frozen=True)
class Selector:
    """Which version answers: a number, an alias, or (neither) the alias `production`."""

    version: int | None = None
    alias: str | None = None


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output: name, datatype ("FP32", "BYTES"…) and shape (-1 = any)."""

    name: str
    datatype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded version says about itself."""

    name: str
    version: int
    task: str  # "classification", "regression", "text_classification", "anomaly_detection" or ""
    algorithm: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    classes: tuple[str, ...] | None  # classifiers: labels in probability column order
    size_bytes: int


# --- inputs ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Records:
    """Rows as mappings of feature name → plain value (None, bool, float, int, str)."""

    rows: Sequence[Mapping[str, Any]]

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(slots=True)
class RecordColumns:
    """Records the transport has already split into columns (wire.decode_records): every
    record has exactly the keys `names`; `columns[j]` holds key j's values, a float64
    array when they are all numbers, else a list of plain values (None, bool, float);
    `matrix` is the float64 [rows, len(names)] block when every value is a number.
    `records()` gives the same rows as Records, as protobuf decodes them, for the
    requests whose errors must be reported row by row."""

    names: Sequence[str]
    columns: list
    matrix: np.ndarray | None
    rows: int
    records: Callable[[], Records]

    def __len__(self) -> int:
        return self.rows


@dataclass(slots=True)
class Columns:
    """Rows as lists of values in the order of `names`. `matrix` instead of `rows` when
    every value is a number (a float64 array of shape [rows, len(names)])."""

    names: Sequence[str]
    rows: Sequence[Sequence[Any]] = ()
    matrix: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.matrix) if self.matrix is not None else len(self.rows)


@dataclass(slots=True)
class Tensor:
    """A named input tensor: `data` holds the elements flat, in row-major order (for
    BYTES an object array of bytes or str)."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: np.ndarray


@dataclass(slots=True)
class Tensors:
    tensors: Sequence[Tensor]
    field: str = "tensors"  # how the request calls them, for error messages ("inputs")

    def __len__(self) -> int:
        return len(self.tensors)


Inputs = Records | RecordColumns | Columns | Tensors


# --- outputs --------------------------------------------------------------------------------


@dataclass(slots=True)
class Predictions:
    """The model's answer for n rows.

    Classifiers: `labels` (n,) and, when the model gives them, `probabilities` (n, k)
    in `classes` order. Regressors: `values` (n,). Anomaly detection: `scores` (n,)
    float and `anomalies` (n,) 0/1. `outputs` holds the raw output
    tensors when they were asked for."""

    model: str
    version: int
    rows: int
    labels: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    classes: tuple[str, ...] | None = None
    values: np.ndarray | None = None
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    inference_s: float = 0.0
    # Each label's index in `classes`, when the model gave indices (graph.index_labels):
    # encoders use these instead of looking every label up again.
    label_codes: np.ndarray | None = None
    scores: np.ndarray | None = None
    anomalies: np.ndarray | None = None


@dataclass(slots=True)
class InferOutputs:
    """A ModelInfer answer: the requested outputs by name, in order."""

    model: str
    version: int
    outputs: list[tuple[TensorInfo, np.ndarray]]


# --- registry -------------------------------------------------------------------------------


class EventType(enum.Enum):
    VERSION_CREATED = "version_created"
    ALIAS_MOVED = "alias_moved"
    VERSION_ARCHIVED = "version_archived"


@dataclass(frozen=True)
class ModelEvent:
    sequence: int
    type: EventType
    model: str
    version: int
    alias: str = ""
    previous_version: int = 0


@dataclass(frozen=True)
class Artifact:
    """A downloaded version: its bytes and what the registry says about it."""

    model: str
    version: int
    data: bytes
    archived: bool = False
    task: str = ""
    tenant: str = ""  # the model's tenant ("" = shared), runtime/tenancy.py
