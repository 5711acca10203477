"""A column name several tables share, and comments that are sentences: the table a
question names decides which column it means, and "how many orders were placed" counts
orders even when a column's comment says "When the order was placed"."""

from __future__ import annotations

import datetime as dt

from servers.parser.domain import (
    ColumnInfo,
    ColumnKind,
    ColumnRef,
    ForeignKeyInfo,
    SchemaView,
    TableInfo,
)
from servers.parser.language import prepare, understand
from servers.parser.render.sql import render_sql

NOW = dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC)
T, INT, N, D = ColumnKind.TEXT, ColumnKind.INTEGER, ColumnKind.NUMBER, ColumnKind.DATE

SCHEMA = SchemaView((
    TableInfo("staff", (ColumnInfo("staff_id", INT, primary_key=True), ColumnInfo("full_name", T),
                        ColumnInfo("region", T), ColumnInfo("started_on", D)), ("staff_id",)),
    TableInfo("clients", (ColumnInfo("client_id", INT, primary_key=True), ColumnInfo("name", T)), ("client_id",)),
    TableInfo("bookings", (
        ColumnInfo("booking_id", INT, primary_key=True),
        ColumnInfo("client_id", INT),
        ColumnInfo("region", T),
        ColumnInfo("booked_at", D, comment="When the booking was made"),
        ColumnInfo("fee", N),
    ), ("booking_id",), (ForeignKeyInfo(("client_id",), "clients", ("client_id",)),)),
))
SAMPLES = {ColumnRef("staff", "region"): ["North", "South"], ColumnRef("bookings", "region"): ["North", "South"]}


def sql(question: str) -> str:
    understood = understand(question, prepare(SCHEMA, SAMPLES), now=NOW)
    return render_sql(understood.plan, SCHEMA, "postgres")


def test_a_window_applies_to_the_date_of_the_table_the_question_names():
    statement = sql("total fee of bookings by region last month")
    assert "booked_at >= '2026-11-01'" in statement and "started_on" not in statement
    assert "staff" not in statement


def test_a_comment_that_is_a_sentence_does_not_swallow_the_counted_table():
    statement = sql("how many bookings were made by each client")
    assert "COUNT(*)" in statement and "DISTINCT" not in statement
