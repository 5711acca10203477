"""Personal data masking through a real connector on real PostgreSQL and MariaDB.

A table of people with name / email / phone / address columns (detected by name), a
column of e-mails under an innocent name (detected by values), a column the glossary
marks pii, and a city (not personal data). Callers with the user or viewer role get
those masked and told so; admins and internal callers (no principal) do not. Aliases,
joins, subqueries and CTEs are traced to the source column; count(email) is not masked.
"""

from __future__ import annotations

import uuid

import aiomysql
import pytest
from chatdb.connector.v1 import glossary_pb2

from servers.connector import convert, pii
from servers.connector.domain import ColumnInfo, DataType, ResultColumn, SchemaInfo, TableInfo
from servers.runtime.identity import Principal
from tests.conftest import (
    MYSQL,
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database,
)
from tests.mongo_support import mongomock_opener

from .conftest import pg_run
from .service_support import MY, PG, ensure, mysql_dsn, pb, running_connector, sql

pytestmark = pytest.mark.timeout(120)

USER = Principal("key:u", tenant="t-pii", role="user").metadata()
VIEWER = Principal("key:v", tenant="t-pii", role="viewer").metadata()
ADMIN = Principal("key:a", tenant="t-pii", role="admin").metadata()

PEOPLE = [
    (1, "Alice Smith", "alice@example.com", "+1 555 123 4567", "12 Baker Street", "London", "alice.s@mail.test", "K-1"),
    (2, "Bob Jones", "bob@example.org", "+44 20 7946 0958", "3 Main St", "Paris", "bob.j@mail.test", "K-2"),
    (3, "Carol White", None, "(555) 987-6543", "77 Elm Road", "London", "carol@mail.test", "K-3"),
]
PERSONAL = ["full_name", "email", "phone", "street_address", "remark", "secret_code"]


def _tables_sql(text_type: str) -> list[str]:
    return [  # fresh databases of this module: nothing to drop
        f"CREATE TABLE pii_people (id integer PRIMARY KEY, full_name {text_type}, email {text_type}, "
        f"phone {text_type}, street_address {text_type}, city {text_type}, remark {text_type}, "
        f"secret_code {text_type})",
        "CREATE TABLE pii_orders (id integer PRIMARY KEY, person_id integer, total integer)",
        "CREATE TABLE pii_patients (id integer PRIMARY KEY, date_of_birth date, visits integer)",
        "INSERT INTO pii_patients VALUES (1, '1990-01-02', 4)",
    ]


async def _load_pg(dsn: str) -> None:
    for statement in _tables_sql("text"):
        await pg_run(dsn, statement)
    for row in PEOPLE:
        await pg_run(dsn, "INSERT INTO pii_people VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", *row)
    for i in range(1, 4):
        await pg_run(dsn, "INSERT INTO pii_orders VALUES ($1, $2, $3)", i, i, i * 10)


async def _load_mysql(database: str) -> None:
    conn = await aiomysql.connect(**MYSQL, db=database, autocommit=True, charset="utf8mb4")
    try:
        async with conn.cursor() as cur:
            for statement in _tables_sql("varchar(100)"):
                await cur.execute(statement)
            await cur.executemany("INSERT INTO pii_people VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", PEOPLE)
            await cur.executemany("INSERT INTO pii_orders VALUES (%s, %s, %s)", [(i, i, i * 10) for i in range(1, 4)])
    finally:
        conn.close()


@pytest.fixture(scope="module")
async def connector(settings):
    async with running_connector(settings) as c:
        yield c


@pytest.fixture(scope="module")
async def pg_database(run_id):
    """Databases of this module's own: tables of people with cities loaded into the
    session's shared user database changed what later modules' questions linked to."""
    name = f"chatdb_test_{run_id}_pii"
    yield await create_pg_database(name)
    await drop_pg_database(name)


@pytest.fixture(scope="module")
async def mysql_database(run_id):
    name = await create_mysql_database(f"chatdb_test_{run_id}_pii")
    yield name
    await drop_mysql_database(name)


@pytest.fixture(scope="module")
async def connections(connector, pg_database, mysql_database):
    """{"pg": id, "mysql": id}: both databases loaded, the glossary marking secret_code."""
    ids = {"pg": f"pii-pg-{uuid.uuid4().hex[:6]}", "mysql": f"pii-my-{uuid.uuid4().hex[:6]}"}
    await _load_pg(pg_database)
    await _load_mysql(mysql_database)
    await ensure(connector.stub, ids["pg"], kind=PG, dsn=pg_database)
    await ensure(connector.stub, ids["mysql"], kind=MY, dsn=mysql_dsn(mysql_database))
    for cid in ids.values():
        await _glossary(connector, cid, pii=["pii_people.secret_code"])
    return ids


