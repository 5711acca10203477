"""Questions about the schema are told from the schema; a schema word that only points
at a table ("… in the orders table") keeps the question about rows."""

from __future__ import annotations

import datetime as dt

from servers.parser.describe import tell
from servers.parser.domain import (
    ColumnInfo,
    ColumnKind,
    ForeignKeyInfo,
    QueryKind,
    SchemaView,
    TableInfo,
    Understanding,
    Unresolved,
)
from servers.parser.language import prepare, understand

SHOP = SchemaView((
    TableInfo("customers", (ColumnInfo("id", ColumnKind.INTEGER, primary_key=True), ColumnInfo("name", ColumnKind.TEXT))),
    TableInfo(
        "order_lines",
        (ColumnInfo("id", ColumnKind.INTEGER, primary_key=True), ColumnInfo("customer_id", ColumnKind.INTEGER)),
        foreign_keys=(ForeignKeyInfo(("customer_id",), "customers", ("id",)),),
    ),
))
NOW = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)


def kind(question: str, schema: SchemaView = SHOP) -> QueryKind | None:
    try:
        return understand(question, prepare(schema, {}), now=NOW).kind
    except Unresolved:
        return None


def test_structure_questions_are_recognised():
    for question in ("what tables are there", "which columns does the customers table have", "describe the schema",
                     "list all tables"):
        assert kind(question) is QueryKind.DESCRIBE, question


def test_a_table_reference_is_not_a_structure_question():
    assert kind("how many names are in the customers table") is not QueryKind.DESCRIBE
    assert kind("list every id in the order lines table") is not QueryKind.DESCRIBE


def test_a_schema_whose_own_words_are_schema_words_keeps_them_as_data():
    fields = SchemaView((TableInfo("fields", (ColumnInfo("name", ColumnKind.TEXT),)),))
    assert kind("which fields are the largest", fields) is not QueryKind.DESCRIBE


def test_one_table_is_described_column_by_column():
    asked = understand("which columns does order lines have", prepare(SHOP, {}), now=NOW)
    found = tell(asked, SHOP)
    assert found.kind is QueryKind.DESCRIBE and found.tables == ["order_lines"]
    assert found.features == ["id", "customer_id"]
    assert found.explanation == "order_lines has 2 columns: id (integer, key), customer_id (integer, → customers)."


def test_no_table_named_describes_them_all():
    found = tell(Understanding(QueryKind.DESCRIBE), SHOP)
    assert found.tables == ["customers", "order_lines"]
    assert found.explanation.startswith("2 tables: customers (id, name); order_lines (id, customer_id)")
