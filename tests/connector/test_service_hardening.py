"""Regression tests of the connector's hardening, through a real server and stub on the
machine's PostgreSQL and MariaDB:

1. read-only means read-only: functions that run SQL text or have side effects a READ
   ONLY transaction does not stop (large objects, signals, settings, advisory locks,
   notify, server files) and catalogs holding secrets are refused, naming what, and
   nothing happens; a SELECT-only role works, a superuser behind a read-only connection
   is warned about;
2. writable connections are an explicit, privileged choice: off unless the server
   allows them, and even then COPY ... PROGRAM, server files, CREATE/DROP DATABASE and
   role/grant statements are refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import aiomysql
import asyncpg
import grpc
import pytest
from chatdb.connector.v1 import connection_pb2

from servers.connector.domain import ConnectionConfig, ConnectionKind, SqlQuery
from servers.connector.drivers import open_driver
from servers.runtime.errors import PermissionDenied
from tests.conftest import MYSQL, PG_ADMIN_DSN

from .service_support import (
    MY,
    PG,
    ensure,
    expect_error,
    mysql_dsn,
    pb,
    pg_checksums,
    running_connector,
    sql,
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
async def connector(settings):
    """The connector with the default settings: writable connections disabled."""
    assert not getattr(settings, "connector_allow_writable", False)
    async with running_connector(settings) as c:
        yield c


@pytest.fixture(scope="module")
async def writable_connector(settings):
    async with running_connector(settings.model_copy(update={"connector_allow_writable": True})) as c:
        yield c


@pytest.fixture(scope="module")
async def pg_tables(pg_database):
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.execute(
            "DROP TABLE IF EXISTS hardening_t; CREATE TABLE hardening_t (id int, name text);"
            "INSERT INTO hardening_t SELECT g, 'name ' || g FROM generate_series(1, 20) g;"
            # a user-defined function that a read-only transaction would not stop
            "CREATE OR REPLACE FUNCTION hardening_udf() RETURNS oid LANGUAGE sql "
            "AS $$ SELECT lo_from_bytea(0, 'from a udf') $$;"
        )
    finally:
        await conn.close()
    return pg_database


@pytest.fixture(scope="module")
async def my_tables(mysql_database):
    conn = await aiomysql.connect(**MYSQL, db=mysql_database, autocommit=True, init_command="SET sql_notes = 0")
    try:
        async with conn.cursor() as cur:
            await cur.execute("DROP TABLE IF EXISTS hardening_t")
            await cur.execute("CREATE TABLE hardening_t (id int, name text)")
            await cur.execute("INSERT INTO hardening_t VALUES (1, 'a'), (2, 'b')")
    finally:
        conn.close()
    return mysql_database


async def pg_value(dsn: str, query: str, *args):
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def my_value(query: str, args=None, database: str | None = None):
    conn = await aiomysql.connect(**MYSQL, db=database, autocommit=True, init_command="SET sql_notes = 0")
    try:
        async with conn.cursor() as cur:
            await cur.execute(query, args)
            row = await cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def _any_exists(*paths: Path) -> bool:
    return any(p.exists() for p in paths)


def _remove(*paths: Path) -> None:
    for path in paths:
        if path.exists():
            os.unlink(path)


async def execute(stub, connection_id: str, text: str):
    return await stub.ExecuteQuery(
        pb.ExecuteQueryRequest(connection_id=connection_id, statement=sql(text)), timeout=30
    )


async def create_with_warnings(stub, connection_id: str, *, kind: int, dsn: str) -> list[str]:
    """CreateConnection (read-only); the chatdb-warning trailing metadata it sent back."""
    await stub.DeleteConnection(
        pb.DeleteConnectionRequest(connection_id=connection_id, allow_missing=True)
    )
    call = stub.CreateConnection(
        pb.CreateConnectionRequest(
            connection_id=connection_id,
            connection=connection_pb2.Connection(kind=kind, dsn=dsn, read_only=True),
        )
    )
    await call
    return [v for k, v in await call.trailing_metadata() if k == "chatdb-warning"]


# ------------------------------------------------------------------ 1. read-only by construction

# (statement, what the refusal must name). Each of these ran on a read-only PostgreSQL
# connection before: a READ ONLY transaction does not stop them.
PG_ATTACKS = [
    ("SELECT * FROM ts_stat($$SELECT to_tsvector(pg_read_file('/etc/passwd'))$$)", "ts_stat"),
    ("SELECT * FROM ts_stat($$SELECT to_tsvector(lo_from_bytea(0, 'x')::text)$$)", "ts_stat"),
    (
        "SELECT ts_rewrite('a'::tsquery, $$SELECT 'a'::tsquery, "
        "pg_advisory_lock(4242)::text::tsquery$$)",
        "ts_rewrite",
    ),
    ("SELECT query_to_xml('SELECT lo_from_bytea(0, ''y'')', true, false, '')", "query_to_xml"),
    ("SELECT table_to_xml('hardening_t', true, false, '')", "table_to_xml"),
    ("SELECT xpath('/row', cursor_to_xml('c', 1, true, false, ''))", "cursor_to_xml"),
    ("SELECT lo_from_bytea(0, 'committed')", "lo_from_bytea"),
    ("SELECT lo_import('/etc/hostname')", "lo_import"),
    ("SELECT pg_terminate_backend(pg_backend_pid())", "pg_terminate_backend"),
    ("SELECT set_config('work_mem', '1MB', false)", "set_config"),
    ("SELECT pg_advisory_lock(4242)", "pg_advisory_lock"),
    ("SELECT pg_notify('chatdb', 'x')", "pg_notify"),
    ("SELECT pg_ls_dir('.')", "pg_ls_dir"),
    ("SELECT pg_stat_file('postgresql.conf')", "pg_stat_file"),
    ("SELECT pg_read_file('postgresql.conf')", "pg_read_file"),
    ("SELECT hardening_udf()", "hardening_udf"),
    ("SELECT rolname, rolpassword FROM pg_authid", "pg_authid"),
    ('SELECT * FROM pg_catalog."pg_shadow"', "pg_shadow"),
    ("SELECT * FROM pg_hba_file_rules", "pg_hba_file_rules"),
    ("SELECT * FROM PG_FILE_SETTINGS", "pg_file_settings"),
    ("SELECT 1 @@@ 2", "@@@"),
]

MY_ATTACKS = [
    ("SELECT MASTER_GTID_WAIT('0-1-999999', 1)", "master_gtid_wait"),
    ("SELECT MASTER_POS_WAIT('mysql-bin.000001', 4, 1)", "master_pos_wait"),
    ("SELECT BENCHMARK(1000, MD5('x'))", "benchmark"),
    ("SELECT GET_LOCK('chatdb_hardening', 0)", "get_lock"),
    ("SELECT RELEASE_LOCK('chatdb_hardening')", "release_lock"),
    ("SELECT user, authentication_string FROM mysql.user", "mysql.user"),
    ("SELECT * FROM `mysql`.`global_priv`", "mysql.global_priv"),
]


async def test_read_only_postgres_refuses_side_effects_and_nothing_happens(connector, pg_tables):
    stub, dsn = connector.stub, pg_tables
    await ensure(stub, "hard-pg-ro", kind=PG, dsn=dsn)
    large_objects = await pg_value(dsn, "SELECT count(*) FROM pg_largeobject_metadata")
    before = await pg_checksums(dsn)
    for statement, name in PG_ATTACKS:
        err = await expect_error(execute(stub, "hard-pg-ro", statement), grpc.StatusCode.PERMISSION_DENIED)
        assert name in err.message, (statement, err.message)
        assert err.reason == "STATEMENT_NOT_READ_ONLY"
    # no side effect: no large object, no advisory lock left, data unchanged
    assert await pg_value(dsn, "SELECT count(*) FROM pg_largeobject_metadata") == large_objects
    assert await pg_value(dsn, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
    assert await pg_checksums(dsn) == before
    # ordinary queries still run
    page = await execute(
        stub, "hard-pg-ro",
        "SELECT lower(name), date_trunc('day', now()), coalesce(id, 0), count(*) OVER () "
        "FROM hardening_t ORDER BY id LIMIT 3",
    )
    assert page.rows_returned == 3


async def test_read_only_mariadb_refuses_waits_locks_and_system_tables(connector, my_tables):
    stub, database = connector.stub, my_tables
    await ensure(stub, "hard-my-ro", kind=MY, dsn=mysql_dsn(database))
    checksum = "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(id, name ORDER BY id))) FROM hardening_t"
    before = await my_value(checksum, database=database)
    for statement, name in MY_ATTACKS:
        err = await expect_error(execute(stub, "hard-my-ro", statement), grpc.StatusCode.PERMISSION_DENIED)
        assert name in err.message, (statement, err.message)
    assert await my_value("SELECT IS_USED_LOCK('chatdb_hardening')") is None
    assert await my_value(checksum, database=database) == before
    page = await execute(
        stub, "hard-my-ro",
        "SELECT UPPER(name), DATE_FORMAT(NOW(), '%Y'), IFNULL(id, 0) FROM hardening_t",
    )
    assert page.rows_returned == 2


async def test_select_only_role_runs_queries_and_a_superuser_is_warned_about(
    connector, pg_tables, my_tables, run_id
):
    stub = connector.stub
    role = f"chatdb_ro_{run_id}"
    database = pg_tables.rsplit("/", 1)[1]
    admin = await asyncpg.connect(pg_tables)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'ro-secret'")
        await admin.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
        await admin.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        await admin.execute(f"GRANT SELECT ON hardening_t TO {role}")
        await my_value(f"CREATE USER '{role}'@'%' IDENTIFIED BY 'ro-secret'")
        await my_value(f"GRANT SELECT ON `{my_tables}`.* TO '{role}'@'%'")
        role_pg_dsn = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgres@", f"{role}:ro-secret@") + f"/{database}"
        role_my_dsn = mysql_dsn(my_tables, user=role, password="ro-secret")

        # the superuser behind a read-only connection is warned about; the role is not
        warnings = await create_with_warnings(stub, "hard-pg-super", kind=PG, dsn=pg_tables)
        assert warnings and "superuser" in warnings[0], warnings
        warnings = await create_with_warnings(stub, "hard-my-super", kind=MY, dsn=mysql_dsn(my_tables))
        assert warnings and "SUPER" in warnings[0], warnings
        assert await create_with_warnings(stub, "hard-pg-role", kind=PG, dsn=role_pg_dsn) == []
        assert await create_with_warnings(stub, "hard-my-role", kind=MY, dsn=role_my_dsn) == []

        # the role reads what it was granted
        assert (await execute(stub, "hard-pg-role", "SELECT id FROM hardening_t")).rows_returned == 20
        assert (await execute(stub, "hard-my-role", "SELECT id FROM hardening_t")).rows_returned == 2

        # and is a wall of its own: past the guard (the driver directly), the database
        # refuses what the role may not do
        driver = open_driver(ConnectionConfig(kind=ConnectionKind.POSTGRES, dsn=role_pg_dsn))
        try:
            for statement in ["SELECT pg_read_file('postgresql.conf')", "SELECT * FROM pg_authid",
                              "SELECT pg_ls_dir('.')"]:
                with pytest.raises(PermissionDenied):
                    await driver.fetch_page(SqlQuery(statement), offset=0, limit=1, timeout_s=5)
        finally:
            await driver.close()
    finally:
        for cid in ("hard-pg-super", "hard-my-super", "hard-pg-role", "hard-my-role"):
            await stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=cid, allow_missing=True))
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.close()
        await pg_value(PG_ADMIN_DSN, f"DROP ROLE IF EXISTS {role}")
        await my_value(f"DROP USER IF EXISTS '{role}'@'%'")


# ------------------------------------------------------------------ 2. writable connections


async def test_writable_connection_needs_the_server_setting(connector, writable_connector, pg_tables):
    err = await expect_error(
        connector.stub.CreateConnection(
            pb.CreateConnectionRequest(
                connection_id="hard-pg-rw-denied",
                connection=connection_pb2.Connection(kind=PG, dsn=pg_tables, read_only=False),
            )
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert "CHATDB_CONNECTOR_ALLOW_WRITABLE" in err.message
    assert err.reason == "WRITABLE_CONNECTIONS_DISABLED"
    await expect_error(
        connector.stub.GetConnection(pb.GetConnectionRequest(connection_id="hard-pg-rw-denied")),
        grpc.StatusCode.NOT_FOUND,
    )
    # a writable connection made while allowed cannot be used by a server that is not
    await ensure(writable_connector.stub, "hard-pg-rw", kind=PG, dsn=pg_tables, read_only=False)
    err = await expect_error(
        execute(connector.stub, "hard-pg-rw", "INSERT INTO hardening_t VALUES (99, 'x')"),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert "CHATDB_CONNECTOR_ALLOW_WRITABLE" in err.message
    assert await pg_value(pg_tables, "SELECT count(*) FROM hardening_t WHERE id = 99") == 0


async def test_writable_connection_refuses_server_escapes(writable_connector, pg_tables, my_tables, run_id):
    stub = writable_connector.stub
    await ensure(stub, "hard-pg-rw", kind=PG, dsn=pg_tables, read_only=False)
    await ensure(stub, "hard-my-rw", kind=MY, dsn=mysql_dsn(my_tables), read_only=False)
    marker = Path(f"/tmp/chatdb_hardening_{run_id}_program")
    copied = Path(f"/tmp/chatdb_hardening_{run_id}_copy")
    outfile = Path(f"/tmp/chatdb_hardening_{run_id}_outfile")
    other_db = f"chatdb_hardening_{run_id}_other"
    evil_role = f"chatdb_hardening_{run_id}_evil"
    attacks = [
        ("hard-pg-rw", f"COPY hardening_t TO PROGRAM 'touch {marker}'", "PROGRAM"),
        ("hard-pg-rw", f"COPY (SELECT 1) TO PROGRAM 'touch {marker}'", "PROGRAM"),
        ("hard-pg-rw", f"COPY hardening_t TO '{copied}'", "server file"),
        ("hard-pg-rw", "COPY hardening_t FROM '/etc/hostname'", "server file"),
        ("hard-pg-rw", f"CREATE DATABASE {other_db}", "CREATE DATABASE"),
        ("hard-pg-rw", f"CREATE ROLE {evil_role} SUPERUSER LOGIN", "CREATE ROLE"),
        ("hard-pg-rw", "GRANT pg_execute_server_program TO CURRENT_USER", "GRANT"),
        ("hard-pg-rw", "SELECT pg_read_file('/etc/hostname')", "pg_read_file"),
        ("hard-pg-rw", f"DO $$ BEGIN EXECUTE 'COPY hardening_t TO PROGRAM ''touch {marker}'''; END $$",
         "DO"),
        ("hard-my-rw", f"SELECT * FROM hardening_t INTO OUTFILE '{outfile}'", "INTO OUTFILE"),
        ("hard-my-rw", f"SELECT name FROM hardening_t LIMIT 1 INTO DUMPFILE '{outfile}'", "INTO DUMPFILE"),
        ("hard-my-rw", "LOAD DATA INFILE '/etc/hostname' INTO TABLE hardening_t", "LOAD DATA"),
        ("hard-my-rw", "INSERT INTO hardening_t (name) SELECT LOAD_FILE('/etc/hostname')", "load_file"),
        ("hard-my-rw", f"CREATE DATABASE {other_db}", "CREATE DATABASE"),
        ("hard-my-rw", f"DROP DATABASE IF EXISTS {my_tables}", "DROP DATABASE"),
        ("hard-my-rw", f"CREATE USER '{evil_role}'@'%'", "CREATE USER"),
        ("hard-my-rw", f"GRANT ALL ON *.* TO '{evil_role}'@'%'", "GRANT"),
    ]
    try:
        for cid, statement, name in attacks:
            err = await expect_error(execute(stub, cid, statement), grpc.StatusCode.PERMISSION_DENIED)
            assert name in err.message, (statement, err.message)
            assert err.reason == "STATEMENT_NOT_ALLOWED"
        # nothing happened
        assert not _any_exists(marker, copied, outfile)
        assert await pg_value(PG_ADMIN_DSN, "SELECT count(*) FROM pg_database WHERE datname = $1", other_db) == 0
        assert await pg_value(PG_ADMIN_DSN, "SELECT count(*) FROM pg_roles WHERE rolname = $1", evil_role) == 0
        assert await my_value("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                              (other_db,)) == 0
        assert await my_value("SELECT COUNT(*) FROM mysql.user WHERE User = %s", (evil_role,)) == 0
        # ordinary writes still work
        await execute(stub, "hard-pg-rw", "INSERT INTO hardening_t VALUES (100, 'written')")
        await execute(stub, "hard-my-rw", "INSERT INTO hardening_t VALUES (100, 'written')")
        assert await pg_value(pg_tables, "SELECT count(*) FROM hardening_t WHERE id = 100") == 1
        assert await my_value("SELECT COUNT(*) FROM hardening_t WHERE id = 100", database=my_tables) == 1
    finally:
        _remove(marker, copied, outfile)  # only there on failure: an attack ran
        await pg_value(pg_tables, "DELETE FROM hardening_t WHERE id = 100")
        await my_value("DELETE FROM hardening_t WHERE id = 100", database=my_tables)
