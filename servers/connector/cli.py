"""The connector's `chatdb` commands (servers/cli.py wires them in):

    chatdb connections [--kind KIND]         list the connector's connections

and `register_demo_connections(address)`, which `make up` uses to register the demo
databases as read-only connections demo-postgres and demo-mysql.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from urllib.parse import urlsplit

import grpc

from servers.runtime.channels import open_channel
from servers.runtime.settings import Settings


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    settings = Settings()
    conns = subparsers.add_parser("connections", help="list the connector's connections (secrets masked)")
    conns.add_argument("--address", default=None,
                       help=f"connector address (default {settings.host}:{settings.connector_port})")
    conns.add_argument("--kind", choices=["postgres", "mysql", "mongodb"], default=None)
    conns.set_defaults(func=_connections)


def _channel(address: str, settings: Settings) -> grpc.aio.Channel:
    return open_channel(settings, address=address)


def _connections(args: argparse.Namespace) -> int:
    from chatdb.connector.v1 import (
        connection_pb2,
        connector_service_pb2,
        connector_service_pb2_grpc,
    )

    settings = Settings()
    address = args.address or f"{settings.host}:{settings.connector_port}"
    kind = connection_pb2.ConnectionKind.Value(f"CONNECTION_KIND_{args.kind.upper()}") if args.kind else 0

    async def run() -> list:
        async with _channel(address, settings) as channel:
            stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
            found, token = [], ""
            while True:
                page = await stub.ListConnections(
                    connector_service_pb2.ListConnectionsRequest(page_size=1000, page_token=token, kind=kind), timeout=30)
                found += page.connections
                token = page.next_page_token
                if not token:
                    return found

    try:
        connections = asyncio.run(run())
    except grpc.aio.AioRpcError as exc:
        print(f"error: connector at {address}: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    print(f"{'CONNECTION':24} {'KIND':9} {'MODE':10} DSN")
    for c in connections:
        kind_name = connection_pb2.ConnectionKind.Name(c.kind).removeprefix("CONNECTION_KIND_").lower()
        mode = "read-only" if c.read_only else "read-write"
        print(f"{c.connection_id:24} {kind_name:9} {mode:10} {c.dsn}")
    return 0


async def register_demo_connections(address: str, *, settings: Settings | None = None) -> None:
    """Create the read-only connections demo-postgres and demo-mysql on the connector at
    `address`; a connection that already exists is left as it is (idempotent)."""
    from chatdb.connector.v1 import (
        connection_pb2,
        connector_service_pb2,
        connector_service_pb2_grpc,
    )

    settings = settings or Settings()
    targets = {
        "demo-postgres": (connection_pb2.CONNECTION_KIND_POSTGRES, settings.connector_demo_postgres_dsn),
        "demo-mysql": (connection_pb2.CONNECTION_KIND_MYSQL, settings.connector_demo_mysql_dsn),
    }
    async with _channel(address, settings) as channel:
        stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
        for connection_id, (kind, dsn) in targets.items():
            request = connector_service_pb2.CreateConnectionRequest(
                connection_id=connection_id,
                connection=connection_pb2.Connection(
                    kind=kind, dsn=dsn, read_only=True, display_name=f"ChatDB demo ({connection_id[5:]})"),
            )
            try:
                try:
                    await _create_and_warn(stub, request)
                except grpc.aio.AioRpcError as exc:
                    if exc.code() is not grpc.StatusCode.ALREADY_EXISTS:
                        raise
                    # Registered by an earlier `make up`: kept, unless it logs in as another
                    # user than the setting names (the demo used the administrators once).
                    found = await stub.GetConnection(
                        connector_service_pb2.GetConnectionRequest(connection_id=connection_id), timeout=30)
                    if urlsplit(found.connection.dsn).username == urlsplit(dsn).username:
                        continue
                    await stub.DeleteConnection(
                        connector_service_pb2.DeleteConnectionRequest(connection_id=connection_id), timeout=30)
                    await _create_and_warn(stub, request)
                    print(f"{connection_id}: registered again to log in as {urlsplit(dsn).username}")
            except grpc.aio.AioRpcError as exc:
                raise RuntimeError(f"registering {connection_id} failed: {exc.code().name}: {exc.details()}") from exc


async def _create_and_warn(stub, request) -> None:
    call = stub.CreateConnection(request, timeout=30)
    await call
    for key, value in await call.trailing_metadata() or ():
        if key == "chatdb-warning":
            print(f"warning: {request.connection_id}: {value}", file=sys.stderr)
