"""Datasets from a CSV file under the data directory, or from inline records.

Whole files are parsed by pyarrow (see _load_with_arrow), samples and anything unusual by
the csv module; both follow the rules below.

CSV: UTF-8 (a BOM is accepted), a header row, comma-separated, standard quoting. Each
column's type is inferred from its non-empty cells: int if every one is an integer,
else float if every one is a number, else bool if every one is true/false (any case),
else str (kept as written). Empty cells are None.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers.runtime.errors import InvalidArgument, NotFound

from .spec import Dataset

CSV_FIELD = "dataset.csv_path"
_INT = re.compile(r"^\s*[+-]?\d+\s*$")
_FLOAT = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_BOOLS = {"true": True, "false": False}


@dataclass(frozen=True)
class CsvFile:
    """A CSV dataset not read yet: train_in_child reads it in the child, so the rows
    are parsed once, where they are used, and never pickled across processes."""

    data_dir: Path
    relative_path: str

    def load(self) -> Dataset:
        return load_csv(self.data_dir, self.relative_path)


def resolve_csv_path(data_dir: Path, relative_path: str) -> Path:
    """The file `relative_path` names inside `data_dir`; InvalidArgument when it is
    absolute or resolves (symbolic links included) outside the directory."""
    if not relative_path or not relative_path.strip():
        raise InvalidArgument("is required", field=CSV_FIELD)
    candidate = Path(relative_path)
    if candidate.is_absolute():
        raise InvalidArgument(f"{relative_path!r} must be relative to the data directory", field=CSV_FIELD)
    root = Path(data_dir).resolve()
    path = (root / candidate).resolve()
    if not path.is_relative_to(root):
        raise InvalidArgument(f"{relative_path!r} points outside the data directory", field=CSV_FIELD)
    return path


def load_csv(data_dir: Path, relative_path: str, *, limit: int | None = None) -> Dataset:
    """The file as a typed Dataset; with `limit`, only its first rows (validation reads
    a sample, not the whole file; column types are then inferred from the sample)."""
    path = resolve_csv_path(data_dir, relative_path)
    if not path.exists():
        raise NotFound(f"dataset file {relative_path!r} does not exist in the data directory",
                       metadata={"csv_path": relative_path})
    if not path.is_file():
        raise InvalidArgument(f"{relative_path!r} is not a file", field=CSV_FIELD)
    header = _read_header(path, relative_path)
    if limit is None:
        fast = _load_with_arrow(path, header)
        if fast is not None:
            return fast
    return _load_with_csv_module(path, relative_path, header, limit)


@contextmanager
def _read_errors(relative_path: str) -> Iterator[None]:
    """Text that is not UTF-8 or not CSV, as InvalidArgument naming the file."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"{relative_path!r} is not UTF-8 text ({exc.reason} at byte {exc.start})",
                              field=CSV_FIELD) from exc
    except csv.Error as exc:
        raise InvalidArgument(f"{relative_path!r} is not valid CSV: {exc}", field=CSV_FIELD) from exc


def _read_header(path: Path, relative_path: str) -> list[str]:
    """The header row, checked (names present and distinct, UTF-8)."""
    with _read_errors(relative_path), path.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), None)
    if header is None:
        raise InvalidArgument(f"{relative_path!r} is empty (no header row)", field=CSV_FIELD)
    _check_header(header, relative_path)
    return header


def _load_with_csv_module(path: Path, relative_path: str, header: list[str], limit: int | None) -> Dataset:
    """The reference reader: every rule above, cell by cell, with precise errors."""
    width = len(header)
    cells: list[list[str]] = []
    with _read_errors(relative_path), path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        next(reader)  # the header, read and checked by _read_header
        for row in reader:
            if not row:
                continue  # a blank line
            if len(row) != width:
                raise InvalidArgument(
                    f"{relative_path!r} line {reader.line_num}: {len(row)} cells, the header has {width}",
                    field=CSV_FIELD)
            cells.append(row)
            if limit is not None and len(cells) >= limit:
                break
    columns = [_typed(column) for column in zip(*cells, strict=True)] if cells else [[] for _ in header]
    return Dataset.from_columns(header, columns)


