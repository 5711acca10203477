"""The PostgreSQL driver against the real server: types, paging, streaming, schema,
errors, the read-only wall, timeouts, recovery and cancellation."""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from deploy.demo import data as demo_data
from servers.connector.domain import (
    ConnectionKind,
    DataType,
    Json,
    MongoFind,
    SqlQuery,
    Unsupported,
)
from servers.runtime.errors import (
    ChatDBError,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unavailable,
)
from tests.conftest import PG_ADMIN_DSN, pg_dsn_for

from .conftest import pg_run, rss_bytes

IST = timezone(timedelta(hours=5, minutes=30))
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
BIG_DECIMAL = Decimal("12345678901234567890.123456789")

# (column, SQL type, DataType, values written) - every value must come back equal.
TYPE_CASES = [
    ("i2", "int2", DataType.INTEGER, [-32768, 32767, 0]),
    ("i4", "int4", DataType.INTEGER, [-(2**31), 2**31 - 1, 7]),
    ("i8", "int8", DataType.INTEGER, [INT64_MIN, INT64_MAX, -1]),
    ("f4", "float4", DataType.FLOAT, [1.5, -0.25, float("inf")]),
    ("f8", "float8", DataType.FLOAT, [float("nan"), float("inf"), float("-inf")]),
    ("f8b", "float8", DataType.FLOAT, [1.7976931348623157e308, 5e-324, -0.0]),
    ("num", "numeric", DataType.DECIMAL, [BIG_DECIMAL, Decimal("NaN"), Decimal("-0.000000001")]),
    ("num2", "numeric(30,9)", DataType.DECIMAL, [BIG_DECIMAL, Decimal("0E-9"), None]),
    ("txt", "text", DataType.TEXT, ["héllo wörld 👍🏽🚀", "مرحبا بالعالم", ""]),
    ("vc", "varchar(50)", DataType.TEXT, ["line\nbreak\ttab", "עברית", None]),
    ("ch", "char(3)", DataType.TEXT, ["ab ", "xyz", "   "]),
    ("u", "uuid", DataType.TEXT, [str(uuid.UUID(int=0)), str(uuid.UUID(int=2**128 - 1)), None]),
    ("b", "bool", DataType.BOOLEAN, [True, False, None]),
    ("d", "date", DataType.DATE, [date(1, 1, 1), date(9999, 12, 31), date(2024, 2, 29)]),
    (
        "tstz",
        "timestamptz",
        DataType.TIMESTAMP,
        [
            datetime(2024, 3, 10, 12, 34, 56, 789012, tzinfo=IST),
            datetime(1970, 1, 1, tzinfo=UTC),
            datetime(2038, 1, 19, 3, 14, 8, tzinfo=timezone(timedelta(hours=-8))),
        ],
    ),
    (
        "ts",
        "timestamp",
        DataType.TIMESTAMP,
        [datetime(2024, 3, 10, 12, 34, 56, 789012), datetime(1, 1, 1), datetime(9999, 12, 31)],
    ),
    (
        "js",
        "json",
        DataType.JSON,
        [Json('{"a": [1, 2, {"b": null}]}'), Json('["x", "ü", "😀"]'), Json('"just text"')],
    ),
    (
        "jb",
        "jsonb",
        DataType.JSON,
        [Json('{"nested": {"deep": [true, false, 1.5]}}'), Json("[]"), Json('{"ar": "مرحبا"}')],
    ),
    ("by", "bytea", DataType.BYTES, [b"\x00\x01\x02\xff", b"", b"abc\x00def"]),
]


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, Decimal) and isinstance(b, Decimal) and a.is_nan():
        return b.is_nan()
    if isinstance(a, Json) and isinstance(b, Json):
        return json.loads(a.text) == json.loads(b.text)
    if isinstance(a, float) and a == 0.0:
        return b == 0.0 and math.copysign(1, a) == math.copysign(1, b)
    return type(a) is type(b) and a == b


