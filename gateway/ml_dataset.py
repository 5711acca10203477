"""What a "train a model to predict X from T" question trains on: the table's columns,
the task the target's values call for, and the dataset a training job reads; and what
an anomaly question ("which orders look unusual?") scores: the table's numeric columns.

A SQL connection's table is read by the worker itself: the job carries a SELECT of the
target and features, built as sqlglot expressions for the connection's dialect (names
are quoted identifiers, never glued into text). A MongoDB collection has no SQL query a
job could carry, so its documents are read here through the connector and sent inline,
at most `inline_rows` of them.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from chatdb.connector.v1 import connection_pb2, data_type_pb2, schema_pb2, statement_pb2
from chatdb.training.v1 import training_job_pb2
from google.protobuf import json_format
from sqlglot import exp

from servers.contracts.cells import Json
from servers.runtime.errors import FieldViolation, InvalidArgument

CLASSIFICATION = training_job_pb2.TASK_CLASSIFICATION
REGRESSION = training_job_pb2.TASK_REGRESSION
_TEXTUAL = (data_type_pb2.DATA_TYPE_TEXT, data_type_pb2.DATA_TYPE_BOOLEAN)
_FRACTIONAL = (data_type_pb2.DATA_TYPE_FLOAT, data_type_pb2.DATA_TYPE_DECIMAL)
_DIALECTS = {
    connection_pb2.CONNECTION_KIND_POSTGRES: ("postgres", statement_pb2.SQL_DIALECT_POSTGRES),
    connection_pb2.CONNECTION_KIND_MYSQL: ("mysql", statement_pb2.SQL_DIALECT_MYSQL),
}
_SUGGESTIONS = 3


def closest(name: str, names: Sequence[str]) -> list[str]:
    """The names most like `name`; when none is close, the first few, so the person still
    learns what there is."""
    by_lower = {n.lower(): n for n in names}
    found = difflib.get_close_matches(name.lower(), list(by_lower), n=_SUGGESTIONS, cutoff=0.5)
    return [by_lower[f] for f in found] or list(names[:5])


def find_table(schema: schema_pb2.Schema, name: str) -> schema_pb2.Table:
    """The table (collection) called `name`; InvalidArgument naming the closest ones."""
    names = [t.name for t in schema.tables]
    for table in schema.tables:
        if table.name == name:
            return table
    for table in schema.tables:
        if table.name.lower() == name.lower():
            return table
    if not name:
        raise InvalidArgument(
            f"which table should the model learn from? Tables: {', '.join(names[:10]) or 'none'}", field="table")
    raise InvalidArgument(f"table {name!r} does not exist; closest: {', '.join(closest(name, names))}", field="table")


def column_of(table: schema_pb2.Table, name: str, field: str) -> schema_pb2.Column:
    """The column `name` of `table`; InvalidArgument on `field` naming the closest ones."""
    for column in table.columns:
        if column.name == name:
            return column
    for column in table.columns:
        if column.name.lower() == name.lower():
            return column
    names = [c.name for c in table.columns]
    raise InvalidArgument(
        f"{table.name} has no column {name!r}; closest: {', '.join(closest(name, names))}",
        violations=[FieldViolation(field, f"{name!r} is not a column of {table.name}")],
    )


@dataclass(frozen=True)
class Columns:
    """What the dataset reads: `target` first, then `features` (empty: the columns named
    in `read` but the target); `notes` say what was left out and why."""

    target: str
    features: list[str]
    read: list[str]
    notes: list[str]


def training_columns(table: schema_pb2.Table, target: str, features: Sequence[str]) -> Columns:
    """The target and features as the table spells them. Without named features every
    column is read but the primary key (an identifier says nothing about the row)."""
    if not target:
        raise InvalidArgument(
            f"which column of {table.name} should the model predict? Columns: "
            f"{', '.join(c.name for c in table.columns)}", field="target")
    target_column = column_of(table, target, "target")
    named = []
    for i, feature in enumerate(features):
        column = column_of(table, feature, f"features[{i}]").name
        if column != target_column.name and column not in named:
            named.append(column)
    if named:
        return Columns(target_column.name, named, [target_column.name, *named], [])
    keys = {c.name for c in table.columns if c.primary_key_ordinal > 0} | set(table.primary_key) | {"_id"}
    keys.discard(target_column.name)
    read = [target_column.name] + [c.name for c in table.columns if c.name != target_column.name and c.name not in keys]
    left_out = sorted(keys & {c.name for c in table.columns})
    notes = [f"learns from every column of {table.name} but {', '.join(left_out)} (its key)"] if left_out else []
    return Columns(target_column.name, [], read, notes)


_NUMERIC = (data_type_pb2.DATA_TYPE_INTEGER, data_type_pb2.DATA_TYPE_FLOAT, data_type_pb2.DATA_TYPE_DECIMAL)


@dataclass(frozen=True)
class AnomalyColumns:
    """The features an anomaly model of a table learns from, the key that orders the
    rows read, and the columns left out with why."""

    features: list[str]
    key: list[str]
    left_out: list[str]


def _id_like(name: str) -> bool:
    lowered = name.lower()
    return lowered in ("id", "_id") or lowered.endswith(("_id", "_key")) or (name.endswith("Id") and len(name) > 2)


def anomaly_columns(table: schema_pb2.Table, reserved: frozenset[str]) -> AnomalyColumns:
    """The table's numeric columns but keys (primary, foreign, and id-like names: an
    identifier's size says nothing about the row) and the model's output names
    (`reserved`: a feature may not carry them)."""
    key = list(table.primary_key) or [c.name for c in sorted(
        (c for c in table.columns if c.primary_key_ordinal > 0), key=lambda c: c.primary_key_ordinal)]
    foreign = {name for fk in table.foreign_keys for name in fk.columns}
    features, left_out = [], []
    for column in table.columns:
        if column.type not in _NUMERIC:
            continue
        if column.name in key or column.name in foreign or _id_like(column.name):
            left_out.append(f"{column.name} (a key)")
        elif column.name in reserved:
            left_out.append(f"{column.name} (the name of a model output)")
        else:
            features.append(column.name)
    return AnomalyColumns(features, key, left_out)


def select_rows(table: schema_pb2.Table, schema: schema_pb2.Schema, kind: int, columns: Sequence[str],
                order_by: Sequence[str], limit: int) -> statement_pb2.Statement:
    """SELECT columns FROM table ORDER BY the key LIMIT n (the first n rows, the same on
    every ask), for the connection's dialect; a MongoDB find of the same for a collection."""
    if not is_sql(kind):
        return mongo_find(table.name, columns, limit)
    dialect = _DIALECTS[kind][0]
    query = exp.select(*(exp.column(c, quoted=True) for c in columns)).from_(_table_expression(table, schema, dialect))
    if order_by:
        query = query.order_by(*(exp.column(c, quoted=True) for c in order_by))
    return _statement(query.limit(limit), kind)


