"""Cues → skeleton → plan.

The question is read once into positioned facts — schema mentions, values, numbers,
dates, glossary terms and cue words — and each column mention is given one role by the
cues around it: aggregated ("average age"), counted ("how many"), grouped ("for each
city"), ordered ("sorted by"), the key of a superlative ("the highest price"), compared
("price above 20"), or else selected. Tables only mentioned become the counted entity,
the grouped entity ("the number of orders for each customer"), a HAVING on a count
("customers with more than 3 orders") or a NOT IN ("customers without orders").
"""

from __future__ import annotations

import datetime as dt

from servers.parser.domain import (
    Aggregate,
    ColumnRef,
    Condition,
    Op,
    Ordering,
    QueryKind,
    QueryPlan,
    Selection,
    SetOperator,
    Understanding,
    Unresolved,
)
from servers.parser.language import fanout, measures
from servers.parser.language import lexicon as lx
from servers.parser.language.conditions import (
    date_window,
    flag_conditions,
    negations,
    number_conditions,
    presence_conditions,
    value_conditions,
    versus_average,
)
from servers.parser.language.describe import describe_request
from servers.parser.language.glossary import expression
from servers.parser.language.prepared import Prepared
from servers.parser.language.ranking import (
    alphabetical,
    counted_superlative,
    implied_superlative,
    most_common,
    numeric_near,
    wants_value,
)
from servers.parser.language.reading import (
    STOP_WORDS,
    Reading,
    count_cue,
    main_table,
    numeric,
    order_cue,
    orders_by_count,
    read,
    suggestions,
    superlative_before,
    unknown_head,
    unresolved_words,
    wants_descending,
)
from servers.parser.language.roles import (
    Draft,
    Role,
    assign,
    column_for_words,
    grouped_after,
    link_reference,
    reference,
)


def understand(question: str, prepared: Prepared, *, now: dt.datetime) -> Understanding:
    reading = read(question, prepared, now)
    draft = Draft()
    described = describe_request(reading, prepared)
    if described is not None:
        return described
    main = _who(reading, prepared, main_table(reading, prepared))
    head = unknown_head(reading)
    if head is not None:
        raise Unresolved(f'"{head}" names no table or column', suggestions(reading, prepared, head))
    if main is None:
        raise Unresolved(unresolved_words(reading) or question, suggestions(reading, prepared))
    _glossary(question, reading, prepared, draft)
    roles = assign(reading, prepared, draft, main)
    value_conditions(reading, prepared, draft, main, roles)
    flag_conditions(reading, prepared, draft, roles)
    presence_conditions(reading, prepared, draft, main, roles)
    number_conditions(reading, prepared, draft, main, roles)
    negations(reading, prepared, draft, main, roles)
    date_window(reading, prepared, draft, main, roles)
    measures.apply(reading, prepared, draft, main, roles)
    counted_superlative(reading, prepared, draft, main, roles)
    most_common(reading, draft, roles)
    versus_average(reading, prepared, draft, main, roles)
    finish(reading, prepared, draft, main, roles)
    measures.shares(reading, prepared, draft, main)
    measures.bucket_finish(draft, main, prepared)
    measures.named_groups(draft, main)
    plan = QueryPlan(
        select=measures.grouped_first(draft, reading.words),
        where=tuple(draft.where),
        where_any=draft.where_any,
        group_by=tuple(dict.fromkeys(draft.group_by)),
        having=tuple(draft.having),
        order_by=tuple(draft.order_by),
        limit=draft.limit,
        distinct=draft.distinct,
        tables=tuple(dict.fromkeys([main, *draft.tables])),
        time_window=draft.time_window,
        set_operation=draft.set_operation,
        bucket=draft.bucket,
    )
    fanout.refuse_fan_out(plan, reading, prepared)
    plan = fanout.distinct_rows_counted(plan, prepared)
    plan = fanout.listed_once(plan, prepared)
    if draft.intersect is not None and any(sel.aggregated for sel in plan.select):
        plan = _both_as_subqueries(plan, draft.intersect, prepared, main)
    if (
        draft.intersect is not None
        and plan.set_operation is None
        and not _has_both_subqueries(plan)
    ):
        second = QueryPlan(
            select=plan.select,
            where=tuple(c for c in plan.where if c.column != draft.intersect.column)
            + (draft.intersect,),
            tables=plan.tables,
        )
        plan = QueryPlan(**{**plan.__dict__, "set_operation": (SetOperator.INTERSECT, second)})
    confidence = min(reading.scores) if reading.scores else 0.5
    return Understanding(
        kind=_kind(plan), plan=plan, confidence=round(confidence, 2), notes=reading.notes
    )


