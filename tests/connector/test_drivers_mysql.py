"""The MySQL/MariaDB driver against the real MariaDB: types, paging, streaming, schema,
errors, the read-only wall, timeouts, recovery and cancellation."""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import aiomysql
import pymysql
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
from tests.conftest import MYSQL

from .conftest import my_run, mysql_dsn_for, rss_bytes

IST = timezone(timedelta(hours=5, minutes=30))
INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
BIG_DECIMAL = Decimal("12345678901234567890.123456789")

# (column, SQL type, DataType, three values written) - each must come back equal.
TYPE_CASES = [
    ("flag", "tinyint(1)", DataType.BOOLEAN, [True, False, None]),
    ("flag2", "bool", DataType.BOOLEAN, [False, True, True]),
    ("ti", "tinyint", DataType.INTEGER, [-128, 127, 0]),
    ("si", "smallint", DataType.INTEGER, [-32768, 32767, 1]),
    ("i", "int", DataType.INTEGER, [-(2**31), 2**31 - 1, 2]),
    ("bi", "bigint", DataType.INTEGER, [INT64_MIN, INT64_MAX, -1]),
    ("ubi", "bigint unsigned", DataType.INTEGER, [UINT64_MAX, 0, 2**63]),
    ("fl", "float", DataType.FLOAT, [1.5, -0.25, 3.0e38]),
    ("db", "double", DataType.FLOAT, [1.7976931348623157e308, 5e-324, -2.5]),
    ("dec", "decimal(38,9)", DataType.DECIMAL, [BIG_DECIMAL, Decimal("-0.000000001"), None]),
    (
        "dec65",
        "decimal(65,30)",
        DataType.DECIMAL,
        [Decimal("1" * 35 + "." + "9" * 30), Decimal(0).scaleb(-30), None],
    ),
    ("vc", "varchar(100)", DataType.TEXT, ["héllo wörld 👍🏽🚀", "مرحبا بالعالم", ""]),
    ("ch", "char(5)", DataType.TEXT, ["ab", "עברית", None]),
    ("tx", "text", DataType.TEXT, ["line\nbreak\ttab\\back", "", None]),
    ("lt", "longtext", DataType.TEXT, ["x" * 70000, "😀" * 1000, "ü"]),
    ("en", "enum('small','large','ünï')", DataType.TEXT, ["small", "ünï", None]),
    ("st", "set('a','b','c')", DataType.TEXT, ["a,c", "", "b"]),
    ("bn", "binary(4)", DataType.BYTES, [b"\x00\x01\x02\x03", b"ab\x00\x00", None]),
    ("vb", "varbinary(20)", DataType.BYTES, [b"\x00\xff\x00", b"", b"abc\x00def"]),
    ("bl", "blob", DataType.BYTES, [bytes(range(256)), b"\x00", None]),
    ("d", "date", DataType.DATE, [date(1000, 1, 1), date(9999, 12, 31), date(2024, 2, 29)]),
    (
        "dt",
        "datetime(6)",
        DataType.TIMESTAMP,
        [
            datetime(2024, 3, 10, 12, 34, 56, 789012),
            datetime(1000, 1, 1),
            datetime(9999, 12, 31, 23, 59, 59),
        ],
    ),
    (
        "ts",
        "timestamp(6) NULL",
        DataType.TIMESTAMP,
        [
            datetime(2024, 3, 10, 7, 4, 56, 789012, tzinfo=UTC),
            datetime(1970, 1, 2, tzinfo=UTC),
            None,
        ],
    ),
    (
        "js",
        "json",
        DataType.JSON,
        [
            Json('{"a": [1, 2, {"b": null}], "ü": "😀"}'),
            Json('["x", 1.5, true]'),
            Json('{"deep": {"er": {"est": ["مرحبا"]}}}'),
        ],
    ),
]


def _same(a, b) -> bool:
    if isinstance(a, Json) and isinstance(b, Json):
        return json.loads(a.text) == json.loads(b.text)
    return type(a) is type(b) and a == b