async def _glossary(connector, cid: str, *, pii=(), not_pii=()) -> glossary_pb2.Glossary:
    response = await connector.stub.SetGlossary(pb.SetGlossaryRequest(
        connection_id=cid, glossary=glossary_pb2.Glossary(pii_columns=list(pii), not_pii_columns=list(not_pii))))
    return response.glossary


async def _run(connector, cid: str, text: str, metadata=None):
    response = await connector.stub.ExecuteQuery(
        pb.ExecuteQueryRequest(connection_id=cid, statement=sql(text)), metadata=metadata)
    rows = [[convert.cell_to_value(c) for c in row.cells] for row in response.rows]
    return [c.name for c in response.columns], rows, list(response.masked_columns)


# ----------------------------------------------------------------------- through the service


@pytest.mark.parametrize("kind", ["pg", "mysql"])
@pytest.mark.parametrize("who", ["user", "viewer"])
async def test_non_admins_get_personal_columns_masked_and_are_told(connector, connections, kind, who):
    metadata = USER if who == "user" else VIEWER
    names, rows, masked = await _run(connector, connections[kind], "SELECT * FROM pii_people ORDER BY id", metadata)
    assert names == ["id", *PERSONAL[:4], "city", *PERSONAL[4:]]
    assert masked == PERSONAL  # by name, by values (remark), by the glossary (secret_code)
    alice = dict(zip(names, rows[0], strict=True))
    assert alice["email"] == "***@example.com"  # the domain is kept, the person is not
    assert alice["full_name"] == alice["phone"] == alice["street_address"] == alice["secret_code"] == "***"
    assert alice["remark"] == "***@mail.test"
    assert (alice["id"], alice["city"]) == (1, "London")  # not personal data
    assert dict(zip(names, rows[2], strict=True))["email"] is None  # NULL stays NULL


@pytest.mark.parametrize("kind", ["pg", "mysql"])
@pytest.mark.parametrize("who", ["admin", "internal"])
async def test_admins_and_internal_callers_see_everything(connector, connections, kind, who):
    names, rows, masked = await _run(connector, connections[kind], "SELECT * FROM pii_people ORDER BY id",
                                     ADMIN if who == "admin" else None)
    assert masked == []
    assert rows[0] == list(PEOPLE[0])


@pytest.mark.parametrize("kind", ["pg", "mysql"])
async def test_aliases_joins_subqueries_are_traced_and_counts_are_not_masked(connector, connections, kind):
    cid = connections[kind]
    names, rows, masked = await _run(connector, cid, "SELECT email AS contact_info, city AS town FROM pii_people "
                                     "ORDER BY id", USER)
    assert masked == ["contact_info"] and rows[0] == ["***@example.com", "London"]

    names, rows, masked = await _run(connector, cid, "SELECT p.email, o.total FROM pii_orders o JOIN pii_people p "
                                     "ON p.id = o.person_id ORDER BY o.id", USER)
    assert masked == ["email"] and rows[1] == ["***@example.org", 20]

    names, rows, masked = await _run(connector, cid, "SELECT x FROM (SELECT full_name AS x FROM pii_people) s "
                                     "ORDER BY x", USER)
    assert masked == ["x"] and {r[0] for r in rows} == {"***"}

    names, rows, masked = await _run(connector, cid, "SELECT count(email) AS n, count(DISTINCT phone) AS p, "
                                     "max(email) AS top FROM pii_people", USER)
    assert masked == ["top"] and rows == [[2, 3, "***@example.org"]]

    names, rows, masked = await _run(connector, cid, "SELECT city, count(*) AS n FROM pii_people "
                                     "WHERE email LIKE '%example%' GROUP BY city ORDER BY city", USER)
    assert masked == [] and rows == [["London", 1], ["Paris", 1]]


