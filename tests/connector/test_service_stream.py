"""StreamQuery through a real server: header, batches with offsets, summary; the row
cap; a client that cancels stops the database work; and the service's memory stays
flat however many rows go through it (measured on a `chatdb serve connector` process)."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import grpc
import pytest
from chatdb.connector.v1 import connector_service_pb2_grpc

from .service_support import (
    MY,
    PG,
    ServiceProcess,
    create,
    ensure,
    expect_error,
    mysql_dsn,
    pb,
    running_connector,
    sql,
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
async def connector(settings):
    async with running_connector(settings) as c:
        yield c


async def collect(call):
    return [m async for m in call]


@pytest.mark.parametrize("kind", ["pg", "mysql"])
async def test_stream_header_batches_summary(connector, pg_database, mysql_database, kind):
    if kind == "pg":
        cid = "stream-pg"
        await ensure(connector.stub, cid, kind=PG, dsn=pg_database)
        statement = sql(
            "SELECT g AS n, md5(g::text) AS h FROM generate_series(1, 10003) g ORDER BY g"
        )
    else:
        cid = "stream-mysql"
        await ensure(connector.stub, cid, kind=MY, dsn=mysql_dsn(mysql_database))
        # MariaDB's SEQUENCE engine: a virtual table of 1..10003
        statement = sql("SELECT seq AS n, md5(seq) AS h FROM seq_1_to_10003 ORDER BY seq")
    messages = await collect(
        connector.stub.StreamQuery(
            pb.StreamQueryRequest(
                connection_id=cid, statement=statement, batch_size=1000, max_rows=20000
            )
        )
    )
    kinds = [m.WhichOneof("payload") for m in messages]
    assert kinds[0] == "header" and kinds[-1] == "summary" and set(kinds[1:-1]) == {"batch"}
    assert [c.name for c in messages[0].header.columns] == ["n", "h"]
    batches = [m.batch for m in messages[1:-1]]
    assert [b.offset for b in batches] == list(range(0, 10003, 1000))
    assert all(len(b.rows) == 1000 for b in batches[:-1]) and len(batches[-1].rows) == 3
    values = [r.cells[0].int64_value for b in batches for r in b.rows]
    assert values == list(range(1, 10004))
    summary = messages[-1].summary
    assert summary.rows_returned == 10003 and not summary.truncated
    assert summary.execution_time.ToTimedelta().total_seconds() > 0


async def test_stream_row_cap_and_errors(connector, pg_database):
    cid = "stream-pg"
    await ensure(connector.stub, cid, kind=PG, dsn=pg_database)
    messages = await collect(
        connector.stub.StreamQuery(
            pb.StreamQueryRequest(
                connection_id=cid,
                statement=sql("SELECT g FROM generate_series(1, 100) g"),
                batch_size=30,
                max_rows=50,
            )
        )
    )
    rows = [r for m in messages if m.WhichOneof("payload") == "batch" for r in m.batch.rows]
    assert len(rows) == 50
    assert messages[-1].summary.truncated and messages[-1].summary.rows_returned == 50
    exact = await collect(
        connector.stub.StreamQuery(
            pb.StreamQueryRequest(
                connection_id=cid,
                statement=sql("SELECT g FROM generate_series(1, 50) g"),
                max_rows=50,
            )
        )
    )
    assert exact[-1].summary.rows_returned == 50 and not exact[-1].summary.truncated

    await expect_error(
        collect(
            connector.stub.StreamQuery(
                pb.StreamQueryRequest(connection_id=cid, statement=sql("DELETE FROM pg_class"))
            )
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    await expect_error(
        collect(
            connector.stub.StreamQuery(
                pb.StreamQueryRequest(connection_id=cid, statement=sql("SELECT nope FROM"))
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await expect_error(
        collect(
            connector.stub.StreamQuery(
                pb.StreamQueryRequest(connection_id="no-such-conn", statement=sql("SELECT 1"))
            )
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    err = await expect_error(
        collect(
            connector.stub.StreamQuery(
                pb.StreamQueryRequest(connection_id=cid, statement=sql("SELECT 1"), batch_size=-1)
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert err.violations[0].field == "batch_size"


async def test_cancelled_stream_stops_database_work(connector, pg_database):
    cid = "stream-pg"
    await ensure(connector.stub, cid, kind=PG, dsn=pg_database)
    marker = f"cancel_probe_{int(time.time() * 1000)}"
    # 100 million rows produced lazily (a nested loop over two small function scans).
    statement = sql(
        f"SELECT a.x * 100000 + b.y AS {marker} FROM generate_series(1, 1000) a(x) "
        "CROSS JOIN generate_series(1, 100000) b(y)"
    )
    call = connector.stub.StreamQuery(
        pb.StreamQueryRequest(connection_id=cid, statement=statement, batch_size=1000)
    )
    received = 0
    async for _message in call:
        received += 1
        if received == 4:
            break
    call.cancel()

    conn = await asyncpg.connect(pg_database)
    try:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE $1 "
            "AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')"
        )
        for _ in range(100):
            if await conn.fetchval(query, f"%{marker}%") == 0:
                break
            await asyncio.sleep(0.1)
        else:
            states = await conn.fetch(
                "SELECT state, query FROM pg_stat_activity WHERE query LIKE $1", f"%{marker}%"
            )
            raise AssertionError(
                f"the cancelled stream's query is still open on the server: {states}"
            )
    finally:
        await conn.close()
    # the pool is healthy afterwards
    again = await connector.stub.ExecuteQuery(
        pb.ExecuteQueryRequest(connection_id=cid, statement=sql("SELECT 1"))
    )
    assert again.rows[0].cells[0].int64_value == 1


async def _stream_rows(stub, cid: str, n: int) -> int:
    statement = sql(
        f"SELECT g, md5(g::text) AS h, repeat('x', 200) AS pad FROM generate_series(1, {n}) g"
    )
    total = 0
    async for message in stub.StreamQuery(
        pb.StreamQueryRequest(
            connection_id=cid, statement=statement, batch_size=2000, max_rows=n + 1
        ),
        timeout=240,
    ):
        if message.WhichOneof("payload") == "batch":
            total += len(message.batch.rows)
    return total


@pytest.mark.timeout(600)
async def test_streaming_memory_is_flat(settings, pg_database):
    """Peak RSS of the service process (VmHWM) after 50,000 rows and after 500,000 rows
    of ~250 bytes: buffering the result would add well over 100 MB."""
    service = ServiceProcess(settings.database_url)
    await service.start()
    try:
        async with grpc.aio.insecure_channel(service.address) as channel:
            stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
            cid = f"mem-{int(time.time())}"
            await create(stub, cid, kind=PG, dsn=pg_database, max_rows=1_000_000)
            assert await _stream_rows(stub, cid, 50_000) == 50_000
            small = service.memory_kb()
            assert await _stream_rows(stub, cid, 500_000) == 500_000
            large = service.memory_kb()
            await stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=cid))
    finally:
        await service.stop()
    growth_mb = (large["VmHWM"] - small["VmHWM"]) / 1024
    print(
        f"service VmHWM after 50k rows {small['VmHWM'] / 1024:.1f} MB, after 500k rows "
        f"{large['VmHWM'] / 1024:.1f} MB (+{growth_mb:.1f} MB)"
    )
    assert growth_mb < 25, (small, large)