def _literal(value):
    """Values as the admin connection (PyMySQL) writes them."""
    if isinstance(value, Json):
        return value.text
    if isinstance(value, datetime) and value.tzinfo:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


@pytest.fixture(scope="module")
def types_table(mysql_params, mysql_database) -> str:
    # Written with plain PyMySQL (not the driver under test, and not aiomysql, whose
    # bytes escaping is broken against PyMySQL 1.2).
    cols = ", ".join(f"`{name}` {sqltype}" for name, sqltype, _, _ in TYPE_CASES)
    names = ", ".join(f"`{c[0]}`" for c in TYPE_CASES)
    marks = ", ".join(["%s"] * (len(TYPE_CASES) + 1))
    conn = pymysql.connect(
        **mysql_params,
        database=mysql_database,
        autocommit=True,
        charset="utf8mb4",
        init_command="SET sql_notes = 0",
    )
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS types_rt")
            cur.execute(f"CREATE TABLE types_rt (id int PRIMARY KEY, {cols}) CHARSET=utf8mb4")
            cur.execute("SET time_zone = '+00:00'")  # timestamps below are UTC
            for row in range(3):
                values = [row] + [_literal(vals[row]) for _, _, _, vals in TYPE_CASES]
                cur.execute(f"INSERT INTO types_rt (id, {names}) VALUES ({marks})", values)
            cur.execute("INSERT INTO types_rt (id) VALUES (3)")
    finally:
        conn.close()
    return "types_rt"


