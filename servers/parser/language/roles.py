"""Roles: which table each mention means, and what each column mention does in the
question — aggregated ("average age"), counted ("how many"), grouped ("for each city"),
ordered ("sorted by"), the key of a superlative ("the highest price"), or selected.
Draft is the plan under construction."""

from __future__ import annotations

from dataclasses import dataclass, field

from servers.parser.domain import (
    Aggregate,
    ColumnRef,
    Condition,
    Ordering,
    QueryPlan,
    Selection,
    SetOperator,
    TimeBucket,
    TimeWindow,
)
from servers.parser.language import lexicon as lx
from servers.parser.language.linking import Candidate, Mention
from servers.parser.language.prepared import Prepared
from servers.parser.language.reading import (
    COUNT_FILLERS,
    Reading,
    aggregates_before,
    count_cue,
    has_aggregate_cue,
    numeric,
    order_cue,
    plural_table,
    sums,
    superlative_before,
    words_before,
)
from servers.parser.language.words import lemma, split_identifier


@dataclass
class Draft:
    """The plan under construction."""

    select: list[tuple[int, Selection]] = field(default_factory=list)  # (position, selection)
    where: list[Condition] = field(default_factory=list)
    group_by: list[ColumnRef] = field(default_factory=list)
    having: list[Condition] = field(default_factory=list)
    order_by: list[Ordering] = field(default_factory=list)
    limit: int | None = None
    distinct: bool = False
    tables: list[str] = field(default_factory=list)
    time_window: TimeWindow | None = None
    where_any: bool = False
    set_operation: tuple[SetOperator, QueryPlan] | None = None
    group_entity: str | None = None  # a table grouped by its key
    intersect: Condition | None = None  # "both a and b": the second half's condition
    bucket: TimeBucket | None = None  # "by month": grouped by a truncated date


@dataclass
class Role:
    mention: Mention
    column: ColumnRef | None  # the chosen column, or None for a table mention
    table: str
    kind: str = (
        "select"  # select, agg, count, group, order, superlative, condition, table, value-col, used
    )
    aggregates: tuple[Aggregate, ...] = ()


def _names_after_mentions(prepared: Prepared, roles: list[Role], words: list[str]) -> None:
    """ "airline names", "store name": a bare "name" right after a mention names that
    thing — the named column itself, or the name column of the table."""
    for role, nxt in zip(roles, roles[1:], strict=False):
        # "the name of the oldest patient": the name column of the table named after "of"
        # ("the names of cartoons directed by …": a column mention opening with its table)
        first = lemma(nxt.mention.words.split()[0])
        opens_with_table = nxt.column is None or first in prepared.index.table_words.get(
            nxt.table, ()
        )
        if (
            role.column is not None
            and role.mention.words in ("name", "names")
            and opens_with_table
            and nxt.table != role.table
            and prepared.name_columns.get(nxt.table) is not None
            and words[role.mention.end : role.mention.end + 1] == ["of"]
            and nxt.mention.start - role.mention.end <= 3
        ):
            role.column = prepared.name_columns[nxt.table]
            role.table = nxt.table
    for prev, role in zip(roles, roles[1:], strict=False):
        if role.column is None or prev.mention.end != role.mention.start:
            continue
        if role.mention.words not in ("name", "names"):
            continue
        if prev.column is not None and not numeric(prepared, prev.column):
            role.kind = "used"  # "government form name": the column already said it
        elif prev.column is None and prepared.name_columns.get(prev.table) is not None:
            role.column = prepared.name_columns[prev.table]
            role.table = prev.table
            prev.kind = "used"


def _next_ordering(roles: list[Role], role: Role, words: list[str]) -> bool:
    """ "sorted by price and then name": a column listed right after an ordering one."""
    before = [r for r in roles if r.column and r.mention.end <= role.mention.start]
    if not before or before[-1].kind != "order":
        return False
    between = words[before[-1].mention.end : role.mention.start]
    return bool(between) and all(w in ("and", "then", ",", "by", "the") for w in between)


