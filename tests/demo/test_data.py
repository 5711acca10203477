"""Tests for deploy.demo.data.

Real servers: PostgreSQL (127.0.0.1:5432, user postgres, trust auth) and MariaDB/MySQL
(127.0.0.1:3306, root, empty password); override with CHATDB_TEST_PG_DSN and
CHATDB_TEST_MYSQL_{HOST,PORT,USER,PASSWORD}.  MongoDB is replaced by mongomock-motor.
Every run uses databases named chatdb_demo_test_<random hex>, dropped in the fixture
finalisers.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import secrets
import time
from collections import Counter
from datetime import date, datetime
from decimal import Decimal

import aiomysql
import asyncpg
import pytest
from mongomock_motor import AsyncMongoMockClient

from deploy.demo import data as dd

PG_ADMIN_DSN = os.environ.get("CHATDB_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL = {
    "host": os.environ.get("CHATDB_TEST_MYSQL_HOST", "127.0.0.1"),
    "port": int(os.environ.get("CHATDB_TEST_MYSQL_PORT", "3306")),
    "user": os.environ.get("CHATDB_TEST_MYSQL_USER", "root"),
    "password": os.environ.get("CHATDB_TEST_MYSQL_PASSWORD", ""),
}

TODAY = date(2025, 3, 14)  # fixed, so the loaded data set is the same on every run


def _unique_db_name() -> str:
    return f"chatdb_demo_test_{secrets.token_hex(6)}"


def _months_back(today: date, n: int = 36) -> set[tuple[int, int]]:
    """The (year, month) of each of the n calendar months ending with today's month."""
    out = set()
    for k in range(n):
        y, m = divmod(today.year * 12 + today.month - 1 - k, 12)
        out.add((y, m + 1))
    return out


