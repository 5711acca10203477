"""A follow-up's change (language/followup.py's Delta) applied to the previous plan,
with what changed said in a phrase each for the explanation.

Filters on the column a new one constrains are replaced when they could not hold
together ("in London" then "what about New York?"); a list broken down by something
becomes its rows counted per group; "top 5" of a grouped answer ranks by its measure.
A plan over two sets of rows, or matching any of its conditions, is not changed in half.
"""

from __future__ import annotations

from dataclasses import replace

from servers.parser.domain import (
    Aggregate,
    ColumnRef,
    Condition,
    Op,
    Ordering,
    QueryPlan,
    Selection,
    TimeBucket,
    Unresolved,
)
from servers.parser.language.followup import Delta, main_of
from servers.parser.language.periods import bucket_column
from servers.parser.language.prepared import Prepared


def apply(plan: QueryPlan, delta: Delta, prepared: Prepared) -> tuple[QueryPlan, list[str]]:
    """`plan` changed as `delta` says, and what changed, one phrase each."""
    changes: list[str] = []
    if plan.set_operation is not None:
        # a change to one half of "both … and …" would answer something else
        raise Unresolved("the previous question combines two sets of rows; ask it again whole, with the change")
    if plan.where_any and delta.where:
        raise Unresolved("the previous question matches any of its conditions; a filter cannot be added to that")
    if delta.count:
        plan = _counted(plan, changes)
    segments = frozenset(t.segment.name for t in prepared.terms.terms if t.segment is not None)
    for condition in delta.where:
        plan = _with_condition(plan, condition, delta.replaces, segments, changes)
    for condition in delta.having:
        plan = replace(plan, having=plan.having + (condition,))
        changes.append(f"added the condition {condition.source or 'on the groups'}")
    if delta.time_window is not None:
        old = plan.time_window
        plan = replace(plan, time_window=delta.time_window)
        window = delta.time_window
        if old is not None:
            changes.append(f"replaced the time window {old.column.column} {old.expression} with {window.expression}")
        else:
            changes.append(f"added filter {window.column.column} {window.expression}")
    if delta.grain is not None or delta.group_by or delta.group_table:
        plan = _regrouped(plan, delta, prepared, changes)
    if delta.order_by:
        plan = _ordered(plan, delta.order_by, changes)
    elif delta.direction is not None:
        plan = _directed(plan, delta.direction, changes)
    elif delta.reverse:
        if not plan.order_by:
            raise Unresolved("the previous question has no order to reverse")
        plan = replace(plan, order_by=tuple(replace(o, descending=not o.descending) for o in plan.order_by))
        changes.append("reversed the order")
    if delta.limit:
        plan = _limited(plan, delta, changes)
    return plan, changes


def _describe(condition: Condition) -> str:
    column = condition.column.column if condition.column else ""
    if condition.expression is not None:
        return condition.source or condition.expression.sql
    values = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in condition.values)
    if condition.subquery is not None:
        return f"{column} {condition.op.value} ({condition.source})"
    return f"{column} {condition.op.value} {values}".strip()


_EQUALITY = (Op.EQ, Op.IN, Op.LIKE, Op.NE, Op.NOT_IN, Op.NOT_LIKE)
_FAMILY = {Op.GT: "low", Op.GE: "low", Op.LT: "high", Op.LE: "high", Op.BETWEEN: "range"}


def _same_slot(old: Condition, new: Condition, replaces: bool, segments: frozenset[str]) -> bool:
    if old.expression is not None:
        # "what about the berliners?" after "the londoners"; a metric's own filter stays
        return replaces and new.expression is not None and old.source in segments
    if old.column is None or old.column != new.column or old.aggregate or old.subquery is not None:
        return False
    if replaces:
        return True
    if new.op in (Op.EQ, Op.IN) and old.op in _EQUALITY:
        return True  # two values of one column, ANDed, match nothing: the new one is meant
    if new.op in (Op.NE, Op.NOT_IN) and old.op in (Op.EQ, Op.IN) and set(new.values) & set(old.values):
        return True  # "not those in London" after "… in London": the others
    return old.op not in _EQUALITY and _FAMILY.get(old.op) == _FAMILY.get(new.op)


def _with_condition(
    plan: QueryPlan, condition: Condition, replaces: bool, segments: frozenset[str], changes: list[str]
) -> QueryPlan:
    kept: list[Condition] = []
    dropped: list[Condition] = []
    for old in plan.where:
        (dropped if _same_slot(old, condition, replaces, segments) else kept).append(old)
    if dropped:
        changes.append(
            f"replaced filter {' and '.join(_describe(c) for c in dropped)} with {_describe(condition)}"
        )
    else:
        changes.append(f"added filter {_describe(condition)}")
    return replace(plan, where=(*kept, condition))


def _counted(plan: QueryPlan, changes: list[str]) -> QueryPlan:
    main = main_of(plan)
    if any(s.aggregated for s in plan.select):
        keys = [*plan.group_by]
        if len(keys) == 1 and not plan.having and plan.bucket is None:
            changes.append(f"counted the distinct {keys[0].column} values")
            return replace(
                plan, select=(Selection(keys[0], Aggregate.COUNT, distinct=True),), group_by=(),
                order_by=(), limit=None, distinct=False,
            )
        if not keys and all(s.aggregate is Aggregate.COUNT for s in plan.select):
            raise Unresolved("the previous question already counts its rows")
        raise Unresolved("the previous question already computes an aggregate; a count of its rows cannot be added")
    plain = [s.column for s in plan.select if s.column is not None]
    if plan.distinct and len(plain) == 1:
        counted = Selection(plain[0], Aggregate.COUNT, distinct=True)
        changes.append(f"counted the distinct {plain[0].column} values")
    else:
        counted = Selection(ColumnRef(main, "*"), Aggregate.COUNT)
        changes.append("counted the rows")
    return replace(plan, select=(counted,), order_by=(), limit=None, distinct=False)


