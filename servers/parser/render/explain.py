"""What a plan will run, in one or two plain English sentences — never SQL:

    "Counts the rows of orders where status is 'shipped' and ordered_at is in last
    month, grouped by region, largest first, first 5."

Columns are named bare, or as table.column when two of the tables read share the name;
values are quoted as the question gave them; a time window keeps its own words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from servers.contracts.glossary import Relationship
from servers.parser.domain import (
    Aggregate,
    ColumnKind,
    ColumnRef,
    Condition,
    Expression,
    Op,
    Ordering,
    QueryPlan,
    SchemaView,
    Selection,
    SetOperator,
    Unresolved,
    Value,
)
from servers.parser.render.joins import join_path

_AGGREGATE_WORDS = {
    Aggregate.SUM: "the total",
    Aggregate.AVG: "the average",
    Aggregate.MIN: "the lowest",
    Aggregate.MAX: "the highest",
}
_OP_WORDS = {
    Op.EQ: "is",
    Op.NE: "is not",
    Op.LT: "is less than",
    Op.LE: "is at most",
    Op.GT: "is more than",
    Op.GE: "is at least",
    Op.LIKE: "contains",
    Op.NOT_LIKE: "does not contain",
    Op.IN: "is one of",
    Op.NOT_IN: "is none of",
}
_SET_WORDS = {
    SetOperator.UNION: "together with",
    SetOperator.INTERSECT: "keeping only those also in",
    SetOperator.EXCEPT: "leaving out those in",
}
_PREPOSITIONS = ("in ", "since ", "before ", "after ", "until ", "from ", "during ", "between ")


def explain(plan: QueryPlan, schema: SchemaView, relationships: Sequence[Relationship] = ()) -> str:
    """One or two sentences; `relationships` are the glossary's extra joins, so link
    tables are named as the SQL renderer finds them."""
    text = _Explainer(schema, tuple(relationships)).sentence(plan)
    return text[0].upper() + text[1:] + "."


def _join_words(items: Sequence[str], last: str = "and") -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return "'" + str(value) + "'"


class _Explainer:
    def __init__(self, schema: SchemaView, relationships: tuple[Relationship, ...]) -> None:
        self.schema = schema
        self.relationships = relationships
        self.shared: set[str] = set()  # column names found in more than one table read

    def sentence(self, plan: QueryPlan) -> str:
        tables = plan.referenced_tables()
        saved = self.shared
        self.shared = self._shared_names(tables)
        try:
            parts = [self._head(plan, tables)]
            if plan.where or plan.time_window:
                parts[0] += " where " + self._where(plan)
            groups = self._grouping(plan)
            if groups:
                parts.append("grouped by " + _join_words(groups))
            if plan.having:
                parts.append(
                    "keeping groups where " + _join_words([self._condition(c) for c in plan.having])
                )
            parts += [self._ordering(o, plan) for o in plan.order_by]
            if plan.limit is not None:
                parts.append("only the first" if plan.limit == 1 else f"first {plan.limit}")
            text = ", ".join(parts)
        finally:
            self.shared = saved
        if plan.set_operation:
            operator, other = plan.set_operation
            text += f"; {_SET_WORDS[operator]}: " + self.sentence(other)
        return text

    # -- the head: what is read, and from where --------------------------------------------

    def _head(self, plan: QueryPlan, tables: list[str]) -> str:
        source = self._source(tables)
        selections = list(plan.select)
        if not selections:
            return f"lists every column of {source}"
        if all(s.aggregate is Aggregate.COUNT and s.column and s.column.star for s in selections):
            return f"counts the rows of {source}"
        if (
            len(selections) == 1
            and selections[0].aggregate is Aggregate.COUNT
            and selections[0].distinct
        ):
            return f"counts the distinct {self._column(selections[0].column)} of {source}"  # type: ignore[arg-type]
        verb = "lists the distinct" if plan.distinct else "lists"
        if all(s.aggregated for s in selections):
            verb = "computes"
        return f"{verb} {_join_words([self._selection(s) for s in selections])} of {source}"

    def _source(self, tables: list[str]) -> str:
        if not tables:
            return "nothing"
        if len(tables) == 1:
            return tables[0]
        try:
            joined = join_path(self.schema, tables, self.relationships).tables
        except Unresolved:
            joined = tuple(tables)
        links = [t for t in joined if t not in tables]
        text = _join_words(tables)
        if links:
            text += " (linked through " + _join_words(links) + ")"
        return text

    def _selection(self, selection: Selection) -> str:
        if selection.expression is not None:
            return selection.alias or self._expression(selection.expression)
        assert selection.column is not None
        if selection.aggregate is None:
            if selection.column.star:
                return f"every column of {selection.column.table}"
            return self._column(selection.column)
        return self._aggregate(selection.aggregate, selection.column, selection.distinct)

    def _aggregate(self, aggregate: Aggregate, column: ColumnRef | None, distinct: bool) -> str:
        if aggregate is Aggregate.COUNT:
            if column is None or column.star:
                return "the number of rows"
            return f"the number of {'distinct ' if distinct else ''}{self._column(column)}"
        return f"{_AGGREGATE_WORDS[aggregate]} {self._column(column) if column else 'value'}"

    @staticmethod
    def _expression(expression: Expression) -> str:
        return "the glossary measure" if expression.aggregated else "the glossary value"

    def _column(self, column: ColumnRef) -> str:
        return str(column) if column.column in self.shared else column.column

    def _shared_names(self, tables: list[str]) -> set[str]:
        seen: set[str] = set()
        shared: set[str] = set()
        for name in tables:
            table = self.schema.table(name)
            for column in table.columns if table else ():
                (shared if column.name in seen else seen).add(column.name)
        return shared

    # -- filters, grouping, ordering ----------------------------------------------------------

    def _where(self, plan: QueryPlan) -> str:
        conditions = [self._condition(c) for c in plan.where]
        text = _join_words(conditions, "or" if plan.where_any else "and")
        if plan.where_any and len(conditions) > 1 and plan.time_window:
            text = f"({text})"
        if plan.time_window:
            window = plan.time_window
            words = window.expression.strip() or self._window_bounds(window.start, window.end)
            column = self._column(window.column)
            phrase = (
                f"{column} {words}"
                if words.lower().startswith(_PREPOSITIONS)
                else f"{column} is in {words}"
            )
            text = f"{text} and {phrase}" if text else phrase
        return text

    @staticmethod
    def _window_bounds(start: dt.datetime | None, end: dt.datetime | None) -> str:
        if start and end:
            return f"from {_value(start)} until before {_value(end)}"
        if start:
            return f"since {_value(start)}"
        return f"before {_value(end)}" if end else "any time"

    def _condition(self, condition: Condition) -> str:
        if condition.expression is not None and not (condition.values or condition.subquery):
            negative = condition.op in (Op.NE, Op.NOT_IN, Op.NOT_LIKE)
            if condition.source:
                return f"it {'does not match' if negative else 'matches'} '{condition.source}'"
            return f"the glossary condition {'does not hold' if negative else 'holds'}"
        if condition.expression is not None:
            subject = condition.source or self._expression(condition.expression)
        elif condition.aggregate is not None:
            subject = self._aggregate(condition.aggregate, condition.column, condition.distinct)
        elif condition.column is not None:
            subject = self._column(condition.column)
        else:
            subject = "the row"
        op = condition.op
        if op is Op.IS_NULL:
            return f"{subject} is empty"
        if op is Op.IS_NOT_NULL:
            return f"{subject} is not empty"
        if condition.subquery is not None:
            inner = self.sentence(condition.subquery)
            inner = inner.removeprefix("lists ").removeprefix("computes ")
            if op is Op.IN:
                return f"{subject} is among the {inner}"
            if op is Op.NOT_IN:
                return f"{subject} is not among the {inner}"
            return f"{subject} {_OP_WORDS[op]} {inner}"
        if op is Op.BETWEEN and len(condition.values) == 2:
            low, high = condition.values
            return f"{subject} is between {_value(low)} and {_value(high)}"
        values = [_value(v) for v in condition.values]
        if op in (Op.IN, Op.NOT_IN):
            return f"{subject} {_OP_WORDS[op]} {_join_words(values, 'or')}"
        return f"{subject} {_OP_WORDS.get(op, op.value)} {values[0] if values else ''}".rstrip()

    def _grouping(self, plan: QueryPlan) -> list[str]:
        keys = [self._column(k) for k in plan.group_by]
        aggregated = any(s.aggregated for s in plan.select)
        if not keys and (aggregated or plan.having or any(o.aggregate for o in plan.order_by)):
            keys = [self._selection(s) for s in plan.select if not s.aggregated]
        if plan.bucket is not None:  # "grouped by month of ordered_on"
            keys.insert(0, f"{plan.bucket.grain.value} of {self._column(plan.bucket.column)}")
        return list(dict.fromkeys(keys))

    def _ordering(self, ordering: Ordering, plan: QueryPlan) -> str:
        if ordering.expression is not None:
            return f"{self._expression(ordering.expression).removeprefix('the ')}, " + (
                "largest first" if ordering.descending else "smallest first"
            )
        if ordering.aggregate is not None:
            target = self._aggregate(ordering.aggregate, ordering.column, False)
            selected = [s for s in plan.select if s.aggregated]
            obvious = len(selected) == 1 and selected[0].aggregate is ordering.aggregate
            direction = "largest first" if ordering.descending else "smallest first"
            return direction if obvious else f"by {target}, {direction}"
        assert ordering.column is not None
        column = self.schema.column(ordering.column)
        kind = column.kind if column else None
        if kind is not None and kind.temporal:
            direction = "newest first" if ordering.descending else "oldest first"
        elif kind is ColumnKind.TEXT:
            direction = "Z to A" if ordering.descending else "A to Z"
        else:
            direction = "highest first" if ordering.descending else "lowest first"
        return f"by {self._column(ordering.column)}, {direction}"