async def _drop_pg(database: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(
            f'DROP DATABASE IF EXISTS "{dd.validate_identifier(database)}" WITH (FORCE)'
        )
    finally:
        await admin.close()


async def _drop_mysql(database: str) -> None:
    conn = await aiomysql.connect(**MYSQL, autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SET SESSION sql_notes = 0")  # no "doesn't exist" note/warning
            await cur.execute(f"DROP DATABASE IF EXISTS `{dd.validate_identifier(database)}`")
    finally:
        conn.close()


async def _my_fetchall(conn, sql: str, args=None) -> list[tuple]:
    async with conn.cursor() as cur:
        await cur.execute(sql, args)
        return list(await cur.fetchall())


# ---------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> dd.DemoSpec:
    return dd.DemoSpec(seed=20240607, today=TODAY, database=_unique_db_name())


@pytest.fixture(scope="module")
def data(spec) -> dd.DemoData:
    return dd.generate(spec)


@pytest.fixture(scope="module")
async def pg(spec):
    """(row counts, load seconds, asyncpg connection to the loaded database)."""
    try:
        started = time.perf_counter()
        counts = await dd.load_postgres(PG_ADMIN_DSN, spec)
        elapsed = time.perf_counter() - started
        conn = await asyncpg.connect(PG_ADMIN_DSN, database=spec.database)
        try:
            yield counts, elapsed, conn
        finally:
            await conn.close()
    finally:
        await _drop_pg(spec.database)


@pytest.fixture(scope="module")
async def my(spec):
    """(row counts, load seconds, aiomysql connection to the loaded database)."""
    try:
        started = time.perf_counter()
        counts = await dd.load_mysql(
            MYSQL["host"], MYSQL["port"], MYSQL["user"], MYSQL["password"], spec
        )
        elapsed = time.perf_counter() - started
        conn = await aiomysql.connect(**MYSQL, db=spec.database, autocommit=True)
        try:
            yield counts, elapsed, conn
        finally:
            conn.close()
    finally:
        await _drop_mysql(spec.database)


@pytest.fixture(scope="module")
async def mongo(spec):
    client = AsyncMongoMockClient()
    db = client[spec.database]
    counts = await dd.load_mongo(db, spec)
    yield counts, db
    await client.drop_database(spec.database)


# ---------------------------------------------------------------------------------------
# generate()
# ---------------------------------------------------------------------------------------


def test_generate_is_deterministic(spec, data):
    again = dd.generate(spec)
    assert again == data
    # byte for byte, not just ==  (e.g. Decimal('1.0') == Decimal('1.00'))
    assert pickle.dumps(again) == pickle.dumps(data)
    assert repr(again) == repr(data)


def test_generate_differs_for_another_seed(spec, data):
    other = dd.generate(dataclasses.replace(spec, seed=spec.seed + 1))
    for table in ("customers", "products", "orders", "order_items", "sales", "employees"):
        assert other[table].rows != data[table].rows, table


def test_generate_shape_and_counts(data):
    assert tuple(data) == dd.TABLES
    counts = {name: len(t.rows) for name, t in data.items()}
    assert sum(counts.values()) >= 50_000, counts
    assert counts["customers"] == 2000
    assert counts["products"] == 200
    assert counts["orders"] == 12000
    assert counts["sales"] == 8000
    assert counts["employees"] == 300
    assert 27_000 <= counts["order_items"] <= 34_000
    for name, table in data.items():
        assert table.columns == dd.COLUMNS[name]
        assert all(len(row) == len(table.columns) for row in table.rows), name
        # every column but employees.manager_id (the CEO) is NOT NULL
        nullable = {"manager_id"}
        for i, col in enumerate(table.columns):
            if col not in nullable:
                assert all(row[i] is not None for row in table.rows), (name, col)


@pytest.mark.parametrize(
    ("today", "scale"),
    [
        (TODAY, 1.0),
        (date(2024, 2, 29), 0.01),  # leap day
        (date(2025, 1, 1), 0.01),  # first day of a year: current month has one day
        (date(2025, 12, 31), 0.01),
        (date(2026, 7, 1), 0.003),  # below the floors: minimum counts still cover 36 months
    ],
)
def test_every_one_of_the_last_36_months_has_orders_and_sales(today, scale):
    data = dd.generate(dd.DemoSpec(seed=3, today=today, scale=scale))
    expected = _months_back(today)
    order_dates = [row[2] for row in data["orders"].rows]
    sale_dates = [row[2] for row in data["sales"].rows]
    assert {(d.year, d.month) for d in order_dates} == expected
    assert {(d.year, d.month) for d in sale_dates} == expected
    assert max(order_dates).date() <= today and max(sale_dates) <= today
    first = min(expected)
    assert min(order_dates).date() >= date(first[0], first[1], 1)
    assert min(sale_dates) >= date(first[0], first[1], 1)


def test_today_defaults_to_the_current_date():
    spec = dd.DemoSpec(scale=0.01)
    data = dd.generate(spec)
    today = date.today()
    assert {(r[2].year, r[2].month) for r in data["sales"].rows} == _months_back(today)
    y, m = divmod(today.year * 12 + today.month - 2, 12)  # last month
    assert any((r[2].year, r[2].month) == (y, m + 1) for r in data["orders"].rows)


def test_generated_data_is_consistent(data):
    customers, products = data["customers"].rows, data["products"].rows
    orders, items = data["orders"].rows, data["order_items"].rows
    sales, employees = data["sales"].rows, data["employees"].rows

    # primary keys are 1..n and unique
    for rows in (customers, products, orders, sales, employees):
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert len({(r[0], r[1]) for r in items}) == len(items)
    # unique emails and product names
    assert len({r[2] for r in customers}) == len(customers)
    assert len({r[3] for r in employees}) == len(employees)
    assert len({r[1] for r in products}) == len(products)

    # foreign keys
    customer_ids, product_ids = {r[0] for r in customers}, {r[0] for r in products}
    order_ids = {r[0] for r in orders}
    assert {r[1] for r in orders} <= customer_ids
    assert {r[0] for r in items} == order_ids  # every order has items, no orphans
    assert {r[1] for r in items} <= product_ids
    assert {r[3] for r in sales} <= product_ids
    assert [r for r in employees if r[9] is None] == [employees[0]]  # only the CEO
    assert all(r[9] < r[0] for r in employees[1:])  # managers come first

    # orders' total equals the sum of its items
    item_sums: Counter = Counter()
    for order_id, _, qty, unit_price in items:
        item_sums[order_id] += qty * unit_price
    assert all(total == item_sums[oid] for oid, _, _, _, total in orders)

    # an order is never placed before its customer signed up
    signup = {r[0]: r[6] for r in customers}
    assert all(r[2].date() >= signup[r[1]] for r in orders)

    # money has exactly two decimal places and is positive
    money = [r[3] for r in products] + [r[4] for r in orders] + [r[3] for r in items]
    money += [r[4] for r in sales] + [r[8] for r in employees]
    assert all(isinstance(v, Decimal) and v.as_tuple().exponent == -2 and v > 0 for v in money)
    assert all(isinstance(r[2], datetime) and r[2].microsecond == 0 for r in orders)

    # realistic pools
    cities = Counter(r[3] for r in customers)
    assert cities["New York"] >= 100
    assert sum(1 for c in cities.values() if c >= 3) >= 40  # several customers per city
    assert {r[7] for r in customers} == set(dd.SEGMENTS)
    assert {r[1] for r in sales} == set(dd.REGIONS)
    assert {r[3] for r in orders} <= set(dd.ORDER_STATUSES)
    assert len({r[2] for r in products}) == len(dd.CATALOG)
    assert len({r[4] for r in employees}) == len(dd.DEPARTMENTS) + 1  # + Executive


@pytest.mark.parametrize(
    "name",
    ["", "1abc", "a-b", "a b", 'x"; DROP DATABASE postgres; --', "abc\n", "a" * 64, "é", None],
)
def test_invalid_database_name_is_rejected(name):
    with pytest.raises(ValueError):
        dd.DemoSpec(database=name)
    with pytest.raises(ValueError):
        dd.validate_identifier(name)


def test_valid_database_names_are_accepted():
    for name in ("chatdb_demo", "_x", "A" * 63, "demo_2024"):
        assert dd.DemoSpec(database=name).database == name


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), float("inf")])
def test_invalid_scale_is_rejected(scale):
    with pytest.raises(ValueError):
        dd.DemoSpec(scale=scale)