@pytest.mark.parametrize("kind", ["pg", "mysql"])
async def test_a_masked_date_column_becomes_text(connector, connections, kind):
    from chatdb.connector.v1 import data_type_pb2

    request = pb.ExecuteQueryRequest(connection_id=connections[kind],
                                     statement=sql("SELECT date_of_birth, visits FROM pii_patients"))
    user = await connector.stub.ExecuteQuery(request, metadata=USER)
    assert list(user.masked_columns) == ["date_of_birth"]
    assert user.columns[0].type == data_type_pb2.DATA_TYPE_TEXT and user.rows[0].cells[0].text_value == "***"
    assert user.rows[0].cells[1].int64_value == 4
    admin = await connector.stub.ExecuteQuery(request, metadata=ADMIN)
    assert admin.columns[0].type == data_type_pb2.DATA_TYPE_DATE
    assert str(convert.cell_to_value(admin.rows[0].cells[0])) == "1990-01-02"


async def test_cte_and_union_are_traced(connector, connections):
    cid = connections["pg"]
    _, rows, masked = await _run(connector, cid, "WITH c AS (SELECT remark AS r FROM pii_people) "
                                 "SELECT r FROM c UNION ALL SELECT city FROM pii_people", USER)
    assert masked == ["r"] and "London" not in [r[0] for r in rows]


async def test_later_pages_are_masked_too(connector, connections):
    first = await connector.stub.ExecuteQuery(pb.ExecuteQueryRequest(
        connection_id=connections["pg"], statement=sql("SELECT email FROM pii_people ORDER BY id"), page_size=1),
        metadata=USER)
    second = await connector.stub.ExecuteQuery(pb.ExecuteQueryRequest(
        connection_id=connections["pg"], statement=sql("SELECT email FROM pii_people ORDER BY id"), page_size=1,
        page_token=first.next_page_token), metadata=USER)
    assert list(second.masked_columns) == ["email"]
    assert second.rows[0].cells[0].text_value == "***@example.org"


async def test_stream_query_is_masked_from_its_header_on(connector, connections):
    messages = [m async for m in connector.stub.StreamQuery(pb.StreamQueryRequest(
        connection_id=connections["pg"], statement=sql("SELECT id, email, city FROM pii_people ORDER BY id"),
        batch_size=2), metadata=USER)]
    header = messages[0].header
    assert list(header.masked_columns) == ["email"]
    rows = [[convert.cell_to_value(c) for c in r.cells] for m in messages[1:-1] for r in m.batch.rows]
    assert rows == [[1, "***@example.com", "London"], [2, "***@example.org", "Paris"], [3, None, "London"]]
    assert messages[-1].summary.rows_returned == 3

    admin = [m async for m in connector.stub.StreamQuery(pb.StreamQueryRequest(
        connection_id=connections["pg"], statement=sql("SELECT email FROM pii_people ORDER BY id")),
        metadata=ADMIN)]
    assert list(admin[0].header.masked_columns) == []
    assert admin[1].batch.rows[0].cells[0].text_value == "alice@example.com"


async def test_glossary_switches_a_detected_column_off_and_marks_one_on(connector, connections):
    cid = connections["mysql"]
    stored = await _glossary(connector, cid, pii=["pii_people.city"], not_pii=["pii_people.phone"])
    assert list(stored.pii_columns) == ["pii_people.city"] and list(stored.not_pii_columns) == ["pii_people.phone"]
    try:
        _, rows, masked = await _run(connector, cid, "SELECT phone, city FROM pii_people ORDER BY id", USER)
        assert masked == ["city"] and rows[0] == ["+1 555 123 4567", "***"]
    finally:
        await _glossary(connector, cid, pii=["pii_people.secret_code"])
    _, _, masked = await _run(connector, cid, "SELECT phone, city FROM pii_people", USER)
    assert masked == ["phone"]


async def test_glossary_pii_columns_are_checked(connector, connections):
    import grpc

    from .service_support import expect_error

    error = await expect_error(connector.stub.SetGlossary(pb.SetGlossaryRequest(
        connection_id=connections["pg"],
        glossary=glossary_pb2.Glossary(pii_columns=["pii_people.nope"], not_pii_columns=["pii_people.city"]))),
        grpc.StatusCode.INVALID_ARGUMENT)
    assert error.violations[0].field == "glossary.pii_columns[0]"
    assert "pii_people.nope does not exist" in error.violations[0].description


# ----------------------------------------------------------------------- detection and lineage


