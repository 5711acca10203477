"""ExecuteQuery through a real server and stub on real PostgreSQL and MariaDB: typed
cells round-trip exactly, paging walks 10,000 rows, page tokens are bound to their
statement, the read-only guard refuses the attack corpus and the demo data is unchanged
afterwards, errors carry the right status, fields and positions."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import aiomysql
import asyncpg
import grpc
import pytest
from chatdb.connector.v1 import result_pb2, statement_pb2

from deploy.demo.data import DemoSpec, load_mysql, load_postgres
from servers.connector import convert
from servers.connector.domain import ConnectionConfig, ConnectionKind, Json, SqlQuery
from servers.connector.drivers import open_driver
from servers.runtime.errors import PermissionDenied
from tests.conftest import MYSQL, PG_ADMIN_DSN

from .service_support import (
    MY,
    PG,
    drop_mysql_database,
    drop_pg_database,
    ensure,
    expect_error,
    mysql_checksums,
    mysql_dsn,
    pb,
    pg_checksums,
    pg_dsn,
    running_connector,
    sql,
)

pytestmark = pytest.mark.timeout(300)

CORPUS = json.loads(
    (Path(__file__).parent / "data" / "attack_corpus.json").read_text(encoding="utf-8")
)


@pytest.fixture(scope="module")
async def connector(settings):
    # some tests here need a writable connection, which the server must allow
    async with running_connector(settings.model_copy(update={"connector_allow_writable": True})) as c:
        yield c


@pytest.fixture(scope="module")
async def demo(run_id, connector):
    """chatdb_demo loaded into chatdb_test_<run_id>_demo on both servers, registered as
    read-only connections demo-postgres and demo-mysql; dropped at the end."""
    name = f"chatdb_test_{run_id}_demo"
    spec = DemoSpec(database=name)  # ~53,000 rows; orders has 12,000
    await load_postgres(PG_ADMIN_DSN, spec)
    await load_mysql(MYSQL["host"], MYSQL["port"], MYSQL["user"], MYSQL["password"], spec)
    stub = connector.stub
    await ensure(stub, "demo-postgres", kind=PG, dsn=pg_dsn(name))
    await ensure(stub, "demo-mysql", kind=MY, dsn=mysql_dsn(name))
    yield name
    await stub.DeleteConnection(
        pb.DeleteConnectionRequest(connection_id="demo-postgres", allow_missing=True)
    )
    await stub.DeleteConnection(
        pb.DeleteConnectionRequest(connection_id="demo-mysql", allow_missing=True)
    )
    await drop_pg_database(name)
    await drop_mysql_database(name)


def decoded(response) -> list[list]:
    return [[convert.cell_to_value(c) for c in row.cells] for row in response.rows]


def assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if isinstance(w, Json):
            assert isinstance(g, Json) and json.loads(g.text) == json.loads(w.text), (g, w)
        else:
            assert convert.values_equal(g, w), (g, w)


# --------------------------------------------------------------------------- types

PLUS_0530 = timezone(timedelta(hours=5, minutes=30))
PG_ROWS = [
    (
        1,
        2**63 - 1,
        Decimal("12345678901234567890.123456789"),
        Decimal("1234.5000"),
        float("nan"),
        1.5,
        "unicode: 日本語 🚀 Ümlaut ‮bidi",
        b"\x00\xffbytes",
        datetime(2024, 5, 1, 12, 30, 45, 123456, tzinfo=PLUS_0530),
        datetime(2024, 5, 1, 12, 30, 45, 123456),
        date(2024, 2, 29),
        '{"a": [1, 2.5, null], "b": {"c": "ü"}}',
        True,
    ),
    (
        2,
        -(2**63),
        Decimal("-0.000000001"),
        Decimal("0.0000"),
        float("inf"),
        -0.0,
        "",
        b"",
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999),
        date(1, 1, 1),
        "[]",
        False,
    ),
    (3, None, None, None, None, None, None, None, None, None, None, None, None),
]


async def test_every_type_round_trips_postgres(connector, pg_database):
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.execute("DROP TABLE IF EXISTS types_probe")
        await conn.execute("""
            CREATE TABLE types_probe (id int PRIMARY KEY, i8 bigint, dec numeric(30, 9), dec_scale numeric(10, 4),
                f float8, r real, t text, b bytea, tz timestamptz, ts timestamp, d date, j jsonb, bo boolean)""")
        await conn.executemany(
            "INSERT INTO types_probe VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)", PG_ROWS
        )
        await conn.execute("INSERT INTO types_probe (id, dec) VALUES (4, 'NaN')")
    finally:
        await conn.close()
    cid = "types-pg"
    await ensure(connector.stub, cid, kind=PG, dsn=pg_database)
    response = await connector.stub.ExecuteQuery(
        pb.ExecuteQueryRequest(
            connection_id=cid, statement=sql("SELECT * FROM types_probe ORDER BY id")
        )
    )
    assert [c.type for c in response.columns][:4] == [
        1,
        1,
        3,
        3,
    ]  # INTEGER, INTEGER, DECIMAL, DECIMAL
    rows = decoded(response)
    expected = [list(r) for r in PG_ROWS]
    expected[0][8] = expected[0][8].astimezone(UTC)  # instants come back normalised to UTC
    for row in expected:
        if row[11] is not None:
            row[11] = Json(row[11])
    for got, want in zip(rows, expected, strict=False):
        assert_same(got, want)
    assert rows[3][2].is_nan()
    # cases on the wire
    cells = response.rows[0].cells
    assert cells[3].decimal_value == "1234.5000"  # scale kept
    assert cells[8].WhichOneof("value") == "timestamp_value"
    assert cells[9].datetime_value == "2024-05-01T12:30:45.123456"
    assert cells[10].date_value == "2024-02-29"
    assert response.rows[2].cells[1].WhichOneof("value") == "null_value"


async def test_params_round_trip_postgres(connector, pg_database):
    await ensure(connector.stub, "types-pg", kind=PG, dsn=pg_database)
    values = [
        2**63 - 1,
        -(2**63),
        Decimal("12345678901234567890.123456789"),
        float("nan"),
        "日本語 🚀",
        None,
        b"\x00\x01",
        datetime(2024, 5, 1, 7, 0, 45, 123456, tzinfo=UTC),
        datetime(2024, 5, 1, 12, 30),
        date(2024, 2, 29),
        Json('{"k": [1, "two"]}'),
        True,
    ]
    casts = [
        "int8",
        "int8",
        "numeric",
        "float8",
        "text",
        "int4",
        "bytea",
        "timestamptz",
        "timestamp",
        "date",
        "jsonb",
        "bool",
    ]
    text = "SELECT " + ", ".join(f"${i}::{t}" for i, t in enumerate(casts, 1))
    statement = sql(text, *[convert.value_to_cell(v) for v in values])
    response = await connector.stub.ExecuteQuery(
        pb.ExecuteQueryRequest(connection_id="types-pg", statement=statement)
    )
    assert_same(decoded(response)[0], values)


MYSQL_ROWS = [
    (
        1,
        2**63 - 1,
        2**64 - 1,
        Decimal("12345678901234567890.123456789"),
        1.5e300,
        "utf8mb4: 🚀 日本語 ü",
        b"\x00\xffbin",
        datetime(2024, 5, 1, 12, 30, 45, 123456),
        date(2024, 2, 29),
        '{"a": [1, 2.5, null]}',
        1,
    ),
    (
        2,
        -(2**63),
        0,
        Decimal("-0.000000001"),
        -0.0,
        "",
        b"",
        datetime(1000, 1, 1),
        date(9999, 12, 31),
        "[]",
        0,
    ),
    (3, None, None, None, None, None, None, None, None, None, None),
]


async def test_every_type_round_trips_mysql(connector, mysql_database):
    conn = await aiomysql.connect(**MYSQL, db=mysql_database, autocommit=True, charset="utf8mb4")
    try:
        async with conn.cursor() as cur:
            await cur.execute("SET sql_notes = 0")  # no "unknown table" warning from IF EXISTS
            await cur.execute("DROP TABLE IF EXISTS types_probe")
            await cur.execute("""
                CREATE TABLE types_probe (id INT PRIMARY KEY, i8 BIGINT, u8 BIGINT UNSIGNED, dec_ DECIMAL(30, 9),
                    f DOUBLE, t VARCHAR(100), b VARBINARY(20), dt DATETIME(6), d DATE, j JSON, bo TINYINT(1))
                CHARACTER SET utf8mb4""")
            # bytes as hex: aiomysql cannot escape bytes parameters with current PyMySQL
            rows = [r[:6] + (None if r[6] is None else r[6].hex(),) + r[7:] for r in MYSQL_ROWS]
            await cur.executemany(
                "INSERT INTO types_probe VALUES (%s,%s,%s,%s,%s,%s,UNHEX(%s),%s,%s,%s,%s)", rows
            )
    finally:
        conn.close()
    cid = "types-mysql"
    await ensure(connector.stub, cid, kind=MY, dsn=mysql_dsn(mysql_database))
    response = await connector.stub.ExecuteQuery(
        pb.ExecuteQueryRequest(
            connection_id=cid, statement=sql("SELECT * FROM types_probe ORDER BY id")
        )
    )
    rows = decoded(response)
    expected = [list(r) for r in MYSQL_ROWS]
    expected[0][2] = Decimal(2**64 - 1)  # beyond int64: exact, as a decimal
    expected[1][2] = 0
    for row in expected:
        row[9] = Json(row[9]) if row[9] is not None else None
        row[10] = bool(row[10]) if row[10] is not None else None
    for got, want in zip(rows, expected, strict=True):
        assert_same(got, want)
    assert response.rows[0].cells[2].decimal_value == str(2**64 - 1)
    assert response.rows[0].cells[7].datetime_value == "2024-05-01T12:30:45.123456"


async def test_params_round_trip_mysql(connector, mysql_database):
    await ensure(connector.stub, "types-mysql", kind=MY, dsn=mysql_dsn(mysql_database))
    values = [2**63 - 1, -(2**63), "🚀 ü", None, True]
    statement = sql(
        "SELECT CAST(%s AS SIGNED), CAST(%s AS SIGNED), CAST(%s AS CHAR), %s, %s IS TRUE",
        *[convert.value_to_cell(v) for v in values],
    )
    response = await connector.stub.ExecuteQuery(
        pb.ExecuteQueryRequest(connection_id="types-mysql", statement=statement)
    )
    row = decoded(response)[0]
    assert row[:4] == values[:4]
    assert row[4] in (1, True)


# --------------------------------------------------------------------------- paging


@pytest.mark.parametrize("held", [True, False], ids=["held-cursor", "stateless"])
@pytest.mark.parametrize("cid", ["demo-postgres", "demo-mysql"])
async def test_paging_walks_10000_rows(connector, demo, cid, held, monkeypatch):
    if not held:  # every page re-runs the statement and skips to its offset
        monkeypatch.setattr(connector.core.cursors, "max_open", 0)
    stub = connector.stub
    statement = sql("SELECT order_id, total FROM orders ORDER BY order_id LIMIT 10000")
    ids, token, pages = [], "", 0
    while True:
        page = await stub.ExecuteQuery(
            pb.ExecuteQueryRequest(
                connection_id=cid,
                statement=statement,
                page_size=777,
                page_token=token,
                max_rows=20000,
            )
        )
        assert page.rows_returned == len(page.rows) <= 777
        assert [c.name for c in page.columns] == ["order_id", "total"]
        ids += [r.cells[0].int64_value for r in page.rows]
        pages += 1
        token = page.next_page_token
        if not token:
            assert not page.truncated
            break
    assert pages == math.ceil(10000 / 777)
    assert len(ids) == 10000 and len(set(ids)) == 10000 and ids == sorted(ids)
    if cid == "demo-postgres":
        conn = await asyncpg.connect(pg_dsn(demo))
        try:
            truth = [
                r[0]
                for r in await conn.fetch(
                    "SELECT order_id FROM orders ORDER BY order_id LIMIT 10000"
                )
            ]
        finally:
            await conn.close()
        assert ids == truth


async def test_pages_of_one_walk_come_from_one_snapshot(connector, demo):
    """The first page parks its cursor for the next: rows written mid-walk neither
    shift later pages (no repeats) nor appear in them."""
    stub = connector.stub
    statement = sql("SELECT order_id FROM orders ORDER BY order_id")
    first = await stub.ExecuteQuery(pb.ExecuteQueryRequest(connection_id="demo-postgres", statement=statement, page_size=1000))
    assert len(connector.core.cursors) == 1
    writer = await asyncpg.connect(pg_dsn(demo))
    try:
        await writer.execute(
            "INSERT INTO orders (order_id, customer_id, order_date, status, total) "
            "SELECT -1, min(customer_id), now(), 'pending', 0 FROM customers"
        )
        expected = await writer.fetchval("SELECT count(*) - 1 FROM orders")
        ids, token = [r.cells[0].int64_value for r in first.rows], first.next_page_token
        while token:
            page = await stub.ExecuteQuery(pb.ExecuteQueryRequest(
                connection_id="demo-postgres", statement=statement, page_size=1000, page_token=token))
            ids += [r.cells[0].int64_value for r in page.rows]
            token = page.next_page_token
    finally:
        await writer.execute("DELETE FROM orders WHERE order_id = -1")
        await writer.close()
    assert len(ids) == len(set(ids)) == expected and -1 not in ids
    assert len(connector.core.cursors) == 0  # the last page closed it


async def test_page_token_is_bound_to_statement_and_connection(connector, demo):
    stub = connector.stub
    statement = sql("SELECT order_id FROM orders ORDER BY order_id")
    first = await stub.ExecuteQuery(
        pb.ExecuteQueryRequest(connection_id="demo-postgres", statement=statement, page_size=10)
    )
    token = first.next_page_token
    assert token
    second = await stub.ExecuteQuery(
        pb.ExecuteQueryRequest(
            connection_id="demo-postgres", statement=statement, page_size=10, page_token=token
        )
    )
    assert second.rows[0].cells[0].int64_value == first.rows[-1].cells[0].int64_value + 1
    misuses = [
        pb.ExecuteQueryRequest(
            connection_id="demo-postgres",
            statement=sql("SELECT customer_id FROM customers ORDER BY 1"),
            page_size=10,
            page_token=token,
        ),
        pb.ExecuteQueryRequest(
            connection_id="demo-postgres",
            page_size=10,
            page_token=token,
            statement=sql(
                "SELECT order_id FROM orders WHERE order_id > $1 ORDER BY order_id",
                result_pb2.Cell(int64_value=0),
            ),
        ),
        pb.ExecuteQueryRequest(
            connection_id="demo-postgres",
            statement=statement,
            page_size=10,
            page_token=token,
            max_rows=5,
        ),
        pb.ExecuteQueryRequest(
            connection_id="demo-mysql", statement=statement, page_size=10, page_token=token
        ),
        pb.ExecuteQueryRequest(
            connection_id="demo-postgres",
            statement=statement,
            page_size=10,
            page_token=token[:-2] + "xx",
        ),
        pb.ExecuteQueryRequest(
            connection_id="demo-postgres",
            statement=statement,
            page_size=10,
            page_token="not-a-token",
        ),
    ]
    for request in misuses:
        err = await expect_error(stub.ExecuteQuery(request), grpc.StatusCode.INVALID_ARGUMENT)
        assert [v.field for v in err.violations] == ["page_token"], err


async def test_row_cap_truncates(connector, demo):
    stub = connector.stub
    statement = sql("SELECT customer_id FROM customers ORDER BY customer_id")
    seen, token, last = [], "", None
    while True:
        last = await stub.ExecuteQuery(
            pb.ExecuteQueryRequest(
                connection_id="demo-postgres",
                statement=statement,
                page_size=20,
                max_rows=50,
                page_token=token,
            )
        )
        seen += [r.cells[0].int64_value for r in last.rows]
        token = last.next_page_token
        if not token:
            break
    assert len(seen) == 50 and last.truncated
    exact = await stub.ExecuteQuery(
        pb.ExecuteQueryRequest(
            connection_id="demo-postgres", statement=sql("SELECT 1 UNION ALL SELECT 2"), max_rows=2
        )
    )
    assert exact.rows_returned == 2 and not exact.truncated and not exact.next_page_token


# --------------------------------------------------------------------------- refusals and errors


async def test_attack_corpus_is_refused_and_data_unchanged(connector, demo):
    stub = connector.stub
    before = (await pg_checksums(pg_dsn(demo)), await mysql_checksums(demo))
    assert len(CORPUS) >= 200
    outcomes: dict[str, int] = {}
    sent = 0
    for entry in CORPUS:
        try:
            entry["sql"].encode("utf-8")
        except UnicodeEncodeError:
            continue  # lone surrogates: not a valid proto string, no client can send it
        sent += 1
        cid = "demo-postgres" if entry["dialect"] == "postgres" else "demo-mysql"
        try:
            await stub.ExecuteQuery(
                pb.ExecuteQueryRequest(connection_id=cid, statement=sql(entry["sql"])), timeout=30
            )
        except grpc.aio.AioRpcError as exc:
            assert exc.code() in (
                grpc.StatusCode.PERMISSION_DENIED,
                grpc.StatusCode.INVALID_ARGUMENT,
            ), (entry, exc)
            assert "Traceback" not in exc.details()
            outcomes[exc.code().name] = outcomes.get(exc.code().name, 0) + 1
        else:
            raise AssertionError(f"attack was executed: {entry}")
    after = (await pg_checksums(pg_dsn(demo)), await mysql_checksums(demo))
    assert after == before
    assert sent >= 200 and sum(outcomes.values()) == sent
    assert outcomes.get("PERMISSION_DENIED", 0) > sent // 2


async def test_refusal_names_what_was_refused(connector, demo):
    err = await expect_error(
        connector.stub.ExecuteQuery(
            pb.ExecuteQueryRequest(
                connection_id="demo-postgres",
                statement=sql("WITH x AS (DELETE FROM orders RETURNING *) SELECT * FROM x"),
            )
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert "DELETE" in err.message and err.reason == "STATEMENT_NOT_READ_ONLY"
    err = await expect_error(
        connector.stub.ExecuteQuery(
            pb.ExecuteQueryRequest(
                connection_id="demo-mysql",
                statement=sql("SELECT * FROM orders INTO OUTFILE '/tmp/x'"),
            )
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert "read-only" in err.message


@pytest.mark.parametrize("cid", ["demo-postgres", "demo-mysql"])
async def test_syntax_error_has_position(connector, demo, cid):
    err = await expect_error(
        connector.stub.ExecuteQuery(
            pb.ExecuteQueryRequest(
                connection_id=cid, statement=sql("SELECT order_id FROM orders WHERE (")
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert [v.field for v in err.violations] == ["statement.sql"]
    assert err.metadata.get("line") == "1" and err.metadata.get("column")
    assert "syntax" in err.message.lower()


async def test_database_errors_through_guard(connector, demo, pg_database):
    # passes the guard, fails in the database: still INVALID_ARGUMENT with the database's message
    err = await expect_error(
        connector.stub.ExecuteQuery(
            pb.ExecuteQueryRequest(
                connection_id="demo-postgres", statement=sql("SELECT no_such_column FROM orders")
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "no_such_column" in err.message
    # a writable connection has no guard: the database reports the syntax error and where
    await ensure(connector.stub, "pg-writable", kind=PG, dsn=pg_database, read_only=False)
    err = await expect_error(
        connector.stub.ExecuteQuery(
            pb.ExecuteQueryRequest(
                connection_id="pg-writable", statement=sql("SELECT 1 FROM WHERE")
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "syntax" in err.message.lower() and "position" in err.message.lower() or err.metadata, (
        err
    )


async def test_wrong_statement_form_and_dialect(connector, demo):
    stub = connector.stub
    find = statement_pb2.Statement(mongo_find=statement_pb2.MongoFind(collection="orders"))
    err = await expect_error(
        stub.ExecuteQuery(pb.ExecuteQueryRequest(connection_id="demo-postgres", statement=find)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert err.violations[0].field == "statement"
    err = await expect_error(
        stub.ExecuteQuery(
            pb.ExecuteQueryRequest(
                connection_id="demo-postgres",
                statement=sql("SELECT 1", dialect=statement_pb2.SQL_DIALECT_MYSQL),
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert err.violations[0].field == "statement.sql.dialect"
    err = await expect_error(
        stub.ExecuteQuery(pb.ExecuteQueryRequest(connection_id="demo-postgres")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert err.violations[0].field == "statement"
    err = await expect_error(
        stub.ExecuteQuery(
            pb.ExecuteQueryRequest(
                connection_id="demo-postgres", statement=sql("SELECT 1"), page_size=-5
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert err.violations[0].field == "page_size"
    await expect_error(
        stub.ExecuteQuery(
            pb.ExecuteQueryRequest(connection_id="no-such-conn", statement=sql("SELECT 1"))
        ),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_timeouts_are_deadline_exceeded(connector, pg_database):
    stub = connector.stub
    await ensure(stub, "pg-writable", kind=PG, dsn=pg_database, read_only=False)
    statement = sql("SELECT pg_sleep(20)")
    # the call's deadline
    await expect_error(
        stub.ExecuteQuery(
            pb.ExecuteQueryRequest(connection_id="pg-writable", statement=statement), timeout=1.0
        ),
        grpc.StatusCode.DEADLINE_EXCEEDED,
    )
    # the request's own timeout, enforced by the database: the status comes from the server
    request = pb.ExecuteQueryRequest(connection_id="pg-writable", statement=statement)
    request.timeout.FromMilliseconds(500)
    started = datetime.now()
    err = await expect_error(
        stub.ExecuteQuery(request, timeout=15), grpc.StatusCode.DEADLINE_EXCEEDED
    )
    assert (datetime.now() - started).total_seconds() < 5
    assert "timeout" in err.message.lower() or "time" in err.message.lower()
    # nothing is left running on the server
    conn = await asyncpg.connect(pg_database)
    try:
        running = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(20)%' "
            "AND state = 'active'"
        )
    finally:
        await conn.close()
    assert running == 0
    # ... and the guard keeps pg_sleep away from read-only connections altogether
    await ensure(stub, "pg-readonly", kind=PG, dsn=pg_database)
    err = await expect_error(
        stub.ExecuteQuery(pb.ExecuteQueryRequest(connection_id="pg-readonly", statement=statement)),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert "pg_sleep" in err.message


async def test_read_only_transaction_is_a_second_wall(connector, pg_database):
    """A user-defined function is refused by the guard (it is on no allow-list); and were
    it let through, the READ ONLY transaction would still stop its write."""
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS wall (x int)")
        await conn.execute(
            "CREATE OR REPLACE FUNCTION sneaky() RETURNS int LANGUAGE sql AS "
            "'INSERT INTO wall VALUES (1) RETURNING x'"
        )
        await ensure(connector.stub, "pg-readonly", kind=PG, dsn=pg_database)
        err = await expect_error(
            connector.stub.ExecuteQuery(
                pb.ExecuteQueryRequest(
                    connection_id="pg-readonly", statement=sql("SELECT sneaky()")
                )
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert "function sneaky" in err.message
        # past the guard, straight to a read-only driver: the transaction refuses the write
        driver = open_driver(ConnectionConfig(kind=ConnectionKind.POSTGRES, dsn=pg_database))
        try:
            with pytest.raises(PermissionDenied) as refused:
                await driver.fetch_page(SqlQuery("SELECT sneaky()"), offset=0, limit=1, timeout_s=5)
            assert refused.value.reason == "READ_ONLY_VIOLATION"
        finally:
            await driver.close()
        assert await conn.fetchval("SELECT count(*) FROM wall") == 0
    finally:
        await conn.execute("DROP FUNCTION IF EXISTS sneaky(); DROP TABLE IF EXISTS wall")
        await conn.close()


async def test_demo_schema(connector, demo):
    for cid in ("demo-postgres", "demo-mysql"):
        schema = (
            await connector.stub.GetSchema(pb.GetSchemaRequest(connection_id=cid, refresh=True))
        ).schema
        tables = {t.name: t for t in schema.tables}
        assert {"customers", "products", "orders", "order_items", "sales", "employees"} <= set(
            tables
        )
        orders = tables["orders"]
        assert list(orders.primary_key) == ["order_id"]
        assert any(fk.referenced_table == "customers" for fk in orders.foreign_keys)
        assert orders.row_estimate != 0