# ---------------------------------------------------------------------------------------
# PostgreSQL and MySQL
# ---------------------------------------------------------------------------------------


def _expected_counts(data: dd.DemoData) -> dict[str, int]:
    return {name: len(table.rows) for name, table in data.items()}


async def test_postgres_load_counts_match_generate(pg, data):
    counts, elapsed, conn = pg
    assert counts == _expected_counts(data)
    for name in dd.TABLES:
        assert await conn.fetchval(f"SELECT count(*) FROM {name}") == len(data[name].rows)
    assert elapsed < 20, f"PostgreSQL load took {elapsed:.1f}s"


async def test_mysql_load_counts_match_generate(my, data):
    counts, elapsed, conn = my
    assert counts == _expected_counts(data)
    for name in dd.TABLES:
        assert (await _my_fetchall(conn, f"SELECT COUNT(*) FROM {name}"))[0][0] == len(
            data[name].rows
        )
    assert elapsed < 30, f"MySQL load took {elapsed:.1f}s"


# Portable SQL: the same text runs on both servers and must give the same answer.
CHECKSUM_QUERIES = {
    "sales_amount": "SELECT SUM(amount) FROM sales",
    "sales_quantity": "SELECT SUM(quantity) FROM sales",
    "orders_total": "SELECT SUM(total) FROM orders",
    "items_value": "SELECT SUM(quantity * unit_price) FROM order_items",
    "new_york_customers": "SELECT COUNT(*) FROM customers WHERE city = 'New York'",
    "corporate_customers": "SELECT COUNT(*) FROM customers WHERE segment = 'Corporate'",
    "delivered_orders": "SELECT COUNT(*) FROM orders WHERE status = 'delivered'",
    "salary_total": "SELECT SUM(salary) FROM employees",
    "price_total": "SELECT SUM(price) FROM products",
    "latest_order": "SELECT MAX(order_date) FROM orders",
    "earliest_sale": "SELECT MIN(sale_date) FROM sales",
    "employees_with_manager": "SELECT COUNT(manager_id) FROM employees",
    "east_2024": "SELECT SUM(amount) FROM sales WHERE region = 'East' "
    "AND sale_date >= '2024-01-01' AND sale_date < '2025-01-01'",
}


