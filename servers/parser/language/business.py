"""Business phrasing, on any schema: the questions a dashboard user types rather than
the ones a benchmark asks. Pure helpers over the schema and the question's words;
measures.py applies them to the plan under construction, reading.py and conditions.py
call the few they need. Nothing here names a table, column or value of a particular
database.

- Time grains: "by month", "per year", "each quarter", "monthly", "weekly", "daily"
  become a TimeBucket over the metric's time column, else a date column of the table
  the question is about — unless the schema has a column named like the grain ("year"),
  which is then grouped as it stands.
- Money: a table named for money ("sales", "payments") has an amount-like column
  (amount, revenue, total, price…) that "total sales" sums; "20 dollars" compares it;
  "customers who spent more than 200" sums it in the table that refers to them.
- Ranking: "top 5 products by units sold", "best selling", "most popular".
- Events: "customers who ordered … this year" — the window belongs to the table of the
  event (orders), not to the customer's own dates.
- Fan-out: which joins repeat a table's rows (semantic layers refuse to sum over
  them), and which breakdowns of a metric are safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from servers.contracts.glossary import Metric, Relationship
from servers.parser.domain import (
    Aggregate,
    ColumnKind,
    ColumnRef,
    QueryPlan,
    SchemaView,
    TableInfo,
    TimeBucket,
    TimeGrain,
)
from servers.parser.language.words import Token, lemma, lemmas, split_identifier
from servers.parser.render.joins import join_path

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

# Words of a column that holds money or a quantity worth adding up, best first.
AMOUNT_WORDS = (
    "amount",
    "revenue",
    "sales",
    "sale",
    "total",
    "turnover",
    "income",
    "value",
    "price",
    "cost",
    "paid",
    "payment",
    "spend",
    "spent",
    "fee",
    "charge",
    "sum",
    "salary",
    "wage",
    "wages",
    "pay",
    "earnings",
    "budget",
    "balance",
)
# Currency words after a number: the money column they imply.
CURRENCY_WORDS = frozenset(
    {"dollar", "dollars", "usd", "euro", "euros", "eur", "pound", "pounds", "gbp", "bucks"}
)
_MONEY_TABLE_WORDS = frozenset(
    {"sale", "sales", "revenue", "revenues", "payment", "payments", "income", "spend"}
    | {"transaction", "transactions", "invoice", "invoices", "donation", "donations"}
)
_SUM_WORDS = {
    "total": Aggregate.SUM,
    "sum": Aggregate.SUM,
    "combined": Aggregate.SUM,
    "overall": Aggregate.SUM,
    "average": Aggregate.AVG,
    "mean": Aggregate.AVG,
    "avg": Aggregate.AVG,
}


@dataclass(frozen=True)
class GrainHit:
    grain: TimeGrain
    start: int
    end: int  # exclusive


# ------------------------------------------------------------------------------ grains


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


# ----------------------------------------------------------------------------- amounts


def amount_column(table: TableInfo | None) -> str | None:
    """The column of `table` that holds money or a quantity to add up, if one is named
    so: amount, revenue, total, price… (never a key)."""
    if table is None:
        return None
    keys = set(table.primary_key) | {c for fk in table.foreign_keys for c in fk.columns}
    best: tuple[int, str] | None = None
    for column in table.columns:
        if not column.kind.numeric or column.primary_key or column.name in keys:
            continue
        words = split_identifier(column.name)
        if words and words[-1] == "id":
            continue
        for rank, word in enumerate(AMOUNT_WORDS):
            if word in words and (best is None or rank < best[0]):
                best = (rank, column.name)
    return best[1] if best else None


def money_table(name: str) -> bool:
    """A table named for money ("sales", "payments", "revenue"): its rows are amounts."""
    return bool(set(split_identifier(name)) & _MONEY_TABLE_WORDS)


def sum_before(words: list[str], start: int) -> Aggregate | None:
    """ "total sales", "the average sale": the aggregate word right before a table."""
    i = start - 1
    while i >= 0 and words[i] in ("the", "of", "all"):
        i -= 1
    if i < 0 or words[i] not in _SUM_WORDS:
        return None
    if i + 1 < len(words) and words[i + 1] in ("number", "count"):
        return None
    return _SUM_WORDS[words[i]]


def currency_after(words: list[str], end: int) -> bool:
    return end < len(words) and words[end] in CURRENCY_WORDS


def names_any(table: TableInfo, words: tuple[str, ...]) -> bool:
    """Does a column of `table` carry one of `words` in its name?"""
    return any(set(words) & set(split_identifier(c.name)) for c in table.columns)


def money_column(schema: SchemaView, tables: list[str]) -> ColumnRef | None:
    """ "20 dollars": the money column of the tables in play, the main table first."""
    for name in dict.fromkeys(tables):
        table = schema.table(name)
        column = amount_column(table)
        if column is not None:
            return ColumnRef(name, column)
    return None


# ------------------------------------------------------------------------------- top N


def ranked_by(words: list[str]) -> int | None:
    """Index after "by" in "top 5 products by …", "the 3 best customers by …"."""
    first = next(
        (i for i, w in enumerate(words) if w in ("top", "first", "bottom", "best", "worst")),
        None,
    )
    if first is None:
        return None
    for i in range(first + 1, len(words)):
        if words[i] == "by":
            return i + 1
    return None


# Verbs of paying: "customers who spent more than 200" sums what they paid.
SPEND_VERBS = frozenset({"spent", "spend", "spends", "paid", "pay", "pays", "spending"})


def spent_column(schema: SchemaView, main: str, words: list[str], anchor: int) -> ColumnRef | None:
    """After a verb of paying just before a comparison, the amount column of the table
    that refers to `main` ("customers who spent more than 200" → orders.total)."""
    if not any(w in SPEND_VERBS for w in words[max(0, anchor - 2) : anchor]):
        return None
    for table in schema.tables:
        if table.name == main or not any(fk.referenced_table == main for fk in table.foreign_keys):
            continue
        column = amount_column(table)
        if column is not None:
            return ColumnRef(table.name, column)
    return None


# ------------------------------------------------------------------------- popularity

_POPULAR = (
    ("best", "selling"),
    ("top", "selling"),
    ("most", "sold"),
    ("most", "popular"),
    ("best-selling",),
    ("top-selling",),
    ("bestselling",),
)
_QUANTITY_WORDS = ("quantity", "qty", "units", "unit", "count", "amount")


def is_amount(schema: SchemaView, ref: ColumnRef) -> bool:
    """A numeric column worth adding up: money (amount, revenue, total…) or a quantity."""
    table = schema.table(ref.table)
    return is_quantity(schema, ref) or (table is not None and amount_column(table) == ref.column)


def is_quantity(schema: SchemaView, ref: ColumnRef) -> bool:
    """A numeric column counting items: quantity, qty, units."""
    column = schema.column(ref)
    if column is None or not column.kind.numeric:
        return False
    return bool({"quantity", "qty", "units"} & set(split_identifier(column.name)))


_TIME_NOUNS = frozenset({"date", "time", "day", "week", "month", "year", "when"})


def is_verb(token: Token) -> bool:
    """ "sold", "sell", "ordered": a verb form (never a time noun such as "date")."""
    from lemminflect import getAllLemmas

    if token.lower in _TIME_NOUNS:
        return False
    return token.lemma != token.lower or "VERB" in getAllLemmas(token.lower)


# Verbs whose rows a table holds under a noun of its own: "never sold" → sales.
_VERB_NOUNS = {
    "sell": "sale",
    "buy": "purchase",
    "purchase": "purchase",
    "pay": "payment",
    "ship": "shipment",
    "deliver": "delivery",
    "rent": "rental",
    "book": "booking",
    "enroll": "enrollment",
    "rate": "rating",
    "review": "review",
    "order": "order",
    "invoice": "invoice",
    "borrow": "loan",
    "visit": "visit",
}


def verb_table(schema: SchemaView, token: Token) -> str | None:
    """The table that records what a verb does ("sold" → sales, "paid" → payments),
    when exactly one table is named for it."""
    noun = _VERB_NOUNS.get(token.lemma)
    if noun is None or token.lower == noun or not is_verb(token):
        return None
    named = [t.name for t in schema.tables if noun in lemmas(split_identifier(t.name))]
    return named[0] if len(named) == 1 else None


_NEGATING_PREFIXES = ("non-", "non", "un", "in", "dis")


def negated_flag(
    word: str, flags: Mapping[ColumnRef, tuple[object, object]], tables: list[str]
) -> ColumnRef | None:
    """The yes/no column that `word` negates ("unpaid" → paid, "inactive" →
    is_active), among the tables in play, main first."""
    for prefix in _NEGATING_PREFIXES:
        if not word.startswith(prefix) or len(word) - len(prefix) < 3:
            continue
        rest = lemma(word[len(prefix) :])
        for table in dict.fromkeys(tables):
            for ref in flags:
                words = lemmas(split_identifier(ref.column))
                if ref.table == table and rest in words and len(words) <= 2:
                    return ref
    return None


def is_temporal(schema: SchemaView, ref: ColumnRef) -> bool:
    column = schema.column(ref)
    return bool(column and column.kind.temporal)


def popular_at(words: list[str]) -> tuple[int, int] | None:
    """The span of "best selling", "most popular", "top-selling"…"""
    for phrase in _POPULAR:
        n = len(phrase)
        for i in range(len(words) - n + 1):
            if tuple(words[i : i + n]) == phrase:
                return i, i + n
    return None


def popularity(
    schema: SchemaView, table: str, prefer: str | None = None
) -> tuple[ColumnRef, Aggregate] | None:
    """How popular a row of `table` is: the summed quantity in the first table that
    refers to it and counts items (`prefer` first: the sales for "best selling"), else
    the number of rows referring to it."""
    children = [
        t for t in schema.tables if any(fk.referenced_table == table for fk in t.foreign_keys)
    ]
    children.sort(key=lambda t: t.name != prefer)
    for child in children:
        keys = {c for fk in child.foreign_keys for c in fk.columns} | set(child.primary_key)
        for word in _QUANTITY_WORDS:
            for column in child.columns:
                if column.name in keys or not column.kind.numeric:
                    continue
                if word in split_identifier(column.name) and word != "amount":
                    return ColumnRef(child.name, column.name), Aggregate.SUM
    if children:
        return ColumnRef(children[0].name, "*"), Aggregate.COUNT
    return None


# ------------------------------------------------------------------------------ events


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


# ----------------------------------------------------------------------------- fan-out


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


__all__ = [
    "is_amount",
    "negated_flag",
    "verb_table",
    "is_verb",
    "is_quantity",
    "is_temporal",
    "names_any",
    "spent_column",
    "popular_at",
    "popularity",
    "unreachable",
    "dimensions",
    "fan_out",
    "GrainHit",
    "amount_column",
    "bucket",
    "bucket_column",
    "currency_after",
    "event_table",
    "find_grain",
    "money_column",
    "money_table",
    "ranked_by",
    "sum_before",
]
