"""The last check before a plan becomes a statement: would the database accept it?

The language side may pair a word with a column of the wrong type (an average of a name,
a bare number against a date, a quoted phrase against an integer, two sides of an
INTERSECT of different widths). Each such statement fails on the database, which the
parser promises never to hand out; this check turns them into an honest "cannot answer"
(domain.Unresolved) instead. It mirrors how render/sql.py types values: text columns take
anything, numbers take numbers or numeric text, dates take dates or ISO text.
Pure logic: no grpc, no driver.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from dataclasses import replace

from sqlglot import exp

from servers.parser.domain import (
    Aggregate,
    ColumnKind,
    ColumnRef,
    Condition,
    Op,
    QueryPlan,
    SchemaView,
    Value,
)
from servers.parser.render.sql import build_query

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_BOOLEAN_WORDS = frozenset({"true", "false", "t", "f", "yes", "no", "y", "n", "on", "off", "1", "0"})
_NUMERIC_ONLY = (Aggregate.SUM, Aggregate.AVG)
# LIMIT beyond a signed 64-bit integer fits neither PostgreSQL's bigint nor the proto's
# int64: such a limit asks for every row.
MAX_LIMIT = 2**63 - 1


def bounded(plan: QueryPlan) -> QueryPlan:
    """The plan without limits no database (nor the proto) can hold: they are dropped."""
    if plan.set_operation is not None:
        operator, other = plan.set_operation
        plan = replace(plan, set_operation=(operator, bounded(other)))
    if plan.limit is not None and plan.limit > MAX_LIMIT:
        plan = replace(plan, limit=None)
    return plan


def problems(plan: QueryPlan, schema: SchemaView, tree: exp.Query | None = None) -> list[str]:
    """What in `plan` a database would refuse, in words; empty when nothing. `tree` is
    the statement build_query made of it, when the caller has it already."""
    found = _plan_problems(plan, schema)
    if not found:
        tree = build_query(plan, schema) if tree is None else tree
        found += _derived_aggregates(tree, schema)
        if _has_set_operation(plan):
            found += _set_widths(tree)
    return found


def _plan_problems(plan: QueryPlan, schema: SchemaView) -> list[str]:
    found: list[str] = []
    for selection in plan.select:
        if selection.aggregate and selection.column:
            found += _aggregate_problem(selection.aggregate, selection.column, schema)
    for ordering in plan.order_by:
        if ordering.aggregate and ordering.column:
            found += _aggregate_problem(ordering.aggregate, ordering.column, schema)
    for condition in (*plan.where, *plan.having):
        found += _condition_problems(condition, schema)
    if plan.set_operation is not None:
        found += _plan_problems(plan.set_operation[1], schema)
    return found


def _kind(ref: ColumnRef | None, schema: SchemaView) -> ColumnKind | None:
    if ref is None or ref.star:
        return None
    column = schema.column(ref)
    return column.kind if column else None


def _aggregate_problem(aggregate: Aggregate, ref: ColumnRef, schema: SchemaView) -> list[str]:
    kind = _kind(ref, schema)
    if kind is None or aggregate is Aggregate.COUNT:
        return []
    if aggregate in _NUMERIC_ONLY and not kind.numeric:
        return [f"{aggregate.value} of {ref}, which holds {kind.value} values, not numbers"]
    if kind is ColumnKind.BOOLEAN:
        return [f"{aggregate.value} of {ref}, which holds yes/no values"]
    return []


def _condition_problems(condition: Condition, schema: SchemaView) -> list[str]:
    if condition.expression is not None:
        return []  # a glossary segment, validated when the glossary was written
    found: list[str] = []
    if condition.subquery is not None:
        found += _plan_problems(condition.subquery, schema)
    kind = _kind(condition.column, schema)
    if condition.aggregate is not None and condition.column is not None:
        found += _aggregate_problem(condition.aggregate, condition.column, schema)
        kind = ColumnKind.NUMBER if condition.aggregate in (Aggregate.COUNT, *_NUMERIC_ONLY) else kind
    if kind is None or condition.op in (Op.LIKE, Op.NOT_LIKE, Op.IS_NULL, Op.IS_NOT_NULL):
        return found  # LIKE compares the column's text, whatever its type
    for value in condition.values:
        if not _fits(value, kind):
            found.append(f"{condition.column} holds {kind.value} values, and {value!r} is not one")
    return found


def _fits(value: Value, kind: ColumnKind) -> bool:
    """Whether the literal render/sql.py writes for `value` is one the column compares with."""
    if kind in (ColumnKind.TEXT, ColumnKind.OTHER):
        return True
    if kind.numeric:
        if isinstance(value, bool | int | float | decimal.Decimal):
            return True
        return isinstance(value, str) and _NUMBER.fullmatch(value.strip()) is not None
    if kind.temporal:
        if isinstance(value, dt.date):  # datetime is a date too
            return True
        if isinstance(value, str):
            try:
                dt.datetime.fromisoformat(value.strip())
            except ValueError:
                return False
            return True
        return False
    if kind is ColumnKind.BOOLEAN:
        return isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in _BOOLEAN_WORDS)
    return True


def _has_set_operation(plan: QueryPlan) -> bool:
    return plan.set_operation is not None or any(
        c.subquery is not None and _has_set_operation(c.subquery) for c in (*plan.where, *plan.having)
    )


def _derived_aggregates(tree: exp.Expression, schema: SchemaView) -> list[str]:
    """Aggregates the renderer adds itself (ORDER BY MAX(column) when the rows are
    grouped or distinct) meet the same types as the plan's own."""
    found = []
    for node in tree.find_all(*_TREE_AGGREGATES):
        column = node.this
        if not isinstance(column, exp.Column):
            continue
        select = node.find_ancestor(exp.Select)
        tables = {
            t.alias_or_name: t.name
            for t in (select.find_all(exp.Table) if select else ())
            if t.find_ancestor(exp.Select) is select
        }
        table = tables.get(column.table) if column.table else next(iter(tables.values()), None)
        if table is not None:
            found += _aggregate_problem(_TREE_AGGREGATES[type(node)], ColumnRef(table, column.name), schema)
    return found


_TREE_AGGREGATES = {exp.Sum: Aggregate.SUM, exp.Avg: Aggregate.AVG, exp.Min: Aggregate.MIN, exp.Max: Aggregate.MAX}


def _set_widths(tree: exp.Expression) -> list[str]:
    """Both sides of every UNION / INTERSECT / EXCEPT must select as many columns; the
    widths are counted on the statement, since the renderer adds grouping keys."""
    found = []
    for node in tree.find_all(exp.SetOperation):
        left, right = _width(node.left), _width(node.right)
        if left is not None and right is not None and left != right:
            found.append(f"the two sides of the {node.key} select {left} and {right} columns")
    return found


def _width(query: exp.Expression) -> int | None:
    if isinstance(query, exp.Subquery):
        return _width(query.this)
    if isinstance(query, exp.SetOperation):
        return _width(query.left)
    if not isinstance(query, exp.Select):
        return None
    selects = query.expressions
    if len(selects) == 1 and isinstance(selects[0], exp.Star):
        source = query.args.get("from") or query.args.get("from_")
        inner = source.this if source is not None else None
        return _width(inner) if isinstance(inner, exp.Subquery) else None
    return len(selects)
