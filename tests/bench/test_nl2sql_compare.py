"""How bench/nl2sql.py judges an answer, on made-up rows of a small shop schema: values
from different engines normalised alike, results compared as multisets or in order,
and the gold query's ORDER BY and single-table reading detected."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bench._nl2sql_compare import compare, normalise_value, orders_result, single_table


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, 1.0),
        (2014, Decimal("2014")),
        (2014, "2014"),  # a TEXT year in SQLite, typed INTEGER when loaded elsewhere
        (31.400000000000002, 31.4),
        (Decimal("12.3400"), 12.34),
        (2 / 3, 0.666667),
        (" Paris ", "Paris"),
        (True, 1),
        (None, None),
    ],
)
def test_values_equal_across_engines(a, b):
    assert normalise_value(a) == normalise_value(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (None, 0),
        (None, ""),
        ("007", 7),  # not a canonical number: load.py keeps such a column as text
        (1.5, 1.6),
        ("paris", "Paris"),
    ],
)
def test_values_that_stay_different(a, b):
    assert normalise_value(a) != normalise_value(b)


def test_dates_compare_as_their_iso_text():
    assert normalise_value(dt.date(2024, 3, 1)) == normalise_value("2024-03-01")
    assert normalise_value(dt.datetime(2024, 3, 1, 9, 30)) == normalise_value("2024-03-01 09:30:00")


def test_unordered_results_are_multisets():
    gold = [("pen", 2), ("ink", 5), ("pen", 2)]
    assert compare(gold, [("ink", 5.0), ("pen", 2), ("pen", Decimal(2))], ordered=False).same
    verdict = compare(gold, [("ink", 5), ("pen", 2), ("ink", 5)], ordered=False)
    assert not verdict.same and "differ" in verdict.reason


def test_ordered_results_compare_in_order():
    gold = [("pen", 2), ("ink", 5)]
    assert compare(gold, [("pen", 2), ("ink", 5)], ordered=True).same
    verdict = compare(gold, [("ink", 5), ("pen", 2)], ordered=True)
    assert not verdict.same and verdict.reason == "same rows in another order"


def test_columns_in_another_order_match():
    gold = [("pen", 2), ("ink", 5)]
    verdict = compare(gold, [(2, "pen"), (5, "ink")], ordered=True)
    assert verdict.same and verdict.permuted


def test_permutation_respects_row_pairing():
    # Each column holds the gold values, but the rows pair them up differently.
    gold = [("pen", 2), ("ink", 5)]
    assert not compare(gold, [(5, "pen"), (2, "ink")], ordered=False).same


def test_a_decimal_rounded_by_its_engine_matches_the_exact_value():
    # MariaDB's AVG keeps 4 decimal places; SQLite's is a double.
    assert compare([(14 / 13,)], [(Decimal("1.0769"),)], ordered=False).same
    assert compare([("pen", 7 / 3), ("ink", 1 / 3)], [("ink", Decimal("0.3333")), ("pen", Decimal("2.3333"))],
                   ordered=False).same
    assert not compare([(14 / 13,)], [(Decimal("1.0770"),)], ordered=False).same
    assert not compare([(14 / 13,)], [(1.0769,)], ordered=False).same  # a double carries no rounding


def test_row_and_column_counts_are_reported():
    assert compare([(1,)], [(1,), (2,)], ordered=False).reason == "2 rows, expected 1"
    assert compare([(1,)], [(1, "x")], ordered=False).reason == "2 columns, expected 1"
    assert compare([], [], ordered=True).same


def test_nulls_match_only_nulls():
    assert compare([(None, "a")], [(None, "a")], ordered=False).same
    assert not compare([(None, "a")], [(0, "a")], ordered=False).same


def test_mixed_types_in_a_column_still_sort():
    rows = [(None,), ("x",), (3,)]
    assert compare(rows, [(3,), (None,), ("x",)], ordered=False).same


@pytest.mark.parametrize(
    ("sql", "ordered"),
    [
        ("SELECT name FROM product ORDER BY price DESC LIMIT 3", True),
        ("select name from product order\n  by price", True),
        ("SELECT name FROM product WHERE price > (SELECT avg(price) FROM product ORDER BY 1)", False),
        ("SELECT name FROM product", False),
        ("SELECT name FROM product WHERE note = 'order by hand'", False),
        ("SELECT border_by FROM product", False),
        ("SELECT name FROM product UNION SELECT name FROM supplier ORDER BY name", True),
    ],
)
def test_gold_order_by_at_top_level(sql, ordered):
    assert orders_result(sql) is ordered


@pytest.mark.parametrize(
    ("sql", "single"),
    [
        ("SELECT count(*) FROM customer WHERE city = 'Oslo'", True),
        ("SELECT city FROM customer GROUP BY city HAVING count(*) > 2 ORDER BY city", True),
        ("SELECT name FROM customer WHERE age > (SELECT avg(age) FROM customer)", True),
        ("SELECT name FROM customer WHERE city = 'Oslo' INTERSECT SELECT name FROM customer WHERE age > 30", True),
        ("SELECT T1.name FROM customer AS T1 JOIN orders AS T2 ON T1.id = T2.customer_id", False),
        ("SELECT name FROM customer WHERE id NOT IN (SELECT customer_id FROM orders)", False),
        ("SELECT name FROM customer, orders", False),
        ("SELEC nonsense (", False),
    ],
)
def test_single_table_questions(sql, single):
    assert single_table(sql) is single
