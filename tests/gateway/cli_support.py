"""Helpers of the `chatdb ask|history|status` tests (not a test module): the real
connector and parser serving a small shop database, and the real gateway in front of
them, each on 127.0.0.1:<ephemeral>; the ML services' ports are closed ones (the parser
answers on its rules, the gateway reports them down)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from chatdb.connector.v1 import connection_pb2

from servers.runtime.server import GrpcServer
from servers.runtime.settings import Settings
from servers.services import PLACEHOLDERS
from tests.conftest import drop_pg_database
from tests.connector.service_support import free_port
from tests.parser.service_support import create_shop_pg, register, running_parser

NOT_LANDED = pytest.mark.skipif("gateway" in PLACEHOLDERS,
                                reason="the gateway is still a placeholder here: every ChatService call is UNIMPLEMENTED")


@dataclass
class GatewayMesh:
    address: str  # the gateway's host:port
    settings: Settings  # the gateway's


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings, database: str) -> AsyncIterator[GatewayMesh]:
    from gateway.app import build

    dsn = await create_shop_pg(database)
    closed = {f"{name}_port": free_port() for name in ("prediction", "registry", "training")}
    try:
        async with running_parser(settings, **closed) as mesh, contextlib.AsyncExitStack() as stack:
            await register(mesh.connector, "shop", connection_pb2.CONNECTION_KIND_POSTGRES, dsn)
            gateway_settings = mesh.settings.model_copy(update={"parser_port": mesh.parser_port})
            server = GrpcServer(gateway_settings, await build(gateway_settings, stack), host="127.0.0.1", port=0)
            await server.start()
            stack.push_async_callback(server.stop, 0, 0)
            yield GatewayMesh(server.address, gateway_settings)
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
