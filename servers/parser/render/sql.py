"""A QueryPlan → one SELECT for PostgreSQL, MySQL/MariaDB or SQLite.

The statement is built as sqlglot expressions and rendered by sqlglot, never glued from
strings: every value from a question becomes a sqlglot literal (sqlglot escapes it), so
quotes, semicolons and comments in a question stay inside a string.

Choices that matter to the rows a user gets back:
- FROM / JOIN come from joins.join_path; tables are aliased T1, T2… only when joined.
- A value is typed by the column it meets: text columns get strings, numeric ones
  numbers, so PostgreSQL never sees text = integer.
- LIKE means case-insensitive containment: ILIKE on PostgreSQL, LIKE elsewhere (their
  default collations ignore case), with % and _ of the value escaped.
- GROUP BY is derived when the select mixes plain and aggregated columns; plain
  columns that are selected or ordered by are always grouped (PostgreSQL's rule).
- NULLs sort as the smallest value on every dialect (MySQL's and SQLite's order), so
  "lowest first" answers the same everywhere.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlglot import exp

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
from servers.parser.render.buckets import bucket_name, truncate
from servers.parser.render.fragments import parse_fragment
from servers.parser.render.joins import JoinTree, join_path
from servers.parser.render.names import DIALECTS, identifier

_AGGREGATES: dict[Aggregate, type[exp.AggFunc]] = {
    Aggregate.COUNT: exp.Count,
    Aggregate.SUM: exp.Sum,
    Aggregate.AVG: exp.Avg,
    Aggregate.MIN: exp.Min,
    Aggregate.MAX: exp.Max,
}
_COMPARISONS: dict[Op, type[exp.Binary]] = {
    Op.EQ: exp.EQ,
    Op.NE: exp.NEQ,
    Op.LT: exp.LT,
    Op.LE: exp.LTE,
    Op.GT: exp.GT,
    Op.GE: exp.GTE,
}
_NEGATIVE = frozenset({Op.NE, Op.NOT_IN, Op.NOT_LIKE})
_SET_OPERATIONS: dict[SetOperator, type[exp.SetOperation]] = {
    SetOperator.UNION: exp.Union,
    SetOperator.INTERSECT: exp.Intersect,
    SetOperator.EXCEPT: exp.Except,
}
_DIALECT_NAMES = {"postgresql": "postgres", "mariadb": "mysql", "sqlite3": "sqlite"}
_LIKE_ESCAPE = "!"  # not a backslash: MySQL string literals would eat it
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def render_sql(
    plan: QueryPlan,
    schema: SchemaView,
    dialect: str = "postgres",
    relationships: Sequence[Relationship] = (),
) -> str:
    """The statement for `plan` in `dialect` ("postgres", "mysql" or "sqlite")."""
    return query_sql(build_query(plan, schema, dialect, relationships), dialect)


def query_sql(query: exp.Query, dialect: str) -> str:
    """A tree build_query made, as text in `dialect` (the tree is consumed)."""
    dialect = _DIALECT_NAMES.get(dialect.lower(), dialect.lower())
    return query.sql(dialect=dialect, copy=False)  # a fresh tree: no copy needed


def build_query(
    plan: QueryPlan,
    schema: SchemaView,
    dialect: str = "postgres",
    relationships: Sequence[Relationship] = (),
) -> exp.Query:
    """The statement as a sqlglot expression (for callers that inspect it)."""
    dialect = _DIALECT_NAMES.get(dialect.lower(), dialect.lower())
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
    return _Builder(schema, dialect, tuple(relationships)).query(plan)





def _text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@dataclass
class _Shape:
    """The select list, the GROUP BY keys (by their SQL text) and whether DISTINCT stays."""

    projections: list[exp.Expression]
    keys: dict[str, exp.Expression]
    distinct: bool
    one_row: bool = False  # only aggregates, no groups: ordering by a column means nothing


class _Scope:
    """The tables of one SELECT and how its columns are written (aliased when joined)."""

    def __init__(self, builder: _Builder, tree: JoinTree) -> None:
        self.builder = builder
        self.tree = tree
        tables = tree.tables
        self.aliases: dict[str, str | None] = (
            {table: f"T{i}" for i, table in enumerate(tables, 1)}
            if len(tables) > 1
            else {tables[0]: None}
        )

    def column(self, ref: ColumnRef) -> exp.Column:
        dialect = self.builder.dialect
        alias = self.aliases.get(ref.table)
        if ref.table not in self.aliases:
            raise Unresolved(f"the column {ref} is not part of the query's tables")
        table = exp.to_identifier(alias, quoted=False) if alias else None
        name = exp.Star() if ref.star else identifier(ref.column, dialect)
        return exp.Column(this=name, table=table)

    def expression(self, expression: Expression) -> exp.Expression:
        """A glossary fragment with its table.column names written for this scope."""
        only = next(iter(self.aliases)) if len(self.aliases) == 1 else None

        def requalify(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
                table = node.table or only
                if table in self.aliases:
                    return self.column(ColumnRef(table, node.name))
            return node

        return parse_fragment(expression.sql).transform(requalify)


class _Builder:
    def __init__(
        self, schema: SchemaView, dialect: str, relationships: tuple[Relationship, ...]
    ) -> None:
        self.schema = schema
        self.dialect = dialect
        self.relationships = relationships

    # -- statements -------------------------------------------------------------------

    def query(self, plan: QueryPlan) -> exp.Query:
        if plan.set_operation is None:
            return self.select(plan)
        operator, other = plan.set_operation
        left = self._operand(replace(plan, set_operation=None), "s1")
        right = self._operand(other, "s2")
        return _SET_OPERATIONS[operator](this=left, expression=right, distinct=True)

    def _operand(self, plan: QueryPlan, name: str) -> exp.Query:
        """One side of a set operation; a side with its own ORDER BY / LIMIT is wrapped
        in a derived table, the form every dialect accepts."""
        query = self.query(plan)
        if plan.set_operation is None and not plan.order_by and plan.limit is None:
            return query
        return exp.Select(expressions=[exp.Star()]).from_(
            exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(name))), copy=False
        )

    def select(self, plan: QueryPlan) -> exp.Select:
        tables = plan.referenced_tables()
        if not tables:
            raise Unresolved("the question names no table")
        scope = _Scope(self, join_path(self.schema, tables, self.relationships))
        query = exp.Select()
        shape = self._projections(plan, scope)
        query.set("expressions", shape.projections)
        query.set("from_", exp.From(this=self._table(scope.tree.main, scope)))
        joins = [
            exp.Join(
                this=self._table(join.table, scope),
                on=_all(
                    *(
                        exp.EQ(this=scope.column(new), expression=scope.column(old))
                        for new, old in join.on
                    )
                ),
            )
            for join in scope.tree.joins
        ]
        if joins:
            query.set("joins", joins)

        where = [self.condition(c, scope) for c in plan.where if not _on_aggregate(c)]
        if where and plan.where_any:
            where = [_any(*where)]
        if plan.time_window:
            window = plan.time_window
            column = scope.column(window.column)
            kind = self._kind(window.column)
            if window.start is not None:
                where.append(exp.GTE(this=column, expression=self.literal(window.start, kind)))
            if window.end is not None:
                where.append(exp.LT(this=column.copy(), expression=self.literal(window.end, kind)))
        if where:
            query.set("where", exp.Where(this=_all(*where)))

        if shape.keys:
            query.set("group", exp.Group(expressions=list(shape.keys.values())))
        having = [
            self.condition(c, scope) for c in (*plan.having, *filter(_on_aggregate, plan.where))
        ]
        if having:
            query.set("having", exp.Having(this=_all(*having)))
        order_by = [o for o in plan.order_by if not shape.one_row or _aggregated_ordering(o)]
        ordered = [self._ordering(o, scope, shape) for o in order_by]
        if not ordered and plan.bucket is not None:  # periods read oldest first
            ordered = [exp.Ordered(this=self._bucket(plan, scope), nulls_first=True)]
        if ordered:
            query.set("order", exp.Order(expressions=ordered))
        if shape.distinct:
            # PostgreSQL sorts a DISTINCT result only by what it selects; grouped rows
            # are distinct already (one per group, or one row), so DISTINCT goes where it
            # would clash
            selected = {_key(e.unalias()) for e in shape.projections}
            if all(_key(o.this) in selected for o in ordered):
                query.set("distinct", exp.Distinct())
        if plan.limit is not None:
            query.set("limit", exp.Limit(expression=exp.Literal.number(max(0, int(plan.limit)))))
        return query

    def _bucket(self, plan: QueryPlan, scope: _Scope) -> exp.Expression | None:
        if plan.bucket is None:
            return None
        return truncate(scope.column(plan.bucket.column), plan.bucket.grain, self.dialect)

    def _table(self, name: str, scope: _Scope) -> exp.Table:
        alias = scope.aliases[name]
        table = exp.Table(this=identifier(name, self.dialect))
        owner = self._owner(name)
        if owner:
            table.set("db", identifier(owner, self.dialect))
        if alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=False)))
        return table

    def _owner(self, name: str) -> str:
        """The schema (PostgreSQL) or database (MySQL) to qualify a table with: none for
        PostgreSQL's public schema or the connection's own MySQL database, which
        unqualified names reach anyway."""
        info = self.schema.table(name)
        owner = info.schema_name if info else ""
        if not owner or self.dialect == "sqlite":
            return ""
        if self.dialect == "postgres":
            return "" if owner == "public" else owner
        return "" if owner == self.schema.database else owner

    # -- select list and grouping -------------------------------------------------------

    def _projections(self, plan: QueryPlan, scope: _Scope) -> _Shape:
        selections = list(plan.select)
        if not selections and plan.group_by:
            selections = [Selection(column=key) for key in plan.group_by]
        if not selections:
            table = self.schema.table(scope.tree.main)
            assert table is not None  # join_path checked it
            selections = [Selection(column=ColumnRef(table.name, c.name)) for c in table.columns]

        projections: list[exp.Expression] = []
        plain: list[exp.Expression] = []
        names: set[str] = set()
        for selection in selections:
            expression, name, default = self._selection(selection, scope)
            if not selection.aggregated:
                plain.append(expression.copy())
            if (
                name.lower() in names
                and selection.column
                and not selection.aggregated
                and not selection.alias
            ):
                name = f"{selection.column.table}_{selection.column.column}"
            base, n = name, 2
            while name.lower() in names:
                name, n = f"{base}_{n}", n + 1
            names.add(name.lower())
            if name != default:
                expression = exp.Alias(this=expression, alias=identifier(name, self.dialect))
            projections.append(expression)

        aggregated = len(plain) < len(selections)
        ordered_by_aggregate = any(_aggregated_ordering(o) for o in plan.order_by)
        grouped = bool(plan.group_by or plan.bucket) or bool(
            plain and (aggregated or plan.having or ordered_by_aggregate)
        )
        distinct = plan.distinct
        if distinct and not grouped and plan.order_by:
            # PostgreSQL orders a DISTINCT result only by selected expressions: ordering
            # by another column becomes grouping by the selection, ordered by that
            # column's lowest (ascending) or highest (descending) value per group.
            selected = {_key(e) for e in plain}
            if any(
                not _aggregated_ordering(o)
                and _key(self._ordering_target(o, scope)) not in selected
                for o in plan.order_by
            ):
                grouped, distinct = True, False
        keys: dict[str, exp.Expression] = {}
        bucket = self._bucket(plan, scope)
        if bucket is not None:  # "by month": the period comes first and is grouped
            name = identifier(bucket_name(plan.bucket.grain), self.dialect)  # type: ignore[union-attr]
            projections.insert(0, exp.Alias(this=bucket, alias=name))
            keys[_key(bucket)] = bucket.copy()
        if grouped:
            for key in [scope.column(k) for k in plan.group_by] + plain:
                keys.setdefault(_key(key), key)
        return _Shape(projections, keys, distinct, one_row=aggregated and not plain and not keys)

    def _ordering_target(self, ordering: Ordering, scope: _Scope) -> exp.Expression:
        if ordering.expression is not None:
            return scope.expression(ordering.expression)
        if ordering.aggregate is not None:
            return self.aggregate(ordering.aggregate, ordering.column, False, scope)
        if ordering.column is not None:
            return scope.column(ordering.column)
        raise Unresolved("an ordering names nothing to order by")

    def _selection(self, selection: Selection, scope: _Scope) -> tuple[exp.Expression, str, str]:
        """(expression, output name, the name the database gives it unaliased)."""
        if selection.expression is not None:
            return scope.expression(selection.expression), selection.alias or "value", ""
        if selection.column is None:
            raise Unresolved("a selection names neither a column nor an expression")
        ref = selection.column
        if selection.aggregate is None:
            return scope.column(ref), selection.alias or ref.column, ref.column
        expression = self.aggregate(selection.aggregate, ref, selection.distinct, scope)
        if ref.star:
            name = selection.aggregate.value
        else:
            name = f"{selection.aggregate.value}_{ref.column}"
        return expression, selection.alias or name, ""

    def aggregate(
        self, aggregate: Aggregate, ref: ColumnRef | None, distinct: bool, scope: _Scope
    ) -> exp.Expression:
        if ref is None or ref.star:
            if aggregate is not Aggregate.COUNT:
                raise Unresolved(f"{aggregate.value} needs a column")
            return exp.Count(this=exp.Star())
        column: exp.Expression = scope.column(ref)
        if distinct:
            column = exp.Distinct(expressions=[column])
        return _AGGREGATES[aggregate](this=column)

    # -- ordering -----------------------------------------------------------------------

    def _ordering(self, ordering: Ordering, scope: _Scope, shape: _Shape) -> exp.Ordered:
        target = self._ordering_target(ordering, scope)
        if shape.keys and not _aggregated_ordering(ordering) and _key(target) not in shape.keys:
            # a plain column that is not a group key: its lowest or highest value per group
            # (grouping by it would split the groups the question asked for)
            target = (exp.Max if ordering.descending else exp.Min)(this=target)
        return exp.Ordered(
            this=target, desc=ordering.descending, nulls_first=not ordering.descending
        )

    # -- conditions ---------------------------------------------------------------------

    def condition(self, condition: Condition, scope: _Scope) -> exp.Expression:
        op = condition.op
        has_operand = bool(condition.values or condition.subquery) or op in (
            Op.IS_NULL,
            Op.IS_NOT_NULL,
        )
        kind: ColumnKind | None = None
        if condition.expression is not None:
            left = scope.expression(condition.expression)
            if not has_operand:  # the condition is the whole segment
                return exp.Not(this=exp.Paren(this=left)) if op in _NEGATIVE else left
        elif condition.aggregate is not None:
            left = self.aggregate(condition.aggregate, condition.column, condition.distinct, scope)
            if condition.aggregate is Aggregate.COUNT:
                kind = ColumnKind.INTEGER
            elif condition.aggregate in (Aggregate.SUM, Aggregate.AVG):
                kind = ColumnKind.NUMBER
            else:
                kind = self._kind(condition.column)
        elif condition.column is not None:
            left = scope.column(condition.column)
            kind = self._kind(condition.column)
        else:
            raise Unresolved("a condition names no column")

        if op in _COMPARISONS:
            right = (
                exp.Subquery(this=self.query(condition.subquery))
                if condition.subquery is not None
                else self.literal(self._one(condition), kind)
            )
            return _COMPARISONS[op](this=left, expression=right)
        if op in (Op.LIKE, Op.NOT_LIKE):
            like = self._like(left, self._one(condition), kind)
            return exp.Not(this=like) if op is Op.NOT_LIKE else like
        if op in (Op.IN, Op.NOT_IN):
            if condition.subquery is not None:
                inner = self.query(condition.subquery)
                if self.dialect == "mysql" and condition.subquery.limit is not None:
                    # MySQL/MariaDB refuse LIMIT inside IN (…); a derived table is fine
                    inner = exp.Select(expressions=[exp.Star()]).from_(
                        exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("s"))),
                        copy=False,
                    )
                member = exp.In(this=left, query=exp.Subquery(this=inner))
            elif condition.values:
                member = exp.In(
                    this=left, expressions=[self.literal(v, kind) for v in condition.values]
                )
            else:
                raise Unresolved(f"{op.value} needs values or a subquery")
            return exp.Not(this=member) if op is Op.NOT_IN else member
        if op is Op.BETWEEN:
            if len(condition.values) != 2:
                raise Unresolved("between needs two values")
            low, high = condition.values
            return exp.Between(
                this=left, low=self.literal(low, kind), high=self.literal(high, kind)
            )
        if op is Op.IS_NULL:
            return exp.Is(this=left, expression=exp.Null())
        if op is Op.IS_NOT_NULL:
            return exp.Not(this=exp.Is(this=left, expression=exp.Null()))
        raise Unresolved(f"unsupported operator {op.value}")

    @staticmethod
    def _one(condition: Condition) -> Value:
        if not condition.values:
            raise Unresolved(f"{condition.op.value} needs a value")
        return condition.values[0]

    def _like(self, left: exp.Expression, value: Value, kind: ColumnKind | None) -> exp.Expression:
        text = _text(value)
        for special in (_LIKE_ESCAPE, "%", "_"):
            text = text.replace(special, _LIKE_ESCAPE + special)
        if kind is not None and kind is not ColumnKind.TEXT:
            # containment on a number or a date means on its text: PostgreSQL has no
            # LIKE for non-text types.
            left = exp.Cast(
                this=left, to=exp.DataType.build("text" if self.dialect != "mysql" else "char")
            )
        pattern = exp.Literal.string(f"%{text}%")
        like_type = exp.ILike if self.dialect == "postgres" else exp.Like
        return exp.Escape(
            this=like_type(this=left, expression=pattern),
            expression=exp.Literal.string(_LIKE_ESCAPE),
        )

    # -- values ---------------------------------------------------------------------------

    def _kind(self, ref: ColumnRef | None) -> ColumnKind | None:
        if ref is None or ref.star:
            return None
        column = self.schema.column(ref)
        return column.kind if column else None

    def literal(self, value: Value, kind: ColumnKind | None) -> exp.Expression:
        """`value` as the column it meets needs it: a string for text, a number for
        numbers, ISO text for dates (each dialect converts it to the column's type)."""
        if kind is ColumnKind.TEXT:
            return exp.Literal.string(_text(value))
        if kind is not None and kind.numeric:
            if isinstance(value, bool):
                return exp.Literal.number(int(value))
            if isinstance(value, (int, float, decimal.Decimal)):
                return _number(value)
            if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
                return exp.Literal.number(value.strip())
            return exp.Literal.string(_text(value))
        if kind is ColumnKind.DATE and isinstance(value, dt.datetime) and value.time() == dt.time():
            return exp.Literal.string(value.date().isoformat())
        if isinstance(value, bool):
            return exp.Boolean(this=value)
        if isinstance(value, (int, float, decimal.Decimal)):
            return _number(value)
        return exp.Literal.string(_text(value))


def _number(value: float | decimal.Decimal) -> exp.Expression:
    if not math.isfinite(value):
        raise Unresolved(f"{value} is not a number a database can compare with")
    literal = exp.Literal.number(abs(value))
    # a negative number is a negation in SQL's grammar; sqlglot renders it as -5
    return exp.Neg(this=literal) if value < 0 else literal


def _all(*conditions: exp.Expression) -> exp.Expression:
    return exp.and_(*conditions, copy=False)


def _any(*conditions: exp.Expression) -> exp.Expression:
    return exp.or_(*conditions, copy=False)


def _key(expression: exp.Expression) -> str:
    """What makes two select / group / order expressions the same, cheaply for columns."""
    if isinstance(expression, exp.Column):
        return f"{expression.table}.{expression.name}"
    return expression.sql()


def _aggregated_ordering(ordering: Ordering) -> bool:
    return ordering.aggregate is not None or bool(
        ordering.expression and ordering.expression.aggregated
    )


def _on_aggregate(condition: Condition) -> bool:
    return condition.aggregate is not None or bool(
        condition.expression and condition.expression.aggregated
    )