@pytest.fixture(scope="module")
async def types_table(pg_database: str) -> str:
    cols = ", ".join(f"{name} {sqltype}" for name, sqltype, _, _ in TYPE_CASES)
    await pg_run(pg_database, "DROP TABLE IF EXISTS types_rt")
    await pg_run(pg_database, f"CREATE TABLE types_rt (id int PRIMARY KEY, {cols})")
    names = [c[0] for c in TYPE_CASES]
    placeholders = ", ".join(f"${i + 2}" for i in range(len(names)))
    import asyncpg

    conn = await asyncpg.connect(pg_database)
    try:
        for row in range(3):
            values = [
                v.text if isinstance(v, Json) else (uuid.UUID(v) if name == "u" and v else v)
                for name, _, _, vals in TYPE_CASES
                for v in [vals[row]]
            ]
            await conn.execute(
                f"INSERT INTO types_rt (id, {', '.join(names)}) VALUES ($1, {placeholders})",
                row,
                *values,
            )
        await conn.execute("INSERT INTO types_rt (id) VALUES (3)")  # all NULL
    finally:
        await conn.close()
    return "types_rt"


async def test_every_type_round_trips(pg_driver, types_table):
    names = [c[0] for c in TYPE_CASES]
    page = await pg_driver.fetch_page(
        SqlQuery(f"SELECT {', '.join(names)} FROM {types_table} ORDER BY id"),
        offset=0,
        limit=10,
        timeout_s=10,
    )
    assert [c.name for c in page.columns] == names
    for col, (_, _, dtype, _) in zip(page.columns, TYPE_CASES, strict=True):
        assert col.type is dtype, col
    assert len(page.rows) == 4 and not page.has_more
    for row in range(3):
        for i, (name, _, _, values) in enumerate(TYPE_CASES):
            expected, got = values[row], page.rows[row][i]
            if expected is None:
                assert got is None, name
            else:
                assert _same(expected, got), (name, expected, got)
    assert page.rows[3] == (None,) * len(names)  # NULL is not "" nor 0


async def test_timestamptz_comes_back_as_the_same_instant_in_utc(pg_driver, types_table):
    page = await pg_driver.fetch_page(
        SqlQuery(f"SELECT tstz, ts FROM {types_table} WHERE id = 0"), offset=0, limit=1, timeout_s=5
    )
    (tstz, ts) = page.rows[0]
    assert tstz.utcoffset() == timedelta(0) and tstz.tzinfo is not None
    assert tstz == datetime(2024, 3, 10, 7, 4, 56, 789012, tzinfo=UTC)
    assert ts.tzinfo is None  # timestamp without time zone is a wall-clock reading


async def test_stream_converts_like_fetch_page(pg_driver, types_table):
    names = [c[0] for c in TYPE_CASES]
    query = SqlQuery(f"SELECT {', '.join(names)} FROM {types_table} ORDER BY id")
    page = await pg_driver.fetch_page(query, offset=0, limit=10, timeout_s=5)
    items = [
        item async for item in pg_driver.stream(query, batch_size=3, timeout_s=5, max_rows=100)
    ]
    assert items[0] == page.columns
    streamed = [row for batch in items[1:] for row in batch]
    assert len(streamed) == len(page.rows)
    for a, b in zip(streamed, page.rows, strict=True):
        assert all(_same(x, y) or (x is None and y is None) for x, y in zip(a, b, strict=True))


async def test_parameters_are_bound_and_round_trip(pg_driver):
    params = (
        INT64_MIN,
        BIG_DECIMAL,
        "'; DROP TABLE x; --",
        Json('{"k": ["ü", 1]}'),
        b"\x00\xff",
        datetime(2024, 3, 10, 12, 0, tzinfo=IST),
        date(2024, 2, 29),
        True,
        float("nan"),
        None,
    )
    page = await pg_driver.fetch_page(
        SqlQuery(
            "SELECT $1::int8 a, $2::numeric b, $3::text c, $4::jsonb d, $5::bytea e, "
            "$6::timestamptz f, $7::date g, $8::bool h, $9::float8 i, $10::text j",
            params,
        ),
        offset=0,
        limit=1,
        timeout_s=5,
    )
    row = page.rows[0]
    assert row[:3] == (INT64_MIN, BIG_DECIMAL, "'; DROP TABLE x; --")
    assert json.loads(row[3].text) == {"k": ["ü", 1]}
    assert row[4:8] == (
        b"\x00\xff",
        datetime(2024, 3, 10, 6, 30, tzinfo=UTC),
        date(2024, 2, 29),
        True,
    )
    assert math.isnan(row[8]) and row[9] is None


