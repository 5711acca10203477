"""Dates relative to the request's clock: "last month", "in 2024", "since March",
"this year", "yesterday", "last 7 days". Windows are [start, end): start inclusive,
end exclusive, either may be open."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from servers.parser.language.words import Token

MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
UNITS = {"day": 1, "week": 7, "month": 0, "year": 0, "quarter": 0}


@dataclass(frozen=True)
class DateWindow:
    start: dt.datetime | None
    end: dt.datetime | None
    first: int  # token span
    last: int  # exclusive
    words: str


def _month_start(year: int, month: int) -> dt.datetime:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return dt.datetime(year, month, 1)


def _day(now: dt.datetime) -> dt.datetime:
    return dt.datetime(now.year, now.month, now.day)


def _iso(word: str) -> dt.datetime | None:
    """A date written 2025-05-01."""
    try:
        return dt.datetime.strptime(word, "%Y-%m-%d")
    except ValueError:
        return None


def _year_of(token: Token) -> int | None:
    if token.lower.isdigit() and len(token.lower) == 4 and 1900 <= int(token.lower) <= 2100:
        return int(token.lower)
    return None


def _relative(
    unit: str, word: str, count: int, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    today = _day(now)
    if unit == "day":
        if word in ("last", "past") and count > 1:
            return today - dt.timedelta(days=count), today + dt.timedelta(days=1)
        start = today + dt.timedelta(
            days={"this": 0, "last": -1, "previous": -1, "next": 1}.get(word, 0)
        )
        return start, start + dt.timedelta(days=1)
    if unit == "week":
        monday = today - dt.timedelta(days=today.weekday())
        if word in ("past",) or count > 1:
            return today - dt.timedelta(days=7 * count), today + dt.timedelta(days=1)
        start = monday + dt.timedelta(
            days=7 * {"this": 0, "last": -1, "previous": -1, "next": 1}.get(word, 0)
        )
        return start, start + dt.timedelta(days=7)
    if unit == "month":
        shift = {"this": 0, "last": -1, "previous": -1, "next": 1}.get(word, 0)
        if word == "past" or count > 1:
            return _month_start(now.year, now.month - count), today + dt.timedelta(days=1)
        start = _month_start(now.year, now.month + shift)
        return start, _month_start(start.year, start.month + 1)
    if unit == "quarter":
        first_month = 3 * ((now.month - 1) // 3) + 1
        shift = {"this": 0, "last": -3, "previous": -3, "next": 3}.get(word, 0)
        start = _month_start(now.year, first_month + shift)
        return start, _month_start(start.year, start.month + 3)
    shift = {"this": 0, "last": -1, "previous": -1, "next": 1}.get(word, 0)
    if word == "past" or count > 1:
        return dt.datetime(now.year - count, now.month, 1), today + dt.timedelta(days=1)
    return dt.datetime(now.year + shift, 1, 1), dt.datetime(now.year + shift + 1, 1, 1)


def find_dates(tokens: list[Token], now: dt.datetime) -> list[DateWindow]:
    found: list[DateWindow] = []
    words = [token.lower for token in tokens]
    i = 0
    while i < len(tokens):
        word = words[i]
        window: DateWindow | None = None
        if word in ("today", "yesterday", "tomorrow"):
            start = _day(now) + dt.timedelta(
                days={"today": 0, "yesterday": -1, "tomorrow": 1}[word]
            )
            window = DateWindow(start, start + dt.timedelta(days=1), i, i + 1, word)
        elif word in ("this", "last", "previous", "next", "past", "current") and i + 1 < len(
            tokens
        ):
            count, j = 1, i + 1
            if words[j].isdigit():
                count, j = int(words[j]), j + 1
            unit = tokens[j].lemma if j < len(tokens) else ""
            if unit in UNITS:
                kind = "this" if word == "current" else word
                start, end = _relative(unit, kind, count, now)
                window = DateWindow(start, end, i, j + 1, " ".join(words[i : j + 1]))
        elif (
            word in ("since", "after", "before", "until", "on", "from")
            and i + 1 < len(tokens)
            and _iso(words[i + 1])
        ):
            day = _iso(words[i + 1])
            start, end = day, day + dt.timedelta(days=1)
            if word in ("since", "from"):
                end = None
            elif word == "after":
                start, end = end, None
            elif word in ("before", "until"):
                start, end = None, (end if word == "until" else start)
            window = DateWindow(start, end, i, i + 2, " ".join(words[i : i + 2]))
        elif word in ("since", "after", "before", "until", "in", "during") and i + 1 < len(tokens):
            j = i + 1
            month = MONTHS.get(words[j])
            year = _year_of(tokens[j])
            if month and j + 1 < len(tokens) and _year_of(tokens[j + 1]):
                year = _year_of(tokens[j + 1])
                start = dt.datetime(year, month, 1)
                end = _month_start(year, month + 1)
                last = j + 2
            elif month:
                # a bare month means its latest occurrence up to now
                year = now.year if month <= now.month else now.year - 1
                start, end, last = dt.datetime(year, month, 1), _month_start(year, month + 1), j + 1
            elif year:
                start, end, last = dt.datetime(year, 1, 1), dt.datetime(year + 1, 1, 1), j + 1
            else:
                i += 1
                continue
            if word == "since":
                end = None
            elif word == "after":
                start, end = end, None
            elif word in ("before", "until"):
                start, end = None, (end if word == "until" else start)
            window = DateWindow(start, end, i, last, " ".join(words[i:last]))
        if window:
            found.append(window)
            i = window.last
        else:
            i += 1
    return found
