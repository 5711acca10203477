"""What a training is asked to do (TrainingSpec), on what data (Dataset), and the tensor
interface of what it produces (TensorSpec). Plain data: no numpy, no scikit-learn, so the
orchestrator can validate a spec without loading the ML stack.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from servers.runtime.errors import InvalidArgument

# Names of the model outputs; no feature may be called like one (ONNX names are unique).
LABEL_OUTPUT = "label"
PROBABILITIES_OUTPUT = "probabilities"
SCORES_OUTPUT = "scores"
VARIABLE_OUTPUT = "variable"
# anomaly_detection: "score" = -score_samples of scikit-learn's IsolationForest (the
# paper's anomaly score, in (0, 1]: higher = more unusual) and "is_anomaly" = 1 where
# predict gives -1 (score above the threshold the contamination set), else 0.
SCORE_OUTPUT = "score"
IS_ANOMALY_OUTPUT = "is_anomaly"
RESERVED_NAMES = frozenset({LABEL_OUTPUT, PROBABILITIES_OUTPUT, SCORES_OUTPUT, VARIABLE_OUTPUT})
# An anomaly model's outputs are reserved for anomaly_detection only: a "score" column
# stays a feature of the other tasks, as it always was.
ANOMALY_RESERVED_NAMES = RESERVED_NAMES | {SCORE_OUTPUT, IS_ANOMALY_OUTPUT}


def reserved_names(task: Task | None) -> frozenset[str]:
    """The output names no feature of a `task` model may carry."""
    return ANOMALY_RESERVED_NAMES if task is Task.ANOMALY_DETECTION else RESERVED_NAMES


class Task(Enum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"
    TEXT_CLASSIFICATION = "text_classification"
    ANOMALY_DETECTION = "anomaly_detection"

    @property
    def is_classification(self) -> bool:
        return self in (Task.CLASSIFICATION, Task.TEXT_CLASSIFICATION)

    @property
    def has_target(self) -> bool:
        """Every task but anomaly_detection learns a target column."""
        return self is not Task.ANOMALY_DETECTION


@dataclass(frozen=True)
class TrainingSpec:
    """One training: which model, which algorithm, which columns, how to split.

    `features` empty means: every usable column but the target (for text_classification,
    the one text column). `target` is "" for anomaly_detection (and only for it). `hyperparameters` are validated against the algorithm's schema
    (algorithms.py); values may be JSON-ish (2.0 for an int, "true" for a bool).
    """

    model_name: str
    task: Task
    algorithm: str
    target: str
    features: tuple[str, ...] = ()
    hyperparameters: Mapping[str, Any] = field(default_factory=dict, hash=False)
    test_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "hyperparameters", dict(self.hyperparameters))


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output of an exported model, in KServe v2 terms: datatype is
    "FP32", "INT64", "BYTES"…; -1 in shape is a dynamic dimension (the batch)."""

    name: str
    datatype: str
    shape: tuple[int, ...]


Value = None | bool | int | float | Decimal | str | date | datetime


@dataclass(frozen=True)
class Dataset:
    """A table in memory: column names and rows of plain Python values
    (None, bool, int, float, Decimal, str, date, datetime). Kept column by column
    (from_columns), a column may be a numpy array instead (ColumnRows)."""

    columns: tuple[str, ...]
    rows: Sequence[tuple[Value, ...]]

    @classmethod
    def from_columns(cls, columns: Sequence[str], values: Sequence[Sequence[Value]]) -> Dataset:
        """A dataset kept column by column (as a CSV is parsed and as training reads
        it), so nothing transposes it back and forth; `rows` is a view."""
        return cls(tuple(columns), ColumnRows(values))

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        width = len(self.columns)
        if isinstance(self.rows, ColumnRows):
            if len(self.rows.values) != width:
                raise InvalidArgument(
                    f"{len(self.rows.values)} columns of values but {width} column names", field="dataset"
                )
            return
        for i, row in enumerate(self.rows):
            if len(row) != width:
                raise InvalidArgument(
                    f"row {i} has {len(row)} values but there are {width} columns", field="dataset"
                )

    def __len__(self) -> int:
        return len(self.rows)

    def column_values(self) -> list[tuple[Value, ...]]:
        """The values column by column (one tuple per column, in `columns` order)."""
        if isinstance(self.rows, ColumnRows):
            return self.rows.values
        if not self.rows:
            return [() for _ in self.columns]
        return list(zip(*self.rows, strict=True))

    def fingerprint(self) -> str:
        """sha256 (hex) of a canonical serialization of the columns and rows.

        Stable across processes and machines (explicit little-endian encodings, no
        hash seeds, no repr), and sensitive to every name, value, value type and the row
        order. Columns of one plain type are encoded in bulk, others value by value.
        """
        return fingerprint_columns(self.columns, len(self.rows), self.column_values())


def is_array(column: Any) -> bool:
    """Whether a column is a numpy array (a CSV's whole numeric column, see datasets.py)
    rather than a tuple of Python values; told without importing numpy."""
    return hasattr(column, "dtype") and hasattr(column, "tobytes")


def plain_values(column: Sequence[Value]) -> Sequence[Value]:
    """The column as Python values (a numpy array as a list of int / float / bool)."""
    return column.tolist() if is_array(column) else column  # type: ignore[union-attr]


