"""The platform pool and its one error translation, on the real PostgreSQL."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from servers.runtime.errors import Unavailable
from servers.runtime.pg import PLATFORM_DATABASE_UNAVAILABLE, open_platform_pool, platform_errors
from servers.runtime.settings import Settings
from tests.conftest import PG_ADMIN_DSN


def _with_dsn(settings: Settings, dsn: str) -> Settings:
    return settings.model_copy(update={"database_url": dsn})


async def test_pool_opens_with_configured_sizes(settings: Settings):
    pool = await open_platform_pool(_with_dsn(settings, PG_ADMIN_DSN), min_size=1, max_size=2)
    try:
        assert await pool.fetchval("SELECT 1") == 1
        assert pool.get_max_size() == 2
    finally:
        await pool.close()


async def test_unreachable_platform_database_is_unavailable_with_one_reason(settings: Settings):
    dead = "postgresql://postgres@127.0.0.1:1/chatdb"  # nothing listens on port 1
    with pytest.raises(Unavailable) as err:
        await open_platform_pool(_with_dsn(settings, dead))
    assert err.value.reason == PLATFORM_DATABASE_UNAVAILABLE


async def test_missing_database_is_unavailable(settings: Settings):
    missing = PG_ADMIN_DSN.rsplit("/", 1)[0] + "/chatdb_test_no_such_database"
    with pytest.raises(Unavailable) as err:
        await open_platform_pool(_with_dsn(settings, missing))
    assert err.value.reason == PLATFORM_DATABASE_UNAVAILABLE


async def test_connection_killed_mid_use_is_unavailable():
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        pid = conn.get_server_pid()

        async def use() -> None:
            with platform_errors():
                await conn.fetchval("SELECT pg_sleep(10)")

        running = asyncio.create_task(use())
        await asyncio.sleep(0.3)  # the query is running on the server
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        with pytest.raises(Unavailable) as err:
            await asyncio.wait_for(running, 10)
        assert err.value.reason == PLATFORM_DATABASE_UNAVAILABLE
        assert err.value.message == "the platform database is unavailable; retry later"
        # Once closed, the connection answers with an InterfaceError: the same outage.
        with pytest.raises(Unavailable), platform_errors():
            await conn.fetchval("SELECT 1")
    finally:
        await admin.close()
        await conn.close()


async def test_statement_timeout_and_sql_errors_pass_unchanged():
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute("SET statement_timeout = 50")
        with pytest.raises(asyncpg.QueryCanceledError), platform_errors():
            await conn.execute("SELECT pg_sleep(2)")
        with pytest.raises(asyncpg.UndefinedTableError), platform_errors():
            await conn.fetch("SELECT * FROM chatdb_no_such_table")
    finally:
        await conn.close()
