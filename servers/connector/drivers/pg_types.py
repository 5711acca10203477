"""PostgreSQL type names -> DataType, and the cell converter for each column type.

asyncpg already decodes most types to the cell's Python type (int, float, Decimal incl.
NaN, str, bool, date, bytes); json/jsonb arrive as JSON text. What is left: uuid to
text, timestamptz made sure to be aware UTC ('infinity' comes back naive), and every
unmapped type rendered as Unsupported text.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from ..domain import DataType, Json, Unsupported
from .cells import Converter, as_utc, format_duration, render, to_text

_BY_NAME: dict[str, DataType] = {
    "int2": DataType.INTEGER,
    "int4": DataType.INTEGER,
    "int8": DataType.INTEGER,
    "oid": DataType.INTEGER,
    "float4": DataType.FLOAT,
    "float8": DataType.FLOAT,
    "numeric": DataType.DECIMAL,
    "text": DataType.TEXT,
    "varchar": DataType.TEXT,
    "bpchar": DataType.TEXT,
    "char": DataType.TEXT,
    "name": DataType.TEXT,
    "uuid": DataType.TEXT,
    "citext": DataType.TEXT,
    "bool": DataType.BOOLEAN,
    "date": DataType.DATE,
    "timestamp": DataType.TIMESTAMP,
    "timestamptz": DataType.TIMESTAMP,
    "json": DataType.JSON,
    "jsonb": DataType.JSON,
    "bytea": DataType.BYTES,
}


def is_known(type_name: str) -> bool:
    return type_name in _BY_NAME


def data_type(type_name: str, typtype: str = "b") -> DataType:
    """`type_name` is pg_type.typname (of the base type, for a domain); `typtype` is
    pg_type.typtype: enums ('e') are text."""
    if typtype == "e":
        return DataType.TEXT
    return _BY_NAME.get(type_name, DataType.OTHER)


def converter(type_name: str, dtype: DataType) -> Converter:
    if dtype is DataType.OTHER:
        return pg_unsupported
    if type_name == "uuid":
        return to_text
    if type_name == "timestamptz":
        return as_utc
    if dtype is DataType.JSON:
        return Json
    return None


def pg_unsupported(value: Any) -> Unsupported:
    """Text for an unmapped value, close to PostgreSQL's own output for ranges and rows."""
    return Unsupported(_text(value))


def _text(value: Any) -> str:
    if isinstance(value, asyncpg.Range):
        if value.isempty:
            return "empty"
        lower = "" if value.lower is None else render(value.lower)
        upper = "" if value.upper is None else render(value.upper)
        return f"{'[' if value.lower_inc else '('}{lower},{upper}{']' if value.upper_inc else ')'}"
    if isinstance(value, asyncpg.Record | list):
        return render(_plain(value))
    if isinstance(value, timedelta):
        return _interval(value)
    return render(value)


def _interval(value: timedelta) -> str:
    """An interval as PostgreSQL prints it ('1 day 02:00:00'); asyncpg has already folded
    months into 30-day units."""
    if value < timedelta(0):
        return "-" + _interval(-value)
    days = value.days
    clock = format_duration(timedelta(seconds=value.seconds, microseconds=value.microseconds))
    if not days:
        return clock
    return f"{days} day{'s' if days != 1 else ''} {clock}"


def _plain(value: Any) -> Any:
    """Nested values made JSON-friendly (records and ranges inside arrays or rows)."""
    if isinstance(value, asyncpg.Range):
        return _text(value)
    if isinstance(value, asyncpg.Record):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
