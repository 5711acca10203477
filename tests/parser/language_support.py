"""Small schemas of our own (a shop and an HR department) with rows in an in-memory
SQLite database, for the language-side tests: a question is understood, rendered for
SQLite and run, so tests assert the rows a person would get back."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

from servers.contracts.glossary import Glossary
from servers.parser.domain import (
    ColumnInfo,
    ColumnKind,
    ColumnRef,
    ForeignKeyInfo,
    QueryPlan,
    SchemaView,
    TableInfo,
    Understanding,
)
from servers.parser.language import Prepared, prepare, understand
from servers.parser.render.sql import render_sql

NOW = dt.datetime(2025, 6, 15, 12, 0)

T, INT, N, D = ColumnKind.TEXT, ColumnKind.INTEGER, ColumnKind.NUMBER, ColumnKind.DATE


def table(name: str, columns: list[tuple[str, ColumnKind]], pk: str | None = None, fks=()) -> TableInfo:
    """A table of (name, kind) columns; `pk` defaults to the first column, "" means none;
    `fks` are (column, referenced table, referenced column)."""
    pk = columns[0][0] if pk is None else pk
    return TableInfo(
        name,
        tuple(ColumnInfo(c, k, primary_key=c == pk) for c, k in columns),
        (pk,) if pk else (),
        tuple(ForeignKeyInfo((a,), b, (c,)) for a, b, c in fks),
    )


SHOP = SchemaView(
    (
        table(
            "customers",
            [
                ("customer_id", INT),
                ("name", T),
                ("city", T),
                ("email", T),
                ("age", INT),
                ("joined_on", D),
            ],
            "customer_id",
        ),
        table(
            "products",
            [("product_id", INT), ("name", T), ("category", T), ("price", N)],
            "product_id",
        ),
        table(
            "orders",
            [("order_id", INT), ("customer_id", INT), ("ordered_on", D), ("status", T)],
            "order_id",
            [("customer_id", "customers", "customer_id")],
        ),
        table(
            "order_items",
            [("item_id", INT), ("order_id", INT), ("product_id", INT), ("quantity", INT)],
            "item_id",
            [("order_id", "orders", "order_id"), ("product_id", "products", "product_id")],
        ),
    )
)

SHOP_ROWS = {
    "customers": [
        (1, "Ada Lovelace", "London", "ada@example.com", 36, "2024-01-10"),
        (2, "Grace Hopper", "New York", "grace@example.com", 45, "2024-03-02"),
        (3, "Alan Turing", "London", "alan@example.com", 41, "2025-05-20"),
        (4, "Edsger Dijkstra", "Rotterdam", "edsger@example.com", 29, "2025-06-01"),
        (5, "Barbara Liskov", "New York", "barbara@example.com", 52, "2023-11-11"),
    ],
    "products": [
        (1, "Keyboard", "hardware", 45.0),
        (2, "Mouse", "hardware", 20.0),
        (3, "Monitor", "hardware", 180.0),
        (4, "Compiler Book", "books", 60.0),
        (5, "Notebook", "stationery", 3.5),
    ],
    "orders": [
        (1, 1, "2025-05-03", "shipped"),
        (2, 1, "2025-06-10", "pending"),
        (3, 2, "2025-04-22", "shipped"),
        (4, 3, "2025-05-28", "cancelled"),
        (5, 1, "2024-12-30", "shipped"),
        (6, 2, "2025-06-12", "shipped"),
    ],
    "order_items": [
        (1, 1, 1, 1),
        (2, 1, 2, 2),
        (3, 2, 3, 1),
        (4, 3, 4, 3),
        (5, 4, 5, 10),
        (6, 5, 2, 1),
        (7, 6, 4, 1),
    ],
}

HR = SchemaView(
    (
        table("departments", [("dept_id", INT), ("dept_name", T), ("budget", N)], "dept_id"),
        table(
            "employees",
            [
                ("emp_id", INT),
                ("fname", T),
                ("lname", T),
                ("salary", N),
                ("dept_id", INT),
                ("hire_date", D),
            ],
            "emp_id",
            [("dept_id", "departments", "dept_id")],
        ),
    )
)

HR_ROWS = {
    "departments": [(1, "Engineering", 500000.0), (2, "Sales", 200000.0), (3, "Legal", 90000.0)],
    "employees": [
        (1, "Maria", "Garcia", 95000.0, 1, "2020-02-01"),
        (2, "John", "Smith", 60000.0, 2, "2021-07-15"),
        (3, "Wei", "Chen", 105000.0, 1, "2019-09-30"),
        (4, "Amara", "Okafor", 72000.0, 2, "2024-01-08"),
    ],
}


@dataclass
class Database:
    schema: SchemaView
    connection: sqlite3.Connection
    prepared: Prepared

    def understand(self, question: str) -> Understanding:
        return understand(question, self.prepared, now=NOW)

    def plan(self, question: str) -> QueryPlan:
        plan = self.understand(question).plan
        assert plan is not None
        return plan

    def sql(self, question: str) -> str:
        return render_sql(self.plan(question), self.schema, "sqlite")

    def ask(self, question: str) -> list[tuple]:
        return self.connection.execute(self.sql(question)).fetchall()


def database(
    schema: SchemaView, rows: dict[str, list[tuple]], glossary: Glossary | None = None
) -> Database:
    connection = sqlite3.connect(":memory:")
    for table in schema.tables:
        columns = ", ".join(f'"{c.name}"' for c in table.columns)
        connection.execute(f'CREATE TABLE "{table.name}" ({columns})')
        marks = ", ".join("?" for _ in table.columns)
        connection.executemany(f'INSERT INTO "{table.name}" VALUES ({marks})', rows[table.name])
    samples: dict[ColumnRef, list[str]] = {}
    for table in schema.tables:
        for i, column in enumerate(table.columns):
            if column.kind is ColumnKind.TEXT:
                samples[ColumnRef(table.name, column.name)] = sorted(
                    {row[i] for row in rows[table.name]}
                )
    return Database(schema, connection, prepare(schema, samples, glossary))


def shop(glossary: Glossary | None = None) -> Database:
    return database(SHOP, SHOP_ROWS, glossary)


def hr() -> Database:
    return database(HR, HR_ROWS)


def flat(rows: list[tuple]) -> list:
    return [row[0] if len(row) == 1 else row for row in rows]