async def test_every_type_round_trips(my_driver, types_table):
    names = [c[0] for c in TYPE_CASES]
    cols = ", ".join(f"`{n}`" for n in names)
    page = await my_driver.fetch_page(
        SqlQuery(f"SELECT {cols} FROM {types_table} ORDER BY id"), offset=0, limit=10, timeout_s=10
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
    flag2 = names.index("flag2")
    assert all(v is None for i, v in enumerate(page.rows[3]) if i != flag2)  # NULL, not ""/0


async def test_parameters_are_bound_and_round_trip(my_driver):
    params = (
        INT64_MIN,
        UINT64_MAX,
        BIG_DECIMAL,
        "'; DROP TABLE x; -- %s",
        Json('{"k": ["ü", 1]}'),
        b"\x00\xff",
        date(2024, 2, 29),
        None,
    )
    page = await my_driver.fetch_page(
        SqlQuery(
            "SELECT %s AS a, %s AS b, CAST(%s AS DECIMAL(38,9)) AS c, %s AS d,"
            " JSON_EXTRACT(%s, '$.k[0]') AS e, %s AS f, %s AS g, %s AS h",
            params,
        ),
        offset=0,
        limit=1,
        timeout_s=5,
    )
    row = page.rows[0]
    assert row[:4] == (INT64_MIN, UINT64_MAX, BIG_DECIMAL, "'; DROP TABLE x; -- %s")
    assert json.loads(row[4]) == "ü"
    assert row[5] in (b"\x00\xff", "\x00\xff")
    assert str(row[6]) == "2024-02-29" and row[7] is None


async def test_literal_percent_needs_no_escaping_without_parameters(my_driver):
    page = await my_driver.fetch_page(
        SqlQuery("SELECT 'a%b' LIKE 'a%' AS m, '100%' AS p"), offset=0, limit=1, timeout_s=5
    )
    assert page.rows == [(1, "100%")]


async def test_unmapped_types_are_other_with_text(my_driver, my_admin):
    await my_admin("DROP TABLE IF EXISTS odd")
    await my_admin("CREATE TABLE odd (y year, t time(3), b bit(5), g point)")
    await my_admin(
        "INSERT INTO odd VALUES (2024, '-838:59:59.5', b'10101', ST_GeomFromText('POINT(1 2)'))"
    )
    page = await my_driver.fetch_page(SqlQuery("SELECT * FROM odd"), offset=0, limit=1, timeout_s=5)
    assert [c.type for c in page.columns] == [DataType.OTHER] * 4
    assert [c.native_type for c in page.columns] == ["year", "time", "bit", "geometry"]
    y, t, b, g = page.rows[0]
    assert (y, t, b) == (Unsupported("2024"), Unsupported("-838:59:59.500000"), Unsupported("21"))
    assert isinstance(g, Unsupported) and g.text.startswith("00000000")  # SRID 0, then WKB


# -- paging and streaming -----------------------------------------------------------------


@pytest.fixture(scope="module")
async def ten_thousand(mysql_params, mysql_database) -> str:
    run = lambda sql: my_run(mysql_params, sql, database=mysql_database)  # noqa: E731
    await run("DROP TABLE IF EXISTS paging")
    await run("CREATE TABLE paging (id int PRIMARY KEY, label varchar(20))")
    values = ", ".join(f"({i}, 'row {i}')" for i in range(1, 10001))
    await run(f"INSERT INTO paging VALUES {values}")
    return "paging"


@pytest.mark.parametrize("page_size", [1000, 333])
async def test_paging_walks_10000_rows_without_gaps_or_repeats(my_driver, ten_thousand, page_size):
    query = SqlQuery(f"SELECT id, label FROM {ten_thousand} ORDER BY id")
    seen, offset, pages = [], 0, 0
    while True:
        page = await my_driver.fetch_page(query, offset=offset, limit=page_size, timeout_s=10)
        pages += 1
        seen.extend(r[0] for r in page.rows)
        assert len(page.rows) == page_size or not page.has_more
        if not page.has_more:
            break
        offset += page_size
    assert seen == list(range(1, 10001))
    assert pages == math.ceil(10000 / page_size)
    beyond = await my_driver.fetch_page(query, offset=10000, limit=page_size, timeout_s=5)
    assert beyond.rows == [] and not beyond.has_more
    exact = await my_driver.fetch_page(query, offset=9000, limit=1000, timeout_s=5)
    assert len(exact.rows) == 1000 and not exact.has_more


async def test_a_statement_limit_larger_than_the_page_is_not_read_to_the_end(
    my_driver, ten_thousand, my_admin
):
    # The statement's LIMIT wins over sql_select_limit: the driver stops reading, kills
    # the rest and drops that connection; the next call works as usual.
    query = SqlQuery(f"SELECT id FROM {ten_thousand} ORDER BY id LIMIT 9000")
    page = await my_driver.fetch_page(query, offset=100, limit=10, timeout_s=5)
    assert [r[0] for r in page.rows] == list(range(101, 111)) and page.has_more
    page = await my_driver.fetch_page(query, offset=8990, limit=100, timeout_s=5)
    assert len(page.rows) == 10 and not page.has_more


async def test_stream_yields_columns_then_batches_and_stops_at_max_rows(my_driver, ten_thousand):
    query = SqlQuery(f"SELECT id FROM {ten_thousand} WHERE id <= %s ORDER BY id", (25,))
    items = [i async for i in my_driver.stream(query, batch_size=10, timeout_s=5, max_rows=1000)]
    assert items[0][0].name == "id" and items[0][0].type is DataType.INTEGER
    assert [len(b) for b in items[1:]] == [10, 10, 5]
    capped = [i async for i in my_driver.stream(query, batch_size=10, timeout_s=5, max_rows=12)]
    assert [r for b in capped[1:] for r in b] == [(i,) for i in range(1, 13)]


async def test_stream_of_a_million_rows_keeps_memory_flat(my_driver, ten_thousand):
    query = SqlQuery(
        f"SELECT a.id, b.label FROM {ten_thousand} a CROSS JOIN {ten_thousand} b WHERE b.id <= 100"
    )
    before = rss_bytes()
    peak, rows = before, 0
    stream = my_driver.stream(query, batch_size=10_000, timeout_s=60, max_rows=10_000_000)
    await anext(stream)
    async for batch in stream:
        assert len(batch) <= 10_000
        rows += len(batch)
        peak = max(peak, rss_bytes())
    assert rows == 1_000_000
    assert peak - before < 100 * 2**20, f"RSS grew by {(peak - before) / 2**20:.0f} MB"


# -- schema ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def my_demo(run_id: str, mysql_params: dict):
    spec = demo_data.DemoSpec(seed=7, scale=0.05, database=f"chatdb_test_{run_id}_demo")
    counts = await demo_data.load_mysql(
        mysql_params["host"],
        mysql_params["port"],
        mysql_params["user"],
        mysql_params["password"],
        spec,
    )
    for table in demo_data.TABLES:
        await my_run(mysql_params, f"ANALYZE TABLE `{table}`", database=spec.database)
    yield mysql_dsn_for(mysql_params, spec.database), counts
    await my_run(mysql_params, "SET sql_notes = 0")
    await my_run(mysql_params, f"DROP DATABASE IF EXISTS `{spec.database}`")


async def test_introspection_of_the_demo_database(make_driver, my_demo):
    dsn, counts = my_demo
    driver = make_driver(ConnectionKind.MYSQL, dsn)
    schema = await driver.introspect()
    assert schema.database == dsn.rsplit("/", 1)[1]
    assert {t.name for t in schema.tables} == set(demo_data.TABLES)
    for table in schema.tables:
        assert table.schema == schema.database and table.kind == "table"
        # InnoDB's estimate, after ANALYZE TABLE: near the real count.
        assert 0.5 * counts[table.name] <= table.row_estimate <= 1.5 * counts[table.name]

    customers = schema.table("customers")
    cols = {c.name: c for c in customers.columns}
    assert [c.ordinal for c in customers.columns] == list(range(1, len(customers.columns) + 1))
    assert cols["customer_id"].type is DataType.INTEGER and not cols["customer_id"].nullable
    assert cols["customer_id"].primary_key_ordinal == 1
    assert cols["name"].type is DataType.TEXT and cols["name"].native_type == "varchar(100)"
    assert cols["signup_date"].type is DataType.DATE
    assert cols["signup_date"].comment == "Date the customer created an account"
    assert customers.comment.startswith("Registered customers")
    assert customers.primary_key == ("customer_id",)

    price = next(c for c in schema.table("products").columns if c.name == "price")
    assert price.type is DataType.DECIMAL and price.native_type == "decimal(10,2)"
    order_date = next(c for c in schema.table("orders").columns if c.name == "order_date")
    assert order_date.type is DataType.TIMESTAMP

    items = schema.table("order_items")
    assert items.primary_key == ("order_id", "product_id")
    fks = {fk.name: fk for fk in items.foreign_keys}
    assert fks["fk_order_items_order"].columns == ("order_id",)
    assert fks["fk_order_items_order"].referenced_table == "orders"
    assert fks["fk_order_items_order"].referenced_columns == ("order_id",)
    assert fks["fk_order_items_product"].referenced_schema == schema.database
    (self_fk,) = schema.table("employees").foreign_keys
    assert (self_fk.columns, self_fk.referenced_table) == (("manager_id",), "employees")


async def test_fingerprint_is_stable_and_follows_schema_changes(make_driver, my_demo):
    dsn, _ = my_demo
    db = dsn.rsplit("/", 1)[1]
    driver = make_driver(ConnectionKind.MYSQL, dsn)
    first = (await driver.introspect()).fingerprint()
    assert (await driver.introspect()).fingerprint() == first
    await my_run(MYSQL, "ALTER TABLE customers ADD COLUMN loyalty_tier varchar(10)", database=db)
    try:
        changed = await driver.introspect()
        assert changed.fingerprint() != first
        assert "loyalty_tier" in {c.name for c in changed.table("customers").columns}
    finally:
        await my_run(MYSQL, "ALTER TABLE customers DROP COLUMN loyalty_tier", database=db)
    assert (await driver.introspect()).fingerprint() == first


async def test_introspection_recognises_mariadb_json_columns_and_views(my_driver, my_admin):
    await my_admin("DROP VIEW IF EXISTS doc_view")
    await my_admin("DROP TABLE IF EXISTS docs")
    await my_admin(
        "CREATE TABLE docs (id bigint unsigned AUTO_INCREMENT PRIMARY KEY COMMENT 'the key',"
        " body json NOT NULL, note longtext, flag bool DEFAULT 1, kind varchar(10) DEFAULT 'plain')"
        " COMMENT = 'documents'"
    )
    await my_admin("CREATE VIEW doc_view AS SELECT id, body FROM docs")
    schema = await my_driver.introspect()
    docs = schema.table("docs")
    cols = {c.name: c for c in docs.columns}
    assert (cols["body"].type, cols["body"].native_type) == (DataType.JSON, "json")
    assert cols["note"].type is DataType.TEXT  # a LONGTEXT without json_valid() is text
    assert cols["flag"].type is DataType.BOOLEAN and cols["flag"].default == "1"
    assert cols["kind"].default in ("'plain'", "plain")
    assert cols["id"].comment == "the key" and docs.comment == "documents"
    view = schema.table("doc_view")
    assert view.kind == "view" and view.comment == "" and view.row_estimate == 0
    assert next(c for c in view.columns if c.name == "body").type in (DataType.JSON, DataType.TEXT)

    await my_admin(
        'INSERT INTO docs (body, note) VALUES (\'{"a": [1, "ü"]}\', \'{"not": "json"}\')'
    )
    page = await my_driver.fetch_page(
        SqlQuery("SELECT body, note FROM docs"), offset=0, limit=5, timeout_s=5
    )
    assert [c.type for c in page.columns] == [DataType.JSON, DataType.TEXT]
    assert json.loads(page.rows[0][0].text) == {"a": [1, "ü"]}
    assert page.rows[0][1] == '{"not": "json"}'


# -- errors ---------------------------------------------------------------------------------


async def test_syntax_error_is_invalid_argument_with_the_line(my_driver):
    with pytest.raises(InvalidArgument) as info:
        await my_driver.fetch_page(
            SqlQuery("SELECT 1 FROM WHERE x"), offset=0, limit=1, timeout_s=5
        )
    err = info.value
    assert "near 'WHERE x' at line 1" in err.message
    assert [v.field for v in err.violations] == [
        "statement.sql"
    ] and err.reason == "SQL_SYNTAX_ERROR"


@pytest.mark.parametrize(
    "sql, words",
    [
        ("SELECT * FROM no_such_table", "no_such_table' doesn't exist"),
        ("SELECT no_such_column FROM paging", "Unknown column 'no_such_column'"),
        ("SELECT no_such_function(1)", "does not exist"),
        ("SELECT (SELECT id FROM paging)", "more than 1 row"),
    ],
)
async def test_statement_errors_are_invalid_argument(my_driver, ten_thousand, sql, words):
    with pytest.raises(InvalidArgument) as info:
        await my_driver.fetch_page(SqlQuery(sql), offset=0, limit=1, timeout_s=5)
    assert words in info.value.message
    assert info.value.violations[0].field == "statement.sql"


async def test_stacked_statements_are_refused_even_on_a_writable_connection(
    make_driver, mysql_dsn, my_admin
):
    await my_admin("DROP TABLE IF EXISTS stack_target")
    await my_admin("CREATE TABLE stack_target (a int)")
    driver = make_driver(ConnectionKind.MYSQL, mysql_dsn, read_only=False)
    with pytest.raises(InvalidArgument) as info:
        await driver.fetch_page(
            SqlQuery("SELECT 1; INSERT INTO stack_target VALUES (1)"),
            offset=0,
            limit=1,
            timeout_s=5,
        )
    assert "syntax" in info.value.message
    assert (await my_admin("SELECT count(*) FROM stack_target"))[0][0] == 0


async def test_bad_parameters_are_invalid_argument(my_driver):
    with pytest.raises(InvalidArgument) as info:
        await my_driver.fetch_page(SqlQuery("SELECT %s, %s", (1,)), offset=0, limit=1, timeout_s=5)
    assert info.value.violations[0].field == "statement.params"


async def test_a_mongo_query_is_refused(my_driver):
    with pytest.raises(InvalidArgument):
        await my_driver.fetch_page(MongoFind("c", {}), offset=0, limit=1, timeout_s=5)


@pytest.fixture
async def my_user(run_id: str, mysql_params: dict, mysql_database: str, ten_thousand):
    """A user allowed to connect to the database and to read nothing but one column."""
    user = f"ct_{run_id}_nb"
    await my_run(mysql_params, f"DROP USER IF EXISTS '{user}'@'%'")
    await my_run(
        mysql_params,
        f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{run_id}' WITH MAX_USER_CONNECTIONS 2",
    )
    await my_run(mysql_params, f"GRANT SELECT (id) ON `{mysql_database}`.paging TO '{user}'@'%'")
    yield user, f"pw-{run_id}"
    await my_run(mysql_params, f"DROP USER IF EXISTS '{user}'@'%'")


async def test_permission_denied_by_the_database(
    make_driver, mysql_params, mysql_database, my_user
):
    user, password = my_user
    dsn = mysql_dsn_for(mysql_params, mysql_database, user=user, password=password)
    driver = make_driver(ConnectionKind.MYSQL, dsn)
    page = await driver.fetch_page(
        SqlQuery("SELECT id FROM paging WHERE id = 1"), offset=0, limit=1, timeout_s=5
    )
    assert page.rows == [(1,)]
    with pytest.raises(PermissionDenied) as info:
        await driver.fetch_page(
            SqlQuery("SELECT label FROM paging"), offset=0, limit=1, timeout_s=5
        )
    assert "denied" in info.value.message
    with pytest.raises(PermissionDenied):
        await driver.fetch_page(SqlQuery("SELECT * FROM types_rt"), offset=0, limit=1, timeout_s=5)


async def test_too_many_connections_is_unavailable(
    make_driver, mysql_params, mysql_database, my_user
):
    user, password = my_user
    holders = [
        await aiomysql.connect(**{**mysql_params, "user": user, "password": password})
        for _ in range(2)
    ]
    try:
        dsn = mysql_dsn_for(mysql_params, mysql_database, user=user, password=password)
        driver = make_driver(ConnectionKind.MYSQL, dsn)
        with pytest.raises(Unavailable) as info:
            await driver.fetch_page(SqlQuery("SELECT 1"), offset=0, limit=1, timeout_s=5)
        assert "max_user_connections" in info.value.message
    finally:
        for conn in holders:
            conn.close()


@pytest.mark.parametrize(
    "dsn, words",
    [
        ("mysql://root@127.0.0.1:1/x", "connection refused"),
        ("mysql://root@no-such-host.invalid:3306/x", "unknown host"),
        ("mysql://root:wrong-password@127.0.0.1:3306/mysql", "access denied"),
        ("mysql://root@127.0.0.1:3306/no_such_db_x", "no such database"),
    ],
)
async def test_check_says_why_it_cannot_connect(make_driver, dsn, words):
    driver = make_driver(ConnectionKind.MYSQL, dsn, connect_timeout_s=3)
    with pytest.raises(FailedPrecondition) as info:
        await driver.check()
    assert info.value.message.startswith("cannot connect: ") and words in info.value.message


async def test_database_down_is_unavailable(make_driver):
    driver = make_driver(ConnectionKind.MYSQL, "mysql://root@127.0.0.1:1/x")
    with pytest.raises(Unavailable) as info:
        await driver.fetch_page(SqlQuery("SELECT 1"), offset=0, limit=1, timeout_s=5)
    assert info.value.message.startswith("database unavailable: ")


async def test_bad_dsns_are_refused_when_the_driver_is_opened(make_driver):
    for dsn in ("postgresql://x@h/db", "mysql://h/db?frobnicate=1", "mysql://:99999999/x"):
        with pytest.raises(InvalidArgument) as info:
            make_driver(ConnectionKind.MYSQL, dsn)
        assert info.value.violations[0].field == "connection.dsn"


async def test_check_succeeds_on_a_good_database(my_driver):
    await my_driver.check()
    assert my_driver.kind is ConnectionKind.MYSQL and my_driver.dialect == "mysql"


# -- read-only wall, timeouts ----------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO paging VALUES (100001, 'x')",
        "UPDATE paging SET label = 'y' WHERE id = 1",
        "DELETE FROM paging WHERE id = 2",
        "REPLACE INTO paging VALUES (3, 'z')",
        "CREATE TABLE sneaky (a int)",  # DDL commits implicitly: the session is read-only too
        "DROP TABLE paging",
        "TRUNCATE paging",
        "CREATE TABLE sneaky2 AS SELECT * FROM paging",
    ],
)
async def test_writes_reaching_a_read_only_connection_are_refused(
    my_driver, my_admin, ten_thousand, sql
):
    checksum = "SELECT count(*), sum(crc32(label)) FROM paging"
    before = await my_admin(checksum)
    with pytest.raises(PermissionDenied) as info:
        await my_driver.fetch_page(SqlQuery(sql), offset=0, limit=10, timeout_s=5)
    assert "read-only" in info.value.message and info.value.reason == "READ_ONLY_VIOLATION"
    assert await my_admin(checksum) == before
    assert await my_admin("SHOW TABLES LIKE 'sneaky%'") == []


