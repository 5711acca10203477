"""A QueryPlan → a MongoDB find, or an aggregation pipeline when it aggregates.

Documents are MongoDB Extended JSON (relaxed), the form the connector's Statement
carries: key order survives (sort documents depend on it), dates stay dates.

- Plain reads (filters, projection, sort, limit) → find.
- Aggregates, grouping, having, SELECT DISTINCT → $match, $group, $match, $sort,
  $limit, $project; output fields are named as the SQL renderer names its columns
  (count, avg_price…), group keys as their column.
- Values from the question only ever sit in value positions of a query document
  (LIKE becomes an escaped, case-insensitive $regex), never where a string would be
  read as a field path or an operator.
- Glossary fragments translate through mongo_expressions (segments → query documents,
  metrics → accumulators).
- A plan that needs a join, a subquery or a set operation cannot be one collection
  query: Unresolved says which part.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from bson import Regex, json_util

from servers.parser.domain import (
    Aggregate,
    ColumnKind,
    ColumnRef,
    Condition,
    Op,
    Ordering,
    QueryPlan,
    SchemaView,
    Selection,
    Unresolved,
    Value,
)
from servers.parser.render import mongo_expressions
from servers.parser.render.buckets import bucket_name, mongo_bucket

_JSON = json_util.RELAXED_JSON_OPTIONS
_NEGATIVE = frozenset({Op.NE, Op.NOT_IN, Op.NOT_LIKE})
_COMPARISONS = {Op.LT: "$lt", Op.LE: "$lte", Op.GT: "$gt", Op.GE: "$gte"}
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class MongoStatement:
    """One collection query: a find (filter, projection, sort, limit) when `pipeline` is
    empty, else an aggregation. Documents are Extended JSON text; empty means none."""

    collection: str
    filter: str = ""
    projection: str = ""
    sort: str = ""
    limit: int = 0
    pipeline: str = ""

    @property
    def aggregate(self) -> bool:
        return bool(self.pipeline)


def _dumps(document: Any) -> str:
    return json_util.dumps(document, json_options=_JSON)


def render_mongo(plan: QueryPlan, schema: SchemaView) -> MongoStatement:
    return _Builder(schema).statement(plan)


class _Builder:
    def __init__(self, schema: SchemaView) -> None:
        self.schema = schema

    def statement(self, plan: QueryPlan) -> MongoStatement:
        if plan.set_operation is not None:
            raise Unresolved(
                f"a MongoDB collection query cannot combine two queries ({plan.set_operation[0].value}); "
                "ask each part on its own"
            )
        tables = plan.referenced_tables()
        if not tables:
            raise Unresolved("the question names no collection")
        if len(tables) > 1:
            raise Unresolved(
                f"the question needs {' and '.join(tables)} together, "
                "and a MongoDB query reads one collection",
                suggestions=tables,
            )
        collection = tables[0]
        if self.schema.table(collection) is None:
            raise Unresolved(
                f"no collection named {collection}",
                suggestions=[t.name for t in self.schema.tables][:10],
            )
        match = self._match(plan)
        selections = list(plan.select)
        aggregated = any(s.aggregated for s in selections)
        grouped = bool(plan.group_by or plan.having or plan.distinct or aggregated)
        grouped = grouped or any(
            o.aggregate or (o.expression and o.expression.aggregated) for o in plan.order_by
        )
        grouped = grouped or any(_on_aggregate(c) for c in plan.where) or plan.bucket is not None
        if not grouped:
            return self._find(collection, match, plan)
        return MongoStatement(collection, pipeline=_dumps(self._pipeline(match, plan)))

    # -- find ---------------------------------------------------------------------------

    def _find(self, collection: str, match: dict, plan: QueryPlan) -> MongoStatement:
        projection: dict[str, Any] = {}
        if plan.select:
            for selection in plan.select:
                column = self._column(selection)
                projection[column.column] = 1
            if "_id" not in projection:
                projection["_id"] = 0
        sort = {self._order_field(o): -1 if o.descending else 1 for o in plan.order_by}
        return MongoStatement(
            collection,
            filter=_dumps(match) if match else "",
            projection=_dumps(projection) if projection else "",
            sort=_dumps(sort) if sort else "",
            limit=plan.limit or 0,
        )

    def _order_field(self, ordering: Ordering) -> str:
        if ordering.expression is not None:
            raise Unresolved("glossary expressions are SQL and cannot run on MongoDB")
        if ordering.column is None or ordering.column.star:
            raise Unresolved("an ordering names nothing to order by")
        return ordering.column.column

    # -- aggregate ------------------------------------------------------------------------

    def _pipeline(self, match: dict, plan: QueryPlan) -> list[dict]:
        selections = list(plan.select)
        if not selections and plan.group_by:
            selections = [Selection(column=key) for key in plan.group_by]
        if not selections:  # every field of the collection, as SQL's empty select
            table = self.schema.table(plan.referenced_tables()[0])
            assert table is not None
            selections = [Selection(column=ColumnRef(table.name, c.name)) for c in table.columns]
        keys: dict[str, str] = {}  # field → its name inside _id
        for ref in plan.group_by:
            keys.setdefault(ref.column, f"k{len(keys)}")
        for selection in selections:
            if not selection.aggregated:
                keys.setdefault(self._column(selection).column, f"k{len(keys)}")

        accumulators: dict[str, Any] = {}
        project: dict[str, Any] = {"_id": 0}
        names: set[str] = set()
        known: dict[tuple, str] = {}  # what an accumulator computes → the field holding it
        for selection in selections:
            if selection.expression is not None:
                if not selection.expression.aggregated:
                    raise Unresolved("a computed glossary value cannot be grouped on MongoDB")
                name = _unique(selection.alias or "value", names)
                accumulators[name] = mongo_expressions.accumulator(selection.expression.sql)
                project[name] = 1
                known[("expression", selection.expression.sql)] = name
                continue
            column = self._column(selection)
            if not selection.aggregated:
                name = _unique(selection.alias or column.column, names)
                project[name] = f"$_id.{keys[column.column]}"
                continue
            assert selection.aggregate is not None
            name = _unique(selection.alias or _aggregate_name(selection.aggregate, column), names)
            accumulators[name], project[name] = _accumulate(
                selection.aggregate, column, selection.distinct, name
            )
            what = _what(selection.aggregate, column, selection.distinct)
            known[what] = f"{name}__n" if selection.distinct else name

        def hidden(what: tuple, accumulator: Any) -> str:
            """The field holding `what` for each group, added when nothing selected it."""
            if what not in known:
                name = f"__a{len(known)}"
                accumulators[name] = accumulator
                known[what] = f"{name}__n" if "$addToSet" in accumulator else name
            return known[what]

        def aggregate_field(aggregate: Aggregate, column: ColumnRef | None, distinct: bool) -> str:
            name = f"__a{len(known)}"
            return hidden(
                _what(aggregate, column, distinct),
                _accumulate(aggregate, column, distinct, name)[0],
            )

        having: list[dict] = []
        for condition in (*plan.having, *(c for c in plan.where if _on_aggregate(c))):
            if condition.subquery is not None:
                raise Unresolved("subqueries cannot run on MongoDB")
            if condition.expression is not None:
                sql = condition.expression.sql
                field = hidden(("expression", sql), mongo_expressions.accumulator(sql))
                kind = ColumnKind.NUMBER
            else:
                assert condition.aggregate is not None
                field = aggregate_field(condition.aggregate, condition.column, condition.distinct)
                kind = (
                    ColumnKind.INTEGER
                    if condition.aggregate is Aggregate.COUNT
                    else ColumnKind.NUMBER
                )
            having.append(self._condition(field, condition, kind))

        sort: dict[str, int] = {}
        for ordering in plan.order_by:
            direction = -1 if ordering.descending else 1
            if ordering.expression is not None:
                sql = ordering.expression.sql
                if not ordering.expression.aggregated:
                    raise Unresolved("ordering by a computed glossary value cannot run on MongoDB")
                sort[hidden(("expression", sql), mongo_expressions.accumulator(sql))] = direction
            elif ordering.aggregate is not None:
                sort[aggregate_field(ordering.aggregate, ordering.column, False)] = direction
            elif ordering.column is not None and ordering.column.column in keys:
                sort[f"_id.{keys[ordering.column.column]}"] = direction
            elif ordering.column is not None:
                # not a group key: its lowest or highest value in each group, as in SQL
                field = f"${ordering.column.column}"
                extreme = {"$max": field} if ordering.descending else {"$min": field}
                sort[hidden(("extreme", ordering.column, ordering.descending), extreme)] = direction

        group: dict[str, Any] = {"_id": {k: f"${c}" for c, k in keys.items()} if keys else None}
        if plan.bucket is not None:  # "by month": the period labels the group, oldest first
            group["_id"] = {
                "b": mongo_bucket(plan.bucket.column.column, plan.bucket.grain),
                **(group["_id"] or {}),
            }
            project = {"_id": 0, bucket_name(plan.bucket.grain): "$_id.b", **project}
            if not sort:
                sort["_id.b"] = 1
        group.update(accumulators)
        pipeline: list[dict] = []
        if match:
            pipeline.append({"$match": match})
        pipeline.append({"$group": group})
        # distinct counts: the set's size, computed once the groups are complete
        sizes = {
            f"{n}__n": {"$size": f"${n}"}
            for n, a in accumulators.items()
            if isinstance(a, dict) and "$addToSet" in a
        }
        if sizes:
            pipeline.append({"$addFields": sizes})
        if having:
            pipeline.append({"$match": having[0] if len(having) == 1 else {"$and": having}})
        if sort:
            pipeline.append({"$sort": sort})
        if plan.limit is not None:
            pipeline.append({"$limit": plan.limit})
        pipeline.append({"$project": project})
        return pipeline

    # -- conditions -------------------------------------------------------------------------

    def _match(self, plan: QueryPlan) -> dict:
        clauses = []
        for condition in plan.where:
            if _on_aggregate(condition):
                continue  # a condition on a group: applied after $group
            if condition.subquery is not None:
                raise Unresolved("subqueries cannot run on MongoDB")
            if condition.expression is not None:
                clauses.append(self._expression_condition(condition))
                continue
            if condition.column is None:
                raise Unresolved("a condition names no field")
            clauses.append(
                self._condition(condition.column.column, condition, self._kind(condition.column))
            )
        if clauses and plan.where_any:
            clauses = [{"$or": clauses}] if len(clauses) > 1 else clauses
        if plan.time_window:
            window = plan.time_window
            bounds: dict[str, Any] = {}
            kind = self._kind(window.column)
            if window.start is not None:
                bounds["$gte"] = self._value(window.start, kind)
            if window.end is not None:
                bounds["$lt"] = self._value(window.end, kind)
            if bounds:
                clauses.append({window.column.column: bounds})
        if not clauses:
            return {}
        fields = [next(iter(c)) for c in clauses]
        if len(set(fields)) == len(fields) and not any(f.startswith("$") for f in fields):
            return {f: c[f] for c, f in zip(clauses, fields, strict=True)}
        return {"$and": clauses}

    def _expression_condition(self, condition: Condition) -> dict:
        """A glossary segment (the whole condition), or a computed value compared."""
        assert condition.expression is not None
        sql = condition.expression.sql
        if not condition.values:
            document = mongo_expressions.condition(sql)
            if condition.op not in _NEGATIVE:
                return document
            # as in SQL, a row whose fields are NULL satisfies neither the segment nor
            # its negation
            present = [{f: {"$ne": None}} for f in mongo_expressions.fields(sql)]
            return {"$and": [{"$nor": [document]}, *present]}
        op = {Op.EQ: "$eq", Op.NE: "$ne", **_COMPARISONS}.get(condition.op)
        if op is None:
            raise Unresolved(
                f"{condition.op.value} on a computed glossary value cannot run on MongoDB"
            )
        value = self._value(condition.values[0], None)
        if isinstance(value, str):
            value = {"$literal": value}
        return {"$expr": {op: [mongo_expressions.value(sql), value]}}

    def _condition(self, field: str, condition: Condition, kind: ColumnKind | None) -> dict:
        op = condition.op
        values = [self._value(v, kind) for v in condition.values]

        def one() -> Any:
            if not values:
                raise Unresolved(f"{op.value} needs a value")
            return values[0]

        # SQL's three-valued logic: <>, NOT IN and NOT LIKE never match a NULL, where
        # MongoDB's $ne / $nin / $not would match null and missing fields.
        if op is Op.EQ:
            return {field: {"$eq": one()}}
        if op is Op.NE:
            return {field: {"$nin": [one(), None]}}
        if op in _COMPARISONS:
            return {field: {_COMPARISONS[op]: one()}}
        if op in (Op.LIKE, Op.NOT_LIKE):
            text = re.escape(_text(condition.values[0] if condition.values else one()))
            if kind is not None and kind is not ColumnKind.TEXT:
                # containment in a number or a date means in its text, as in SQL
                found = {
                    "$regexMatch": {
                        "input": {"$toString": f"${field}"},
                        "regex": text,
                        "options": "i",
                    }
                }
                if op is Op.LIKE:
                    return {"$expr": found}
                return {"$nor": [{"$expr": found}], field: {"$ne": None}}
            pattern = Regex(text, "i")
            return {field: pattern if op is Op.LIKE else {"$not": pattern, "$ne": None}}
        if op is Op.IN:
            return {field: {"$in": values}}
        if op is Op.NOT_IN:
            return {field: {"$nin": [*values, None]}}
        if op is Op.BETWEEN:
            if len(values) != 2:
                raise Unresolved("between needs two values")
            return {field: {"$gte": values[0], "$lte": values[1]}}
        if op is Op.IS_NULL:
            return {field: None}
        if op is Op.IS_NOT_NULL:
            return {field: {"$ne": None}}
        raise Unresolved(f"unsupported operator {op.value}")

    # -- values -----------------------------------------------------------------------------

    def _kind(self, ref: ColumnRef | None) -> ColumnKind | None:
        if ref is None or ref.star:
            return None
        column = self.schema.column(ref)
        return column.kind if column else None

    @staticmethod
    def _value(value: Value, kind: ColumnKind | None) -> Any:
        if kind is ColumnKind.TEXT:
            return _text(value)
        if (
            kind is not None
            and kind.numeric
            and isinstance(value, str)
            and _NUMBER.fullmatch(value.strip())
        ):
            number = float(value)
            return int(number) if number.is_integer() and "." not in value else number
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day)  # BSON has no date-only type
        return value

    @staticmethod
    def _column(selection: Selection) -> ColumnRef:
        if selection.expression is not None:
            raise Unresolved("glossary expressions are SQL and cannot run on MongoDB")
        if selection.column is None:
            raise Unresolved("a selection names no field")
        return selection.column


def _on_aggregate(condition: Condition) -> bool:
    return condition.aggregate is not None or bool(
        condition.expression and condition.expression.aggregated
    )


def _text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _what(aggregate: Aggregate, column: ColumnRef | None, distinct: bool) -> tuple:
    """What an aggregate computes: count(*) is the same whichever table's "*" names it."""
    if column is None or column.star:
        return (aggregate, None, False)
    return (aggregate, column.column, distinct)


def _aggregate_name(aggregate: Aggregate, column: ColumnRef | None) -> str:
    if column is None or column.star:
        return aggregate.value
    return f"{aggregate.value}_{column.column}"


def _accumulate(
    aggregate: Aggregate, column: ColumnRef | None, distinct: bool, name: str
) -> tuple[Any, Any]:
    """(the $group accumulator, how $project shows it)."""
    if aggregate is Aggregate.COUNT:
        if column is None or column.star:
            return {"$sum": 1}, 1
        if distinct:
            return {"$addToSet": f"${column.column}"}, f"${name}__n"
        # count(column) skips nulls and missing fields: both sort below every value
        return {"$sum": {"$cond": [{"$gt": [f"${column.column}", None]}, 1, 0]}}, 1
    if column is None or column.star:
        raise Unresolved(f"{aggregate.value} needs a field")
    if distinct:
        raise Unresolved(f"{aggregate.value} of distinct values cannot run on MongoDB")
    return {f"${aggregate.value}": f"${column.column}"}, 1


def _unique(name: str, names: set[str]) -> str:
    base, n = name, 2
    while name in names:
        name, n = f"{base}_{n}", n + 1
    names.add(name)
    return name
