"""Questions about the schema are told from the schema; a schema word that only points
at a table ("… in the orders table") keeps the question about rows."""

from __future__ import annotations

from servers.parser.describe import asks_about_schema, describe
from servers.parser.domain import (
    ColumnInfo,
    ColumnKind,
    ForeignKeyInfo,
    QueryKind,
    SchemaView,
    TableInfo,
)
from servers.parser.routing import schema_words

SHOP = SchemaView((
    TableInfo("customers", (ColumnInfo("id", ColumnKind.INTEGER, primary_key=True), ColumnInfo("name", ColumnKind.TEXT))),
    TableInfo(
        "order_lines",
        (ColumnInfo("id", ColumnKind.INTEGER, primary_key=True), ColumnInfo("customer_id", ColumnKind.INTEGER)),
        foreign_keys=(ForeignKeyInfo(("customer_id",), "customers", ("id",)),),
    ),
))
WORDS = schema_words(SHOP)


def test_structure_questions_are_recognised():
    for question in ("what tables are there", "which columns does the customers table have", "describe the schema",
                     "list all tables"):
        assert asks_about_schema(question, SHOP, WORDS), question


def test_a_table_reference_is_not_a_structure_question():
    assert not asks_about_schema("how many names are in the customers table", SHOP, WORDS)
    assert not asks_about_schema("list every id in the order lines table", SHOP, WORDS)


def test_a_schema_whose_own_words_are_schema_words_keeps_them_as_data():
    fields = SchemaView((TableInfo("fields", (ColumnInfo("name", ColumnKind.TEXT),)),))
    assert not asks_about_schema("which fields are the largest", fields, schema_words(fields))


def test_one_table_is_described_column_by_column():
    found = describe("which columns does order lines have", SHOP)
    assert found.kind is QueryKind.DESCRIBE and found.tables == ["order_lines"]
    assert found.features == ["id", "customer_id"]
    assert found.explanation == "order_lines has 2 columns: id (integer, key), customer_id (integer, → customers)."


def test_no_table_named_describes_them_all():
    found = describe("what tables are there", SHOP)
    assert found.tables == ["customers", "order_lines"]
    assert found.explanation.startswith("2 tables: customers (id, name); order_lines (id, customer_id)")