@pytest.mark.parametrize("table, column, category", [
    ("customers", "first_name", "person name"), ("users", "name", "person name"), ("products", "name", None),
    ("customers", "emailAddress", "e-mail"), ("customers", "email_verified", None), ("t", "mobile", "phone"),
    ("t", "postcode", "address"), ("t", "address_id", None), ("t", "city", None), ("t", "country", None),
    ("t", "date_of_birth", "date of birth"), ("t", "ssn", "national id"), ("t", "ip_address", "ip address"),
    ("t", "contact", "person name"),
])
def test_detection_by_name(table, column, category):
    assert pii.by_name(table, column, DataType.TEXT) == category


def test_detection_by_values_needs_most_values():
    assert pii.by_values(["a@x.io", "b@y.org", None, "c@z.net"]) == "e-mail"
    assert pii.by_values(["a@x.io", "plain", "text", "more"]) is None
    assert pii.by_values(["2024-01-15", "12345678", "1.5"]) is None  # dates and ids are no phones
    assert pii.by_values(["12 Baker Street", "3 Main St, Springfield"]) == "address"


def _schema() -> SchemaInfo:
    def cols(*names):
        return tuple(ColumnInfo(n, DataType.TEXT, "text", True) for n in names)
    return SchemaInfo("db", (TableInfo("users", "public", "table", cols("id", "email", "city"), ("id",), (), "", 0),))


@pytest.mark.parametrize("statement, flags", [
    ("SELECT * FROM users", [False, True, False]),
    ("SELECT lower(email) AS e FROM public.users", [True]),
    ("SELECT email IS NULL, length(email) FROM users", [False, False]),
    ("SELECT city, (SELECT max(u2.email) FROM users u2 WHERE u2.id = users.id) FROM users", [False, True]),
    ("SELECT CASE WHEN email LIKE '%x' THEN 'a' ELSE email END FROM users", [True]),
    ("SELECT * FROM not_a_table", None),
])
def test_lineage(statement, flags):
    detected = pii.Detected({("users", "email"): "e-mail (by name)"})
    assert pii.exposing(statement, "postgres", _schema(), detected) == flags


def test_without_lineage_columns_are_masked_by_name_and_values():
    detected = pii.Detected({("users", "email"): "e-mail (by name)"})
    statement = "SELECT a, b FROM (VALUES ('x@y.com', 'k'), ('z@w.org', 'l')) v(a, b)"
    assert pii.exposing(statement, "postgres", _schema(), detected) is None  # a VALUES list has no lineage
    columns = [ResultColumn("a", DataType.TEXT, "text"), ResultColumn("email", DataType.TEXT, "text"),
               ResultColumn("b", DataType.TEXT, "text")]
    rows = [("x@y.com", None, "k"), ("z@w.org", None, "l")]
    assert pii.fallback(columns, rows, detected) == [True, True, False]


def test_mask_value():
    assert pii.mask_value("Alice@Example.COM") == "***@example.com"
    assert pii.mask_value("not an email") == "***"
    assert pii.mask_value(None) is None
    assert pii.mask_value(19800101) == "***"


# ----------------------------------------------------------------------- MongoDB (mongomock-motor)


async def test_mongodb_fields_are_masked_by_name_and_by_values(settings):
    from mongomock_motor import AsyncMongoMockClient

    from .service_support import MONGO, create

    client = AsyncMongoMockClient(tz_aware=True)
    await client["pii"]["people"].insert_many([
        {"_id": i, "full_name": name, "memo": memo, "city": city}
        for i, (name, memo, city) in enumerate([("Ann Lee", "ann@x.io", "Oslo"), ("Bo Kim", "bo@y.org", "Rome")])
    ])

    opener = mongomock_opener(client)

    async with running_connector(settings, opener=opener) as c:
        await create(c.stub, "pii-mongo", kind=MONGO, dsn="mongodb://127.0.0.1:27017/pii")
        from chatdb.connector.v1 import statement_pb2

        statement = statement_pb2.Statement(mongo_find=statement_pb2.MongoFind(collection="people", sort='{"_id": 1}'))
        response = await c.stub.ExecuteQuery(pb.ExecuteQueryRequest(connection_id="pii-mongo", statement=statement),
                                             metadata=USER)
        assert list(response.masked_columns) == ["full_name", "memo"]
        rows = [[convert.cell_to_value(cell) for cell in r.cells] for r in response.rows]
        assert rows[0] == [0, "***", "***@x.io", "Oslo"]
        admin = await c.stub.ExecuteQuery(pb.ExecuteQueryRequest(connection_id="pii-mongo", statement=statement),
                                          metadata=ADMIN)
        assert list(admin.masked_columns) == [] and admin.rows[0].cells[1].text_value == "Ann Lee"
