"""Date phrases at the edges the fuzzing found: a bare quarter against the service's
timezone-aware clock, and a question that ends on "the"."""

from __future__ import annotations

import datetime as dt

from servers.parser.language.dates import find_dates
from servers.parser.language.words import tokenize

AWARE_NOW = dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC)


def test_a_bare_quarter_is_its_latest_start_with_an_aware_clock():
    [window] = find_dates(tokenize("orders in Q3"), AWARE_NOW)
    assert (window.start, window.end) == (dt.datetime(2026, 7, 1), dt.datetime(2026, 10, 1))


def test_a_question_ending_on_the_has_no_date():
    assert find_dates(tokenize("Cy O'Neil @x 1e309 the"), AWARE_NOW) == []


def test_a_window_past_the_calendar_is_unresolved():
    import pytest

    from servers.parser.domain import Unresolved

    with pytest.raises(Unresolved, match="outside the calendar"):
        find_dates(tokenize("orders in the last 5000 years"), AWARE_NOW)
