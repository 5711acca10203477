"""From dataset columns to what scikit-learn fits and what ONNX Runtime is fed.

Conventions (the prediction service relies on them, through `feeds_from_records`):
- every feature is one model input named like its column, shape [-1, 1];
- numeric columns (int, float, Decimal, bool) are FP32: bool → 0/1, None and
  non-finite values → NaN, which the model imputes with the training median;
- text columns (strings, or mixed values) are BYTES: None → "", other values as text
  (columns.as_text); unknown categories are ignored by the one-hot encoder.

scikit-learn is trained on the very float32 values ONNX Runtime will see (rounded
through float32), so tree thresholds compare the same numbers in both.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from servers.contracts.ml.columns import ColumnKind, as_number, as_text
from servers.contracts.ml.spec import TensorSpec
from servers.runtime.errors import InvalidArgument

# The ONNX Runtime tokenizer settings that reproduce scikit-learn's default word pattern
# (TOKEN_PATTERN, servers/contracts/ml/columns.py) exactly (see /work/shared/notes/ML.md):
# RE2 syntax for "two or more word characters", and a locale that exists in this image
# for StringNormalizer.
ONNX_TOKENEXP = r"[\p{L}\p{N}_]{2,}"
ONNX_LOCALE = "C.UTF-8"

FP32 = "FP32"
BYTES = "BYTES"


def datatype_of(kind: ColumnKind) -> str:
    return FP32 if kind.is_numeric else BYTES


def encode_numeric(values: Sequence[Any]) -> np.ndarray:
    """float64 array of float32-exact values; NaN where missing or not finite."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.array([as_number(v) for v in values], dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        array = array.astype(np.float32)
    array[~np.isfinite(array)] = np.nan
    return array.astype(np.float64)


def encode_text(values: Sequence[Any], kind: ColumnKind) -> np.ndarray:
    if kind is ColumnKind.STRING:
        texts = ["" if v is None else v for v in values]
    else:
        texts = [as_text(v) for v in values]
    array = np.empty(len(texts), dtype=object)
    array[:] = texts
    return array


@dataclass(frozen=True)
class FeatureData:
    """The feature columns of a dataset, encoded (one 1-D array per feature)."""

    names: tuple[str, ...]
    kinds: tuple[ColumnKind, ...]
    arrays: tuple[np.ndarray, ...]
    text: bool = False  # text_classification: one text column, fed to TF-IDF as 1-D

    @classmethod
    def encode(
        cls, names: Sequence[str], kinds: Sequence[ColumnKind], columns: Sequence[Sequence[Any]], *, text: bool = False
    ) -> FeatureData:
        arrays = tuple(
            encode_numeric(values) if kind.is_numeric else encode_text(values, kind)
            for kind, values in zip(kinds, columns, strict=True)
        )
        return cls(tuple(names), tuple(kinds), arrays, text)

    def __len__(self) -> int:
        return len(self.arrays[0]) if self.arrays else 0

    @property
    def numeric_indices(self) -> list[int]:
        return [i for i, kind in enumerate(self.kinds) if kind.is_numeric]

    @property
    def text_indices(self) -> list[int]:
        return [i for i, kind in enumerate(self.kinds) if not kind.is_numeric]

    def matrix(self, rows: np.ndarray | None = None) -> np.ndarray:
        """What scikit-learn fits on: a 1-D array of documents for text models, a float64
        matrix when every feature is numeric, else an object matrix."""
        arrays = self.arrays if rows is None else tuple(a[rows] for a in self.arrays)
        if self.text:
            return arrays[0]
        if all(kind.is_numeric for kind in self.kinds):
            return np.column_stack(arrays)
        matrix = np.empty((len(arrays[0]), len(arrays)), dtype=object)
        for i, array in enumerate(arrays):
            matrix[:, i] = array
        return matrix

    def feeds(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """What ONNX Runtime is fed: one [n, 1] array per input, float32 or object."""
        feeds = {}
        for name, kind, array in zip(self.names, self.kinds, self.arrays, strict=True):
            part = array if rows is None else array[rows]
            feeds[name] = (part.astype(np.float32) if kind.is_numeric else part).reshape(-1, 1)
        return feeds

    def input_specs(self) -> list[TensorSpec]:
        return [TensorSpec(name, datatype_of(kind), (-1, 1)) for name, kind in zip(self.names, self.kinds, strict=True)]


def preprocessor(data: FeatureData, *, scale_numeric: bool) -> Any:
    """The tabular preprocessing: median imputation (and standardization for linear
    models) of numeric columns, one-hot encoding of text columns. Columns are chosen by
    position, which skl2onnx maps to the model's inputs in the same order."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from .imputer import MedianImputer

    parts: list[tuple[str, Any, list[int]]] = []
    if data.numeric_indices:
        steps: list[tuple[str, Any]] = [("impute", MedianImputer(strategy="median", keep_empty_features=True))]
        if scale_numeric:
            steps.append(("scale", StandardScaler()))
        parts.append(("numeric", Pipeline(steps), data.numeric_indices))
    if data.text_indices:
        parts.append(("categorical", OneHotEncoder(handle_unknown="ignore"), data.text_indices))
    return ColumnTransformer(parts)


def feeds_from_records(inputs: Sequence[TensorSpec], records: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """ONNX Runtime feeds for records (dicts keyed by column name), encoded as in training.
    A missing key counts as a missing value; a value that is not a number for an FP32
    input is an InvalidArgument naming `records[i].<input>`."""
    feeds: dict[str, np.ndarray] = {}
    for spec in inputs:
        values = [record.get(spec.name) for record in records]
        if spec.datatype == FP32:
            for i, value in enumerate(values):
                if isinstance(value, str) or not (value is None or isinstance(value, (numbers.Real, Decimal))):
                    raise InvalidArgument(f"must be a number or null, got {value!r}", field=f"records[{i}].{spec.name}")
            feeds[spec.name] = encode_numeric(values).astype(np.float32).reshape(-1, 1)
        else:
            feeds[spec.name] = encode_text(values, ColumnKind.MIXED).reshape(-1, 1)
    return feeds
