"""Business phrasing applied to the plan under construction (the helpers live in
periods.py, money.py, verbs.py; fanout.py guards the finished plan). understand() calls
apply() once the conditions and the time window are known, then bucket_finish() and
named_groups() after the plan is finished, and grouped_first() for the outputs' order.

- "total sales", "sales by region", "customers by city": a money table's amount
  summed, other tables counted;
- "top 5 products by units sold", "the best selling product", "which region had the
  highest sales", "the largest order": rows or groups ranked by a measure;
- "customers who ordered … this year": the window on the event's date;
- "by month", "weekly": a TimeBucket;
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from sqlglot import exp

from servers.parser.domain import (
    Aggregate,
    ColumnRef,
    Condition,
    Expression,
    Op,
    Ordering,
    Selection,
    TimeWindow,
)
from servers.parser.language import lexicon as lx
from servers.parser.language import money, periods, verbs
from servers.parser.language.glossary import expression
from servers.parser.language.numbers import Number
from servers.parser.language.prepared import Prepared
from servers.parser.language.reading import Reading, has_aggregate_cue, superlative_before
from servers.parser.language.roles import Draft, Role


def apply(reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]) -> None:
    """Business phrasing: quantities and money summed, flags negated, rows and groups
    ranked by a measure, breakdowns, the event a time window belongs to, time grains."""
    schema, words = prepared.schema, reading.words
    _quantities(reading, prepared, draft, roles)
    _negated_flags(reading, prepared, draft, main, roles)
    for role in roles:
        # "total sales": the sum of the sales table's amount-like column
        if role.kind != "table":
            continue
        aggregate = money.sum_before(words, role.mention.start)
        if aggregate is None:
            continue
        column = money.amount_column(schema.table(role.table))
        if column is not None and money.money_table(role.table):
            draft.select.append(
                (role.mention.start, Selection(ColumnRef(role.table, column), aggregate))
            )
        elif aggregate is Aggregate.SUM and role.table == main and not draft.select:
            # "total employees": how many there are
            draft.select.append(
                (role.mention.start, Selection(ColumnRef(main, "*"), Aggregate.COUNT))
            )
    ranked = money.ranked_by(words) if draft.limit is not None else None
    if ranked is not None and not draft.order_by:
        _ranked_by(reading, prepared, draft, main, roles, ranked)
    if not draft.order_by:
        _highest_measure(reading, prepared, draft, main, roles)
    if not draft.order_by:
        _best_selling(reading, prepared, draft, main, roles)
    if not draft.order_by:
        _largest_row(reading, prepared, draft, main, roles)
    _breakdown(reading, prepared, draft, main, roles)
    _event_window(reading, prepared, draft, main, roles)
    _window_into_exclusion(draft, prepared)
    if reading.grain is not None:
        metric_time = next(
            (h.term.metric.time_column for h in reading.terms if h.term.metric is not None),
            "",
        )
        named = [r.column for r in roles if r.column and r.kind == "select"]
        column = periods.bucket_column(
            schema, metric_time, named, [main, *[r.table for r in roles if r.kind == "table"]]
        )
        draft.bucket = periods.bucket(reading.grain, column)
        for role in roles:
            if role.column == column and role.kind == "select":
                role.kind = "used"


def _quantities(reading: Reading, prepared: Prepared, draft: Draft, roles: list[Role]) -> None:
    """ "how many units were sold", "units sold per rep": quantities add up.

    A verb that found a date column by its name ("sold" → sold_on) is the verb, unless
    the question asks when; a quantity counted ("how many units") or broken down ("per
    rep") is summed, and the table after "per" / "each" / "by" is the group."""
    words, schema = reading.words, prepared.schema
    asks_when = any(w in ("when", "date", "dates", "day") for w in words)
    for role in roles:
        token = reading.tokens[role.mention.start]
        if (
            role.column is not None
            and role.kind in ("select", "group")
            and role.mention.end - role.mention.start == 1
            and verbs.is_verb(token)
            and periods.is_temporal(schema, role.column)
            and not asks_when
        ):
            role.kind = "used"  # "sold" is what happened, not a date asked for
    grouped = [
        r
        for r in roles
        if r.kind == "table"
        and r.mention.start
        and words[r.mention.start - 1] in ("per", "each", "by", "every")
    ]
    for role in roles:
        if role.column is None or not money.is_quantity(schema, role.column):
            continue
        if role.kind == "count":
            role.kind, role.aggregates = "agg", (Aggregate.SUM,)
            reading.count_at = None  # the count cue asked for this sum, not for rows
        elif role.kind == "select" and grouped and not has_aggregate_cue(reading):
            role.kind, role.aggregates = "agg", (Aggregate.SUM,)
        else:
            continue
        if grouped:
            draft.group_entity = draft.group_entity or grouped[0].table


def _negated_flags(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "unpaid invoices", "inactive accounts", "unshipped orders": a yes/no column named
    with a negating prefix is a condition on its no value."""
    covered = {i for m in reading.mentions for i in range(m.start, m.end)}
    tables = [main, *[r.table for r in roles]]
    for i, token in enumerate(reading.tokens):
        if i in covered:
            continue
        flag = verbs.negated_flag(token.lower, prepared.flags, tables)
        if flag is not None:
            draft.where.append(
                Condition(flag, Op.EQ, (prepared.flags[flag][1],), source=token.lower)
            )
            if flag.table != main:
                draft.tables.append(flag.table)


def measured_comparison(
    reading: Reading,
    prepared: Prepared,
    draft: Draft,
    main: str,
    roles: list[Role],
    number: Number,
    op: Op,
    values: tuple,
) -> bool:
    """A comparison on a measure of each group (HAVING), when no column holds it:
    "customers who spent more than 200" (what they paid, summed), "stores with revenue
    over 200" (a glossary metric), "reps with total sales above 100" (a money table's
    amount), "cities with more than 1 active customer" (a segment's rows counted)."""
    schema, words = prepared.schema, reading.words
    anchor = number.op_start if number.op_start is not None else number.start
    keys = [r for r in roles if r.kind == "select" and r.column and r.mention.end <= anchor]
    having: Condition | None = None
    spent = money.spent_column(schema, main, words, anchor)
    if spent is not None:
        having = Condition(spent, op, values, aggregate=Aggregate.SUM, source="spent")
        draft.tables.append(spent.table)
    for hit in reading.terms:
        metric, segment = hit.term.metric, hit.term.segment
        if having is None and metric is not None and 0 <= anchor - hit.end <= 2:
            measure = expression(metric.expression, schema, aggregated=True)
            having = Condition(None, op, values, expression=measure, source=metric.name)
        elif having is None and segment is not None and 0 <= hit.start - number.end <= 1:
            counted = ColumnRef(segment.table, "*")
            having = Condition(counted, op, values, aggregate=Aggregate.COUNT, source=segment.name)
            draft.tables.append(segment.table)
    for role in roles:
        gap = anchor - role.mention.end
        if having is None and role.kind == "table" and money.money_table(role.table) and gap <= 1:
            amount = money.amount_column(schema.table(role.table))
            if amount is not None:
                ref = ColumnRef(role.table, amount)
                having = Condition(ref, op, values, aggregate=Aggregate.SUM, source=role.table)
                draft.tables.append(role.table)
    if having is None:
        return False
    draft.having.append(having)
    if not keys:
        draft.group_entity = draft.group_entity or main
    return True


def _ranked_by(
    reading: Reading,
    prepared: Prepared,
    draft: Draft,
    main: str,
    roles: list[Role],
    ranked: int,
) -> None:
    """ "top 5 products by units sold": group the products, order by the measure."""
    descending = not any(w in ("bottom", "worst") for w in reading.words[:ranked])
    for hit in reading.terms:
        if hit.term.metric is not None and hit.start >= ranked:
            selected = next(
                (sel for _, sel in draft.select if sel.expression and sel.expression.aggregated),
                None,
            )
            if selected is None or selected.expression is None:
                return
            draft.order_by.append(Ordering(None, descending, expression=selected.expression))
            _group_ranked(draft, main, roles, ranked)
            return
    for role in roles:
        # "top 3 products by price": the largest first, whatever else the words say
        if role.mention.start == ranked and role.column is not None and role.table == main:
            if role.kind == "order" and not role.aggregates:
                role.kind = "used"
                draft.order_by.append(Ordering(role.column, descending))
                return
    for role in roles:
        # "top 2 accounts by invoiced amount": an amount of the rows that refer to them
        if role.mention.start < ranked or role.column is None or role.table == main:
            continue
        info = prepared.schema.table(role.table)
        if (
            info is not None
            and money.is_amount(prepared.schema, role.column)
            and any(fk.referenced_table == main for fk in info.foreign_keys)
        ):
            role.kind = "used"
            draft.order_by.append(Ordering(role.column, descending, Aggregate.SUM))
            draft.select.append((role.mention.start, Selection(role.column, Aggregate.SUM)))
            _group_ranked(draft, main, roles, ranked)
            return
    for role in roles:
        if role.mention.start < ranked or role.kind != "table":
            continue
        if role.table == main and not any(
            r.column and r.kind == "select" and r.mention.end < ranked for r in roles
        ):
            continue  # "top 5 sales by …" ranks the sales themselves
        column = money.amount_column(prepared.schema.table(role.table))
        if column is not None:
            ref = ColumnRef(role.table, column)
            draft.order_by.append(Ordering(ref, descending, Aggregate.SUM))
            draft.select.append((role.mention.start, Selection(ref, Aggregate.SUM)))
            _group_ranked(draft, main, roles, ranked)
            return


def _group_ranked(draft: Draft, main: str, roles: list[Role], ranked: int) -> None:
    """ "top 3 cities by revenue" ranks the cities (a column); "top 3 customers by
    revenue" the customers (a table, by its key)."""
    keys = [r.column for r in roles if r.column and r.kind == "select" and r.mention.end < ranked]
    if keys:
        draft.group_by.extend(keys)
    else:
        draft.group_entity = draft.group_entity or main


def _highest_measure(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "which region had the highest revenue", "the customer with the lowest sales":
    groups ordered by the measure, the first kept."""
    words = reading.words
    for hit in reading.terms:
        sup = superlative_before(words, hit.start) if hit.term.metric is not None else None
        if sup is None or sup in ("top", "bottom"):
            continue
        measure = next(
            (sel.expression for _, sel in draft.select if sel.expression and sel.aggregated),
            None,
        )
        if measure is not None:
            draft.order_by.append(Ordering(None, lx.SUPERLATIVES[sup][0], expression=measure))
            draft.limit = draft.limit or 1
            # "which city …": the selected columns are the groups; else the main entity
            keys = [r.column for r in roles if r.kind == "select" and r.column]
            if keys:
                draft.group_by.extend(keys)
            else:
                draft.group_entity = draft.group_entity or main
            return
    for role in roles:
        if role.kind != "table" or not money.money_table(role.table):
            continue
        if role.table == main and not any(r.kind == "select" and r.column for r in roles):
            continue  # "the largest sale" is one row (see _largest_row)
        sup = superlative_before(words, role.mention.start)
        column = money.amount_column(prepared.schema.table(role.table))
        if sup is None or sup in lx.COUNTING_SUPERLATIVES or column is None:
            continue
        ref = ColumnRef(role.table, column)
        if not any(sel.column == ref and sel.aggregated for _, sel in draft.select):
            draft.select.append((role.mention.start, Selection(ref, Aggregate.SUM)))
        draft.order_by.append(Ordering(ref, lx.SUPERLATIVES[sup][0], Aggregate.SUM))
        draft.limit = draft.limit or 1
        return


def _best_selling(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "the best selling product", "top 5 best-selling products", "most popular
    product": rows grouped by their key, ordered by the quantity sold (or the number of
    rows referring to them), the first one unless a number or a plural asks for more."""
    span = money.popular_at(reading.words)
    if span is None:
        return
    start, at = span
    role = next((r for r in roles if r.kind == "table" and r.mention.start >= at), None)
    if role is None or role.table != main:
        return
    named = [verbs.verb_table(prepared.schema, t) for t in reading.tokens[start:at]]
    found = money.popularity(prepared.schema, main, next((v for v in named if v), None))
    if found is None:
        return
    column, aggregate = found
    draft.order_by.append(Ordering(column, True, aggregate))
    draft.tables.append(column.table)
    draft.group_entity = draft.group_entity or main
    plural = reading.tokens[role.mention.start].lower != reading.tokens[role.mention.start].lemma
    counted = next((n for n in reading.numbers if n.end == start and n.op is None), None)
    if counted is not None and isinstance(counted.value, int):
        draft.limit = counted.value  # "the 3 best-selling products"
    if draft.limit is None:
        draft.limit = 10 if plural else 1
    role.kind = "used"


def _largest_row(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "the largest order", "the smallest sale last month": the row with the most money
    in it, when the table has nothing the superlative names itself (a size, an area)."""
    for role in roles:
        if role.kind != "table" or role.table != main:
            continue
        sup = superlative_before(reading.words, role.mention.start)
        if sup not in _SIZE_SUPERLATIVES:
            return
        table = prepared.schema.table(main)
        if table is None or money.names_any(table, lx.SUPERLATIVES[sup][1]):
            return
        column = money.amount_column(table)
        if column is not None:
            draft.order_by.append(Ordering(ColumnRef(main, column), lx.SUPERLATIVES[sup][0]))
            draft.limit = draft.limit or 1
        return


_SIZE_SUPERLATIVES = frozenset({"largest", "biggest", "smallest", "highest", "lowest"})


def _breakdown(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "sales by region", "customers by city", "open orders by status", "invoice amount
    by plan": a table (or a glossary segment of it, or an amount of it) broken down by
    one column, nothing else asked — the sum of an amount, else a count of rows."""
    if has_aggregate_cue(reading) or draft.limit is not None:
        return  # a glossary metric is an aggregate cue; a segment only filters
    if draft.select or draft.order_by or draft.group_by or draft.having:
        return
    schema = prepared.schema
    anchors: list[tuple[int, Selection, Role | None]] = []
    for role in roles:
        if role.kind == "table" and role.table == main:
            column = money.amount_column(schema.table(main)) if money.money_table(main) else None
            measure = (
                Selection(ColumnRef(main, column), Aggregate.SUM)
                if column
                else Selection(ColumnRef(main, "*"), Aggregate.COUNT)
            )
            anchors.append((role.mention.end, measure, None))
        elif role.kind == "select" and role.column and money.is_amount(schema, role.column):
            anchors.append((role.mention.end, Selection(role.column, Aggregate.SUM), role))
    for hit in reading.terms:
        if hit.term.segment and hit.term.segment.table == main:
            anchors.append((hit.end, Selection(ColumnRef(main, "*"), Aggregate.COUNT), None))
    if not anchors:
        return
    dated = {i for d in reading.dates for i in range(d.first, d.last)}
    at, measure, measured = min(anchors, key=lambda a: a[0])
    while at in dated:
        at += 1
    later = [r for r in roles if r.mention.start >= at]
    if at >= len(reading.words) or reading.words[at] != "by" or len(later) != 1:
        return
    key = later[0]
    if key.mention.start != at + 1:
        return
    if key.kind == "select" and key.column is not None:
        key.kind = "group"  # "customers by city"
    elif key.kind == "table" and (key.table != main or measured is not None):
        # "employees by department": each department, by its name, else by its key
        info = prepared.schema.table(key.table)
        if prepared.name_columns.get(key.table) is None and info and len(info.primary_key) == 1:
            ref = ColumnRef(key.table, info.primary_key[0])
            draft.group_by.append(ref)
            draft.select.append((at + 1, Selection(ref)))
            draft.tables.append(key.table)
        else:
            draft.group_entity = key.table
    else:
        return
    if measured is not None:
        measured.kind = "used"
    draft.select.append((at - 1, measure))


def _event_window(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "customers who ordered more than 3 times this year": the window is the orders'
    date, not the customer's own, when no date column or metric was named."""
    window = draft.time_window
    if window is None or any(hit.term.metric is not None for hit in reading.terms):
        return
    if any(r.column == window.column for r in roles):
        return
    if window.column.table != main:
        # "number of orders by customer segment last month": a table the main one
        # refers to (a dimension) lent its date; the orders' own date is meant
        info = prepared.schema.table(main)
        own = periods.bucket_column(prepared.schema, "", [], [main])
        if (
            info is not None
            and own is not None
            and any(fk.referenced_table == window.column.table for fk in info.foreign_keys)
        ):
            draft.time_window = TimeWindow(own, window.start, window.end, window.expression)
        return
    named = [r.table for r in roles if r.kind == "table"] + draft.tables
    event = periods.event_table(prepared.schema, main, named)
    column = periods.bucket_column(prepared.schema, "", [], [event]) if event else None
    if column is not None:
        draft.time_window = TimeWindow(column, window.start, window.end, window.expression)


def _window_into_exclusion(draft: Draft, prepared: Prepared) -> None:
    """ "customers who have not ordered this year": the window says which orders are
    excluded (NOT IN the customers who ordered this year), it does not filter a join.
    The excluded rows may take the date from the table they refer to ("products not
    ordered in 2025": order_items joined to their orders)."""
    window = draft.time_window
    if window is None:
        return
    for k, condition in enumerate(draft.where):
        sub = condition.subquery
        if condition.op is not Op.NOT_IN or sub is None or sub.time_window is not None:
            continue
        tables = sub.referenced_tables()
        holder = prepared.schema.table(tables[0]) if tables else None
        if window.column.table not in tables:
            if holder is None or not any(
                fk.referenced_table == window.column.table for fk in holder.foreign_keys
            ):
                continue
            tables = [*tables, window.column.table]
        draft.where[k] = replace(
            condition, subquery=replace(sub, time_window=window, tables=tuple(tables))
        )
        draft.time_window = None
        draft.tables = [t for t in draft.tables if t != window.column.table]
        return


def bucket_finish(draft: Draft, main: str, prepared: Prepared) -> None:
    """ "orders per month" with nothing measured counts the rows of each period;
    "invoice amount by month" sums the amount named, "monthly sales" a money table's."""
    if draft.bucket is None or any(sel.aggregated for _, sel in draft.select):
        return
    schema = prepared.schema
    named = [
        sel.column
        for _, sel in draft.select
        if sel.column is not None and money.is_amount(schema, sel.column)
    ]
    amount = money.amount_column(schema.table(main)) if money.money_table(main) else None
    if named:  # "invoice amount by month"
        measure = Selection(named[0], Aggregate.SUM)
    elif amount:  # "monthly sales"
        measure = Selection(ColumnRef(main, amount), Aggregate.SUM)
    else:  # "orders per month"
        measure = Selection(ColumnRef(main, "*"), Aggregate.COUNT)
    draft.select = [(0, measure)]
    draft.group_by.clear()
    draft.distinct = False


_SHARE_WORDS = frozenset({"percentage", "percent", "share", "proportion", "fraction", "ratio"})
_SHARE_OPS = {
    Op.EQ: exp.EQ,
    Op.NE: exp.NEQ,
    Op.GT: exp.GT,
    Op.GE: exp.GTE,
    Op.LT: exp.LT,
    Op.LE: exp.LTE,
}


def shares(reading: Reading, prepared: Prepared, draft: Draft, main: str) -> None:
    """ "what percentage of orders were cancelled", "share of customers in London by
    month": the question's conditions become the numerator (100 × the rows that meet
    them / all rows), the window and the groups stay. Built as a sqlglot expression
    whose values are literals; nothing from the question is glued into SQL text."""
    words = reading.words
    covered = {i for m in reading.mentions for i in range(m.start, m.end)}
    at = next(
        (
            i
            for i, w in enumerate(words)
            if w in _SHARE_WORDS and i not in covered and words[i + 1 : i + 2] == ["of"]
        ),
        None,
    )
    if at is None or not any(
        m.start <= at + 4 and m.start > at and any(c.table == main for c in m.tables)
        for m in reading.mentions
    ):
        return
    simple = [
        c
        for c in draft.where
        if c.column is not None
        and not c.column.star
        and c.subquery is None
        and c.expression is None
        and c.aggregate is None
        and (c.op in _SHARE_OPS or c.op in (Op.IN, Op.NOT_IN))
        and c.values
    ]
    if not simple or draft.where_any:
        return
    parts = [_share_condition(c) for c in simple]
    hits = exp.Sum(
        this=exp.Case(
            ifs=[exp.If(this=exp.and_(*parts), true=exp.Literal.number(1))],
            default=exp.Literal.number(0),
        )
    )
    ratio = exp.Div(
        this=exp.Mul(this=exp.Literal.number("100.0"), expression=hits),
        expression=exp.Count(this=exp.Star()),
    )
    tables = tuple(dict.fromkeys(c.column.table for c in simple if c.column))
    draft.where = [c for c in draft.where if c not in simple]
    draft.select = [
        (s, sel) for s, sel in draft.select if sel.aggregated or sel.column in draft.group_by
    ]
    draft.select.append(
        (
            at,
            Selection(
                expression=Expression(ratio.sql(), tables, aggregated=True), alias="percentage"
            ),
        )
    )
    draft.order_by = [o for o in draft.order_by if o.aggregate or o.expression]
    draft.limit = None if not draft.order_by else draft.limit
    if not draft.group_by and not draft.bucket:
        _share_per(reading, prepared, draft, main)


def _share_per(reading: Reading, prepared: Prepared, draft: Draft, main: str) -> None:
    """ "percentage of orders shipped per store": one share for each store."""
    for mention in reading.mentions:
        tables = [c.table for c in mention.tables if c.table != main]
        before = reading.words[max(0, mention.start - 1) : mention.start]
        info = prepared.schema.table(tables[0]) if tables else None
        if info is None or before not in (["per"], ["each"], ["every"]) or not info.primary_key:
            continue
        keys = [ColumnRef(info.name, k) for k in info.primary_key]
        name = prepared.name_columns.get(info.name) or keys[0]
        draft.group_by.extend(dict.fromkeys([*keys, name]))
        draft.select.insert(0, (-1, Selection(name)))
        draft.tables.append(info.name)
        return


def _share_condition(condition: Condition) -> exp.Expression:
    ref = condition.column
    assert ref is not None
    column = exp.column(ref.column, table=ref.table, quoted=True)
    values = [_share_literal(v) for v in condition.values]
    if condition.op in (Op.IN, Op.NOT_IN):
        member = exp.In(this=column, expressions=values)
        return exp.Not(this=member) if condition.op is Op.NOT_IN else member
    return _SHARE_OPS[condition.op](this=column, expression=values[0])


def _share_literal(value: object) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return exp.Literal.string(value.date().isoformat())
    if isinstance(value, (dt.date, dt.datetime)):
        return exp.Literal.string(
            value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
        )
    return exp.Literal.string(str(value))


def named_groups(draft: Draft, main: str) -> None:
    """Groups of a table without a name column show its key: "top 2 accounts by amount"
    lists which accounts, not two bare sums. Only for the business hooks' own groups."""
    if draft.group_entity != main or not draft.group_by:
        return
    if any(not sel.aggregated for _, sel in draft.select):
        return
    if any(o.aggregate or o.expression for o in draft.order_by):
        draft.select.insert(0, (-1, Selection(draft.group_by[0])))


def grouped_first(draft: Draft, words: list[str]) -> tuple[Selection, ...]:
    """Outputs in the question's order, except that "X by Y" reads key first, as a
    report does: "revenue by region" is region, revenue."""
    ordered = sorted(draft.select, key=lambda item: item[0])
    if not any(sel.aggregated for _, sel in ordered):
        return tuple(sel for _, sel in ordered)
    first = [
        sel
        for position, sel in ordered
        if not sel.aggregated and 0 < position <= len(words) and words[position - 1] == "by"
    ]
    return tuple(first + [sel for _, sel in ordered if not any(sel is f for f in first)])