async def test_unmapped_types_are_other_with_text(pg_driver, pg_database):
    await pg_run(
        pg_database,
        "DROP TABLE IF EXISTS odd; DROP TYPE IF EXISTS mood; DROP DOMAIN IF EXISTS posint;"
        "CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE DOMAIN posint AS int CHECK (VALUE > 0)",
    )
    page = await pg_driver.fetch_page(
        SqlQuery(
            "SELECT interval '1 day 02:00:00' iv, ARRAY[1, 2] arr, '10.0.0.1'::inet ip,"
            " int4range(1, 5) r, 'happy'::mood m, 5::posint p, time '12:34:56' t,"
            " 'Infinity'::numeric ni"
        ),
        offset=0,
        limit=1,
        timeout_s=5,
    )
    types = {c.name: c.type for c in page.columns}
    assert types == {
        "iv": DataType.OTHER,
        "arr": DataType.OTHER,
        "ip": DataType.OTHER,
        "r": DataType.OTHER,
        "m": DataType.TEXT,  # an enum is text
        "p": DataType.INTEGER,  # a domain is its base type
        "t": DataType.OTHER,
        "ni": DataType.DECIMAL,
    }
    assert page.rows[0] == (
        Unsupported("1 day 02:00:00"),
        Unsupported("[1, 2]"),
        Unsupported("10.0.0.1"),
        Unsupported("[1,5)"),
        "happy",
        5,
        Unsupported("12:34:56"),
        Decimal("Infinity"),
    )


# -- paging and streaming -----------------------------------------------------------------


@pytest.fixture(scope="module")
async def ten_thousand(pg_database: str) -> str:
    await pg_run(
        pg_database,
        "DROP TABLE IF EXISTS paging; CREATE TABLE paging (id int PRIMARY KEY, label text);"
        "INSERT INTO paging SELECT g, 'row ' || g FROM generate_series(1, 10000) g",
    )
    return "paging"


@pytest.mark.parametrize("page_size", [1000, 333])
async def test_paging_walks_10000_rows_without_gaps_or_repeats(pg_driver, ten_thousand, page_size):
    query = SqlQuery(f"SELECT id, label FROM {ten_thousand} ORDER BY id")
    seen, offset, pages = [], 0, 0
    while True:
        page = await pg_driver.fetch_page(query, offset=offset, limit=page_size, timeout_s=10)
        pages += 1
        seen.extend(r[0] for r in page.rows)
        assert len(page.rows) == page_size or not page.has_more
        if not page.has_more:
            break
        offset += page_size
    assert seen == list(range(1, 10001))
    assert pages == math.ceil(10000 / page_size)
    beyond = await pg_driver.fetch_page(query, offset=10000, limit=page_size, timeout_s=5)
    assert beyond.rows == [] and not beyond.has_more
    exact = await pg_driver.fetch_page(query, offset=9000, limit=1000, timeout_s=5)
    assert len(exact.rows) == 1000 and not exact.has_more


async def test_stream_yields_columns_then_batches_and_stops_at_max_rows(pg_driver, ten_thousand):
    query = SqlQuery(f"SELECT id FROM {ten_thousand} WHERE id <= $1 ORDER BY id", (25,))
    items = [i async for i in pg_driver.stream(query, batch_size=10, timeout_s=5, max_rows=1000)]
    assert items[0][0].name == "id" and items[0][0].type is DataType.INTEGER
    assert [len(b) for b in items[1:]] == [10, 10, 5]
    capped = [i async for i in pg_driver.stream(query, batch_size=10, timeout_s=5, max_rows=12)]
    assert [r for b in capped[1:] for r in b] == [(i,) for i in range(1, 13)]


