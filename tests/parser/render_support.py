"""Small schemas of our own for the render tests — a shop (customers, orders, order_items,
products) and a school with a link table (students ⇄ courses through enrollments) —
as SchemaViews, and as real databases on this machine's PostgreSQL, MariaDB and an
in-memory SQLite, filled with a few rows whose answers are easy to work out by hand.

Names chosen to exercise quoting: products."group" is reserved in every dialect and
customers."Tier" has a capital PostgreSQL would fold.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

import aiomysql
import asyncpg

from servers.parser.domain import (
    ColumnInfo,
    ColumnKind,
    ColumnRef,
    ForeignKeyInfo,
    SchemaFlavour,
    SchemaView,
    TableInfo,
)
from tests.conftest import MYSQL, create_pg_database, drop_pg_database

TEXT, INT, NUM, TS, DATE = (
    ColumnKind.TEXT,
    ColumnKind.INTEGER,
    ColumnKind.NUMBER,
    ColumnKind.TIMESTAMP,
    ColumnKind.DATE,
)


def _col(name: str, kind: ColumnKind, pk: bool = False) -> ColumnInfo:
    return ColumnInfo(name, kind, primary_key=pk)


def _fk(column: str, table: str, referenced: str = "id") -> ForeignKeyInfo:
    return ForeignKeyInfo((column,), table, (referenced,))


SHOP = SchemaView(
    tables=(
        TableInfo(
            "customers",
            (
                _col("id", INT, True),
                _col("name", TEXT),
                _col("city", TEXT),
                _col("Tier", TEXT),
                _col("joined_on", DATE),
            ),
            primary_key=("id",),
        ),
        TableInfo(
            "orders",
            (
                _col("id", INT, True),
                _col("customer_id", INT),
                _col("status", TEXT),
                _col("ordered_at", TS),
            ),
            primary_key=("id",),
            foreign_keys=(_fk("customer_id", "customers"),),
        ),
        TableInfo(
            "products",
            (_col("id", INT, True), _col("name", TEXT), _col("price", NUM), _col("group", TEXT)),
            primary_key=("id",),
        ),
        TableInfo(
            "order_items",
            (_col("order_id", INT), _col("product_id", INT), _col("quantity", INT)),
            foreign_keys=(_fk("order_id", "orders"), _fk("product_id", "products")),
        ),
    ),
    flavour=SchemaFlavour.POSTGRES,
    version="shop-1",
)

SCHOOL = SchemaView(
    tables=(
        TableInfo(
            "students",
            (_col("id", INT, True), _col("name", TEXT), _col("age", INT)),
            primary_key=("id",),
        ),
        TableInfo("courses", (_col("id", INT, True), _col("title", TEXT)), primary_key=("id",)),
        TableInfo(
            "enrollments",
            (_col("student_id", INT), _col("course_id", INT), _col("grade", INT)),
            foreign_keys=(_fk("student_id", "students"), _fk("course_id", "courses")),
        ),
        TableInfo("rooms", (_col("id", INT, True), _col("label", TEXT)), primary_key=("id",)),
    ),
    version="school-1",
)


def ref(text: str) -> ColumnRef:
    table, column = text.split(".")
    return ColumnRef(table, column)


# ------------------------------------------------------------------------------- data

_TYPES = {
    "postgres": {
        TEXT: "VARCHAR(100)",
        INT: "INTEGER",
        NUM: "NUMERIC(10,2)",
        TS: "TIMESTAMP",
        DATE: "DATE",
    },
    "mysql": {
        TEXT: "VARCHAR(100)",
        INT: "INTEGER",
        NUM: "DECIMAL(10,2)",
        TS: "DATETIME",
        DATE: "DATE",
    },
    "sqlite": {TEXT: "TEXT", INT: "INTEGER", NUM: "REAL", TS: "TEXT", DATE: "TEXT"},
}

ROWS: dict[str, list[tuple]] = {
    "customers": [
        (1, "Ann", "New York", "gold", dt.date(2023, 3, 1)),
        (2, "Bob", "Boston", "silver", dt.date(2023, 7, 15)),
        (3, "O'Brien", "New York", None, dt.date(2024, 1, 2)),
        (4, "Dee", "Chicago", "gold", dt.date(2024, 2, 20)),
    ],
    "orders": [
        (1, 1, "shipped", dt.datetime(2024, 1, 5, 10, 0)),
        (2, 1, "pending", dt.datetime(2024, 2, 10, 9, 0)),
        (3, 2, "shipped", dt.datetime(2024, 1, 20, 12, 0)),
        (4, 3, "cancelled", dt.datetime(2023, 12, 31, 23, 0)),
        (5, 1, "shipped", dt.datetime(2024, 1, 31, 23, 59)),
    ],
    "products": [
        (1, "Widget", decimal.Decimal("10.00"), "tools"),
        (2, "Gadget", decimal.Decimal("25.50"), "tools"),
        (3, "50% Off Sign", decimal.Decimal("5.00"), "signs"),
        (4, "Gizmo_X", decimal.Decimal("40.00"), "toys"),
    ],
    "order_items": [(1, 1, 2), (1, 2, 1), (2, 3, 5), (3, 1, 1), (4, 4, 1), (5, 2, 3)],
    "students": [(1, "Ann", 20), (2, "Bo", 22), (3, "Cy", 19)],
    "courses": [(1, "Math"), (2, "Art"), (3, "Law")],
    "enrollments": [(1, 1, 90), (1, 2, 70), (2, 1, 60), (3, 3, 80)],
    "rooms": [(1, "A1")],
}


def _quote(name: str, dialect: str) -> str:
    return f"`{name}`" if dialect == "mysql" else f'"{name}"'


def ddl(schema: SchemaView, dialect: str) -> list[str]:
    statements = []
    for table in schema.tables:
        columns = ", ".join(
            f"{_quote(c.name, dialect)} {_TYPES[dialect][c.kind]}" for c in table.columns
        )
        statements.append(f"CREATE TABLE {_quote(table.name, dialect)} ({columns})")
    return statements


def _inserts(schema: SchemaView, dialect: str) -> list[tuple[str, list[tuple]]]:
    mark = {"postgres": "${}", "mysql": "%s", "sqlite": "?"}[dialect]
    out = []
    for table in schema.tables:
        marks = ", ".join(
            mark.format(i) if "{}" in mark else mark for i in range(1, len(table.columns) + 1)
        )
        rows = ROWS[table.name]
        if dialect == "sqlite":
            rows = [tuple(_sqlite_value(v) for v in row) for row in rows]
        out.append((f"INSERT INTO {_quote(table.name, dialect)} VALUES ({marks})", rows))
    return out


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def normalise(rows: Sequence[Sequence[Any]]) -> list[tuple]:
    """Rows as plain Python values, so the three engines compare equal: decimals and
    floats as floats rounded to 2 places, dates as ISO text."""
    out = []
    for row in rows:
        values = []
        for value in row:
            if isinstance(value, (decimal.Decimal, float)):
                value = round(float(value), 2)
                if value == int(value):
                    value = int(value)
            elif isinstance(value, (dt.date, dt.datetime)):
                value = (
                    value.isoformat(sep=" ")
                    if isinstance(value, dt.datetime)
                    else value.isoformat()
                )
            values.append(value)
        out.append(tuple(values))
    return out


async def _create_pg_database(name: str) -> str:
    """CREATE DATABASE copies template1 and fails while another session (a parallel
    test run) uses it: try again for a few seconds."""
    for attempt in range(20):
        try:
            return await create_pg_database(name)
        except asyncpg.ObjectInUseError:
            if attempt == 19:
                raise
            await asyncio.sleep(0.25)
    raise AssertionError("unreachable")


class Database:
    """One throwaway database holding the shop and school tables, in one dialect."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.name = f"chatdb_test_render_{uuid.uuid4().hex[:8]}"
        self._sqlite: sqlite3.Connection | None = None
        self._pg: asyncpg.Connection | None = None
        self._my: aiomysql.Connection | None = None

    async def open(self) -> Database:
        statements: list[str] = []
        inserts: list[tuple[str, list[tuple]]] = []
        for schema in (SHOP, SCHOOL):
            statements += ddl(schema, self.dialect)
            inserts += _inserts(schema, self.dialect)
        if self.dialect == "postgres":
            dsn = await _create_pg_database(self.name)
            self._pg = await asyncpg.connect(dsn)
            for statement in statements:
                await self._pg.execute(statement)
            for statement, rows in inserts:
                await self._pg.executemany(statement, rows)
        elif self.dialect == "mysql":
            admin = await aiomysql.connect(**MYSQL, autocommit=True)
            async with admin.cursor() as cur:
                await cur.execute(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4")
            admin.close()
            self._my = await aiomysql.connect(
                **MYSQL, db=self.name, autocommit=True, charset="utf8mb4"
            )
            async with self._my.cursor() as cur:
                # PostgreSQL's strict grouping, so a lax statement fails here as well.
                await cur.execute(
                    "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ONLY_FULL_GROUP_BY')"
                )
                for statement in statements:
                    await cur.execute(statement)
                for statement, rows in inserts:
                    await cur.executemany(statement, rows)
        else:
            self._sqlite = sqlite3.connect(":memory:")
            for statement in statements:
                self._sqlite.execute(statement)
            for statement, rows in inserts:
                self._sqlite.executemany(statement, rows)
        return self

    async def rows(self, sql: str) -> list[tuple]:
        """Run one statement (a second statement in it is an error on every engine)."""
        if self._pg is not None:
            return normalise([tuple(r) for r in await self._pg.fetch(sql)])
        if self._my is not None:
            async with self._my.cursor() as cur:
                await cur.execute(sql)
                return normalise(await cur.fetchall())
        assert self._sqlite is not None
        return normalise(self._sqlite.execute(sql).fetchall())

    async def table_count(self) -> int:
        if self.dialect == "postgres":
            return len(
                await self.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
        if self.dialect == "mysql":
            return len(await self.rows("SHOW TABLES"))
        return len(await self.rows("SELECT name FROM sqlite_master WHERE type = 'table'"))

    async def close(self) -> None:
        if self._pg is not None:
            await self._pg.close()
            await drop_pg_database(self.name)
        if self._my is not None:
            async with self._my.cursor() as cur:
                await cur.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
            self._my.close()
        if self._sqlite is not None:
            self._sqlite.close()


__all__ = ["DATE", "INT", "NUM", "SCHOOL", "SHOP", "TEXT", "TS", "Database", "ref"]
