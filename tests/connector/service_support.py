"""Helpers shared by the ConnectorService tests (not a test module).

The connector runs for real: `servers.connector.app.build` against this session's
platform database, on a GrpcServer at 127.0.0.1:<ephemeral>, called through the
generated stub. User databases are the machine's PostgreSQL and MariaDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiomysql
import asyncpg
import grpc
from chatdb.connector.v1 import (
    connection_pb2,
    connector_service_pb2,
    connector_service_pb2_grpc,
    statement_pb2,
)

from servers.connector.app import build_core
from servers.connector.service import SERVICE_NAME, ConnectorServicer
from servers.runtime.errors import ErrorDetails
from servers.runtime.server import GrpcServer, bind
from servers.runtime.settings import Settings
from servers.runtime.status import details_from_rpc_error
from tests.conftest import MYSQL, PG_ADMIN_DSN, pg_dsn_for

ROOT = Path(__file__).resolve().parents[2]

pb = connector_service_pb2
PG = connection_pb2.CONNECTION_KIND_POSTGRES
MY = connection_pb2.CONNECTION_KIND_MYSQL
MONGO = connection_pb2.CONNECTION_KIND_MONGODB


@dataclass
class Connector:
    server: GrpcServer
    channel: grpc.aio.Channel
    stub: connector_service_pb2_grpc.ConnectorServiceStub
    core: object


@contextlib.asynccontextmanager
async def running_connector(settings: Settings, **core_options) -> AsyncIterator[Connector]:
    async with contextlib.AsyncExitStack() as stack:
        core = await build_core(settings, stack, **core_options)
        binding = bind(
            SERVICE_NAME,
            connector_service_pb2_grpc.add_ConnectorServiceServicer_to_server,
            ConnectorServicer(core),
        )
        server = GrpcServer(settings, [binding], host="127.0.0.1", port=0)
        await server.start()
        stack.push_async_callback(server.stop, 0, 0)
        channel = grpc.aio.insecure_channel(server.address)
        stack.push_async_callback(channel.close)
        yield Connector(
            server, channel, connector_service_pb2_grpc.ConnectorServiceStub(channel), core
        )


def mysql_dsn(database: str, *, user: str | None = None, password: str | None = None) -> str:
    user = MYSQL["user"] if user is None else user
    password = MYSQL["password"] if password is None else password
    auth = user + (f":{password}" if password else "")
    return f"mysql://{auth}@{MYSQL['host']}:{MYSQL['port']}/{database}"


def pg_dsn(database: str) -> str:
    return pg_dsn_for(database)


def sql(text: str, *params, dialect: int = 0) -> statement_pb2.Statement:
    return statement_pb2.Statement(
        sql=statement_pb2.SqlStatement(sql=text, params=list(params), dialect=dialect)
    )


async def create(
    stub,
    connection_id: str,
    *,
    kind: int,
    dsn: str,
    read_only: bool = True,
    request_id: str = "",
    **options,
) -> connection_pb2.Connection:
    conn = connection_pb2.Connection(kind=kind, dsn=dsn, read_only=read_only)
    for key, value in options.items():
        if key == "statement_timeout_s":
            conn.options.statement_timeout.FromMilliseconds(int(value * 1000))
        else:
            setattr(conn.options, key, value)
    response = await stub.CreateConnection(
        pb.CreateConnectionRequest(
            connection_id=connection_id, connection=conn, request_id=request_id
        )
    )
    return response.connection


async def ensure(stub, connection_id: str, **kwargs) -> connection_pb2.Connection:
    """Create unless it already exists (tests share one platform database)."""
    try:
        return await create(stub, connection_id, **kwargs)
    except grpc.aio.AioRpcError as exc:
        if exc.code() is not grpc.StatusCode.ALREADY_EXISTS:
            raise
        return (
            await stub.GetConnection(pb.GetConnectionRequest(connection_id=connection_id))
        ).connection


async def expect_error(call, code: grpc.StatusCode) -> ErrorDetails:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        assert exc.code() is code, f"expected {code.name}, got {exc.code().name}: {exc.details()}"
        assert "Traceback" not in (exc.details() or "")
        return details_from_rpc_error(exc)
    raise AssertionError(f"expected {code.name}, the call succeeded")


# --------------------------------------------------------------------------- user databases


async def drop_mysql_database(name: str) -> None:
    conn = await aiomysql.connect(**MYSQL, autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SET sql_notes = 0")
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


async def drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def pg_checksums(dsn: str) -> dict[str, str]:
    """md5 over every row of every table (ordered), plus the list of tables itself."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = [
            r[0]
            for r in await conn.fetch(
                "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
            )
        ]
        sums = {"<tables>": ",".join(tables)}
        for t in tables:
            sums[t] = await conn.fetchval(
                f"SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "
                f"|| ':' || count(*) FROM {t} x"
            )
        return sums
    finally:
        await conn.close()


async def mysql_checksums(database: str) -> dict[str, str]:
    conn = await aiomysql.connect(**MYSQL, db=database, autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                "ORDER BY 1",
                (database,),
            )
            tables = [r[0] for r in await cur.fetchall()]
            sums = {"<tables>": ",".join(tables)}
            for t in tables:
                await cur.execute(f"CHECKSUM TABLE `{t}` EXTENDED")
                (_, checksum) = await cur.fetchone()
                await cur.execute(f"SELECT COUNT(*) FROM `{t}`")
                (count,) = await cur.fetchone()
                sums[t] = f"{checksum}:{count}"
            return sums
    finally:
        conn.close()


# --------------------------------------------------------------------------- a service process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    """`python -m servers.cli serve connector` in a subprocess, to measure its memory."""

    def __init__(self, database_url: str, **env: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "CHATDB_DATABASE_URL": database_url,
            "CHATDB_CONNECTOR_PORT": str(self.port),
            "CHATDB_HOST": "127.0.0.1",
            "CHATDB_LOG_LEVEL": "WARNING",
            "CHATDB_GRACE_PERIOD_S": "1",
            **env,
        }
        self.proc: subprocess.Popen | None = None
        self._log = (
            tempfile.TemporaryFile()
        )  # a file, not a pipe: a full pipe would block the child

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, timeout_s: float = 60) -> None:
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once; the child is polled below
            [sys.executable, "-m", "servers.cli", "serve", "connector"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        deadline = time.monotonic() + timeout_s
        async with grpc.aio.insecure_channel(self.address) as channel:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"connector exited: {self.log()[-3000:]}")
                try:
                    await asyncio.wait_for(channel.channel_ready(), 1)
                    return
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("connector did not start") from None

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def memory_kb(self) -> dict[str, int]:
        assert self.proc is not None
        out = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0])
        return out

    async def stop(self) -> None:
        try:
            if self.proc is None or self.proc.poll() is not None:
                return
            self.proc.send_signal(signal.SIGTERM)
            for _ in range(100):
                if self.proc.poll() is not None:
                    return
                await asyncio.sleep(0.1)
            self.proc.kill()
            self.proc.wait()
        finally:
            self._log.close()