def task_for(column: schema_pb2.Column, distinct_values: int | None, max_classes: int) -> int:
    """Classification for text, bool and integers with few distinct values; regression
    for other numbers. A column of dates or documents is no target."""
    if column.type in _TEXTUAL:
        return CLASSIFICATION
    if column.type in _FRACTIONAL:
        return REGRESSION
    if column.type == data_type_pb2.DATA_TYPE_INTEGER:
        return CLASSIFICATION if distinct_values is not None and distinct_values <= max_classes else REGRESSION
    raise InvalidArgument(
        f"{column.name} holds {data_type_pb2.DataType.Name(column.type).removeprefix('DATA_TYPE_').lower()} values; "
        "a model predicts a category or a number", field="target")


def task_from_values(values: Sequence[Any], max_classes: int) -> int:
    """The task for a target known only by its values (a MongoDB field)."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in present):
        integral = all(isinstance(v, int) or float(v).is_integer() for v in present)
        return CLASSIFICATION if integral and len(set(present)) <= max_classes else REGRESSION
    return CLASSIFICATION


def is_sql(kind: int) -> bool:
    return kind in _DIALECTS


def _table_expression(table: schema_pb2.Table, schema: schema_pb2.Schema, dialect: str) -> exp.Table:
    # Qualified only where an unqualified name would not reach it: PostgreSQL's public
    # schema and MySQL's own database are on the search path.
    owner = table.schema_name
    if (dialect == "postgres" and owner == "public") or (dialect == "mysql" and owner == schema.database):
        owner = ""
    return exp.table_(table.name, db=owner or None, quoted=True)


def _statement(query: exp.Expression, kind: int) -> statement_pb2.Statement:
    dialect, dialect_pb = _DIALECTS[kind]
    return statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql=query.sql(dialect=dialect), dialect=dialect_pb))


def select_columns(table: schema_pb2.Table, schema: schema_pb2.Schema, kind: int, columns: Sequence[str]) -> str:
    """SELECT of `columns` from `table` in the connection's dialect."""
    dialect = _DIALECTS[kind][0]
    query = exp.select(*(exp.column(c, quoted=True) for c in columns)).from_(_table_expression(table, schema, dialect))
    return query.sql(dialect=dialect)


def count_distinct(table: schema_pb2.Table, schema: schema_pb2.Schema, kind: int, column: str) -> statement_pb2.Statement:
    """SELECT COUNT(DISTINCT column) FROM table, for the connection's dialect."""
    dialect = _DIALECTS[kind][0]
    counted = exp.Count(this=exp.Distinct(expressions=[exp.column(column, quoted=True)]))
    return _statement(exp.select(counted).from_(_table_expression(table, schema, dialect)), kind)


def mongo_find(collection: str, columns: Sequence[str], limit: int) -> statement_pb2.Statement:
    """A find of `columns` of every document of `collection`, at most `limit`."""
    projection = {c: 1 for c in columns}
    if "_id" not in projection:
        projection["_id"] = 0
    return statement_pb2.Statement(mongo_find=statement_pb2.MongoFind(
        collection=collection, projection=json.dumps(projection), limit=limit))


def json_like(value: Any) -> Any:
    """A value the connector read, as a JSON-like value an inline record can carry."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Json):
        return value.text  # a nested document is a feature only as text
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def inline_dataset(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> training_job_pb2.Dataset:
    dataset = training_job_pb2.Dataset()
    for row in rows:
        json_format.ParseDict({c: json_like(v) for c, v in zip(columns, row, strict=True)},
                              dataset.inline_records.records.add())
    return dataset


def query_dataset(connection_id: str, sql: str) -> training_job_pb2.Dataset:
    return training_job_pb2.Dataset(
        connection_query=training_job_pb2.Dataset.ConnectionQuery(connection_id=connection_id, sql=sql))
