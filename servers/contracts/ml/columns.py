"""What kind of values a column holds, and how values become model inputs or labels.

The same rules serve validation (which columns may be features or targets), training
(the feature matrix and the class labels) and prediction (feeds_from_records), so a
record is encoded for ONNX Runtime exactly as its column was encoded for scikit-learn.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

# scikit-learn's default word pattern: how text columns are split into tokens, by the
# TF-IDF of text_classification (algorithms.py) and its ONNX export (workers/ml_engine).
TOKEN_PATTERN = r"(?u)\b\w\w+\b"


class ColumnKind(Enum):
    EMPTY = "empty"  # no values at all
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"  # floats or Decimals, possibly mixed with ints
    STRING = "string"
    TEMPORAL = "date/time"
    MIXED = "mixed"  # several kinds (e.g. numbers and strings): used as text

    @property
    def is_numeric(self) -> bool:
        return self in (ColumnKind.BOOL, ColumnKind.INT, ColumnKind.FLOAT)

    @property
    def is_text(self) -> bool:
        return self in (ColumnKind.STRING, ColumnKind.MIXED)


def _kind_of_type(kind: type) -> ColumnKind:
    if issubclass(kind, bool):
        return ColumnKind.BOOL
    if issubclass(kind, numbers.Integral):
        return ColumnKind.INT
    if issubclass(kind, (numbers.Real, Decimal)):
        return ColumnKind.FLOAT
    if issubclass(kind, str):
        return ColumnKind.STRING
    if issubclass(kind, date):  # datetime is a date
        return ColumnKind.TEMPORAL
    return ColumnKind.MIXED


def infer_kind(values: Iterable[Any]) -> ColumnKind:
    return kind_of_types(set(map(type, values)))


def kind_of_types(types: Iterable[type]) -> ColumnKind:
    """The kind of a column whose values have these Python types."""
    kinds = {_kind_of_type(t) for t in types if t is not type(None)}
    if not kinds:
        return ColumnKind.EMPTY
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {ColumnKind.BOOL, ColumnKind.INT}:
        return ColumnKind.INT
    if kinds <= {ColumnKind.BOOL, ColumnKind.INT, ColumnKind.FLOAT}:
        return ColumnKind.FLOAT
    return ColumnKind.MIXED


def is_missing(value: Any) -> bool:
    """None, or a number that is not finite (NaN, ±inf): a value that is not there."""
    if value is None:
        return True
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, Decimal):
        return not value.is_finite()
    return False


def present_indices(values: Sequence[Any], types: Iterable[type] | None = None) -> list[int] | None:
    """Indices of the values that are not missing, or None when none is (then without
    looking at each value: only None, floats and Decimals can be missing)."""
    types = set(map(type, values)) if types is None else set(types)
    if not any(t is type(None) or issubclass(t, (float, Decimal)) for t in types):
        return None
    return [i for i, v in enumerate(values) if not is_missing(v)]


def as_number(value: Any) -> float:
    """A numeric feature value: None → NaN (imputed by the model), bool → 0/1."""
    if value is None:
        return math.nan
    return float(value)


def as_texts(values: Iterable[Any]) -> list[str]:
    """as_text of each value, fast for columns of plain strings or plain ints."""
    values = list(values)
    types = set(map(type, values))
    if types <= {str}:
        return values
    if types <= {int}:
        return list(map(str, values))
    return [as_text(v) for v in values]


def as_text(value: Any) -> str:
    """A text feature value or a class label: None → "", True → "true", 3.0 → "3",
    2.5 → "2.5", Decimal("1.50") → "1.5", dates in ISO 8601, strings as they are."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return str(int(value))
        return str(value.normalize())
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isfinite(number) and number.is_integer():
            return str(int(number))
        return repr(number)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
