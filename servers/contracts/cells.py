"""The cell codec: a result.proto Cell ⇄ the Python value it carries.

The connector writes cells (its vectorised row encoder falls back to `put_value`, and it
reads statement parameters with `cell_to_value`); its clients — the worker's dataset
stream (servers/contracts/clients.py), the gateway, deploy/showcase.py — read rows back
with `cell_to_value`, and the gateway writes the rows of its own answers (predictions,
metrics, status) with `value_to_cell`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from chatdb.connector.v1 import result_pb2
from google.protobuf import timestamp_pb2

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


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


def _timestamp(dt: datetime) -> timestamp_pb2.Timestamp:
    """An aware datetime as a Timestamp, exactly (no float arithmetic)."""
    delta = dt - EPOCH
    return timestamp_pb2.Timestamp(seconds=delta.days * 86400 + delta.seconds, nanos=delta.microseconds * 1000)


def put_value(add: Any, v: Any) -> None:
    """Append one cell for `v` through `add` (a repeated Cell field's add), chosen by the
    value's own type. Values of no known type (a driver's Unsupported, …) become text."""
    t = type(v)
    if v is None:
        add(null_value=0)
    elif t is bool:
        add(bool_value=v)
    elif t is int:
        if INT64_MIN <= v <= INT64_MAX:
            add(int64_value=v)
        else:  # e.g. MySQL BIGINT UNSIGNED above 2**63-1: exact as a decimal
            add(decimal_value=str(v))
    elif t is float:
        add(double_value=v)
    elif t is str:
        add(text_value=v)
    elif t is Decimal:
        add(decimal_value=format(v, "f"))
    elif t is datetime:
        if v.tzinfo is not None and v.utcoffset() is not None:
            add(timestamp_value=_timestamp(v))
        else:
            add(datetime_value=v.isoformat())
    elif t is date:
        add(date_value=v.isoformat())
    elif t is Json:
        add(json_value=v.text)
    elif t is bytes:
        add(bytes_value=v)
    else:
        _put_subclass(add, v)


def _put_subclass(add: Any, v: Any) -> None:
    # Subclasses and look-alikes (IntEnum, bytearray, memoryview, ...): same cases by
    # isinstance; anything unknown is rendered as text rather than failing the query.
    if isinstance(v, bool):
        add(bool_value=bool(v))
    elif isinstance(v, int):
        put_value(add, int(v))
    elif isinstance(v, float):
        add(double_value=float(v))
    elif isinstance(v, str):
        add(text_value=str(v))
    elif isinstance(v, Decimal):
        add(decimal_value=format(v, "f"))
    elif isinstance(v, datetime):
        put_value(add, datetime.combine(v.date(), v.timetz()))
    elif isinstance(v, date):
        add(date_value=date(v.year, v.month, v.day).isoformat())
    elif isinstance(v, (bytearray, memoryview)):
        add(bytes_value=bytes(v))
    else:
        add(text_value=str(v))


def value_to_cell(v: Any) -> result_pb2.Cell:
    row = result_pb2.Row()
    put_value(row.cells.add, v)
    return row.cells[0]