async def test_stream_of_two_million_rows_keeps_memory_flat(pg_driver):
    query = SqlQuery("SELECT g, 'some text ' || g FROM generate_series(1, 2000000) g")
    before = rss_bytes()
    peak, rows = before, 0
    stream = pg_driver.stream(query, batch_size=10_000, timeout_s=60, max_rows=10_000_000)
    columns = await anext(stream)
    assert len(columns) == 2
    async for batch in stream:
        assert len(batch) <= 10_000
        rows += len(batch)
        peak = max(peak, rss_bytes())
    assert rows == 2_000_000
    assert peak - before < 100 * 2**20, f"RSS grew by {(peak - before) / 2**20:.0f} MB"


async def test_stream_is_lazy_first_batch_arrives_before_the_result_is_computed(pg_driver):
    # 50 million rows: reading them all before the first batch would take many seconds.
    # (A set-returning function in the select list runs row by row; in FROM it would be
    # materialised first.)
    started = time.monotonic()
    stream = pg_driver.stream(
        SqlQuery("SELECT generate_series(1, 50000000) AS g"),
        batch_size=1000,
        timeout_s=30,
        max_rows=50_000_000,
    )
    await anext(stream)
    first = await anext(stream)
    assert first[0] == (1,) and len(first) == 1000
    assert time.monotonic() - started < 2
    await stream.aclose()


# -- schema ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def pg_demo(run_id: str):
    spec = demo_data.DemoSpec(seed=7, scale=0.05, database=f"chatdb_test_{run_id}_demo")
    counts = await demo_data.load_postgres(PG_ADMIN_DSN, spec)
    yield pg_dsn_for(spec.database), counts
    await pg_run(PG_ADMIN_DSN, f'DROP DATABASE IF EXISTS "{spec.database}" WITH (FORCE)')


async def test_introspection_of_the_demo_database(make_driver, pg_demo):
    dsn, counts = pg_demo
    driver = make_driver(ConnectionKind.POSTGRES, dsn)
    schema = await driver.introspect()
    assert schema.database == dsn.rsplit("/", 1)[1]
    assert {t.name for t in schema.tables} == set(demo_data.TABLES)
    for table in schema.tables:
        assert table.schema == "public" and table.kind == "table"
        assert table.row_estimate == counts[table.name]  # ANALYZEd by the loader: exact here

    customers = schema.table("customers")
    cols = {c.name: c for c in customers.columns}
    assert [c.name for c in customers.columns][:3] == ["customer_id", "name", "email"]
    assert [c.ordinal for c in customers.columns] == list(range(1, len(customers.columns) + 1))
    assert cols["customer_id"].type is DataType.INTEGER and not cols["customer_id"].nullable
    assert cols["customer_id"].primary_key_ordinal == 1
    assert (
        cols["name"].type is DataType.TEXT and cols["name"].native_type == "character varying(100)"
    )
    assert cols["signup_date"].type is DataType.DATE
    assert cols["signup_date"].comment == "Date the customer created an account"
    assert customers.comment.startswith("Registered customers")
    assert customers.primary_key == ("customer_id",)

    products = schema.table("products")
    price = next(c for c in products.columns if c.name == "price")
    assert price.type is DataType.DECIMAL and price.native_type == "numeric(10,2)"
    orders = schema.table("orders")
    assert next(c for c in orders.columns if c.name == "order_date").type is DataType.TIMESTAMP

    items = schema.table("order_items")
    assert items.primary_key == ("order_id", "product_id")
    assert {c.name: c.primary_key_ordinal for c in items.columns if c.primary_key_ordinal} == {
        "order_id": 1,
        "product_id": 2,
    }
    fks = {fk.name: fk for fk in items.foreign_keys}
    assert fks["fk_order_items_order"].columns == ("order_id",)
    assert fks["fk_order_items_order"].referenced_table == "orders"
    assert fks["fk_order_items_order"].referenced_columns == ("order_id",)
    assert fks["fk_order_items_product"].referenced_schema == "public"
    employees = schema.table("employees")
    (self_fk,) = employees.foreign_keys
    assert (self_fk.columns, self_fk.referenced_table) == (("manager_id",), "employees")
    manager = next(c for c in employees.columns if c.name == "manager_id")
    assert manager.nullable and "NULL for the CEO" in manager.comment


