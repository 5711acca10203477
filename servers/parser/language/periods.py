"""Time in business questions, on any schema: time grains ("by month", "per year",
"each quarter", "monthly", "weekly", "daily") become a TimeBucket over the metric's time
column, else a date column of the table the question is about — unless the schema has a
column named like the grain ("year"), which is then grouped as it stands; and the date
an event table carries ("customers who ordered … this year" means the orders' date).
Nothing here names a table, column or value of a particular database."""

from __future__ import annotations

from dataclasses import dataclass

from servers.parser.domain import (
    ColumnRef,
    SchemaView,
    TableInfo,
    TimeBucket,
    TimeGrain,
)
from servers.parser.language.words import Token, split_identifier

_GRAIN_NOUNS = {
    "day": TimeGrain.DAY,
    "week": TimeGrain.WEEK,
    "month": TimeGrain.MONTH,
    "quarter": TimeGrain.QUARTER,
    "year": TimeGrain.YEAR,
}


_GRAIN_ADJECTIVES = {
    "daily": TimeGrain.DAY,
    "weekly": TimeGrain.WEEK,
    "monthly": TimeGrain.MONTH,
    "quarterly": TimeGrain.QUARTER,
    "yearly": TimeGrain.YEAR,
    "annual": TimeGrain.YEAR,
    "annually": TimeGrain.YEAR,
}


_GRAIN_CUES = frozenset({"by", "per", "each", "every"})


@dataclass(frozen=True)
class GrainHit:
    grain: TimeGrain
    start: int
    end: int  # exclusive


def find_grain(tokens: list[Token], schema: SchemaView) -> GrainHit | None:
    """ "by month", "per year", "each quarter", "monthly": the first grain asked for,
    unless the schema names a column after that grain (then it is that column)."""
    words = [t.lower for t in tokens]
    for i, word in enumerate(words):
        grain, end = None, i + 1
        if word in _GRAIN_ADJECTIVES:
            grain = _GRAIN_ADJECTIVES[word]
        elif word in _GRAIN_CUES and i + 1 < len(words) and tokens[i + 1].lemma in _GRAIN_NOUNS:
            grain, end = _GRAIN_NOUNS[tokens[i + 1].lemma], i + 2
        if grain is None or _column_named(schema, grain.value):
            continue
        start = i - 1 if i and words[i - 1] in ("for", "in") and word in ("each", "every") else i
        return GrainHit(grain, start, end)
    return None


def _column_named(schema: SchemaView, word: str) -> bool:
    return any(
        split_identifier(column.name) == (word,)
        for table in schema.tables
        for column in table.columns
    )


def bucket_column(
    schema: SchemaView, metric_time_column: str, named: list[ColumnRef], tables: list[str]
) -> ColumnRef | None:
    """The date the grain cuts: the metric's time column, else a date column the question
    names, else the first date column of the tables in play (the main table first)."""
    if metric_time_column and "." in metric_time_column:
        table, column = metric_time_column.split(".", 1)
        return ColumnRef(table, column)
    for ref in named:
        info = schema.column(ref)
        if info is not None and info.kind.temporal:
            return ref
    for name in dict.fromkeys(tables):
        table = schema.table(name)
        column = _date_column(table) if table else None
        if column is not None:
            return ColumnRef(name, column)
    return None


def _date_column(table: TableInfo) -> str | None:
    dates = [c for c in table.columns if c.kind.temporal]
    if not dates:
        return None
    # a date of the event itself beats bookkeeping dates (created, updated)
    bookkeeping = ("updated", "modified", "deleted", "changed")
    own = [c for c in dates if not set(split_identifier(c.name)) & set(bookkeeping)]
    return (own or dates)[0].name


def bucket(grain: GrainHit | None, column: ColumnRef | None) -> TimeBucket | None:
    if grain is None or column is None:
        return None
    return TimeBucket(column, grain.grain)


def event_table(schema: SchemaView, main: str, named: list[str]) -> str | None:
    """Among tables the question names beside the main one, the first that refers to
    the main table and has a date of its own: the event whose time a window means."""
    for name in named:
        if name == main:
            continue
        table = schema.table(name)
        if table is None or _date_column(table) is None:
            continue
        if any(fk.referenced_table == main for fk in table.foreign_keys):
            return name
    return None


def is_temporal(schema: SchemaView, ref: ColumnRef) -> bool:
    column = schema.column(ref)
    return bool(column and column.kind.temporal)
