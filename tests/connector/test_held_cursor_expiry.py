"""A cursor parked between ExecuteQuery pages is closed `connector_held_cursor_idle_s`
after its last use even when no further request arrives: its READ ONLY transaction
must not stay "idle in transaction" on the user's database."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from tests.conftest import PG_ADMIN_DSN

from .service_support import PG, ensure, pb, pg_dsn, running_connector, sql

pytestmark = pytest.mark.timeout(120)

IDLE_S = 1.0


async def _idle_in_transaction(database: str) -> int:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'idle in transaction'",
            database,
        )
    finally:
        await conn.close()


async def _wait_until_none(database: str, timeout_s: float) -> int:
    """Polls until no backend of `database` is idle in transaction; the count left."""
    deadline = time.monotonic() + timeout_s
    for _ in range(10_000):
        left = await _idle_in_transaction(database)
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.1)
    return left


async def test_a_parked_cursor_is_closed_when_idle_without_another_request(settings, pg_database):
    database = pg_database.rsplit("/", 1)[1]
    short = settings.model_copy(update={"connector_held_cursor_idle_s": IDLE_S, "connector_held_cursors": 4})
    async with running_connector(short) as connector:
        await ensure(connector.stub, "expiry-pg", kind=PG, dsn=pg_dsn(database), read_only=True)
        statement = sql("SELECT g FROM generate_series(1, 1000) AS g ORDER BY g")
        first = await connector.stub.ExecuteQuery(
            pb.ExecuteQueryRequest(connection_id="expiry-pg", statement=statement, page_size=10))
        assert first.next_page_token and len(connector.core.cursors) == 1
        assert await _idle_in_transaction(database) == 1  # the parked cursor's transaction

        # No request arrives: the transaction must still end, a little after IDLE_S.
        assert await _wait_until_none(database, 20 * IDLE_S + 5) == 0, "the parked cursor outlived its idle time"
        assert len(connector.core.cursors) == 0

        # The token still works: the next page is read the stateless way.
        second = await connector.stub.ExecuteQuery(pb.ExecuteQueryRequest(
            connection_id="expiry-pg", statement=statement, page_size=10, page_token=first.next_page_token))
        assert [r.cells[0].int64_value for r in second.rows] == list(range(11, 21))


async def test_a_cursor_taken_before_its_time_is_not_closed_under_the_reader(settings, pg_database):
    """Reading on within the idle time re-arms the timer: a walk with pauses shorter
    than the idle time keeps its one snapshot and its one cursor."""
    database = pg_database.rsplit("/", 1)[1]
    short = settings.model_copy(update={"connector_held_cursor_idle_s": IDLE_S, "connector_held_cursors": 4})
    async with running_connector(short) as connector:
        await ensure(connector.stub, "expiry-pg-walk", kind=PG, dsn=pg_dsn(database), read_only=True)
        statement = sql("SELECT g FROM generate_series(1, 50) AS g ORDER BY g")
        token, seen = "", []
        while True:
            page = await connector.stub.ExecuteQuery(pb.ExecuteQueryRequest(
                connection_id="expiry-pg-walk", statement=statement, page_size=10, page_token=token))
            seen += [r.cells[0].int64_value for r in page.rows]
            token = page.next_page_token
            if not token:
                break
            assert await _idle_in_transaction(database) == 1
            await asyncio.sleep(IDLE_S / 2)
        assert seen == list(range(1, 51))
        assert await _wait_until_none(database, 10) == 0
