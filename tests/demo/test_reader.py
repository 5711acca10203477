"""The demo connections log in as a user that can only read: what `chatdb demo-data`
sets up is checked against the real servers, outside ChatDB's own guard."""

from __future__ import annotations

import uuid

import aiomysql
import asyncpg
import pytest

from deploy.demo.reader import ensure_reader_mysql, ensure_reader_postgres
from tests.conftest import PG_ADMIN_DSN


@pytest.fixture
async def pg_demo_like(pg_database: str) -> str:
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS reader_demo (id int); TRUNCATE reader_demo; INSERT INTO reader_demo VALUES (1), (2)")
    finally:
        await conn.close()
    return pg_database


async def test_postgres_reader_may_select_and_nothing_else(pg_demo_like: str):
    database = pg_demo_like.rsplit("/", 1)[1]
    user = f"chatdb_test_reader_{uuid.uuid4().hex[:8]}"
    try:
        for _ in range(2):  # idempotent: demo-data runs it on every `make up`
            await ensure_reader_postgres(PG_ADMIN_DSN, database, user, "pw'with quote")
        reader = await asyncpg.connect(pg_demo_like, user=user, password="pw'with quote")
        try:
            assert await reader.fetchval("SELECT count(*) FROM reader_demo") == 2
            with pytest.raises(asyncpg.ReadOnlySQLTransactionError):  # read-only by default
                await reader.execute("INSERT INTO reader_demo VALUES (3)")
            # Even a session that turns that off holds no privilege beyond SELECT.
            await reader.execute("SET default_transaction_read_only = off")
            for statement in (
                "CREATE TABLE reader_demo_2 (id int)",
                "INSERT INTO reader_demo VALUES (3)",
                "SELECT pg_read_file('/etc/passwd')",
                "SELECT rolpassword FROM pg_authid",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await reader.execute(statement)
            assert not await reader.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        finally:
            await reader.close()
    finally:
        admin = await asyncpg.connect(pg_demo_like)
        try:
            await admin.execute(f'DROP OWNED BY "{user}"; DROP ROLE IF EXISTS "{user}"')
        finally:
            await admin.close()


async def test_a_superuser_is_never_turned_into_the_reader(pg_database: str):
    with pytest.raises(ValueError, match="superuser"):
        await ensure_reader_postgres(PG_ADMIN_DSN, pg_database.rsplit("/", 1)[1], "postgres", "x")


async def test_mysql_reader_may_select_only_its_database(mysql_params: dict, mysql_database: str):
    user = f"ctr_{uuid.uuid4().hex[:8]}"
    admin = await aiomysql.connect(**mysql_params, db=mysql_database, autocommit=True)
    try:
        async with admin.cursor() as cur:
            await cur.execute("CREATE TABLE IF NOT EXISTS reader_demo (id int)")
            await cur.execute("DELETE FROM reader_demo")
            await cur.execute("INSERT INTO reader_demo VALUES (1), (2)")
        for _ in range(2):
            await ensure_reader_mysql(
                mysql_params["host"], mysql_params["port"], mysql_params["user"], mysql_params["password"],
                mysql_database, user, "pw",
            )
        reader = await aiomysql.connect(
            host=mysql_params["host"], port=mysql_params["port"], user=user, password="pw", db=mysql_database
        )
        try:
            async with reader.cursor() as cur:
                await cur.execute("SELECT count(*) FROM reader_demo")
                assert (await cur.fetchone())[0] == 2
                for statement in (
                    "CREATE TABLE reader_demo_2 (id int)",
                    "INSERT INTO reader_demo VALUES (3)",
                    "SELECT user FROM mysql.user",
                ):
                    with pytest.raises(aiomysql.Error):
                        await cur.execute(statement)
                # Without the FILE privilege the server reads no file: LOAD_FILE is NULL.
                await cur.execute("SELECT LOAD_FILE('/etc/passwd')")
                assert (await cur.fetchone())[0] is None
        finally:
            reader.close()
    finally:
        async with admin.cursor() as cur:
            for user_host in ("%", "localhost"):
                await cur.execute("DROP USER IF EXISTS %s@%s", (user, user_host))
        admin.close()
