"""Dates relative to the request's clock (fixed at 2025-06-15 in these tests)."""

import datetime as dt

from servers.parser.language.dates import find_dates
from servers.parser.language.words import tokenize
from tests.parser.language_support import NOW, shop


def window(text: str):
    found = find_dates(tokenize(text), NOW)
    return (found[0].start, found[0].end) if found else None


def test_relative_windows():
    assert window("last month") == (dt.datetime(2025, 5, 1), dt.datetime(2025, 6, 1))
    assert window("this year") == (dt.datetime(2025, 1, 1), dt.datetime(2026, 1, 1))
    assert window("yesterday") == (dt.datetime(2025, 6, 14), dt.datetime(2025, 6, 15))
    assert window("in 2024") == (dt.datetime(2024, 1, 1), dt.datetime(2025, 1, 1))
    assert window("since March") == (dt.datetime(2025, 3, 1), None)
    assert window("before 2025") == (None, dt.datetime(2025, 1, 1))


def test_orders_last_month():
    db = shop()
    assert sorted(r[0] for r in db.ask("Show the orders placed last month")) == [1, 4]


def test_count_in_a_year():
    db = shop()
    assert db.ask("How many orders were placed in 2024?") == [(1,)]


def test_a_year_is_a_date_window_not_a_number():
    db = shop()
    plan = db.plan("How many customers joined since March 2025?")
    assert plan.time_window is not None and plan.time_window.start == dt.datetime(2025, 3, 1)
    assert not plan.where


def test_a_written_date():
    assert window("since 2025-05-01") == (dt.datetime(2025, 5, 1), None)
    assert window("before 2025-01-01") == (None, dt.datetime(2025, 1, 1))
    assert sorted(r[0] for r in shop().ask("Show the orders placed after 2025-05-28")) == [2, 6]