async def test_checksums_agree_between_postgres_mysql_and_generate(pg, my, data):
    _, _, pg_conn = pg
    _, _, my_conn = my
    for label, sql in CHECKSUM_QUERIES.items():
        pg_value = await pg_conn.fetchval(sql)
        my_value = (await _my_fetchall(my_conn, sql))[0][0]
        assert pg_value == my_value, (label, pg_value, my_value)

    sales, customers = data["sales"].rows, data["customers"].rows
    assert await pg_conn.fetchval(CHECKSUM_QUERIES["sales_amount"]) == sum(r[4] for r in sales)
    assert await pg_conn.fetchval(CHECKSUM_QUERIES["new_york_customers"]) == sum(
        1 for r in customers if r[3] == "New York"
    )
    # the rows themselves are identical (text rendering of every row, in key order)
    for name, order_by in (("customers", "customer_id"), ("employees", "employee_id")):
        pg_rows = [
            tuple(r) for r in await pg_conn.fetch(f"SELECT * FROM {name} ORDER BY {order_by}")
        ]
        my_rows = await _my_fetchall(my_conn, f"SELECT * FROM {name} ORDER BY {order_by}")
        assert pg_rows == my_rows == data[name].rows, name


ORPHAN_QUERIES = (
    "SELECT COUNT(*) FROM order_items i LEFT JOIN orders o ON o.order_id = i.order_id "
    "WHERE o.order_id IS NULL",
    "SELECT COUNT(*) FROM order_items i LEFT JOIN products p ON p.product_id = i.product_id "
    "WHERE p.product_id IS NULL",
    "SELECT COUNT(*) FROM orders o LEFT JOIN customers c ON c.customer_id = o.customer_id "
    "WHERE c.customer_id IS NULL",
    "SELECT COUNT(*) FROM sales s LEFT JOIN products p ON p.product_id = s.product_id "
    "WHERE p.product_id IS NULL",
    "SELECT COUNT(*) FROM employees e LEFT JOIN employees m ON m.employee_id = e.manager_id "
    "WHERE e.manager_id IS NOT NULL AND m.employee_id IS NULL",
    # totals equal the sum of their items
    "SELECT COUNT(*) FROM orders o JOIN (SELECT order_id, SUM(quantity * unit_price) AS s "
    "FROM order_items GROUP BY order_id) t ON t.order_id = o.order_id WHERE t.s <> o.total",
)


async def test_foreign_keys_hold_and_are_declared(pg, my):
    _, _, pg_conn = pg
    _, _, my_conn = my
    for sql in ORPHAN_QUERIES:
        assert await pg_conn.fetchval(sql) == 0, sql
        assert (await _my_fetchall(my_conn, sql))[0][0] == 0, sql

    fk_sql = (
        "SELECT table_name, COUNT(*) FROM information_schema.table_constraints "
        "WHERE constraint_type = 'FOREIGN KEY' AND table_schema = {} GROUP BY table_name"
    )
    expected = {"orders": 1, "order_items": 2, "sales": 1, "employees": 1}
    pg_fks = dict(await pg_conn.fetch(fk_sql.format("'public'")))
    my_fks = dict(await _my_fetchall(my_conn, fk_sql.format("DATABASE()")))
    assert pg_fks == expected
    assert {k.lower(): v for k, v in my_fks.items()} == expected

    # a real orphan is refused by both servers
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await pg_conn.execute("INSERT INTO order_items VALUES (1, 999999, 1, 1.00)")
    with pytest.raises(aiomysql.IntegrityError):
        await _my_fetchall(my_conn, "INSERT INTO order_items VALUES (1, 999999, 1, 1.00)")


