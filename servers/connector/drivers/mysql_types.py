"""MySQL / MariaDB column types -> DataType, from result metadata and from
information_schema, and the cell converter for each result column.

Result metadata is the protocol's column definition (type code, flags, character set,
display length): tinyint(1) is the only way the protocol says "boolean"; character set
63 ("binary") tells BINARY/VARBINARY/BLOB from CHAR/VARCHAR/TEXT. MariaDB sends a JSON
column as LONGTEXT, so JSON result columns are recognised by their origin column, known
from its json_valid() CHECK constraint (see mysql_schema.json_columns); a JSON value
computed by an expression (JSON_OBJECT(...)) stays text on MariaDB.

The session time zone is UTC, so TIMESTAMP values (points in time) become aware UTC
datetimes; DATETIME values (wall-clock readings) stay naive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymysql.constants import FIELD_TYPE, FLAG

from ..domain import DataType, ResultColumn, Unsupported
from .cells import Converter, as_json, as_utc, format_duration

BINARY_CHARSET = 63

_INTEGER_NAMES = {
    FIELD_TYPE.TINY: "tinyint",
    FIELD_TYPE.SHORT: "smallint",
    FIELD_TYPE.INT24: "mediumint",
    FIELD_TYPE.LONG: "int",
    FIELD_TYPE.LONGLONG: "bigint",
}
_STRING_TYPES = {
    FIELD_TYPE.VARCHAR,
    FIELD_TYPE.VAR_STRING,
    FIELD_TYPE.STRING,
    FIELD_TYPE.TINY_BLOB,
    FIELD_TYPE.MEDIUM_BLOB,
    FIELD_TYPE.LONG_BLOB,
    FIELD_TYPE.BLOB,
    FIELD_TYPE.ENUM,
    FIELD_TYPE.SET,
}
_BLOB_TYPES = {FIELD_TYPE.TINY_BLOB, FIELD_TYPE.MEDIUM_BLOB, FIELD_TYPE.LONG_BLOB, FIELD_TYPE.BLOB}


def _bool(value: Any) -> bool:
    return bool(value)


def _timestamp(value: Any) -> Any:
    # A zero or invalid date ('0000-00-00 00:00:00') comes back as text from PyMySQL.
    return Unsupported(value) if isinstance(value, str) else as_utc(value)


def _wall_clock(value: Any) -> Any:
    return Unsupported(value) if isinstance(value, str) else value


def _time(value: Any) -> Unsupported:
    return Unsupported(format_duration(value) if not isinstance(value, str) else value)


def _bit(value: Any) -> Unsupported:
    return Unsupported(
        str(int.from_bytes(value, "big")) if isinstance(value, bytes) else str(value)
    )


def _text(value: Any) -> Unsupported:
    if isinstance(value, bytes):
        return Unsupported(value.hex())  # geometry: WKB with a 4-byte SRID prefix, in hex
    return Unsupported(str(value))


def result_column(
    field: Any, json_columns: frozenset[tuple[str, str, str]] = frozenset()
) -> tuple[ResultColumn, Converter]:
    """`field` is a PyMySQL FieldDescriptorPacket; `json_columns` holds (schema, table,
    column) of MariaDB JSON columns."""
    code = field.type_code
    flags = field.flags
    binary = field.charsetnr == BINARY_CHARSET
    unsigned = " unsigned" if flags & FLAG.UNSIGNED else ""

    def column(dtype: DataType, native: str, conv: Callable[[Any], Any] | None = None):
        return ResultColumn(name=field.name, type=dtype, native_type=native), conv

    if code == FIELD_TYPE.TINY and field.length == 1:
        return column(DataType.BOOLEAN, "tinyint(1)", _bool)
    if code in _INTEGER_NAMES:
        return column(DataType.INTEGER, _INTEGER_NAMES[code] + unsigned)
    if code in (FIELD_TYPE.FLOAT, FIELD_TYPE.DOUBLE):
        return column(DataType.FLOAT, "float" if code == FIELD_TYPE.FLOAT else "double")
    if code in (FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL):
        return column(DataType.DECIMAL, "decimal")
    if code == FIELD_TYPE.TIMESTAMP:
        return column(DataType.TIMESTAMP, "timestamp", _timestamp)
    if code == FIELD_TYPE.DATETIME:
        return column(DataType.TIMESTAMP, "datetime", _wall_clock)
    if code in (FIELD_TYPE.DATE, FIELD_TYPE.NEWDATE):
        return column(DataType.DATE, "date", _wall_clock)
    if code == FIELD_TYPE.JSON:
        return column(DataType.JSON, "json", as_json)
    if code in _STRING_TYPES:
        if flags & FLAG.ENUM or code == FIELD_TYPE.ENUM:
            return column(DataType.TEXT, "enum")
        if flags & FLAG.SET or code == FIELD_TYPE.SET:
            return column(DataType.TEXT, "set")
        if binary:
            native = (
                "blob"
                if code in _BLOB_TYPES
                else ("binary" if code == FIELD_TYPE.STRING else "varbinary")
            )
            return column(DataType.BYTES, native)
        origin = (_decode(field.db), field.org_table, field.org_name)
        if origin in json_columns:
            return column(DataType.JSON, "json", as_json)
        native = (
            "text" if code in _BLOB_TYPES else ("char" if code == FIELD_TYPE.STRING else "varchar")
        )
        return column(DataType.TEXT, native)
    if code == FIELD_TYPE.TIME:
        return column(DataType.OTHER, "time", _time)
    if code == FIELD_TYPE.YEAR:
        return column(DataType.OTHER, "year", _text)
    if code == FIELD_TYPE.BIT:
        return column(DataType.OTHER, "bit", _bit)
    if code == FIELD_TYPE.GEOMETRY:
        return column(DataType.OTHER, "geometry", _text)
    if code == FIELD_TYPE.NULL:
        return column(DataType.OTHER, "null")
    return column(DataType.OTHER, f"type {code}", _text)


def _decode(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


# -- information_schema -----------------------------------------------------------------

_SCHEMA_TYPES: dict[str, DataType] = {
    **dict.fromkeys(
        ("tinyint", "smallint", "mediumint", "int", "integer", "bigint"), DataType.INTEGER
    ),
    **dict.fromkeys(("float", "double", "real", "double precision"), DataType.FLOAT),
    **dict.fromkeys(("decimal", "numeric", "fixed"), DataType.DECIMAL),
    **dict.fromkeys(
        ("char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "uuid"),
        DataType.TEXT,
    ),
    **dict.fromkeys(
        ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"), DataType.BYTES
    ),
    "date": DataType.DATE,
    "datetime": DataType.TIMESTAMP,
    "timestamp": DataType.TIMESTAMP,
    "json": DataType.JSON,
    "bool": DataType.BOOLEAN,
    "boolean": DataType.BOOLEAN,
}


def schema_type(data_type: str, column_type: str, is_json: bool) -> tuple[DataType, str]:
    """(DataType, native type) of an information_schema.COLUMNS row."""
    data_type = data_type.lower()
    column_type = column_type.lower()
    if is_json:
        return DataType.JSON, "json"
    if data_type == "tinyint" and column_type.startswith("tinyint(1)"):
        return DataType.BOOLEAN, column_type
    return _SCHEMA_TYPES.get(data_type, DataType.OTHER), column_type