async def test_fingerprint_is_stable_and_follows_schema_changes(make_driver, pg_demo):
    dsn, _ = pg_demo
    driver = make_driver(ConnectionKind.POSTGRES, dsn)
    first = (await driver.introspect()).fingerprint()
    assert (await driver.introspect()).fingerprint() == first
    # More rows change the estimate, not the fingerprint.
    await pg_run(
        dsn,
        "INSERT INTO sales SELECT sale_id + 1000000, region, sale_date, product_id,"
        " amount, quantity FROM sales; ANALYZE sales",
    )
    again = await driver.introspect()
    assert again.fingerprint() == first
    await pg_run(dsn, "ALTER TABLE customers ADD COLUMN loyalty_tier text")
    try:
        changed = await driver.introspect()
        assert changed.fingerprint() != first
        assert "loyalty_tier" in {c.name for c in changed.table("customers").columns}
    finally:
        await pg_run(dsn, "ALTER TABLE customers DROP COLUMN loyalty_tier")
    assert (await driver.introspect()).fingerprint() == first


async def test_introspection_sees_views_other_schemas_and_special_types(pg_driver, pg_database):
    await pg_run(
        pg_database,
        "DROP SCHEMA IF EXISTS extra CASCADE; CREATE SCHEMA extra;"
        "DROP TYPE IF EXISTS mood2 CASCADE; CREATE TYPE mood2 AS ENUM ('a', 'b');"
        "CREATE TABLE extra.things (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " m mood2, doc jsonb NOT NULL DEFAULT '{}', raw bytea, tags text[], at timestamptz);"
        "CREATE VIEW extra.thing_docs AS SELECT id, doc FROM extra.things;"
        "COMMENT ON VIEW extra.thing_docs IS 'docs only'",
    )
    schema = await pg_driver.introspect()
    things = schema.table("things", "extra")
    types = {c.name: c.type for c in things.columns}
    assert types == {
        "id": DataType.INTEGER,
        "m": DataType.TEXT,
        "doc": DataType.JSON,
        "raw": DataType.BYTES,
        "tags": DataType.OTHER,
        "at": DataType.TIMESTAMP,
    }
    assert next(c for c in things.columns if c.name == "doc").default == "'{}'::jsonb"
    view = schema.table("thing_docs", "extra")
    assert view.kind == "view" and view.comment == "docs only" and view.row_estimate == 0


# -- errors ---------------------------------------------------------------------------------


async def test_syntax_error_is_invalid_argument_with_position(pg_driver):
    with pytest.raises(InvalidArgument) as info:
        await pg_driver.fetch_page(
            SqlQuery("SELECT 1 FROM WHERE x"), offset=0, limit=1, timeout_s=5
        )
    err = info.value
    assert 'syntax error at or near "WHERE"' in err.message and "at position 15" in err.message
    assert [v.field for v in err.violations] == ["statement.sql"]
    assert err.metadata["position"] == "15" and err.reason == "SQL_SYNTAX_ERROR"


@pytest.mark.parametrize(
    "sql, words",
    [
        ("SELECT * FROM no_such_table", 'relation "no_such_table" does not exist'),
        ("SELECT no_such_column FROM paging", 'column "no_such_column" does not exist'),
        ("SELECT no_such_function(1)", "function no_such_function(integer) does not exist"),
        ("SELECT 1 / 0", "division by zero"),
        ("SELECT 'x'::int", "invalid input syntax for type integer"),
        ("SELECT 1; SELECT 2", "cannot insert multiple commands into a prepared statement"),
    ],
)
async def test_statement_errors_are_invalid_argument(pg_driver, ten_thousand, sql, words):
    with pytest.raises(InvalidArgument) as info:
        await pg_driver.fetch_page(SqlQuery(sql), offset=0, limit=1, timeout_s=5)
    assert words in info.value.message
    assert info.value.violations[0].field == "statement.sql"


