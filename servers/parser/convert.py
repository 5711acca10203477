"""Pure converters between the parser's protos and its domain (domain.py).

In: the connector's Schema proto → SchemaView; a request's clock. Out: an Understanding
and its rendered statement → ParsedQuery. The ParsedQuery's entity fields (tables,
columns, filters, aggregations, group by, order by, limit, time range) are a flat
summary of the plan for clients; the statement is what runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from chatdb.connector.v1 import data_type_pb2, result_pb2, schema_pb2, statement_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq
from google.protobuf import duration_pb2, timestamp_pb2

from .domain import (
    Aggregate,
    ColumnInfo,
    ColumnKind,
    ColumnRef,
    Condition,
    ForeignKeyInfo,
    Op,
    QueryKind,
    QueryPlan,
    SchemaFlavour,
    SchemaView,
    TableInfo,
    Understanding,
    Value,
)
from .render.mongo import MongoStatement

_KINDS = {
    data_type_pb2.DATA_TYPE_INTEGER: ColumnKind.INTEGER,
    data_type_pb2.DATA_TYPE_FLOAT: ColumnKind.NUMBER,
    data_type_pb2.DATA_TYPE_DECIMAL: ColumnKind.NUMBER,
    data_type_pb2.DATA_TYPE_TEXT: ColumnKind.TEXT,
    data_type_pb2.DATA_TYPE_BOOLEAN: ColumnKind.BOOLEAN,
    data_type_pb2.DATA_TYPE_DATE: ColumnKind.DATE,
    data_type_pb2.DATA_TYPE_TIMESTAMP: ColumnKind.TIMESTAMP,
}

INTENTS = {
    QueryKind.SELECT: pq.INTENT_SELECT,
    QueryKind.COUNT: pq.INTENT_COUNT,
    QueryKind.AGGREGATE: pq.INTENT_AGGREGATE,
    QueryKind.TOP_N: pq.INTENT_TOP_N,
    QueryKind.DISTINCT: pq.INTENT_DISTINCT,
    QueryKind.DESCRIBE: pq.INTENT_DESCRIBE,
    QueryKind.TRAIN: pq.INTENT_TRAIN,
    QueryKind.PREDICT: pq.INTENT_PREDICT,
    QueryKind.MODEL_STATUS: pq.INTENT_MODEL_STATUS,
    QueryKind.SYSTEM_STATUS: pq.INTENT_SYSTEM_STATUS,
    QueryKind.ANOMALY: pq.INTENT_ANOMALY,
    QueryKind.UNKNOWN: pq.INTENT_UNKNOWN,
}

_OPERATORS = {
    Op.EQ: pq.FILTER_OPERATOR_EQ,
    Op.NE: pq.FILTER_OPERATOR_NE,
    Op.LT: pq.FILTER_OPERATOR_LT,
    Op.LE: pq.FILTER_OPERATOR_LE,
    Op.GT: pq.FILTER_OPERATOR_GT,
    Op.GE: pq.FILTER_OPERATOR_GE,
    Op.LIKE: pq.FILTER_OPERATOR_LIKE,
    Op.IN: pq.FILTER_OPERATOR_IN,
    Op.NOT_IN: pq.FILTER_OPERATOR_NOT_IN,
    Op.BETWEEN: pq.FILTER_OPERATOR_BETWEEN,
    Op.IS_NULL: pq.FILTER_OPERATOR_IS_NULL,
    Op.IS_NOT_NULL: pq.FILTER_OPERATOR_IS_NOT_NULL,
}

_AGGREGATES = {
    Aggregate.COUNT: pq.AGGREGATE_FUNCTION_COUNT,
    Aggregate.SUM: pq.AGGREGATE_FUNCTION_SUM,
    Aggregate.AVG: pq.AGGREGATE_FUNCTION_AVG,
    Aggregate.MIN: pq.AGGREGATE_FUNCTION_MIN,
    Aggregate.MAX: pq.AGGREGATE_FUNCTION_MAX,
}


# ------------------------------------------------------------------------------ in


def column_kind(data_type: int) -> ColumnKind:
    return _KINDS.get(data_type, ColumnKind.OTHER)


def schema_view(schema: schema_pb2.Schema, flavour: SchemaFlavour) -> SchemaView:
    """The connector's schema as the parser sees it. A schema made of collections is
    MongoDB whatever `flavour` says."""
    tables = []
    for t in schema.tables:
        columns = tuple(
            ColumnInfo(
                name=c.name,
                kind=column_kind(c.type),
                comment=c.comment,
                primary_key=c.primary_key_ordinal > 0,
                nullable=c.nullable,
            )
            for c in t.columns
        )
        keys = tuple(
            ForeignKeyInfo(tuple(fk.columns), fk.referenced_table, tuple(fk.referenced_columns))
            for fk in t.foreign_keys
        )
        tables.append(
            TableInfo(
                name=t.name,
                columns=columns,
                primary_key=tuple(t.primary_key),
                foreign_keys=keys,
                comment=t.comment,
                schema_name=t.schema_name,
                row_estimate=t.row_estimate,
            )
        )
    if schema.tables and all(t.kind == schema_pb2.TABLE_KIND_COLLECTION for t in schema.tables):
        flavour = SchemaFlavour.MONGODB
    return SchemaView(tables=tuple(tables), flavour=flavour, version=schema.schema_version, database=schema.database)


def reference_time(ts: timestamp_pb2.Timestamp | None, fallback: dt.datetime) -> dt.datetime:
    """The request's clock when it fixes one, else `fallback` (aware, UTC)."""
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return fallback
    return ts.ToDatetime(tzinfo=dt.UTC)


# ------------------------------------------------------------------------------ out