async def test_a_writable_connection_commits(make_driver, mysql_dsn, my_admin):
    await my_admin("DROP TABLE IF EXISTS writable")
    await my_admin("CREATE TABLE writable (a int, at timestamp(6) NULL)")
    driver = make_driver(ConnectionKind.MYSQL, mysql_dsn, read_only=False)
    page = await driver.fetch_page(
        SqlQuery(
            "INSERT INTO writable VALUES (%s, %s)", (1, datetime(2024, 3, 10, 12, 0, tzinfo=IST))
        ),
        offset=0,
        limit=1,
        timeout_s=5,
    )
    assert page.columns == () and page.rows == []
    page = await driver.fetch_page(
        SqlQuery("SELECT a, at FROM writable"), offset=0, limit=5, timeout_s=5
    )
    # An aware datetime parameter is stored as that instant (the session is UTC).
    assert page.rows == [(1, datetime(2024, 3, 10, 6, 30, tzinfo=UTC))]


async def test_sessions_in_other_time_zones_see_the_same_instants(
    my_driver, mysql_params, mysql_database
):
    conn = await aiomysql.connect(
        **mysql_params, db=mysql_database, autocommit=True, init_command="SET sql_notes = 0"
    )
    try:
        async with conn.cursor() as cur:
            await cur.execute("DROP TABLE IF EXISTS tz_check")
            await cur.execute("CREATE TABLE tz_check (ts timestamp NULL, dt datetime)")
            await cur.execute("SET time_zone = '+05:30'")
            await cur.execute(
                "INSERT INTO tz_check VALUES ('2024-03-10 12:00:00', '2024-03-10 12:00:00')"
            )
    finally:
        conn.close()
    page = await my_driver.fetch_page(
        SqlQuery("SELECT ts, dt FROM tz_check"), offset=0, limit=1, timeout_s=5
    )
    assert page.rows == [(datetime(2024, 3, 10, 6, 30, tzinfo=UTC), datetime(2024, 3, 10, 12, 0))]


