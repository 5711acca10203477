"""Fixtures for the real servers on this machine (PostgreSQL, MariaDB, Redis) and for
running ChatDB services in-process on ephemeral ports.

Each test session gets its own databases (chatdb_test_<run id>) and Redis key prefix,
and removes them at the end, so concurrent runs (a developer's and CI's) never meet.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import aiomysql
import asyncpg
import grpc
import pytest
import redis.asyncio as aioredis

from servers.runtime.server import GrpcServer, ServiceBinding
from servers.runtime.settings import DEFAULT_METRICS_PORTS, Settings

PG_ADMIN_DSN = os.environ.get("CHATDB_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL = {
    "host": os.environ.get("CHATDB_TEST_MYSQL_HOST", "127.0.0.1"),
    "port": int(os.environ.get("CHATDB_TEST_MYSQL_PORT", "3306")),
    "user": os.environ.get("CHATDB_TEST_MYSQL_USER", "root"),
    "password": os.environ.get("CHATDB_TEST_MYSQL_PASSWORD", ""),
}
REDIS_URL = os.environ.get("CHATDB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# No process a test starts (`chatdb serve`, `chatdb worker`, `chatdb up`) takes a fixed
# /metrics port, so concurrent runs never meet there; tests of metrics give a free one.
for _process in DEFAULT_METRICS_PORTS:
    os.environ.setdefault(f"CHATDB_{_process.upper()}_METRICS_PORT", "0")


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


def pg_dsn_for(database: str) -> str:
    return PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"


async def create_pg_database(name: str) -> str:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return pg_dsn_for(name)


async def drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def create_mysql_database(name: str) -> str:
    conn = await aiomysql.connect(**MYSQL, autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    finally:
        conn.close()
    return name


async def drop_mysql_database(name: str) -> None:
    conn = await aiomysql.connect(**MYSQL, autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SET sql_notes = 0")  # no warning when it is not there
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


@pytest.fixture(scope="session")
async def platform_dsn(run_id: str) -> AsyncIterator[str]:
    """A fresh platform database for this session (services migrate it themselves)."""
    name = f"chatdb_test_{run_id}"
    await drop_pg_database(name)
    yield pg_dsn_for(name)
    await drop_pg_database(name)


@pytest.fixture(scope="session")
async def pg_database(run_id: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database standing for a user's database."""
    name = f"chatdb_test_{run_id}_user"
    dsn = await create_pg_database(name)
    yield dsn
    await drop_pg_database(name)


@pytest.fixture(scope="session")
def mysql_params() -> dict:
    return dict(MYSQL)


@pytest.fixture(scope="session")
async def mysql_database(run_id: str, mysql_params: dict) -> AsyncIterator[str]:
    """Name of a fresh MariaDB database for this session."""
    name = await create_mysql_database(f"chatdb_test_{run_id}")
    yield name
    await drop_mysql_database(name)


@pytest.fixture(scope="session")
async def redis_prefix(run_id: str) -> AsyncIterator[str]:
    prefix = f"chatdb-test-{run_id}"
    yield prefix
    client = aioredis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def settings(platform_dsn: str, redis_prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a service under test: this session's stores, short shutdown times."""
    base = tmp_path_factory.mktemp("chatdb")
    return Settings(
        host="127.0.0.1",
        database_url=platform_dsn,
        redis_url=REDIS_URL,
        redis_prefix=redis_prefix,
        grace_period_s=5,
        drain_delay_s=0,
        data_dir=base / "data",
        artifact_dir=base / "artifacts",
    )


StartServer = Callable[..., Awaitable[GrpcServer]]


@pytest.fixture
async def start_server(settings: Settings) -> AsyncIterator[StartServer]:
    """`await start_server(bindings, settings=...)`: a GrpcServer on 127.0.0.1:<ephemeral>,
    stopped at the end of the test."""
    started: list[GrpcServer] = []

    async def start(bindings: Iterable[ServiceBinding], *, settings: Settings = settings, **kwargs) -> GrpcServer:
        server = GrpcServer(settings, bindings, host="127.0.0.1", port=0, **kwargs)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        await server.stop(grace_s=0)


@pytest.fixture
async def channel_to() -> AsyncIterator[Callable[..., grpc.aio.Channel]]:
    """`channel_to(address, credentials=None)`: an aio channel closed after the test."""
    opened: list[grpc.aio.Channel] = []

    def open_channel(address: str, credentials: grpc.ChannelCredentials | None = None, **kwargs) -> grpc.aio.Channel:
        channel = (
            grpc.aio.secure_channel(address, credentials, **kwargs)
            if credentials
            else grpc.aio.insecure_channel(address, **kwargs)
        )
        opened.append(channel)
        return channel

    yield open_channel
    for channel in opened:
        await channel.close()