def grouped_after(reading: Reading, start: int) -> bool:
    """A mention grouped by the words before it: "for each city", "per store", "total
    sales by region" — with something aggregated only ("list every customer's name" lists
    them all), and "by" not after a passive verb ("orders placed by customers")."""
    if not has_aggregate_cue(reading):
        return False
    before = words_before(reading.words, start)
    if before[-1:] in (["each"], ["per"], ["every"]):
        return reading.words[start] not in ("time", "times")
    if before[-1:] == ["by"] and len(before) >= 2:
        return not before[-2].endswith(("ed", "en"))
    return before[-1:] == ["by"]


def _resolve(mention: Mention, reading: Reading, focus: set[str], main: str) -> Candidate:
    """One candidate for a mention: the one whose table is named next to it, in focus, or main."""
    near: set[str] = set()
    for other in reading.mentions:
        if (
            other is not mention
            and other.tables
            and (abs(other.start - mention.end) <= 3 or abs(mention.start - other.end) <= 3)
        ):
            near.update(c.table for c in other.tables)

    # a column named again ("customer ids … ordered by id") is the one named before
    earlier = {
        (c.table, c.column)
        for other in reading.mentions
        if other.end <= mention.start and other.columns
        for c in other.columns
    }

    def score(candidate: Candidate) -> float:
        return (
            candidate.score
            + (1.0 if candidate.table in near else 0)
            + (0.5 if candidate.table in focus else 0)
            + (0.3 if candidate.table == main else 0)
            + (0.8 if candidate.column and (candidate.table, candidate.column) in earlier else 0)
            # a plural word names the rows of a table ("airlines that have …") rather
            # than a column named like it
            + (0.6 if plural and candidate.column is None and candidate.how == "exact" else 0)
        )

    plural = plural_table(reading, mention)
    return max(mention.candidates, key=score)


def assign(reading: Reading, prepared: Prepared, draft: Draft, main: str) -> list[Role]:
    focus = {main} | {c.table for m in reading.mentions for c in m.tables}
    roles: list[Role] = []
    for mention in reading.mentions:
        chosen = _resolve(mention, reading, focus, main)
        if chosen.column is None:
            roles.append(Role(mention, None, chosen.table, "table"))
        else:
            roles.append(Role(mention, chosen.ref, chosen.table))
    words = reading.words
    order_at = order_cue(reading)
    for role in roles:
        start = role.mention.start
        before = words_before(words, start)
        if role.column is None:
            continue
        aggs = aggregates_before(words, start)
        first = words[start]
        if (
            not aggs
            and first in lx.AGGREGATE_WORDS
            and words[role.mention.end : role.mention.end + 2]
            in (["of", "all"], ["for", "all"], ["across", "all"], ["of", "every"])
        ):
            aggs = (lx.AGGREGATE_WORDS[first],)  # "the total amount of all orders" (TotalAmt)
        if not aggs and words[max(0, start - 3) : start] == ["total", "number", "of"]:
            if numeric(prepared, role.column):
                aggs = (Aggregate.SUM,)  # "the total number of goals": a sum of the count kept
        if order_at is not None and (
            order_at <= start <= order_at + 8
            and not any(order_at <= r.mention.start < start and r.column for r in roles)
            or _next_ordering(roles, role, words)
        ):
            role.kind = "order"  # the first column after "ordered by"
            role.aggregates = aggs  # "sorted by average price"
            continue
        if grouped_after(reading, start):
            role.kind = "group"
            continue
        if before[-1:] == ["by"] and any(w in ("top", "first", "bottom") for w in words[:start]):
            role.kind = "order"
            continue
        if aggs:
            role.kind, role.aggregates = "agg", aggs
            continue
        if sums(reading, start) and numeric(prepared, role.column):
            role.kind, role.aggregates = "agg", (Aggregate.SUM,)
            continue
        sup = superlative_before(words, start)
        if sup is not None:
            role.kind = "superlative"
            continue
        count_at = count_cue(reading)
        if (
            count_at is not None
            and count_at[1] <= start
            and all(w in COUNT_FILLERS for w in words[count_at[1] : start])
        ):
            role.kind = "count"
            continue
    _names_after_mentions(prepared, roles, words)
    # "the number of different names and cities": a count runs through a list
    for prev, role in zip(roles, roles[1:], strict=False):
        if prev.kind == "count" and role.kind == "select" and prev.column and role.column:
            between = words[prev.mention.end : role.mention.start]
            if (
                between
                and all(w in ("and", ",", "the", "of") for w in between)
                and ("and" in between or "," in between)
            ):
                role.kind = "count"
    return roles