async def test_bad_parameters_are_invalid_argument(pg_driver):
    with pytest.raises(InvalidArgument) as info:
        await pg_driver.fetch_page(
            SqlQuery("SELECT $1::int", ("x",)), offset=0, limit=1, timeout_s=5
        )
    assert info.value.violations[0].field == "statement.params"
    with pytest.raises(InvalidArgument) as info:
        await pg_driver.fetch_page(
            SqlQuery("SELECT $1::int, $2::int", (1,)), offset=0, limit=1, timeout_s=5
        )
    assert "expects 2 arguments" in info.value.message


async def test_a_mongo_query_is_refused(pg_driver):
    with pytest.raises(InvalidArgument):
        await pg_driver.fetch_page(MongoFind("c", {}), offset=0, limit=1, timeout_s=5)


@pytest.fixture
async def pg_role(run_id: str, pg_database: str):
    """A login role with no privileges on anything (trust auth: no password)."""
    role = f"chatdb_test_{run_id}_nobody"
    await pg_run(PG_ADMIN_DSN, f'DROP ROLE IF EXISTS "{role}"')
    await pg_run(PG_ADMIN_DSN, f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 2')
    await pg_run(pg_database, f'REVOKE ALL ON SCHEMA public FROM "{role}"')
    yield role
    await pg_run(pg_database, f'DROP OWNED BY "{role}"')
    await pg_run(PG_ADMIN_DSN, f'DROP ROLE IF EXISTS "{role}"')


async def test_permission_denied_by_the_database(make_driver, pg_database, pg_role, ten_thousand):
    dsn = pg_database.replace("postgres@", f"{pg_role}@", 1)
    assert pg_role in dsn
    driver = make_driver(ConnectionKind.POSTGRES, dsn)
    with pytest.raises(PermissionDenied) as info:
        await driver.fetch_page(SqlQuery("SELECT * FROM paging"), offset=0, limit=1, timeout_s=5)
    assert "permission denied" in info.value.message
    # Not listed by introspection either: the parser should not suggest it.
    assert (await driver.introspect()).table("paging") is None


async def test_too_many_connections_is_unavailable(make_driver, pg_database, pg_role):
    import asyncpg

    dsn = pg_database.replace("postgres@", f"{pg_role}@", 1)
    holders = [await asyncpg.connect(dsn) for _ in range(2)]  # the role's CONNECTION LIMIT
    try:
        driver = make_driver(ConnectionKind.POSTGRES, dsn)
        with pytest.raises(Unavailable) as info:
            await driver.fetch_page(SqlQuery("SELECT 1"), offset=0, limit=1, timeout_s=5)
        assert "too many connections" in info.value.message
    finally:
        for conn in holders:
            await conn.close()


@pytest.mark.parametrize(
    "dsn, words",
    [
        ("postgresql://postgres@127.0.0.1:1/postgres", "connection refused"),
        ("postgresql://postgres@no-such-host.invalid:5432/postgres", "unknown host"),
        (
            "postgresql://no_such_role_x@127.0.0.1:5432/postgres",
            'role "no_such_role_x" does not exist',
        ),
        (
            "postgresql://postgres@127.0.0.1:5432/no_such_db_x",
            'database "no_such_db_x" does not exist',
        ),
    ],
)
async def test_check_says_why_it_cannot_connect(make_driver, dsn, words):
    driver = make_driver(ConnectionKind.POSTGRES, dsn, connect_timeout_s=3)
    with pytest.raises(FailedPrecondition) as info:
        await driver.check()
    assert info.value.message.startswith("cannot connect: ") and words in info.value.message


async def test_database_down_is_unavailable(make_driver):
    driver = make_driver(ConnectionKind.POSTGRES, "postgresql://postgres@127.0.0.1:1/postgres")
    with pytest.raises(Unavailable) as info:
        await driver.fetch_page(SqlQuery("SELECT 1"), offset=0, limit=1, timeout_s=5)
    assert info.value.message.startswith("database unavailable: ")
    with pytest.raises(Unavailable):
        [
            i
            async for i in driver.stream(
                SqlQuery("SELECT 1"), batch_size=1, timeout_s=5, max_rows=1
            )
        ]


async def test_check_succeeds_on_a_good_database(pg_driver):
    await pg_driver.check()
    assert pg_driver.kind is ConnectionKind.POSTGRES and pg_driver.dialect == "postgres"


# -- read-only wall, timeouts ----------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO paging VALUES (100001, 'x')",
        "UPDATE paging SET label = 'y' WHERE id = 1",
        "DELETE FROM paging WHERE id = 2",
        "WITH gone AS (DELETE FROM paging WHERE id = 3 RETURNING id) SELECT * FROM gone",
        "CREATE TABLE sneaky (a int)",
        "SELECT * INTO sneaky2 FROM paging",
        "TRUNCATE paging",
    ],
)
async def test_writes_reaching_a_read_only_connection_are_refused(
    pg_driver, pg_database, ten_thousand, sql
):
    before = await pg_run(pg_database, "SELECT count(*), sum(hashtext(label)) FROM paging")
    with pytest.raises(PermissionDenied) as info:
        await pg_driver.fetch_page(SqlQuery(sql), offset=0, limit=10, timeout_s=5)
    assert "read-only" in info.value.message and info.value.reason == "READ_ONLY_VIOLATION"
    after = await pg_run(pg_database, "SELECT count(*), sum(hashtext(label)) FROM paging")
    assert after == before
    tables = await pg_run(
        pg_database, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'sneaky%'"
    )
    assert tables[0][0] == 0


