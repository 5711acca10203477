"""ConnectorService connections and schema through a real server and stub: create / get /
list (paged) / delete, masked secrets, connect checks, idempotency, validation.

Queries and streams through gRPC have files of their own (test_service_query.py,
test_service_stream.py, test_service_mongo.py, test_service_hardening.py,
test_service_restart.py); the core without a transport is test_core.py."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import aiomysql
import asyncpg
import grpc
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from tests.conftest import MYSQL

from .service_support import (
    MY,
    PG,
    create,
    expect_error,
    mysql_dsn,
    pb,
    running_connector,
    sql,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
async def connector(settings):
    async with running_connector(settings) as c:
        yield c


@pytest.fixture(scope="module")
async def mysql_user(run_id, mysql_database):
    """A MariaDB account with a password, so that a wrong password can be tried."""
    user, password = f"ct_{run_id}", "s3cr:et/@pw"
    conn = await aiomysql.connect(**MYSQL, autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
            await cur.execute(f"GRANT SELECT ON `{mysql_database}`.* TO '{user}'@'%'")
        yield user, password
    finally:
        async with conn.cursor() as cur:
            await cur.execute("SET sql_notes = 0")
            await cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        conn.close()


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_create_get_delete_postgres(connector, pg_database):
    stub = connector.stub
    cid = _id("pg")
    created = await create(stub, cid, kind=PG, dsn=pg_database)
    assert created.connection_id == cid
    assert created.kind == PG and created.read_only is True  # read-only unless said otherwise
    assert created.host == "127.0.0.1" and created.port == 5432 and created.user == "postgres"
    assert created.database == pg_database.rsplit("/", 1)[1]
    assert created.options.pool_max_size > 0 and created.options.max_rows > 0  # effective values
    assert created.options.statement_timeout.seconds > 0
    assert created.create_time.seconds > 0

    got = (await stub.GetConnection(pb.GetConnectionRequest(connection_id=cid))).connection
    assert got == created

    await stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=cid))
    await expect_error(
        stub.GetConnection(pb.GetConnectionRequest(connection_id=cid)), grpc.StatusCode.NOT_FOUND
    )
    err = await expect_error(
        stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=cid)),
        grpc.StatusCode.NOT_FOUND,
    )
    assert err.reason == "CONNECTION_NOT_FOUND"
    await stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=cid, allow_missing=True))


async def test_secret_is_masked_and_never_returned(connector, mysql_database, mysql_user):
    user, password = mysql_user
    stub = connector.stub
    cid = _id("my-secret")
    from urllib.parse import quote

    dsn = f"mysql://{user}:{quote(password, safe='')}@{MYSQL['host']}:{MYSQL['port']}/{mysql_database}"
    created = await create(stub, cid, kind=MY, dsn=dsn)
    assert created.has_password is True
    assert created.password == ""
    assert created.dsn == f"mysql://{user}:****@{MYSQL['host']}:{MYSQL['port']}/{mysql_database}"
    for response in (
        created,
        (await stub.GetConnection(pb.GetConnectionRequest(connection_id=cid))).connection,
        await stub.ListConnections(pb.ListConnectionsRequest(page_size=1000)),
    ):
        raw = response.SerializeToString()
        assert password.encode() not in raw and quote(password, safe="").encode() not in raw
    # ... yet the stored secret works: the connection runs queries.
    page = await stub.ExecuteQuery(
        pb.ExecuteQueryRequest(connection_id=cid, statement=sql("SELECT 1 AS one"))
    )
    assert page.rows[0].cells[0].int64_value == 1


async def test_discrete_fields_with_password(connector, mysql_database, mysql_user):
    user, password = mysql_user
    from chatdb.connector.v1 import connection_pb2

    conn = connection_pb2.Connection(
        kind=MY,
        host=MYSQL["host"],
        port=MYSQL["port"],
        user=user,
        password=password,
        database=mysql_database,
        display_name="Shop (MariaDB)",
    )
    cid = _id("my-fields")
    created = (
        await connector.stub.CreateConnection(
            pb.CreateConnectionRequest(connection_id=cid, connection=conn)
        )
    ).connection
    assert (
        created.has_password and created.password == "" and created.display_name == "Shop (MariaDB)"
    )
    assert ":****@" in created.dsn and password not in created.dsn
    assert created.user == user and created.database == mysql_database


async def test_secrets_encrypted_at_rest_when_a_key_is_set(settings, pg_database, platform_dsn):
    key = Fernet.generate_key().decode()
    secret_settings = settings.model_copy(update={"connector_secrets_key": SecretStr(key)})
    cid = _id("pg-enc")
    dsn = pg_database.replace("postgres@", "postgres:topsecret@")
    async with running_connector(secret_settings) as c:
        created = await create(c.stub, cid, kind=PG, dsn=dsn)
        assert created.has_password and "topsecret" not in created.dsn
    conn = await asyncpg.connect(platform_dsn)
    try:
        row = await conn.fetchrow(
            "SELECT * FROM connector_connections WHERE connection_id = $1", cid
        )
    finally:
        await conn.close()
    assert row["secret_dsn"].startswith("fernet:")
    assert "topsecret" not in str(dict(row))


async def test_cannot_connect_is_failed_precondition_with_reason(
    connector, run_id, mysql_database, mysql_user
):
    stub = connector.stub
    user, _ = mysql_user
    cases = [
        (PG, "postgresql://postgres@127.0.0.1:1/postgres", ""),  # nothing listens on port 1
        (PG, f"postgresql://postgres@127.0.0.1:5432/chatdb_missing_{run_id}", "does not exist"),
        (MY, mysql_dsn(mysql_database, user=user, password="wrong-password"), "denied"),
    ]
    for kind, dsn, needle in cases:
        cid = _id("bad")
        err = await expect_error(
            create(stub, cid, kind=kind, dsn=dsn), grpc.StatusCode.FAILED_PRECONDITION
        )
        assert err.message.startswith("cannot connect"), err.message
        assert needle.lower() in err.message.lower(), err.message
        assert "wrong-password" not in err.message
        # nothing was stored
        await expect_error(
            stub.GetConnection(pb.GetConnectionRequest(connection_id=cid)),
            grpc.StatusCode.NOT_FOUND,
        )


async def test_idempotent_create_with_request_id(connector, pg_database):
    stub = connector.stub
    cid, rid = _id("idem"), str(uuid.uuid4())
    first = await create(stub, cid, kind=PG, dsn=pg_database, request_id=rid)
    again = await create(stub, cid, kind=PG, dsn=pg_database, request_id=rid)
    assert again == first
    # the same id without the request id is a conflict
    err = await expect_error(
        create(stub, cid, kind=PG, dsn=pg_database), grpc.StatusCode.ALREADY_EXISTS
    )
    assert err.reason == "CONNECTION_EXISTS"
    # the same request id with a different request is refused, naming the field
    err = await expect_error(
        create(stub, cid, kind=PG, dsn=pg_database, request_id=rid, read_only=False),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert [v.field for v in err.violations] == ["request_id"]


@pytest.mark.parametrize(
    "connection_id, connection, fields",
    [
        ("Bad_Id", dict(kind=PG, dsn="postgresql://h/db"), ["connection_id"]),
        ("9abc", dict(kind=PG, dsn="postgresql://h/db"), ["connection_id"]),
        ("a" * 64, dict(kind=PG, dsn="postgresql://h/db"), ["connection_id"]),
        ("ok", dict(dsn="postgresql://h/db"), ["connection.kind"]),
        ("ok", dict(kind=MY, dsn="postgresql://h/db"), ["connection.dsn"]),
        ("ok", dict(kind=PG, dsn="not a dsn"), ["connection.dsn"]),
        ("ok", dict(kind=PG, dsn="postgresql://h:99999/db"), ["connection.dsn"]),
        ("ok", dict(kind=PG), ["connection.host", "connection.database"]),
        (
            "ok",
            dict(kind=PG, dsn="postgresql://h/db", options=dict(pool_min_size=9, pool_max_size=2)),
            ["connection.options.pool_max_size"],
        ),
        (
            "ok",
            dict(kind=PG, dsn="postgresql://h/db", options=dict(max_rows=-1)),
            ["connection.options.max_rows"],
        ),
    ],
)
async def test_create_validation(connector, connection_id, connection, fields):
    from chatdb.connector.v1 import connection_pb2

    options = connection.pop("options", {})
    conn = connection_pb2.Connection(**connection)
    for key, value in options.items():
        setattr(conn.options, key, value)
    err = await expect_error(
        connector.stub.CreateConnection(
            pb.CreateConnectionRequest(connection_id=connection_id, connection=conn)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert sorted({v.field for v in err.violations}) == sorted(fields), err.violations


async def test_bad_ids_on_get_and_delete(connector):
    for call in (
        connector.stub.GetConnection(pb.GetConnectionRequest(connection_id="")),
        connector.stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id="UPPER")),
    ):
        err = await expect_error(call, grpc.StatusCode.INVALID_ARGUMENT)
        assert err.violations[0].field == "connection_id"


async def test_list_pages_and_filters(connector, pg_database, mysql_database):
    stub = connector.stub
    prefix = f"ls-{uuid.uuid4().hex[:6]}"
    ids = [f"{prefix}-{i:02d}" for i in range(7)]
    for i, cid in enumerate(ids):
        if i % 2:
            await create(stub, cid, kind=MY, dsn=mysql_dsn(mysql_database))
        else:
            await create(stub, cid, kind=PG, dsn=pg_database)

    async def walk(**kw):
        seen, token, pages = [], "", 0
        while True:
            page = await stub.ListConnections(
                pb.ListConnectionsRequest(page_size=2, page_token=token, **kw)
            )
            assert len(page.connections) <= 2
            seen += [c.connection_id for c in page.connections]
            pages += 1
            token = page.next_page_token
            if not token:
                return seen, pages

    everything, pages = await walk()
    assert everything == sorted(everything) and len(set(everything)) == len(everything)
    assert [x for x in everything if x.startswith(prefix)] == ids
    assert pages >= 4
    mysql_only, _ = await walk(kind=MY)
    assert [x for x in mysql_only if x.startswith(prefix)] == ids[1::2]

    first = await stub.ListConnections(pb.ListConnectionsRequest(page_size=1, kind=MY))
    err = await expect_error(
        stub.ListConnections(
            pb.ListConnectionsRequest(page_size=1, kind=PG, page_token=first.next_page_token)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert err.violations[0].field == "page_token"
    err = await expect_error(
        stub.ListConnections(pb.ListConnectionsRequest(page_token="garbage!")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert err.violations[0].field == "page_token"
    err = await expect_error(
        stub.ListConnections(pb.ListConnectionsRequest(page_size=-1)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert err.violations[0].field == "page_size"


async def test_get_schema_cache_refresh_and_version(connector, pg_database):
    stub = connector.stub
    admin = await asyncpg.connect(pg_database)
    try:
        await admin.execute("DROP TABLE IF EXISTS schema_probe")
        await admin.execute("CREATE TABLE schema_probe (id bigint PRIMARY KEY, name text NOT NULL)")
        await admin.execute("COMMENT ON TABLE schema_probe IS 'probe table'")
        cid = _id("schema")
        await create(stub, cid, kind=PG, dsn=pg_database)

        first = await stub.GetSchema(pb.GetSchemaRequest(connection_id=cid))
        assert first.cached is False
        probe = next(t for t in first.schema.tables if t.name == "schema_probe")
        assert probe.schema_name == "public" and probe.comment == "probe table"
        assert list(probe.primary_key) == ["id"]
        assert [(c.name, c.nullable, c.primary_key_ordinal) for c in probe.columns] == [
            ("id", False, 1),
            ("name", False, 0),
        ]
        assert first.schema.schema_version
        assert first.schema.expire_time.ToDatetime() > first.schema.introspect_time.ToDatetime()

        second = await stub.GetSchema(pb.GetSchemaRequest(connection_id=cid))
        assert second.cached is True and second.schema.schema_version == first.schema.schema_version

        await admin.execute("ALTER TABLE schema_probe ADD COLUMN city text")
        stale = await stub.GetSchema(pb.GetSchemaRequest(connection_id=cid))
        assert stale.cached is True and stale.schema.schema_version == first.schema.schema_version
        fresh = await stub.GetSchema(pb.GetSchemaRequest(connection_id=cid, refresh=True))
        assert fresh.cached is False and fresh.schema.schema_version != first.schema.schema_version
        assert "city" in [
            c.name for t in fresh.schema.tables if t.name == "schema_probe" for c in t.columns
        ]

        only = await stub.GetSchema(pb.GetSchemaRequest(connection_id=cid, tables=["schema_probe"]))
        assert [t.name for t in only.schema.tables] == ["schema_probe"]
        none = await stub.GetSchema(pb.GetSchemaRequest(connection_id=cid, schema_names=["nope"]))
        assert list(none.schema.tables) == []
        await expect_error(
            stub.GetSchema(pb.GetSchemaRequest(connection_id="missing-conn")),
            grpc.StatusCode.NOT_FOUND,
        )
    finally:
        await admin.execute("DROP TABLE IF EXISTS schema_probe")
        await admin.close()


async def test_demo_connection_registered_as_another_user_is_registered_again(
    connector, settings, pg_database, mysql_database, mysql_user, capsys
):
    """An earlier `make up` registered the demo as the administrator; the next one moves
    it to the SELECT-only user the setting names."""
    from servers.connector.cli import register_demo_connections

    as_admin = settings.model_copy(update={
        "connector_demo_postgres_dsn": pg_database,
        "connector_demo_mysql_dsn": mysql_dsn(mysql_database),
    })
    as_reader = as_admin.model_copy(update={
        "connector_demo_mysql_dsn": mysql_dsn(mysql_database, user=mysql_user[0], password=quote(mysql_user[1], safe="")),
    })
    try:
        await register_demo_connections(connector.server.address, settings=as_admin)
        capsys.readouterr()
        await register_demo_connections(connector.server.address, settings=as_reader)
        out = capsys.readouterr().out
        assert f"demo-mysql: registered again to log in as {mysql_user[0]}" in out
        assert "demo-postgres" not in out  # same user: left as it was
        got = (await connector.stub.GetConnection(pb.GetConnectionRequest(connection_id="demo-mysql"))).connection
        assert got.dsn.startswith(f"mysql://{mysql_user[0]}") and got.read_only
        rows = await connector.stub.ExecuteQuery(pb.ExecuteQueryRequest(connection_id="demo-mysql", statement=sql("SELECT 1")))
        assert len(rows.rows) == 1
    finally:
        for cid in ("demo-postgres", "demo-mysql"):
            await connector.stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=cid, allow_missing=True))


async def test_register_demo_connections_is_idempotent(connector, settings, pg_database, mysql_database):
    import argparse

    from servers.connector.cli import add_commands, register_demo_connections

    demo_settings = settings.model_copy(update={
        "connector_demo_postgres_dsn": pg_database,
        "connector_demo_mysql_dsn": mysql_dsn(mysql_database),
    })
    try:
        for _ in range(2):
            await register_demo_connections(connector.server.address, settings=demo_settings)
        for cid, kind in (("demo-postgres", PG), ("demo-mysql", MY)):
            got = (await connector.stub.GetConnection(pb.GetConnectionRequest(connection_id=cid))).connection
            assert got.kind == kind and got.read_only
    finally:
        for cid in ("demo-postgres", "demo-mysql"):
            await connector.stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=cid, allow_missing=True))
    parser = argparse.ArgumentParser(prog="chatdb")
    add_commands(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["connections", "--kind", "mysql"]).kind == "mysql"