def finish(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    words = reading.words
    distinct = any(w in lx.DISTINCT_WORDS for w in words)
    count_at = count_cue(reading)
    descending = wants_descending(reading)
    for role in roles:
        position = role.mention.start
        if role.kind == "table":
            if role.table != main and not _is_grouped_table(reading, role, main):
                draft.tables.append(role.table)
                name = prepared.name_columns.get(role.table)
                if name is not None and _listed_with_selection(reading, roles, role):
                    draft.select.append((position, Selection(name)))
            if _is_grouped_table(reading, role, main):
                draft.group_entity = role.table
            continue
        column = role.column
        if column is None:
            continue
        if role.kind == "agg":
            for aggregate in role.aggregates:
                draft.select.append((position, Selection(column, aggregate)))
        elif role.kind == "count":
            by_meaning = all(c.how == "meaning" for c in role.mention.candidates)
            # "how many points did Ari score": a measure stored per row is summed
            measure = column in _measures(prepared, [column.table]) and not (
                prepared.schema.column(column).kind.temporal
            )
            if (
                (by_meaning or measure)
                and numeric(prepared, column)
                and reading.words[:2] == ["how", "many"]
            ):
                # "how many people …" read as a population column: the people it counts
                draft.select.append((position, Selection(column, Aggregate.SUM)))
            else:
                draft.select.append((position, Selection(column, Aggregate.COUNT, distinct=True)))
            count_at = None
        elif role.kind == "group":
            draft.group_by.append(column)
            draft.select.append((position, Selection(column)))
        elif role.kind == "order":
            aggregate = role.aggregates[0] if role.aggregates else None
            # "the top 2 players by points": the highest first
            top = "top" in words[: role.mention.start] and not any(
                w in lx.ASCENDING_WORDS for w in words
            )
            draft.order_by.append(
                Ordering(
                    column, top or wants_descending(reading, role.mention.start - 4), aggregate
                )
            )
        elif role.kind == "superlative":
            sup = superlative_before(words, position) or "most"
            if wants_value(reading, roles, role):
                aggregate = Aggregate.MAX if lx.SUPERLATIVES[sup][0] else Aggregate.MIN
                draft.select.append((position, Selection(column, aggregate)))
            elif (
                column.table != main
                and column in _measures(prepared, [column.table])
                and reference(prepared, column.table, main) is not None
            ):
                # "the club that scored the most goals": goals kept per match, summed per club
                draft.order_by.append(Ordering(column, lx.SUPERLATIVES[sup][0], Aggregate.SUM))
                draft.limit = draft.limit or 1
                draft.group_entity = draft.group_entity or main
            else:
                draft.order_by.append(Ordering(column, lx.SUPERLATIVES[sup][0]))
                draft.limit = draft.limit or 1
        elif role.kind == "select":
            draft.select.append((position, Selection(column)))
    implied_superlative(reading, prepared, draft, main, roles)
    if count_at is not None:
        counted = ColumnRef(main, "*")
        info = prepared.schema.table(main)
        near_count = reading.words[count_at[0] : count_at[1] + 3]
        if (
            any(w in lx.DISTINCT_WORDS for w in near_count)
            and info is not None
            and len(info.primary_key) == 1
        ):
            # "how many different products were ordered": distinct keys over the join
            counted = ColumnRef(main, info.primary_key[0])
        amount = _amount_counted(reading, prepared, main, count_at)
        if amount is not None:
            # "how many people live in X" where people are a number stored per row
            draft.select.append((count_at[0], Selection(amount, Aggregate.SUM)))
        else:
            draft.select.append(
                (count_at[0], Selection(counted, Aggregate.COUNT, distinct=not counted.star))
            )
    _unplaced_aggregate(reading, prepared, draft, main, roles)
    if draft.group_entity and not _per_own_row(draft, roles, main):
        _group_by_entity(prepared, draft, draft.group_entity)
    everything = any(w in ("information", "info", "details", "everything") for w in words) or (
        reading.has("all", "columns") is not None or reading.has("all", "data") is not None
    )
    if not draft.select and not everything:
        # "where is …" asks for a place, "when …" for a time, else the row's name; "all
        # information about …" asks for every column
        asked = _asked_by_wh_word(reading, prepared, main)
        name = asked or prepared.name_columns.get(main)
        if name is not None:
            draft.select.append((0, Selection(name)))
    if distinct and not any(sel.aggregated for _, sel in draft.select):
        draft.distinct = True
    if draft.order_by and not any(o.column or o.aggregate or o.expression for o in draft.order_by):
        draft.order_by.clear()
    if draft.order_by and descending and all(not o.descending for o in draft.order_by):
        draft.order_by = [
            Ordering(o.column, True, o.aggregate, o.expression) for o in draft.order_by
        ]
    alphabetical(reading, draft)
    counted_order = orders_by_count(reading)
    if counted_order is not None and not any(o.aggregate for o in draft.order_by):
        ranked = any(w in ("top", "most", "highest", "largest", "greatest") for w in words)
        draft.order_by = [Ordering(None, descending or ranked, Aggregate.COUNT)]
        # "customers by number of orders": rows of another table counted per customer
        counted = next(
            (
                r.table
                for r in roles
                if r.kind == "table" and counted_order < r.mention.start <= counted_order + 3
            ),
            None,
        )
        if counted is not None and counted != main and not draft.group_by:
            draft.tables.append(counted)
            _group_by_entity(prepared, draft, main)
    _dedupe(draft)
    if (draft.having or any(o.aggregate for o in draft.order_by)) and not draft.group_by:
        plain = [sel.column for _, sel in draft.select if sel.column and not sel.aggregated]
        if plain:
            draft.group_by.extend(plain)
        else:
            _group_by_entity(prepared, draft, main)
    if (
        not draft.order_by
        and order_cue(reading) is not None
        or not draft.order_by
        and any(w in lx.DESCENDING_WORDS or w in lx.ASCENDING_WORDS for w in words)
    ):
        plain = [
            sel
            for _, sel in sorted(draft.select, key=lambda item: item[0])
            if sel.column and not sel.column.star
        ]
        if plain:
            draft.order_by.append(Ordering(plain[0].column, descending, plain[0].aggregate))


_MEASURE_AGGREGATES = frozenset({"average", "mean", "avg", "total", "sum", "maximum", "minimum"})
_PHRASE_FILLERS = frozenset({"the", "a", "an", "of", "all"})


def _unplaced_aggregate(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "the average penalty paid on loans": an aggregate whose noun no name links is
    placed on the numeric column nearest in meaning among the tables in play — or the
    question is refused; the aggregate is never dropped."""
    if (
        any(sel.aggregated for _, sel in draft.select)
        or draft.having
        or any(o.aggregate for o in draft.order_by)
        or any(c.subquery is not None for c in draft.where)
        or count_cue(reading) is not None
    ):
        return
    words = reading.words
    covered = {i for m in reading.mentions for i in range(m.start, m.end)}
    covered |= {i for v in reading.values for i in range(v.start, v.end)}
    for i, word in enumerate(words):
        if word not in _MEASURE_AGGREGATES or i in covered:
            continue
        j = i + 1
        while j < len(words) and words[j] in _PHRASE_FILLERS:
            j += 1
        phrase: list[str] = []
        while (
            j < len(words)
            and j not in covered
            and len(phrase) < 2
            and words[j] not in STOP_WORDS
            and words[j] not in lx.CUE_WORDS
            and not reading.tokens[j].is_number
        ):
            phrase.append(words[j])
            j += 1
        if not phrase or phrase[0] in ("number", "count", "amount"):
            continue
        tables = list(dict.fromkeys([main, *(r.table for r in roles)]))
        column = _measure_by_meaning(prepared, " ".join(phrase), tables)
        said = f"{word} {' '.join(phrase)}"
        if column is None:
            raise Unresolved(
                f'"{said}" names no numeric column',
                [str(ref) for ref in _measures(prepared, tables)][:5],
            )
        draft.select.append((i, Selection(column, lx.AGGREGATE_WORDS[word])))
        reading.notes.append(f'"{said}" read as {lx.AGGREGATE_WORDS[word].value} of {column}')
        return


def _measures(prepared: Prepared, tables: list[str]) -> list[ColumnRef]:
    """Numeric columns of `tables` that measure something: no keys, no references."""
    found = []
    for table in tables:
        info = prepared.schema.table(table)
        for column in info.columns if info else ():
            if (
                column.kind.numeric
                and not column.primary_key
                and not any(column.name in fk.columns for fk in info.foreign_keys)
                and "id" not in prepared.index.column_words.get(ColumnRef(table, column.name), ())
            ):
                found.append(ColumnRef(table, column.name))
    return found


def _measure_by_meaning(prepared: Prepared, phrase: str, tables: list[str]) -> ColumnRef | None:
    """The measure nearest in meaning (at least 0.3), or the only measure the tables have."""
    from servers.parser.language.synonyms import similarity

    measures = _measures(prepared, tables)
    scored = [
        (similarity(phrase, " ".join(prepared.index.column_words[ref])), ref) for ref in measures
    ]
    best = max(scored, key=lambda item: item[0], default=None)
    if best is not None and best[0] >= 0.3:
        return best[1]
    main_measures = [ref for ref in measures if ref.table == tables[0]]
    return main_measures[0] if len(main_measures) == 1 else None


def _per_own_row(draft: Draft, roles: list[Role], main: str) -> bool:
    """ "the average fine per loan" on the loan table: each loan is one row, so "per
    loan" groups nothing — unless what is measured lives elsewhere ("revenue per store":
    a glossary metric over the orders)."""
    measured = {
        table
        for _, sel in draft.select
        for table in (
            *(sel.expression.tables if sel.expression else ()),
            *((sel.column.table,) if sel.column else ()),
        )
    }
    return (
        draft.group_entity == main and all(r.table == main for r in roles) and measured <= {main}
    )


_PERSON_WORDS = frozenset(
    "first last surname forename gender sex birth bear age salary nationality email phone".split()
)


def _personal(prepared: Prepared, table: str) -> bool:
    """A table whose rows are people, read from its columns (first name, gender, birth…)."""
    return any(
        ref.table == table and _PERSON_WORDS & set(forms)
        for ref, forms in prepared.index.column_words.items()
    )


def _who(reading: Reading, prepared: Prepared, main: str | None) -> str | None:
    """ "who works in Research": the answer is people — a table of people one foreign key
    from the one the question named, or the only one the schema has."""
    if reading.words[:1] != ["who"] or main is not None and _personal(prepared, main):
        return main
    if any(_personal(prepared, c.table) for m in reading.mentions for c in m.tables):
        return main  # "who … the oldest actor": the people are named
    people = [t.name for t in prepared.schema.tables if _personal(prepared, t.name)]
    if main is not None:
        near = [t for t in people if reference(prepared, t, main) or reference(prepared, main, t)]
        # or through a table holding both keys ("who was prescribed Ventolin")
        near = near or [t for t in people if link_reference(prepared, t, main)[1] is not None]
        return near[0] if len(near) == 1 else main
    return people[0] if len(people) == 1 else main


def _amount_counted(
    reading: Reading, prepared: Prepared, main: str, count_at: tuple[int, int]
) -> ColumnRef | None:
    """The word counted names no table but is near in meaning to a numeric column of the
    main table ("how many people" and a population column): that column is summed."""
    at = count_at[1]
    if reading.words[count_at[0]] != "how" or at >= len(reading.tokens):
        return None
    if any(m.start <= at < m.end for m in reading.mentions) or any(
        v.start <= at < v.end for v in reading.values
    ):
        return None
    return numeric_near(prepared, reading.words[at], [main], threshold=0.4)


def _both_as_subqueries(
    plan: QueryPlan, second: Condition, prepared: Prepared, main: str
) -> QueryPlan:
    """ "how many countries speak both A and B": a count cannot sit over an INTERSECT, so
    each value becomes its own IN over the table holding it."""
    first = next((c for c in plan.where if c.column == second.column and c.op is Op.EQ), None)
    holder = second.column.table if second.column else ""
    link = reference(prepared, holder, main)
    if first is None or link is None:
        return plan
    fk, key = link
    rest = tuple(c for c in plan.where if c is not first)
    ins = tuple(
        Condition(
            ColumnRef(main, key),
            Op.IN,
            subquery=QueryPlan(
                select=(Selection(ColumnRef(holder, fk)),), where=(c,), tables=(holder,)
            ),
            source=c.source,
        )
        for c in (first, second)
    )
    tables = tuple(t for t in plan.tables if t != holder) or (main,)
    return QueryPlan(**{**plan.__dict__, "where": rest + ins, "tables": tables})


def _has_both_subqueries(plan: QueryPlan) -> bool:
    return sum(1 for c in plan.where if c.op is Op.IN and c.subquery is not None) >= 2


def _asked_by_wh_word(reading: Reading, prepared: Prepared, main: str) -> ColumnRef | None:
    first = reading.words[0] if reading.words else ""
    if first == "where":
        return column_for_words(prepared, lx.PLACE_WORDS, [main], numeric_only=False)
    if first == "when":
        found = next((ref for ref in prepared.temporal if ref.table == main), None)
        return found or column_for_words(prepared, ("date", "year", "time"), [main])
    return None


def _dedupe(draft: Draft) -> None:
    """One output per column and aggregate; a column also aggregated is not selected bare
    (unless it is a grouping key)."""
    seen: set[tuple] = set()
    aggregated = {sel.column for _, sel in draft.select if sel.aggregated and sel.column}
    keep: list[tuple[int, Selection]] = []
    for position, sel in sorted(draft.select, key=lambda item: item[0]):
        key = (sel.column, sel.aggregate, sel.distinct, sel.expression)
        if key in seen:
            continue
        if not sel.aggregated and sel.column in aggregated and sel.column not in draft.group_by:
            continue
        seen.add(key)
        keep.append((position, sel))
    draft.select = keep


def _listed_with_selection(reading: Reading, roles: list[Role], role: Role) -> bool:
    """ "the names of employees and the departments they work in": a table listed after "and"
    next to selected columns is selected too (by its name column)."""
    before = reading.words[max(0, role.mention.start - 3) : role.mention.start]
    if "and" not in before:
        return False
    return any(r.kind == "select" and r.mention.start < role.mention.start for r in roles)


def _is_grouped_table(reading: Reading, role: Role, main: str) -> bool:
    """ "for each customer", "per department", "total salary by department"."""
    return grouped_after(reading, role.mention.start)


def _group_by_entity(prepared: Prepared, draft: Draft, table: str) -> None:
    info = prepared.schema.table(table)
    if info is None:
        return
    keys = [ColumnRef(table, c) for c in info.primary_key] or [
        ColumnRef(table, info.columns[0].name)
    ]
    plain = [sel.column for _, sel in draft.select if not sel.aggregated and sel.column]
    if not plain:
        name = prepared.name_columns.get(table)
        if name is not None:
            draft.select.insert(0, (-1, Selection(name)))
            plain = [name]
    if all(ref.table == table for ref in plain):
        draft.group_by.extend(keys + plain)
    else:
        draft.group_by.extend(plain)


def kind_of(plan: QueryPlan) -> QueryKind:
    """What a plan asks for (a follow-up's plan is built without a question of its own)."""
    return _kind(plan)


def _kind(plan: QueryPlan) -> QueryKind:
    if plan.limit is not None and plan.order_by:
        return QueryKind.TOP_N
    if (
        plan.select
        and all(sel.aggregate is Aggregate.COUNT for sel in plan.select)
        and not plan.group_by
    ):
        return QueryKind.COUNT
    if any(sel.aggregated for sel in plan.select):
        return QueryKind.AGGREGATE
    if plan.distinct:
        return QueryKind.DISTINCT
    return QueryKind.SELECT


def _glossary(question: str, reading: Reading, prepared: Prepared, draft: Draft) -> None:
    if not prepared.terms.terms:
        return
    for hit in reading.terms:
        term = hit.term
        if term.metric is not None:
            metric = term.metric
            draft.select.append(
                (
                    hit.start,
                    Selection(
                        expression=expression(metric.expression, prepared.schema, aggregated=True),
                        alias=metric.name.replace(" ", "_"),
                    ),
                )
            )
            for sql in metric.filters:
                draft.where.append(
                    Condition(
                        None, Op.EQ, expression=expression(sql, prepared.schema), source=metric.name
                    )
                )
            reading.notes.append(f'"{metric.name}" is the glossary metric {metric.expression}')
        elif term.segment is not None:
            segment = term.segment
            draft.where.append(
                Condition(
                    None,
                    Op.EQ,
                    expression=expression(segment.condition, prepared.schema),
                    source=segment.name,
                )
            )
            reading.notes.append(f'"{segment.name}" is the glossary segment {segment.condition}')


__all__ = ["kind_of", "understand"]