async def test_a_writable_connection_commits(make_driver, pg_database):
    await pg_run(pg_database, "DROP TABLE IF EXISTS writable; CREATE TABLE writable (a int)")
    driver = make_driver(ConnectionKind.POSTGRES, pg_database, read_only=False)
    page = await driver.fetch_page(
        SqlQuery("INSERT INTO writable VALUES ($1), ($2) RETURNING a", (1, 2)),
        offset=0,
        limit=10,
        timeout_s=5,
    )
    assert page.rows == [(1,), (2,)]
    await driver.fetch_page(
        SqlQuery("INSERT INTO writable VALUES (3)"), offset=0, limit=1, timeout_s=5
    )
    assert (await pg_run(pg_database, "SELECT count(*) FROM writable"))[0][0] == 3


async def test_statement_timeout_is_enforced_by_the_database(pg_driver):
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as info:
        await pg_driver.fetch_page(SqlQuery("SELECT pg_sleep(5)"), offset=0, limit=1, timeout_s=0.5)
    assert time.monotonic() - started < 1.2
    assert info.value.message == "query exceeded its 0.5 s timeout"
    # The connection is fine afterwards, and the next statement has its own timeout.
    page = await pg_driver.fetch_page(
        SqlQuery("SELECT pg_sleep(0.7), 1"), offset=0, limit=1, timeout_s=5
    )
    assert page.rows == [(None, 1)]
    with pytest.raises(DeadlineExceeded):
        [
            b
            async for b in pg_driver.stream(
                SqlQuery("SELECT pg_sleep(5)"), batch_size=1, timeout_s=0.3, max_rows=1
            )
        ]


# -- recovery and cancellation ----------------------------------------------------------------


async def _backends(pg_database: str, marker: str | None = None) -> list:
    db = pg_database.rsplit("/", 1)[1]
    sql = "SELECT pid, state, query FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
    rows = await pg_run(PG_ADMIN_DSN, sql, db)
    if marker:
        rows = [r for r in rows if marker in r["query"] and r["state"] != "idle"]
    return rows


