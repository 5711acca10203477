"""Dates relative to the request's clock: "last month", "in 2024", "since March",
"this year", "yesterday", "last 7 days". Windows are [start, end): start inclusive,
end exclusive, either may be open."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from servers.parser.domain import Unresolved
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


_ORDINAL_QUARTERS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2}
_TO_DATE = {
    ("year-to-date",): "year",
    ("ytd",): "year",
    ("year", "to", "date"): "year",
    ("month-to-date",): "month",
    ("mtd",): "month",
    ("month", "to", "date"): "month",
}


def _quarter(year: int, quarter: int) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(year, 3 * (quarter - 1) + 1, 1)
    return start, _month_start(year, start.month + 3)


def _named_period(tokens: list[Token], words: list[str], i: int, now: dt.datetime):
    """ "Q1", "Q3 2024", "the second quarter of 2025", "year to date", "ytd": a window,
    with the token span it covers (a leading "in" / "during" included)."""
    first = i + 1 if words[i] in ("in", "during", "for") and i + 1 < len(words) else i
    for phrase, unit in _TO_DATE.items():
        if tuple(words[first : first + len(phrase)]) == phrase:
            start = (
                dt.datetime(now.year, 1, 1)
                if unit == "year"
                else dt.datetime(now.year, now.month, 1)
            )
            last = first + len(phrase)
            return DateWindow(
                start, _day(now) + dt.timedelta(days=1), i, last, " ".join(words[first:last])
            )
    j = first + 1 if words[first] == "the" else first
    if j >= len(words):  # "the" ends the question
        return None
    quarter, after = None, j
    if words[j] == "q" and j + 1 < len(words) and words[j + 1] in ("1", "2", "3", "4"):
        quarter, after = int(words[j + 1]), j + 2
    elif words[j] in _ORDINAL_QUARTERS and j + 1 < len(words) and tokens[j + 1].lemma == "quarter":
        quarter, after = _ORDINAL_QUARTERS[words[j]], j + 2
    if quarter is None:
        return None
    year = None
    if after < len(words) and _year_of(tokens[after]):
        year, after = _year_of(tokens[after]), after + 1
    elif after + 1 < len(words) and words[after] in ("of", "in") and _year_of(tokens[after + 1]):
        year, after = _year_of(tokens[after + 1]), after + 2
    if year is None:  # a bare quarter: its latest start up to now
        year = now.year if _quarter(now.year, quarter)[0] <= now.replace(tzinfo=None) else now.year - 1
    start, end = _quarter(year, quarter)
    return DateWindow(start, end, i, after, f"in Q{quarter} {year}")


def _ago(count: int, unit: str, now: dt.datetime) -> dt.datetime:
    if unit == "day":
        return _day(now) - dt.timedelta(days=count)
    if unit == "week":
        return _day(now) - dt.timedelta(days=7 * count)
    months = count * {"month": 1, "quarter": 3, "year": 12}[unit]
    start = _month_start(now.year, now.month - months)
    return start.replace(day=min(now.day, 28))


def _age(tokens: list[Token], words: list[str], i: int, now: dt.datetime):
    """ "older than 30 days", "more than 2 weeks ago", "over 6 months old": before that
    moment; "newer than 7 days", "less than 3 days old": since it."""
    phrases = {
        ("older", "than"): "before",
        ("more", "than"): "before",
        ("over",): "before",
        ("newer", "than"): "since",
        ("younger", "than"): "since",
        ("less", "than"): "since",
        ("under",): "since",
        ("within",): "since",
    }
    for phrase, side in phrases.items():
        n = len(phrase)
        if tuple(words[i : i + n]) != phrase or i + n + 1 >= len(words):
            continue
        j = i + n
        if not words[j].isdigit() or tokens[j + 1].lemma not in UNITS:
            return None
        unit, last = tokens[j + 1].lemma, j + 2
        # "more than 30 days" alone is a duration; with "ago" / "old" it is an age
        if phrase[0] in ("more", "less", "over", "under") and (
            last >= len(words) or words[last] not in ("ago", "old")
        ):
            return None
        if last < len(words) and words[last] in ("ago", "old"):
            last += 1
        count = int(words[j])
        moment = _ago(count, unit, now)
        start, end = (None, moment) if side == "before" else (moment, None)
        ago = f"{count} {unit}{'s' if count != 1 else ''} ago"
        return DateWindow(start, end, i, last, f"{side} {ago}")
    return None


def find_dates(tokens: list[Token], now: dt.datetime) -> list[DateWindow]:
    """The time windows the question names, resolved against `now`. A window past the
    calendar Python holds ("the last 5000 years", or "this year" against a clock in year
    9999) cannot be answered: Unresolved, as any other question that maps to nothing."""
    try:
        return _find_dates(tokens, now)
    except (OverflowError, ValueError) as exc:
        raise Unresolved(f"the dates it names fall outside the calendar ({exc})") from None


def _find_dates(tokens: list[Token], now: dt.datetime) -> list[DateWindow]:
    found: list[DateWindow] = []
    words = [token.lower for token in tokens]
    i = 0
    while i < len(tokens):
        word = words[i]
        window: DateWindow | None = _named_period(tokens, words, i, now) or _age(
            tokens, words, i, now
        )
        if window is not None:
            pass
        elif word in ("today", "yesterday", "tomorrow"):
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