async def test_statement_timeout_is_enforced_by_the_database(my_driver, ten_thousand):
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as info:
        await my_driver.fetch_page(SqlQuery("SELECT SLEEP(5)"), offset=0, limit=1, timeout_s=0.5)
    assert time.monotonic() - started < 1.2
    assert info.value.message == "query exceeded its 0.5 s timeout"
    heavy = SqlQuery(f"SELECT count(*) FROM {ten_thousand} a, {ten_thousand} b, {ten_thousand} c")
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        await my_driver.fetch_page(heavy, offset=0, limit=1, timeout_s=0.5)
    assert time.monotonic() - started < 1.5
    page = await my_driver.fetch_page(
        SqlQuery("SELECT SLEEP(0.7), 1"), offset=0, limit=1, timeout_s=5
    )
    assert page.rows == [(0, 1)]


# -- recovery and cancellation ----------------------------------------------------------------


async def _processes(my_admin, database: str, marker: str | None = None) -> list[tuple]:
    rows = await my_admin(
        "SELECT ID, COMMAND, COALESCE(INFO, '') FROM information_schema.PROCESSLIST"
        " WHERE DB = %s AND ID <> CONNECTION_ID()",
        (database,),
    )
    if marker:
        rows = [r for r in rows if marker in r[2]]
    return rows