def _load_with_arrow(path: Path, header: list[str]) -> Dataset | None:
    """The same Dataset as _load_with_csv_module, parsed by pyarrow's multithreaded C++
    reader: 100,000 x 21 cells in ~0.15 s instead of ~1.5 s. Whole int64 and float64
    columns without empty cells stay numpy arrays (nothing downstream needs them as
    Python objects); every column pyarrow reads as text goes through _typed, so the
    typing rules are the module's own. None when the file is anything but plain (a
    ragged row, bytes that are not UTF-8, a header pyarrow reads differently): the
    reference reader then gives the answer and its precise error.

    Known difference: an integer beyond 64 bits, or written with a leading "+", makes its
    column float here (int in the reference reader); the values are the same numbers."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    def read(as_text: list[str]):
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            null_values=[""], strings_can_be_null=False, true_values=[], false_values=[],
            column_types={name: pa.string() for name in as_text},
        ))

    try:
        table = read([])
        if table.column_names != header:
            return None
        # Dates, times and non-finite numbers ("nan", "inf") are the reference reader's
        # call: read those columns again as text and type them with _typed.
        retype = [name for name, column in zip(header, table.columns, strict=True)
                  if not _arrow_plain(column) or (pa.types.is_floating(column.type) and not _all_finite(column))]
        if retype:
            table = read(retype)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError):
        return None
    columns: list[Any] = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            columns.append(_typed(column.to_pylist()))
        elif pa.types.is_null(kind):
            columns.append([None] * len(column))
        elif column.null_count:
            columns.append(column.to_pylist())
        elif not (pa.types.is_int64(kind) or pa.types.is_float64(kind)):
            return None  # binary (not UTF-8) or anything unforeseen
        else:
            columns.append(column.to_numpy())
    return Dataset.from_columns(header, columns)


def _arrow_plain(column: Any) -> bool:
    import pyarrow as pa

    kind = column.type
    return (pa.types.is_int64(kind) or pa.types.is_float64(kind) or pa.types.is_string(kind)
            or pa.types.is_large_string(kind) or pa.types.is_null(kind) or pa.types.is_binary(kind))


def _all_finite(column: Any) -> bool:
    import pyarrow.compute as pc

    return bool(pc.all(pc.is_finite(column)).as_py() is not False)


def _check_header(header: list[str], relative_path: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(header):
        if not name.strip():
            raise InvalidArgument(f"{relative_path!r}: column {i + 1} of the header has no name", field=CSV_FIELD)
        if name in seen:
            raise InvalidArgument(f"{relative_path!r}: column {name!r} appears twice in the header", field=CSV_FIELD)
        seen.add(name)


def _typed(cells: Iterable[str]) -> list[Any]:
    """One column's cells as int, float, bool or str (None for empty cells)."""
    cells = list(cells)
    present = [c for c in cells if c != ""]
    numbers = _numbers(present) if present else None
    if numbers is not None:
        if len(present) == len(cells):
            return numbers
        found = iter(numbers)
        return [next(found) if c != "" else None for c in cells]
    if present and all(c.strip().lower() in _BOOLS for c in present):
        return [_BOOLS[c.strip().lower()] if c != "" else None for c in cells]
    return [c if c != "" else None for c in cells]


def _numbers(present: list[str]) -> list[int] | list[float] | None:
    """The cells as ints, else as floats, else None. Converting the whole column in C
    and checking the few cases Python accepts but a CSV number is not (`1_000`, `nan`,
    `inf`) is an order of magnitude faster than matching every cell with a pattern."""
    if any("_" in c for c in present):
        return None
    for convert in (int, float):
        try:
            values = list(map(convert, present))
        except ValueError:
            continue
        if convert is float and not all(map(math.isfinite, values)):
            # nan / inf written as words: only numbers that look like numbers count.
            return values if all(_FLOAT.match(c) for c in present) else None
        return values
    return None


def from_records(records: Iterable[Mapping[str, Any]]) -> Dataset:
    """A dataset from dicts: the columns are the union of their keys, in the order they
    are first seen; a key a record lacks is None there."""
    records = list(records)
    columns: dict[str, None] = {}
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InvalidArgument(f"record {i} is not an object", field=f"dataset.records[{i}]")
        for key in record:
            if not isinstance(key, str) or not key:
                raise InvalidArgument(f"record {i} has a key that is not a non-empty string: {key!r}",
                                      field=f"dataset.records[{i}]")
            columns.setdefault(key)
    names = tuple(columns)
    return Dataset(names, [tuple(record.get(name) for name in names) for record in records])