def _entity_keys(prepared: Prepared, table: str) -> tuple[list[ColumnRef], ColumnRef | None]:
    info = prepared.schema.table(table)
    if info is None:
        raise Unresolved(f"{table} is not a table of this schema")
    keys = [ColumnRef(table, c) for c in info.primary_key] or [ColumnRef(table, info.columns[0].name)]
    return keys, prepared.name_columns.get(table)


def _regrouped(plan: QueryPlan, delta: Delta, prepared: Prepared, changes: list[str]) -> QueryPlan:
    aggregated = any(s.aggregated for s in plan.select)
    if not aggregated:
        # a list broken down by something is read as its rows counted per group
        plan = replace(
            plan, select=(Selection(ColumnRef(main_of(plan), "*"), Aggregate.COUNT),), order_by=(),
            limit=None, distinct=False, group_by=(), bucket=None,
        )
        changes.append("counted the rows")
    old_keys = list(plan.group_by)
    keep = delta.adds_group or not aggregated
    select = list(plan.select)
    group_by = list(plan.group_by) if keep else []
    bucket = plan.bucket if keep else None
    if not keep:
        select = [s for s in select if s.aggregated or s.column not in old_keys]
    new_keys: list[ColumnRef] = []
    shown: list[Selection] = []
    said: list[str] = []
    if delta.group_table is not None:
        keys, name = _entity_keys(prepared, delta.group_table)
        new_keys += keys + ([name] if name and name not in keys else [])
        shown.append(Selection(name or keys[0]))
        said.append(delta.group_table)
    for column in delta.group_by:
        new_keys.append(column)
        shown.append(Selection(column))
        said.append(column.column)
    if delta.grain is not None:
        # the date the question is already windowed on, else the first date in play
        column = plan.time_window.column if plan.time_window else None
        column = column or bucket_column(prepared.schema, "", [], plan.referenced_tables())
        if column is None:
            raise Unresolved(f"no date column to group the previous rows by {delta.grain.value}")
        bucket = TimeBucket(column, delta.grain)
        said.append(f"{delta.grain.value} of {column.column}")
    group_by = list(dict.fromkeys([*group_by, *new_keys]))
    select = [s for s in shown if s not in select] + select
    dropped = [k for k in old_keys if k not in group_by]
    order_by = tuple(
        o for o in plan.order_by if o.column is None or o.aggregate is not None or o.column not in dropped
    )
    old_said = [k.column for k in old_keys] + ([f"{plan.bucket.grain.value}"] if plan.bucket else [])
    if (old_keys or plan.bucket) and not keep:
        changes.append(f"replaced the grouping by {', '.join(old_said)} with {', '.join(said)}")
    else:
        changes.append(f"grouped by {', '.join(said)}")
    return replace(plan, select=tuple(select), group_by=tuple(group_by), bucket=bucket, order_by=order_by)


def _ordered(plan: QueryPlan, orderings: list[Ordering], changes: list[str]) -> QueryPlan:
    grouped = any(s.aggregated for s in plan.select)
    out: list[Ordering] = []
    for o in orderings:
        if grouped and o.column is not None and o.aggregate is None and o.column not in plan.group_by:
            measured = next((s for s in plan.select if s.aggregated and s.column == o.column), None)
            if measured is None:
                raise Unresolved(
                    f"the previous question groups its rows; {o.column.column} is not one of its groups or measures"
                )
            o = Ordering(o.column, o.descending, measured.aggregate)
        out.append(o)
    said = ", ".join(
        f"{(o.aggregate.value + ' ') if o.aggregate else ''}{o.column.column if o.column else ''}".strip()
        + (" descending" if o.descending else "")
        for o in out
    )
    changes.append(f"ordered by {said}" if not plan.order_by else f"replaced the ordering with {said}")
    return replace(plan, order_by=tuple(out))


def _directed(plan: QueryPlan, descending: bool, changes: list[str]) -> QueryPlan:
    measured = [s for s in plan.select if s.aggregated]
    if plan.order_by:
        order_by = tuple(replace(o, descending=descending) for o in plan.order_by)
    elif len(measured) == 1 and (plan.group_by or plan.bucket):
        # "sort them descending" of a count per customer: by the count
        s = measured[0]
        column = None if s.column is None or s.column.star else s.column
        order_by = (Ordering(column, descending, s.aggregate, s.expression),)
    else:
        first = next((s for s in plan.select if s.column is not None and not s.column.star), None)
        if first is None:
            raise Unresolved("the previous question has no column to order by")
        order_by = (Ordering(first.column, descending, first.aggregate),)
    changes.append(f"ordered {'descending' if descending else 'ascending'}")
    return replace(plan, order_by=order_by)


def _limited(plan: QueryPlan, delta: Delta, changes: list[str]) -> QueryPlan:
    order_by = plan.order_by
    if delta.top is not None and not order_by:
        measured = [s for s in plan.select if s.aggregated]
        if len(measured) == 1:
            s = measured[0]
            column = None if s.column is None or s.column.star else s.column
            order_by = (Ordering(column, delta.top, s.aggregate, s.expression),)
        elif len(measured) > 1:
            raise Unresolved("top or bottom of what: the previous question computes several measures")
    elif delta.top is not None and order_by:
        first = order_by[0]
        order_by = (replace(first, descending=delta.top), *order_by[1:])
    word = {True: "top", False: "bottom", None: "first"}[delta.top]
    changes.append(f"kept the {word} {delta.limit} rows" if delta.limit > 1 else f"kept the {word} row")
    return replace(plan, order_by=order_by, limit=delta.limit)


__all__ = ["apply"]
