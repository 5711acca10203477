"""Fixtures of the connector's driver tests: DSNs of this session's databases, drivers
that are closed after each test, admin helpers, and the memory probe for streams.

Tables are created in the session's own databases (pg_database / mysql_database of
tests/conftest.py); demo databases are named chatdb_test_<run_id>_demo and dropped.
"""

from __future__ import annotations

import os
import resource
from collections.abc import AsyncIterator, Awaitable, Callable

import aiomysql
import asyncpg
import pytest

from servers.connector.domain import ConnectionConfig, ConnectionKind
from servers.connector.drivers import Driver, open_driver
from tests.conftest import PG_ADMIN_DSN

OpenDriver = Callable[..., Driver]


def rss_bytes() -> int:
    """Current resident set size of this process (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@pytest.fixture
async def make_driver() -> AsyncIterator[OpenDriver]:
    """`make_driver(kind, dsn, **config)`: a driver closed at the end of the test."""
    made: list[Driver] = []

    def make(kind: ConnectionKind, dsn: str, **options) -> Driver:
        driver = open_driver(ConnectionConfig(kind=kind, dsn=dsn, **options))
        made.append(driver)
        return driver

    yield make
    for driver in made:
        await driver.close()


# -- PostgreSQL -------------------------------------------------------------------------


async def pg_run(dsn: str, sql: str, *args) -> list[asyncpg.Record]:
    """Run one statement (rows back) or, without arguments, a ;-separated script."""
    conn = await asyncpg.connect(dsn)
    try:
        if not args and ";" in sql.strip().rstrip(";"):
            await conn.execute(sql)
            return []
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


@pytest.fixture
def pg_admin() -> Callable[..., Awaitable[list[asyncpg.Record]]]:
    """`await pg_admin(sql, *args)` on the maintenance database."""
    return lambda sql, *args: pg_run(PG_ADMIN_DSN, sql, *args)


@pytest.fixture
def pg_driver(make_driver: OpenDriver, pg_database: str) -> Driver:
    return make_driver(ConnectionKind.POSTGRES, pg_database)


# -- MySQL / MariaDB --------------------------------------------------------------------


def mysql_dsn_for(params: dict, database: str, *, user: str | None = None, password=None) -> str:
    user = params["user"] if user is None else user
    password = params["password"] if password is None else password
    auth = f"{user}:{password}@" if password else f"{user}@"
    return f"mysql://{auth}{params['host']}:{params['port']}/{database}"


@pytest.fixture(scope="session")
def mysql_dsn(mysql_params: dict, mysql_database: str) -> str:
    return mysql_dsn_for(mysql_params, mysql_database)


async def my_run(params: dict, sql: str, args=None, *, database: str | None = None) -> list[tuple]:
    # Notes off: "DROP … IF EXISTS" notes would surface as Python warnings (= errors).
    conn = await aiomysql.connect(
        **params, db=database, autocommit=True, charset="utf8mb4", init_command="SET sql_notes = 0"
    )
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql, args)
            return list(await cur.fetchall())
    finally:
        conn.close()


@pytest.fixture
def my_admin(mysql_params: dict, mysql_database: str) -> Callable[..., Awaitable[list[tuple]]]:
    """`await my_admin(sql, args=None, database=<session database>)`."""

    def run(sql: str, args=None, *, database: str | None = mysql_database):
        return my_run(mysql_params, sql, args, database=database)

    return run


@pytest.fixture
def my_driver(make_driver: OpenDriver, mysql_dsn: str) -> Driver:
    return make_driver(ConnectionKind.MYSQL, mysql_dsn)