async def _wait_until(predicate, timeout_s: float = 5.0) -> float:
    started = time.monotonic()
    while not await predicate():
        if time.monotonic() - started > timeout_s:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_terminated_backends_are_replaced_without_a_new_driver(make_driver, pg_database):
    driver = make_driver(ConnectionKind.POSTGRES, pg_database, pool_min_size=3, pool_max_size=5)
    marker = f"recovery_{uuid.uuid4().hex[:8]}"

    async def select(n: int) -> list:
        page = await driver.fetch_page(SqlQuery(f"SELECT {n}"), offset=0, limit=1, timeout_s=5)
        return page.rows

    assert await asyncio.gather(*(select(i) for i in range(4))) == [[(i,)] for i in range(4)]
    running = asyncio.create_task(
        driver.fetch_page(
            SqlQuery(f"SELECT pg_sleep(30) /* {marker} */"), offset=0, limit=1, timeout_s=60
        )
    )

    async def started():
        return bool(await _backends(pg_database, marker))

    await _wait_until(started)
    await _terminate_all(pg_database)
    with pytest.raises(Unavailable):
        await running  # the statement in flight is lost, and says so (never re-run)
    # Every pooled connection was killed: the same driver carries on with new ones.
    assert await asyncio.gather(*(select(i) for i in range(5))) == [[(i,)] for i in range(5)]
    # Idle pooled connections killed behind the driver's back: replaced transparently.
    await _terminate_all(pg_database)
    assert await asyncio.gather(*(select(i) for i in range(5))) == [[(i,)] for i in range(5)]
    await _terminate_all(pg_database)
    await asyncio.sleep(0.2)  # this time the driver has seen the connections close
    assert await select(9) == [(9,)]


async def _terminate_all(pg_database: str) -> None:
    db = pg_database.rsplit("/", 1)[1]
    await pg_run(
        PG_ADMIN_DSN,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = $1 AND pid <> pg_backend_pid()",
        db,
    )


async def test_closing_a_stream_early_ends_the_query_and_transaction(pg_driver, pg_database):
    marker = f"early_{uuid.uuid4().hex[:8]}"
    stream = pg_driver.stream(
        SqlQuery(f"SELECT generate_series(1, 50000000) /* {marker} */ AS g"),
        batch_size=10_000,
        timeout_s=60,
        max_rows=50_000_000,
    )
    await anext(stream)
    await anext(stream)
    assert await _backends(pg_database, marker)  # idle in transaction, portal open
    await stream.aclose()

    async def gone():
        return not await _backends(pg_database, marker)

    assert await _wait_until(gone, 2.0) < 2.0
    page = await pg_driver.fetch_page(SqlQuery("SELECT 1"), offset=0, limit=1, timeout_s=5)
    assert page.rows == [(1,)]


async def test_cancelling_a_stream_consumer_cancels_the_query_in_the_database(
    pg_driver, pg_database
):
    marker = f"cancel_{uuid.uuid4().hex[:8]}"
    # Sorting 50 million rows: the first batch needs the whole sort, so a fetch is running.
    query = SqlQuery(f"SELECT g /* {marker} */ FROM generate_series(1, 50000000) g ORDER BY g DESC")

    async def consume():
        async for _ in pg_driver.stream(query, batch_size=1000, timeout_s=60, max_rows=10):
            pass

    task = asyncio.create_task(consume())

    async def active():
        return any(r["state"] == "active" for r in await _backends(pg_database, marker))

    await _wait_until(active)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async def gone():
        return not await _backends(pg_database, marker)

    assert await _wait_until(gone, 2.0) < 2.0
    page = await pg_driver.fetch_page(SqlQuery("SELECT 1"), offset=0, limit=1, timeout_s=5)
    assert page.rows == [(1,)]


async def test_no_driver_exception_escapes(make_driver):
    bad = make_driver(ConnectionKind.POSTGRES, "postgresql://postgres@127.0.0.1:1/postgres")
    for call in (
        bad.check(),
        bad.introspect(),
        bad.fetch_page(SqlQuery("SELECT 1"), offset=0, limit=1, timeout_s=1),
    ):
        with pytest.raises(ChatDBError):
            await call