async def _wait_until(predicate, timeout_s: float = 5.0) -> float:
    started = time.monotonic()
    while not await predicate():
        if time.monotonic() - started > timeout_s:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def _kill_all(my_admin, database: str) -> None:
    for pid, _, _ in await _processes(my_admin, database):
        try:
            await my_admin(f"KILL {int(pid)}")
        except Exception:
            pass  # already gone


async def test_killed_connections_are_replaced_without_a_new_driver(
    make_driver, mysql_dsn, mysql_database, my_admin
):
    driver = make_driver(ConnectionKind.MYSQL, mysql_dsn, pool_min_size=3, pool_max_size=5)
    marker = f"recovery_{uuid.uuid4().hex[:8]}"

    async def select(n: int) -> list:
        page = await driver.fetch_page(SqlQuery(f"SELECT {n}"), offset=0, limit=1, timeout_s=5)
        return page.rows

    assert await asyncio.gather(*(select(i) for i in range(4))) == [[(i,)] for i in range(4)]
    running = asyncio.create_task(
        driver.fetch_page(
            SqlQuery(f"SELECT SLEEP(30) /* {marker} */"), offset=0, limit=1, timeout_s=60
        )
    )

    async def started():
        return bool(await _processes(my_admin, mysql_database, marker))

    await _wait_until(started)
    await _kill_all(my_admin, mysql_database)
    with pytest.raises(Unavailable):
        await running
    assert await asyncio.gather(*(select(i) for i in range(5))) == [[(i,)] for i in range(5)]
    await _kill_all(my_admin, mysql_database)
    assert await asyncio.gather(*(select(i) for i in range(5))) == [[(i,)] for i in range(5)]


