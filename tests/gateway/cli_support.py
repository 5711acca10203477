"""Helpers of the `chatdb ask|history|status` tests (not a test module): the gateway
tests' real mesh (tests/gateway/support.py) over the parser tests' shop database,
registered as a connection of the caller's naming (the session's platform database is
shared by every module), and `chatdb` run as servers/cli.py runs it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from chatdb.connector.v1 import connection_pb2

from servers.runtime.settings import Settings
from tests.conftest import drop_pg_database
from tests.connector.service_support import free_port
from tests.gateway.support import GatewayMesh, running_gateway
from tests.parser.service_support import create_shop_pg, register


@contextlib.asynccontextmanager
async def shop_gateway(settings: Settings, database: str, connection_id: str) -> AsyncIterator[GatewayMesh]:
    dsn = await create_shop_pg(database)
    # The ML services' ports are closed ones: nothing of a developer's running mesh answers.
    closed = {f"{name}_port": free_port() for name in ("registry", "training")}
    try:
        async with running_gateway(settings, **closed) as mesh:
            await register(mesh.connector, connection_id, connection_pb2.CONNECTION_KIND_POSTGRES, dsn)
            yield mesh
    finally:
        await drop_pg_database(database)


async def chatdb_in_thread(capsys, monkeypatch, *argv: str) -> tuple[int, str, str]:
    """`chatdb ARGV` as servers/cli.py runs it (its own event loop, in a thread beside the
    servers' loop): exit status, stdout, stderr."""
    from servers.cli import main

    monkeypatch.setenv("COLUMNS", "200")  # rich wraps at 80 columns when not on a terminal
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err
