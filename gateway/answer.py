"""What the gateway answers with, whatever answered: the database, the cache, the ML
services or the mesh's own health. The core turns an Answer into an AskResponse and a
history record; the modules that answer model and system questions return one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatdb.connector.v1 import data_type_pb2, result_pb2
from chatdb.gateway.v1 import query_record_pb2

from servers.contracts.cells import value_to_cell

Source = int  # a query_record_pb2.AnswerSource value


@dataclass
class Answer:
    """`text` is the one or two sentences people read; `columns`/`rows` the table behind
    it (may be empty); `execute_s` the time spent in the service that answered."""

    text: str
    source: Source
    columns: list[result_pb2.ColumnMeta] = field(default_factory=list)
    rows: list[result_pb2.Row] = field(default_factory=list)
    training_job: str = ""
    model_version: str = ""
    notes: list[str] = field(default_factory=list)
    execute_s: float = 0.0
    masked_columns: list[str] = field(default_factory=list)  # personal data the connector masked


def table(names: Sequence[str], rows: Iterable[Sequence[Any]],
          types: Sequence[int] | None = None) -> tuple[list[result_pb2.ColumnMeta], list[result_pb2.Row]]:
    """Columns and rows for an answer built from Python values (cells by the shared codec).
    `types` are data_type_pb2.DataType values per column; unset means TEXT."""
    kinds = list(types) if types is not None else [data_type_pb2.DATA_TYPE_TEXT] * len(names)
    columns = [result_pb2.ColumnMeta(name=name, type=kind) for name, kind in zip(names, kinds, strict=True)]
    out = []
    for values in rows:
        row = result_pb2.Row()
        row.cells.extend(value_to_cell(v) for v in values)
        out.append(row)
    return columns, out


SOURCES = query_record_pb2.AnswerSource
