"""Cell and parameter helpers shared by the SQL drivers.

A row is converted with one function per column, chosen once from the column's type,
so the per-row work is a tuple() when no column needs converting.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ..domain import Json, Unsupported

Converter = Callable[[Any], Any] | None  # None: the driver's value is already a cell


def render(value: Any) -> str:
    """Sensible text for a value of a type we do not map."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, time | date):
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=render, ensure_ascii=False)
    if isinstance(value, uuid.UUID | ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    return str(value)


def format_duration(value: timedelta) -> str:
    """[-]HH:MM:SS[.ffffff] with hours beyond 24, as MySQL shows a TIME."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    seconds, fraction = divmod(micros, 1_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{text}.{fraction:06d}" if fraction else text


def as_json(value: Any) -> Json:
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8")
    if isinstance(value, str):
        return Json(value)
    return Json(json.dumps(value, ensure_ascii=False))


def as_utc(value: Any) -> Any:
    """An aware datetime in UTC; a naive one is taken to be UTC already."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def to_text(value: Any) -> Any:
    return str(value)


def row_converter(converters: Sequence[Converter]) -> Callable[[Sequence[Any]], tuple]:
    """A function turning a driver row into a tuple of cells."""
    if all(c is None for c in converters):
        return tuple
    convs = tuple(converters)

    def convert(row: Sequence[Any]) -> tuple:
        return tuple(
            value if conv is None or value is None else conv(value)
            for conv, value in zip(convs, row, strict=True)
        )

    return convert


def sql_param(value: Any) -> Any:
    """A bound parameter as the SQL drivers take it: JSON and unmapped values as text."""
    if isinstance(value, Json | Unsupported):
        return value.text
    return value
