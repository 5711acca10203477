"""Execution-accuracy judging for bench/nl2sql.py, kept free of gRPC and databases so it
can be tested on made-up rows: value normalisation, result comparison, and the two
questions asked of a gold query (does it order its result, does it read one table).

Two engines answer the same question with values of different types: SQLite gives
`2014` where PostgreSQL gives `Decimal('2014')`, `31.400000000000002` where MySQL gives
`31.4`, `'1'` from a TEXT column that load.py typed INTEGER. So every value is put in
one canonical form before comparing: numbers (and text spelling a number the way
load.py recognises it) become an int when integral, else a float rounded to 6
significant digits; text is trimmed; NULL stays None and equals only None.

Columns may come back in another order than the gold query's ("name and age" vs
`SELECT age, name`): as Spider's test-suite evaluation does, a result counts as equal
when some permutation of its columns gives the gold rows.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp

Row = tuple[Any, ...]

# Text that is the canonical spelling of a number (no leading zeros, no '+', no
# padding): load.py types a column numeric only when all its values look like this.
_CANONICAL_INT = re.compile(r"^-?(0|[1-9][0-9]{0,17})$")
_SIGNIFICANT = 6
_MAX_PERMUTATIONS = 5040  # 7 columns; a wider result is compared in its given order


def normalise_value(value: Any) -> Any:
    """The canonical form of one cell, comparable across engines."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        number = _canonical_number(text)
        return text if number is None else normalise_value(number)
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return str(number)
        rounded = float(f"{number:.{_SIGNIFICANT}g}")
        return int(rounded) if rounded.is_integer() and abs(rounded) < 2**63 else rounded
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).strip()


def _canonical_number(text: str) -> int | float | None:
    if _CANONICAL_INT.match(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return None
    return number if repr(number) == text and math.isfinite(number) else None


def normalise_rows(rows: Iterable[Sequence[Any]]) -> list[Row]:
    return [tuple(normalise_value(v) for v in row) for row in rows]


def _sort_key(row: Row) -> tuple:
    # Mixed types in one column (a number beside a text) must still sort.
    return tuple((0, 0) if v is None else (1, v) if isinstance(v, int | float) else (2, repr(v)) for v in row)


@dataclass(frozen=True)
class Verdict:
    """Whether two results match, and if not, a one-line reason for the failure log."""

    same: bool
    reason: str = ""
    permuted: bool = False  # matched only with the columns in another order


def compare(gold: Sequence[Sequence[Any]], got: Sequence[Sequence[Any]], *, ordered: bool) -> Verdict:
    """Gold rows against the rows a generated statement returned (both raw)."""
    gold_rows, got_rows = normalise_rows(gold), normalise_rows(got)
    slack = [tuple(_slack(v) for v in row) for row in got]
    if len(gold_rows) != len(got_rows):
        return Verdict(False, f"{len(got_rows)} rows, expected {len(gold_rows)}")
    gold_width = _width(gold_rows)
    got_width = _width(got_rows)
    if gold_rows and gold_width != got_width:
        return Verdict(False, f"{got_width} columns, expected {gold_width}")
    if _equal(gold_rows, got_rows, ordered) or _close(gold_rows, got_rows, slack, ordered):
        return Verdict(True)
    for order in _column_orders(gold_rows, got_rows):
        if _equal(gold_rows, [tuple(row[i] for i in order) for row in got_rows], ordered):
            return Verdict(True, permuted=True)
    if ordered and _equal(gold_rows, got_rows, False):
        return Verdict(False, "same rows in another order")
    return Verdict(False, _first_difference(gold_rows, got_rows))


def _width(rows: list[Row]) -> int:
    return len(rows[0]) if rows else 0


def _equal(gold: list[Row], got: list[Row], ordered: bool) -> bool:
    if ordered:
        return gold == got
    return sorted(gold, key=_sort_key) == sorted(got, key=_sort_key)


def _slack(value: Any) -> float:
    """How far a value may be from the exact one because its engine rounded it: a
    DECIMAL with s places (MariaDB's AVG keeps 4) is exact to half a unit of the last."""
    if isinstance(value, Decimal) and value.is_finite():
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < 0:
            return 0.5 * 10.0**exponent
    return 0.0


def _close(gold: list[Row], got: list[Row], slack: list[tuple[float, ...]], ordered: bool) -> bool:
    """Equal but for numbers within the slack of the engine's own rounding."""
    if not any(any(row) for row in slack):
        return False
    pairs = list(zip(got, slack, strict=True))
    if not ordered:
        gold = sorted(gold, key=_sort_key)
        pairs = sorted(pairs, key=lambda pair: _sort_key(pair[0]))
    for gold_row, (got_row, slack_row) in zip(gold, pairs, strict=True):
        for g, p, allowed in zip(gold_row, got_row, slack_row, strict=True):
            if g == p:
                continue
            if not (allowed and isinstance(g, int | float) and isinstance(p, int | float)):
                return False
            if abs(g - p) > allowed * 1.000001 + 1e-12:
                return False
    return True


def _column_orders(gold: list[Row], got: list[Row]) -> Iterable[tuple[int, ...]]:
    """Orders of `got`'s columns worth trying: each gold column is paired only with
    columns holding the same multiset of values, so most results try one or none."""
    width = _width(gold)
    if width < 2:
        return
    gold_columns = [Counter(row[j] for row in gold) for j in range(width)]
    got_columns = [Counter(row[j] for row in got) for j in range(width)]
    candidates = [[k for k in range(width) if got_columns[k] == gold_columns[j]] for j in range(width)]
    if any(not c for c in candidates):
        return
    for order in itertools.islice(itertools.product(*candidates), _MAX_PERMUTATIONS):
        if len(set(order)) == width and order != tuple(range(width)):
            yield order


def _first_difference(gold: list[Row], got: list[Row]) -> str:
    missing = Counter(gold) - Counter(got)
    extra = Counter(got) - Counter(gold)
    if not missing and not extra:
        return "same rows in another order"
    parts = []
    if missing:
        parts.append(f"missing {next(iter(missing))!r}")
    if extra:
        parts.append(f"unexpected {next(iter(extra))!r}")
    return f"{sum(missing.values())} of {len(gold)} rows differ: " + ", ".join(parts)


# ----------------------------------------------------------------- the gold query


def orders_result(sql: str) -> bool:
    """Whether the query's outermost SELECT (or set operation) has ORDER BY; an
    ORDER BY inside a subquery says nothing about the order of the result."""
    depth, i, quote = 0, 0, ""
    lowered = sql.lower()
    while i < len(lowered):
        ch = lowered[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and lowered.startswith("order", i) and _word_at(lowered, i, "order"):
            rest = lowered[i + 5 :].lstrip()
            if rest.startswith("by") and (len(rest) == 2 or not rest[2].isalnum()):
                return True
        i += 1
    return False


def _word_at(text: str, i: int, word: str) -> bool:
    before = text[i - 1] if i else " "
    after = text[i + len(word)] if i + len(word) < len(text) else " "
    return not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_")


def single_table(sql: str) -> bool:
    """Whether the query reads exactly one table and joins nothing, subqueries and set
    operations included: the questions a MongoDB collection can answer alone."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return False
    if tree is None or any(True for _ in tree.find_all(exp.Join)):
        return False
    tables = {t.name.lower() for t in tree.find_all(exp.Table)}
    return len(tables) == 1