def value_cell(value: Value) -> result_pb2.Cell:
    """A filter operand as a Cell (the parser's values are plain scalars and dates)."""
    if isinstance(value, bool):
        return result_pb2.Cell(bool_value=value)
    if isinstance(value, int):
        return result_pb2.Cell(int64_value=value)
    if isinstance(value, float):
        return result_pb2.Cell(double_value=value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            ts = timestamp_pb2.Timestamp()
            ts.FromDatetime(value)
            return result_pb2.Cell(timestamp_value=ts)
        return result_pb2.Cell(datetime_value=value.isoformat())
    if isinstance(value, dt.date):
        return result_pb2.Cell(date_value=value.isoformat())
    return result_pb2.Cell(text_value=str(value))


def _name(ref: ColumnRef | None, qualified: bool) -> str:
    if ref is None:
        return ""
    if ref.star:
        return "*"
    return str(ref) if qualified else ref.column


def _timestamp(moment: dt.datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC))
    return ts


def _filters(conditions: Iterable[Condition], qualified: bool) -> list[pq.Filter]:
    out = []
    for c in conditions:
        if c.column is None or c.aggregate is not None or c.op not in _OPERATORS:
            continue  # segments and HAVING conditions are in the statement and explanation
        values = [] if c.subquery is not None else [value_cell(v) for v in c.values]
        out.append(pq.Filter(column=_name(c.column, qualified), operator=_OPERATORS[c.op], values=values))
    return out


def _aggregate_alias(function: Aggregate, ref: ColumnRef | None) -> str:
    if ref is None or ref.star:
        return function.value
    return f"{function.value}_{ref.column}"


def plan_entities(plan: QueryPlan, into: pq.ParsedQuery) -> None:
    """The plan's flat summary into `into`'s entity fields."""
    tables = plan.referenced_tables()
    qualified = len(tables) > 1
    into.tables.extend(tables)
    for s in plan.select:
        if s.aggregate is not None:
            into.aggregations.append(
                pq.Aggregation(
                    function=_AGGREGATES[s.aggregate],
                    column=_name(s.column, qualified) or "*",
                    alias=s.alias or _aggregate_alias(s.aggregate, s.column),
                    distinct=s.distinct,
                )
            )
        elif s.expression is not None:
            into.columns.append(s.alias or s.expression.sql)
        elif s.column is not None:
            into.columns.append(_name(s.column, qualified))
    into.filters.extend(_filters(plan.where, qualified))
    if plan.bucket is not None:  # "by month": the truncated date is the first key
        into.group_by.append(f"{plan.bucket.grain.value}({_name(plan.bucket.column, qualified)})")
    into.group_by.extend(_name(g, qualified) for g in plan.group_by)
    for o in plan.order_by:
        if o.aggregate is not None:
            column = _aggregate_alias(o.aggregate, o.column)
        elif o.expression is not None:
            column = o.expression.sql
        else:
            column = _name(o.column, qualified)
        into.order_by.append(
            pq.OrderBy(
                column=column,
                direction=pq.SORT_DIRECTION_DESCENDING if o.descending else pq.SORT_DIRECTION_ASCENDING,
            )
        )
    if plan.limit:
        into.limit = plan.limit
    window = plan.time_window
    if window is not None:
        into.time_range.column = _name(window.column, qualified)
        into.time_range.expression = window.expression
        if window.start is not None:
            into.time_range.start_time.CopyFrom(_timestamp(window.start))
        if window.end is not None:
            into.time_range.end_time.CopyFrom(_timestamp(window.end))


def parsed_query(
    question: str,
    understanding: Understanding,
    *,
    statement: statement_pb2.Statement | None,
    explanation: str,
    intent_confidence: float,
    intent_source: str,
    used_fallback: bool,
    elapsed_s: float,
    follow_up: bool = False,
    conversation: Iterable[str] = (),
) -> pq.ParsedQuery:
    out = pq.ParsedQuery(
        question=question,
        intent=INTENTS[understanding.kind],
        confidence=round(min(max(intent_confidence, 0.0), 1.0), 4),
        explanation=explanation,
        used_fallback=used_fallback,
        model_name=understanding.model_name,
        target=understanding.target,
        notes=understanding.notes,
        intent_source=intent_source,
        parse_duration=duration_pb2.Duration(seconds=int(elapsed_s), nanos=int((elapsed_s % 1) * 1e9)),
        follow_up=follow_up,
        conversation=list(conversation) or [question],
    )
    if understanding.plan is not None:
        plan_entities(understanding.plan, out)
    elif understanding.tables:
        out.tables.extend(understanding.tables)
        out.columns.extend(understanding.features)
    elif understanding.table:
        out.tables.append(understanding.table)
        out.columns.extend(understanding.features)
    if understanding.kind is QueryKind.PREDICT:
        # The inputs a prediction is asked for travel as equality filters: ParsedQuery has
        # no field of its own for them, and "age = 31" is what "for age 31" means.
        out.filters.extend(pq.Filter(column=name, operator=pq.FILTER_OPERATOR_EQ, values=[value_cell(value)])
                           for name, value in understanding.predict_inputs.items())
    if statement is not None:
        out.statement.CopyFrom(statement)
    return out


def mongo_statement(rendered: MongoStatement) -> statement_pb2.Statement:
    if rendered.aggregate:
        return statement_pb2.Statement(
            mongo_aggregate=statement_pb2.MongoAggregate(collection=rendered.collection, pipeline=rendered.pipeline)
        )
    return statement_pb2.Statement(
        mongo_find=statement_pb2.MongoFind(
            collection=rendered.collection,
            filter=rendered.filter,
            projection=rendered.projection,
            sort=rendered.sort,
            limit=rendered.limit,
        )
    )
