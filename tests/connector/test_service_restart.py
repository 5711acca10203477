"""A database restart mid-test recovers without restarting the service: MariaDB is
stopped under a live connection (calls are UNAVAILABLE meanwhile, never INTERNAL), started
again, and the very next ExecuteQuery on the same connection succeeds."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess

import aiomysql
import grpc
import pytest

from tests.conftest import MYSQL

from .service_support import MY, ensure, mysql_dsn, pb, running_connector, sql

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        shutil.which("start-stop-daemon") is None or not os.path.exists("/usr/sbin/mariadbd"),
        reason="needs a local MariaDB started by start-stop-daemon",
    ),
]


def mariadbd_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


async def mariadb_accepts() -> bool:
    try:
        conn = await asyncio.wait_for(aiomysql.connect(**MYSQL, connect_timeout=2), 3)
    except Exception:  # noqa: BLE001 - any failure means "not yet"
        return False
    conn.close()
    return True


async def wait_until(predicate, timeout_s: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


def start_mariadb() -> None:
    subprocess.run(
        [
            "start-stop-daemon",
            "--start",
            "--oknodo",
            "--background",
            "--exec",
            "/usr/sbin/mariadbd",
        ],
        check=True,
    )


async def test_mariadb_restart_recovers(settings, mysql_database):
    pids = mariadbd_pids()
    if len(pids) != 1 or MYSQL["host"] not in ("127.0.0.1", "localhost"):
        pytest.skip("needs exactly one local mariadbd")
    async with running_connector(settings) as c:
        stub = c.stub
        cid = "restart-mysql"
        await ensure(stub, cid, kind=MY, dsn=mysql_dsn(mysql_database))
        request = pb.ExecuteQueryRequest(
            connection_id=cid, statement=sql("SELECT 41 + 1 AS answer")
        )
        assert (await stub.ExecuteQuery(request)).rows[0].cells[0].int64_value == 42

        try:
            os.kill(pids[0], signal.SIGTERM)

            async def gone() -> bool:
                return not mariadbd_pids()

            await wait_until(gone, 60, "mariadbd to stop")
            for _ in range(3):
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.ExecuteQuery(request, timeout=20)
                assert err.value.code() is grpc.StatusCode.UNAVAILABLE, err.value
                assert "Traceback" not in err.value.details()
        finally:
            if not mariadbd_pids():
                start_mariadb()
            await wait_until(mariadb_accepts, 90, "MariaDB to accept connections")

        # the next call on the same connection, same service, succeeds
        assert (await stub.ExecuteQuery(request, timeout=30)).rows[0].cells[0].int64_value == 42
        schema = await stub.GetSchema(pb.GetSchemaRequest(connection_id=cid, refresh=True))
        assert schema.schema.database == mysql_database
