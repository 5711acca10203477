"""The cell codec's reading side: a result.proto Cell → the Python value it carries.

The connector writes cells (servers/connector/convert.py, which also reads the cells of
statement parameters with this); its clients — the worker's dataset stream
(servers/contracts/clients.py), deploy/showcase.py — read rows back with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from chatdb.connector.v1 import result_pb2

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Json:
    """A JSON value as JSON text (keeps a JSON string apart from a text cell)."""

    text: str


def cell_to_value(cell: result_pb2.Cell) -> Any:
    """The domain value of a cell; ValueError with a reason when it is not one."""
    which = cell.WhichOneof("value")
    if which is None:
        raise ValueError("no value is set (use null_value for NULL)")
    if which == "null_value":
        return None
    if which in ("int64_value", "double_value", "text_value", "bool_value", "bytes_value"):
        return getattr(cell, which)
    if which == "decimal_value":
        try:
            return Decimal(cell.decimal_value)
        except InvalidOperation:
            raise ValueError(f"decimal_value {cell.decimal_value!r} is not a decimal number") from None
    if which == "date_value":
        return _parse_date(cell.date_value)
    if which == "timestamp_value":
        ts = cell.timestamp_value
        return EPOCH + timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)
    if which == "datetime_value":
        try:
            value = datetime.fromisoformat(cell.datetime_value)
        except ValueError:
            raise ValueError(f"datetime_value {cell.datetime_value!r} is not YYYY-MM-DDTHH:MM:SS[.ffffff]") from None
        if value.tzinfo is not None:
            raise ValueError("datetime_value must not carry an offset; use timestamp_value for instants")
        return value
    if which == "json_value":
        try:
            json.loads(cell.json_value)
        except ValueError:
            raise ValueError("json_value is not valid JSON") from None
        return Json(cell.json_value)
    raise ValueError(f"unsupported cell case {which}")  # pragma: no cover - all cases handled


def _parse_date(text: str) -> date:
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(f"date_value {text!r} is not YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"date_value {text!r} is not a valid date") from None
