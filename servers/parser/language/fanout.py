"""Joins that repeat rows ("fan-out", as semantic layers call it): which joins give a
table several rows for each of a base table's rows. A glossary metric over such a join
would be inflated, so the question is refused with the breakdowns that are safe; a
counted table joined to the rows that refer to it counts its keys once."""

from __future__ import annotations

from dataclasses import replace

from servers.contracts.glossary import Metric, Relationship
from servers.parser.domain import (
    Aggregate,
    ColumnKind,
    ColumnRef,
    QueryPlan,
    SchemaView,
    Selection,
    Unresolved,
)
from servers.parser.language.prepared import Prepared
from servers.parser.language.reading import Reading
from servers.parser.render.joins import join_path


def fan_out(
    schema: SchemaView,
    plan: QueryPlan,
    base: str,
    relationships: tuple[Relationship, ...] = (),
) -> tuple[str, str] | None:
    """(parent, child) when answering `plan` joins `base` (a metric's table, a counted
    table) to a table holding several rows for each of its rows — "revenue by category"
    over orders → order_items → products would add each order's total once per item.
    None when every join from `base` leads to at most one row (many-to-one, one-to-one)."""
    tables = plan.referenced_tables()
    if base not in tables or len(tables) < 2:
        return None
    try:
        tree = join_path(schema, tables, relationships)
    except Exception:  # noqa: BLE001 - the renderer reports unjoinable plans itself
        return None
    edges: dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...]]]] = {}
    for join in tree.joins:
        new, known = join.on[0][0].table, join.on[0][1].table
        new_cols = tuple(a.column for a, _ in join.on)
        known_cols = tuple(b.column for _, b in join.on)
        edges.setdefault(known, []).append((new, known_cols, new_cols))
        edges.setdefault(new, []).append((known, new_cols, known_cols))
    seen, queue = {base}, [base]
    while queue:
        here = queue.pop(0)
        for there, _, there_cols in edges.get(here, ()):
            if there in seen:
                continue
            if _many(schema, relationships, there, there_cols, here):
                return here, there
            seen.add(there)
            queue.append(there)
    return None


def unreachable(
    schema: SchemaView,
    plan: QueryPlan,
    metric: Metric,
    relationships: tuple[Relationship, ...] = (),
) -> str | None:
    """A table of `plan` that no foreign key (or glossary relationship) links to the
    metric's base table, if any."""
    tables = plan.referenced_tables()
    if metric.table not in tables:
        return None
    for table in tables:
        if table == metric.table:
            continue
        try:
            join_path(schema, [metric.table, table], relationships)
        except Exception:  # noqa: BLE001 - Unresolved: no path
            return table
    return None


def _many(
    schema: SchemaView,
    relationships: tuple[Relationship, ...],
    table: str,
    columns: tuple[str, ...],
    parent: str,
) -> bool:
    """Does `table` hold several rows per `parent` row through `columns`? Yes when the
    columns refer to the parent (a foreign key, or a glossary relationship from this
    side) and are not the table's whole primary key (that would be one-to-one)."""
    info = schema.table(table)
    if info is None:
        return False
    refers = any(
        fk.referenced_table == parent and tuple(fk.columns) == columns for fk in info.foreign_keys
    ) or any(
        r.from_table == table and r.to_table == parent and tuple(r.from_columns) == columns
        for r in relationships
    )
    return refers and tuple(info.primary_key) != columns


def dimensions(
    schema: SchemaView, table: str, relationships: tuple[Relationship, ...] = ()
) -> list[str]:
    """Columns a measure over `table` can be broken down by without repeating its rows:
    its own descriptive columns, then those of the tables it refers to (two steps)."""
    found: list[str] = []
    frontier, seen = [table], {table}
    for _ in range(3):
        following: list[str] = []
        for name in frontier:
            info = schema.table(name)
            if info is None:
                continue
            keys = set(info.primary_key) | {c for fk in info.foreign_keys for c in fk.columns}
            found += [
                f"{name}.{c.name}"
                for c in info.columns
                if c.name not in keys and c.kind in (ColumnKind.TEXT, ColumnKind.BOOLEAN)
            ]
            parents = [fk.referenced_table for fk in info.foreign_keys]
            parents += [r.to_table for r in relationships if r.from_table == name]
            following += [p for p in parents if p not in seen]
            seen.update(parents)
        frontier = following
    return found[:8]


def refuse_fan_out(plan: QueryPlan, reading: Reading, prepared: Prepared) -> None:
    """A glossary metric is defined per row of its table: a join that repeats those rows
    would inflate it, so the question gets a refusal with the dimensions that are safe
    rather than a wrong total (the semantic layers' "fan-out" rule)."""
    relationships = prepared.glossary.relationships if prepared.glossary else ()
    for hit in reading.terms:
        metric = hit.term.metric
        if metric is None:
            continue
        lost = unreachable(prepared.schema, plan, metric, tuple(relationships))
        if lost is not None:
            raise Unresolved(
                f"{metric.name} is measured on {metric.table}, and nothing links {lost} to it",
                dimensions(prepared.schema, metric.table, tuple(relationships)),
            )
        if "distinct" in metric.expression.lower():
            continue  # a measure of distinct values is immune to repeated rows
        found = fan_out(prepared.schema, plan, metric.table, tuple(relationships))
        if found is None:
            continue
        parent, child = found
        raise Unresolved(
            f"{metric.name} is measured per row of {metric.table}; answering this joins "
            f"{child}, which holds several rows for each row of {parent}, so it would count "
            "them more than once",
            dimensions(prepared.schema, metric.table, tuple(relationships)),
        )


def listed_once(plan: QueryPlan, prepared: Prepared) -> QueryPlan:
    """ "active customers who ordered last month": a list of customers filtered by when
    their orders were placed names each customer once, however many orders match."""
    window = plan.time_window
    main = plan.tables[0] if plan.tables else None
    if window is None or main is None or window.column.table == main:
        return plan
    if plan.distinct or plan.group_by or plan.bucket or any(s.aggregated for s in plan.select):
        return plan
    if any(s.column is None or s.column.table != main for s in plan.select):
        return plan
    relationships = tuple(prepared.glossary.relationships) if prepared.glossary else ()
    if fan_out(prepared.schema, plan, main, relationships) is None:
        return plan
    return replace(plan, distinct=True)


def distinct_rows_counted(plan: QueryPlan, prepared: Prepared) -> QueryPlan:
    """ "how many customers ordered in 2025": the customers are counted once each, not
    once per order the join brings (COUNT(DISTINCT key) when the join fans out)."""
    main = plan.tables[0] if plan.tables else None
    info = prepared.schema.table(main) if main else None
    if info is None or len(info.primary_key) != 1 or plan.group_by or plan.bucket:
        return plan
    counted = [
        k
        for k, sel in enumerate(plan.select)
        if sel.aggregate is Aggregate.COUNT and sel.column == ColumnRef(main, "*")
    ]
    if not counted:
        return plan
    relationships = tuple(prepared.glossary.relationships) if prepared.glossary else ()
    if fan_out(prepared.schema, plan, main, relationships) is None:
        return plan
    key = ColumnRef(main, info.primary_key[0])
    select = list(plan.select)
    for k in counted:
        select[k] = Selection(key, Aggregate.COUNT, distinct=True, alias=select[k].alias or "count")
    return replace(plan, select=tuple(select))