async def test_comments_and_indexes_exist(pg, my, spec):
    _, _, pg_conn = pg
    _, _, my_conn = my
    for name in dd.TABLES:
        assert await pg_conn.fetchval("SELECT obj_description($1::regclass, 'pg_class')", name)
    pg_column_comments = await pg_conn.fetchval(
        "SELECT COUNT(*) FROM pg_description d JOIN pg_class c ON c.oid = d.objoid "
        "WHERE c.relnamespace = 'public'::regnamespace AND d.objsubid > 0"
    )
    assert pg_column_comments >= 5
    pg_indexes = {
        r[0]
        for r in await pg_conn.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    }
    assert {
        "idx_orders_customer_id",
        "idx_orders_order_date",
        "idx_sales_sale_date",
        "idx_order_items_product_id",
    } <= pg_indexes

    rows = await _my_fetchall(
        my_conn,
        "SELECT table_name, table_comment, engine, table_collation FROM information_schema.tables "
        "WHERE table_schema = %s",
        (spec.database,),
    )
    assert {r[0] for r in rows} == set(dd.TABLES)
    for table_name, comment, engine, collation in rows:
        assert comment, table_name
        assert engine == "InnoDB"
        assert collation.startswith("utf8mb4")
    my_column_comments = await _my_fetchall(
        my_conn,
        "SELECT COUNT(*) FROM information_schema.columns "
        "WHERE table_schema = %s AND column_comment <> ''",
        (spec.database,),
    )
    assert my_column_comments[0][0] >= 5


async def test_last_month_has_rows_in_both_databases(pg, my):
    _, _, pg_conn = pg
    _, _, my_conn = my
    y, m = divmod(TODAY.year * 12 + TODAY.month - 2, 12)
    start, end = date(y, m + 1, 1), date(TODAY.year, TODAY.month, 1)
    assert (
        await pg_conn.fetchval(
            "SELECT COUNT(*) FROM orders WHERE order_date >= $1 AND order_date < $2", start, end
        )
        > 0
    )
    assert (
        await pg_conn.fetchval(
            "SELECT COUNT(*) FROM sales WHERE sale_date >= $1 AND sale_date < $2", start, end
        )
        > 0
    )
    ((n,),) = await _my_fetchall(
        my_conn, "SELECT COUNT(*) FROM sales WHERE sale_date >= %s AND sale_date < %s", (start, end)
    )
    assert n > 0


async def test_reload_replaces_an_existing_database():
    name = _unique_db_name()
    first = dd.DemoSpec(seed=1, today=TODAY, scale=0.01, database=name)
    second = dataclasses.replace(first, seed=2, scale=0.02)
    try:
        assert await dd.load_postgres(PG_ADMIN_DSN, first) == _expected_counts(dd.generate(first))
        assert await dd.load_mysql(**MYSQL, spec=first) == _expected_counts(dd.generate(first))
        # second load drops the existing database (even with a session connected to it)
        squatter = await asyncpg.connect(PG_ADMIN_DSN, database=name)
        try:
            counts = await dd.load_postgres(PG_ADMIN_DSN, second)
        finally:
            await squatter.close()
        assert counts == _expected_counts(dd.generate(second))
        assert await dd.load_mysql(**MYSQL, spec=second) == _expected_counts(dd.generate(second))
    finally:
        await _drop_pg(name)
        await _drop_mysql(name)


async def test_loaders_reject_bad_database_names():
    bad = dd.DemoSpec(scale=0.01)
    object.__setattr__(bad, "database", "x`; DROP DATABASE mysql; --")  # bypass __post_init__
    with pytest.raises(ValueError):
        await dd.load_postgres(PG_ADMIN_DSN, bad)
    with pytest.raises(ValueError):
        await dd.load_mysql(**MYSQL, spec=bad)
    with pytest.raises(ValueError):
        await dd.load_mongo(AsyncMongoMockClient()["x"], bad)


# ---------------------------------------------------------------------------------------
# MongoDB (mongomock-motor)
# ---------------------------------------------------------------------------------------