class ColumnRows(Sequence):
    """The rows of column-wise values, as a read-only sequence of tuples of Python values.
    A column is a tuple, or a 1-D numpy array of int64, float64 or bool without missing
    values (kept as is: the trainer uses it without a pass over Python objects)."""

    __slots__ = ("values", "_length")

    def __init__(self, values: Sequence[Sequence[Value]]) -> None:
        self.values = [v if is_array(v) else tuple(v) for v in values]
        lengths = {len(v) for v in self.values}
        if len(lengths) > 1:
            raise InvalidArgument("columns of different lengths", field="dataset")
        self._length = lengths.pop() if lengths else 0

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return list(zip(*(plain_values(v[index]) for v in self.values), strict=True))
        return tuple(v[index].item() if is_array(v) else v[index] for v in self.values)

    def __iter__(self):
        return zip(*map(plain_values, self.values), strict=True) if self.values else iter(())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ColumnRows):
            return [tuple(plain_values(v)) for v in self.values] == [tuple(plain_values(v)) for v in other.values]
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(other) == self._length and all(a == b for a, b in zip(self, other, strict=False))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):
        return (ColumnRows, (self.values,))


def fingerprint_columns(
    names: Sequence[str],
    length: int,
    column_values: Sequence[Sequence[Value]],
    types: Sequence[frozenset[type]] | None = None,
    packed: dict[int, array] | None = None,
) -> str:
    """Dataset.fingerprint from the dataset's columns, for a caller that has them (and
    their value types) already. Columns encoded in bulk (all float or all int, no None)
    are left in `packed` by index, for the caller to reuse as numeric arrays."""
    digest = hashlib.sha256(b"chatdb.dataset.v1\0")
    digest.update(struct.pack("<QQ", len(names), length))
    for i, (name, column) in enumerate(zip(names, column_values, strict=True)):
        _update_bytes(digest, name.encode("utf-8"))
        kinds = set(value_types(column)) if types is None else set(types[i])
        bulk = _encode_array(digest, column) if is_array(column) else _encode_column(digest, tuple(column), kinds)
        if bulk is not None and packed is not None:
            packed[i] = bulk
    return digest.hexdigest()


def _update_bytes(digest: Any, data: bytes) -> None:
    digest.update(struct.pack("<Q", len(data)))
    digest.update(data)


def _packed(typecode: str, values: Sequence[Any]) -> tuple[bytes, array]:
    packed = array(typecode, values)
    if sys.byteorder == "little":
        return packed.tobytes(), packed
    swapped = array(typecode, packed)
    swapped.byteswap()
    return swapped.tobytes(), packed


_FILL: dict[type, Any] = {float: 0.0, int: 0, bool: False, str: ""}


def value_types(column: Sequence[Value]) -> frozenset[type]:
    """The Python types of a column's values (of an array, the types .tolist() gives)."""
    if is_array(column):
        return frozenset({_ARRAY_KINDS[column.dtype.kind]}) if len(column) else frozenset()  # type: ignore[union-attr]
    return frozenset(map(type, column))


_ARRAY_KINDS = {"f": float, "i": int, "u": int, "b": bool}


def _encode_array(digest: Any, column: Any) -> Any:
    """_encode_column for a numpy array: the same bytes (float64 and int64 little-endian,
    bools as 0/1 bytes), so a dataset's fingerprint does not depend on how it was read."""
    kind = column.dtype.kind
    if not len(column):
        digest.update(b"E")
        return None
    if kind == "f":
        digest.update(b"F" + column.astype("<f8", copy=False).tobytes())
        return column
    if kind in "iu":
        digest.update(b"I" + column.astype("<i8", copy=False).tobytes())
        return column
    if kind == "b":
        digest.update(b"B" + column.astype("u1").tobytes())
        return None
    return _encode_column(digest, tuple(column.tolist()), set(value_types(column)))


def _encode_column(digest: Any, values: tuple[Value, ...], types: set[type]) -> array | None:
    """Feed one column to `digest`; return its packed array when it was encoded in bulk
    from plain values (no None)."""
    nulls = type(None) in types
    if nulls:
        types = types - {type(None)}
        digest.update(b"M")
        _update_bytes(digest, bytes(v is None for v in values))
        if len(types) == 1 and (only := next(iter(types))) in _FILL:
            fill = _FILL[only]
            values = tuple(fill if v is None else v for v in values)
    if not types:
        digest.update(b"E")
        return None
    kind = next(iter(types)) if len(types) == 1 else None
    try:
        if kind is float:
            data, packed = _packed("d", values)
            digest.update(b"F" + data)
            return None if nulls else packed
        if kind is int:
            data, packed = _packed("q", values)
            digest.update(b"I" + data)
            return None if nulls else packed
    except OverflowError:
        pass  # an int beyond 64 bits: value by value below
    if kind is bool:
        digest.update(b"B" + bytes(values))
        return None
    if kind is str:
        encoded = [v.encode("utf-8") for v in values]
        digest.update(b"S" + _packed("Q", [len(e) for e in encoded])[0])
        digest.update(b"".join(encoded))
        return None
    digest.update(b"G")
    for value in values:
        _update_bytes(digest, _encode_value(value))
    return None


def _encode_value(value: Value) -> bytes:
    # bool before int, datetime before date: each is a subclass of the next.
    if value is None:
        return b"N"
    if isinstance(value, bool):
        return b"B1" if value else b"B0"
    if isinstance(value, int):
        return b"I" + str(int(value)).encode()
    if isinstance(value, float):
        return b"F" + float(value).hex().encode()
    if isinstance(value, Decimal):
        return b"D" + str(value).encode()
    if isinstance(value, str):
        return b"S" + str(value).encode("utf-8")
    if isinstance(value, datetime):
        return b"T" + value.isoformat().encode()
    if isinstance(value, date):
        return b"A" + value.isoformat().encode()
    # Anything else (a driver's own type): its JSON form, else its text.
    try:
        return b"J" + json.dumps(value, sort_keys=True).encode()
    except TypeError:
        return b"X" + type(value).__qualname__.encode() + b":" + str(value).encode()