def role_before(
    roles: list[Role], start: int, distance: int, numeric_in: Prepared | None = None
) -> Role | None:
    """The last column mention ending at most `distance` words before `start` (numeric
    columns of `numeric_in` only, when given)."""
    best = None
    for role in roles:
        if role.column and role.mention.end <= start and start - role.mention.end <= distance:
            if numeric_in is None or numeric(numeric_in, role.column):
                best = role
    return best


def role_after(roles: list[Role], end: int, distance: int) -> Role | None:
    for role in roles:
        if role.column and 0 <= role.mention.start - end <= distance:
            return role
    return None


def _neighbours(prepared: Prepared, table: str) -> list[str]:
    out: list[str] = []
    for info in prepared.schema.tables:
        for fk in info.foreign_keys:
            if info.name == table:
                out.append(fk.referenced_table)
            elif fk.referenced_table == table:
                out.append(info.name)
    return out


def column_for_words(
    prepared: Prepared, nouns: tuple[str, ...], tables: list[str], numeric_only: bool = True
) -> ColumnRef | None:
    """A column of `tables` (then of their foreign-key neighbours) whose name holds one of
    `nouns`, in the nouns' order: numeric ones unless `numeric_only` is False (date
    words may name text columns holding dates)."""
    tables = list(dict.fromkeys(tables))
    for table in list(tables[:1]):  # then the tables one foreign key away from the main one
        tables.extend(_neighbours(prepared, table))
    for noun in nouns:
        for table in dict.fromkeys(tables):
            for ref, forms in prepared.index.column_words.items():
                # dates are often stored as text; a date word may name such a column
                if noun == "year" and "years" in split_identifier(ref.column):
                    continue  # yrs_exp counts years; it holds no year
                if (
                    ref.table == table
                    and noun in forms
                    and (
                        not numeric_only
                        or numeric(prepared, ref)
                        or noun in ("date", "time", "year")
                    )
                ):
                    return ref
    return None


def year_column(
    prepared: Prepared, main: str, roles: list[Role], at: int | None = None
) -> ColumnRef | None:
    """A year column: of the table named nearest before position `at` ("a concert in
    2014"), then of the main table, then of the others named."""
    nearest = sorted(
        (r for r in roles if at is not None and r.mention.end <= at),
        key=lambda r: at - r.mention.end,
    )
    tables = [*[r.table for r in nearest[:1]], main, *[r.table for r in roles]]
    return column_for_words(prepared, ("year",), tables)


def link_reference(prepared: Prepared, other: str, main: str) -> tuple[str, tuple[str, str] | None]:
    for table in prepared.schema.tables:
        if table.name in (other, main):
            continue
        to_main = reference(prepared, table.name, main)
        if to_main is not None and reference(prepared, table.name, other) is not None:
            return table.name, to_main
    return other, None


def reference(prepared: Prepared, child: str, parent: str) -> tuple[str, str] | None:
    table = prepared.schema.table(child)
    if table is None:
        return None
    for fk in table.foreign_keys:
        if fk.referenced_table == parent and len(fk.columns) == 1:
            return fk.columns[0], fk.referenced_columns[0]
    return None