async def test_mongo_load_counts_and_types(mongo, data):
    counts, db = mongo
    assert counts == _expected_counts(data)
    for name in dd.TABLES:
        assert await db[name].count_documents({}) == len(data[name].rows)

    order = await db.orders.find_one({"_id": 1})
    first = data["orders"].rows[0]
    assert order["order_id"] == 1 and order["customer_id"] == first[1]
    assert order["order_date"] == first[2] and isinstance(order["order_date"], datetime)
    assert isinstance(order["total"], float) and round(order["total"], 2) == float(first[4])

    sale = await db.sales.find_one({"_id": 1})
    assert isinstance(sale["sale_date"], datetime)
    assert sale["sale_date"].date() == data["sales"].rows[0][2]

    new_york = sum(1 for r in data["customers"].rows if r[3] == "New York")
    assert await db.customers.count_documents({"city": "New York"}) == new_york
    assert await db.employees.count_documents({"manager_id": None}) == 1


async def test_mongo_load_drops_previous_collections():
    client = AsyncMongoMockClient()
    spec = dd.DemoSpec(seed=5, today=TODAY, scale=0.01, database=_unique_db_name())
    db = client[spec.database]
    await db.orders.insert_one({"_id": "stale"})
    await db.unrelated.insert_one({"keep": True})
    counts = await dd.load_mongo(db, spec)
    assert await db.orders.count_documents({"_id": "stale"}) == 0
    assert counts == _expected_counts(dd.generate(spec))
    assert await db.unrelated.count_documents({}) == 1
    # a client works too: the spec's database is used
    assert await dd.load_mongo(client, spec) == counts


async def test_loading_the_same_data_set_again_leaves_the_database_alone():
    """A second load of the same data set drops nothing: a session open on the database
    survives (PostgreSQL's DROP ... WITH (FORCE) would kill it) and a table that only the
    first database had is still there, on both servers; a changed data set reloads."""
    name = _unique_db_name()
    spec = dd.DemoSpec(seed=3, today=TODAY, scale=0.01, database=name)
    expected = _expected_counts(dd.generate(spec))
    try:
        first_pg = await dd.load_postgres(PG_ADMIN_DSN, spec)
        first_my = await dd.load_mysql(**MYSQL, spec=spec)
        assert first_pg.reloaded and first_my.reloaded
        session = await asyncpg.connect(PG_ADMIN_DSN, database=name)
        my_session = await aiomysql.connect(**MYSQL, db=name, autocommit=True)
        try:
            await session.execute("CREATE TABLE left_alone (x int)")
            async with my_session.cursor() as cur:
                await cur.execute("CREATE TABLE left_alone (x int)")

            again_pg = await dd.load_postgres(PG_ADMIN_DSN, spec)
            again_my = await dd.load_mysql(**MYSQL, spec=spec)
            assert again_pg == expected and again_my == expected
            assert not again_pg.reloaded and not again_my.reloaded
            assert await session.fetchval("SELECT count(*) FROM left_alone") == 0  # same session, same database
            async with my_session.cursor() as cur:
                await cur.execute("SELECT COUNT(*) FROM left_alone")
                assert (await cur.fetchone())[0] == 0
        finally:
            await session.close()
            my_session.close()

        changed = dataclasses.replace(spec, seed=4)
        assert (await dd.load_postgres(PG_ADMIN_DSN, changed)).reloaded
        assert (await dd.load_mysql(**MYSQL, spec=changed)).reloaded
        conn = await asyncpg.connect(PG_ADMIN_DSN, database=name)
        try:
            assert await conn.fetchval("SELECT to_regclass('left_alone')") is None
        finally:
            await conn.close()
        assert (await dd.load_postgres(PG_ADMIN_DSN, changed, force=True)).reloaded
    finally:
        await _drop_pg(name)
        await _drop_mysql(name)


async def test_a_database_missing_rows_is_reloaded():
    name = _unique_db_name()
    spec = dd.DemoSpec(seed=5, today=TODAY, scale=0.01, database=name)
    try:
        await dd.load_postgres(PG_ADMIN_DSN, spec)
        conn = await asyncpg.connect(PG_ADMIN_DSN, database=name)
        try:
            await conn.execute("DELETE FROM employees WHERE manager_id IS NOT NULL")
        finally:
            await conn.close()
        counts = await dd.load_postgres(PG_ADMIN_DSN, spec)
        assert counts.reloaded and counts == _expected_counts(dd.generate(spec))
    finally:
        await _drop_pg(name)
