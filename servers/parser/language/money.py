"""Money and quantities in business questions, on any schema: a table named for money
("sales", "payments") has an amount-like column (amount, revenue, total, price, salary…)
that "total sales" sums and "20 dollars" compares; "customers who spent more than 200"
sums it in the table that refers to them; quantities (quantity, units) add up; "top 5 …
by …", "best selling", "most popular" rank rows by them. Nothing here names a table,
column or value of a particular database."""

from __future__ import annotations

from servers.parser.domain import (
    Aggregate,
    ColumnRef,
    SchemaView,
    TableInfo,
)
from servers.parser.language.words import split_identifier

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