async def test_closing_a_stream_early_kills_the_query(
    my_driver, my_admin, mysql_database, ten_thousand
):
    marker = f"early_{uuid.uuid4().hex[:8]}"
    t = ten_thousand
    stream = my_driver.stream(
        SqlQuery(f"SELECT /* {marker} */ a.id FROM {t} a, {t} b, {t} c"),
        batch_size=1000,
        timeout_s=60,
        max_rows=10**12,
    )
    await anext(stream)
    await anext(stream)
    assert await _processes(my_admin, mysql_database, marker)
    started = time.monotonic()
    await stream.aclose()
    assert time.monotonic() - started < 1  # the rest of 10^12 rows was not read

    async def gone():
        return not await _processes(my_admin, mysql_database, marker)

    assert await _wait_until(gone, 2.0) < 2.0
    page = await my_driver.fetch_page(SqlQuery("SELECT 1"), offset=0, limit=1, timeout_s=5)
    assert page.rows == [(1,)]


async def test_cancelling_a_stream_consumer_kills_the_query(
    my_driver, my_admin, mysql_database, ten_thousand
):
    marker = f"cancel_{uuid.uuid4().hex[:8]}"
    t = ten_thousand
    # A sort over 10^12 rows: the first row needs the whole sort, so the server is busy.
    query = SqlQuery(
        f"SELECT /* {marker} */ a.id FROM {t} a, {t} b, {t} c ORDER BY a.label, b.label, c.id"
    )

    async def consume():
        async for _ in my_driver.stream(query, batch_size=1000, timeout_s=60, max_rows=10):
            pass

    task = asyncio.create_task(consume())

    async def running():
        return bool(await _processes(my_admin, mysql_database, marker))

    await _wait_until(running)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async def gone():
        return not await _processes(my_admin, mysql_database, marker)

    assert await _wait_until(gone, 2.0) < 2.0
    page = await my_driver.fetch_page(SqlQuery("SELECT 1"), offset=0, limit=1, timeout_s=5)
    assert page.rows == [(1,)]


async def test_no_driver_exception_escapes(make_driver):
    bad = make_driver(ConnectionKind.MYSQL, "mysql://root@127.0.0.1:1/x")
    for call in (
        bad.check(),
        bad.introspect(),
        bad.fetch_page(SqlQuery("SELECT 1"), offset=0, limit=1, timeout_s=1),
    ):
        with pytest.raises(ChatDBError):
            await call
