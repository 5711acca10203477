"""A date or timestamp truncated to a time grain ("revenue by month", "orders per year"),
per dialect, as sqlglot expressions and as a MongoDB expression.

Every bucket is named by the first day of its period, so the three SQL engines agree
on what a row says (2025-04-01 is April 2025 and the second quarter of 2025; a week
starts on Monday, ISO 8601):
- PostgreSQL: date_trunc(grain, column) cast to date;
- MySQL / MariaDB: the date rebuilt from its parts (DATE_FORMAT for year, month, day;
  MAKEDATE plus whole quarters; the Monday by WEEKDAY), a DATE;
- SQLite: strftime / date text, YYYY-MM-DD.
MongoDB labels buckets with $dateToString (mongomock has no $dateTrunc): the same
first day for years, months and days, YYYY-Www (ISO week) and YYYY-Qn for the others.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from servers.parser.domain import TimeGrain

_MYSQL_FORMATS = {
    TimeGrain.YEAR: "%Y-01-01",
    TimeGrain.MONTH: "%Y-%m-01",
    TimeGrain.DAY: "%Y-%m-%d",
}
_SQLITE_FORMATS = {
    TimeGrain.YEAR: "%Y-01-01",
    TimeGrain.MONTH: "%Y-%m-01",
    TimeGrain.DAY: "%Y-%m-%d",
}
_MONGO_FORMATS = {
    TimeGrain.YEAR: "%Y-01-01",
    TimeGrain.MONTH: "%Y-%m-01",
    TimeGrain.DAY: "%Y-%m-%d",
}


def _call(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _date(value: exp.Expression) -> exp.Cast:
    return exp.Cast(this=value, to=exp.DataType.build("date"))


def truncate(column: exp.Expression, grain: TimeGrain, dialect: str) -> exp.Expression:
    """`column` truncated to the first day of its `grain` in `dialect`."""
    if dialect == "postgres":
        return _date(_call("DATE_TRUNC", exp.Literal.string(grain.value), column))
    if dialect == "mysql":
        return _mysql(column, grain)
    if dialect == "sqlite":
        return _sqlite(column, grain)
    raise ValueError(f"no time buckets for dialect {dialect!r}")


def _mysql(column: exp.Expression, grain: TimeGrain) -> exp.Expression:
    if grain in _MYSQL_FORMATS:
        return _date(_call("DATE_FORMAT", column, exp.Literal.string(_MYSQL_FORMATS[grain])))
    if grain is TimeGrain.WEEK:
        # the Monday of the week: WEEKDAY counts from Monday = 0
        weekday = _call("WEEKDAY", column.copy())
        return _call("SUBDATE", _call("DATE", column), weekday)
    # the quarter's first day: day 1 of the year plus whole quarters gone by
    quarters = exp.Sub(this=_call("QUARTER", column.copy()), expression=exp.Literal.number(1))
    months = exp.Mul(this=exp.Paren(this=quarters), expression=exp.Literal.number(3))
    first = _call("MAKEDATE", _call("YEAR", column), exp.Literal.number(1))
    return exp.Add(this=first, expression=exp.Interval(this=months, unit=exp.var("MONTH")))


def _sqlite(column: exp.Expression, grain: TimeGrain) -> exp.Expression:
    if grain in _SQLITE_FORMATS:
        return _call("STRFTIME", exp.Literal.string(_SQLITE_FORMATS[grain]), column)
    if grain is TimeGrain.WEEK:
        # the coming Sunday (or today on a Sunday), then back six days: the Monday
        return _call("DATE", column, exp.Literal.string("weekday 0"), exp.Literal.string("-6 days"))
    # the month's first day, back as many months as it lies into its quarter (a NULL
    # date stays NULL: DATE() of NULL is NULL whatever the modifiers)
    month = exp.Cast(
        this=_call("STRFTIME", exp.Literal.string("%m"), column.copy()),
        to=exp.DataType.build("int"),
    )
    into = exp.Mod(
        this=exp.Paren(this=exp.Sub(this=month, expression=exp.Literal.number(1))),
        expression=exp.Literal.number(3),
    )
    back = _call("PRINTF", exp.Literal.string("-%d months"), into)
    return _call("DATE", column, exp.Literal.string("start of month"), back)


def mongo_bucket(field: str, grain: TimeGrain) -> dict[str, Any]:
    """The $group key expression labelling `field`'s bucket."""
    path = f"${field}"
    if grain in _MONGO_FORMATS:
        return {"$dateToString": {"format": _MONGO_FORMATS[grain], "date": path}}
    if grain is TimeGrain.WEEK:
        return {"$dateToString": {"format": "%G-W%V", "date": path}}
    quarter = {"$ceil": {"$divide": [{"$month": path}, 3]}}
    return {
        "$concat": [
            {"$dateToString": {"format": "%Y", "date": path}},
            "-Q",
            {"$toString": quarter},
        ]
    }


def bucket_name(grain: TimeGrain) -> str:
    """The output column's name: the grain itself ("month", "year")."""
    return grain.value
