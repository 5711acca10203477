"""The connector's `chatdb` commands (servers/cli.py wires them in):

    chatdb connections [--kind KIND]         list the connector's connections
    chatdb glossary set CONNECTION FILE.yaml  check and store a connection's glossary
    chatdb glossary get CONNECTION            print a connection's glossary as YAML

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
from servers.runtime.cli_support import CliError
from servers.runtime.settings import Settings


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    settings = Settings()
    conns = subparsers.add_parser("connections", help="list the connector's connections (secrets masked)")
    conns.add_argument("--address", default=None,
                       help=f"connector address (default {settings.host}:{settings.connector_port})")
    conns.add_argument("--kind", choices=["postgres", "mysql", "mongodb"], default=None)
    conns.set_defaults(func=_connections)

    glossary = subparsers.add_parser(
        "glossary", help="set or show a connection's glossary (metrics, segments, synonyms, relationships)",
        description="A glossary teaches the parser a connection's business words; README: Glossary shows the "
                    "file format.")
    actions = glossary.add_subparsers(dest="glossary_command", required=True, metavar="{set,get}")
    put = actions.add_parser("set", help="check FILE.yaml against the connection's schema and store it")
    put.add_argument("connection", help="connection id")
    put.add_argument("file", help="the glossary, as YAML")
    put.add_argument("--dry-run", action="store_true", help="only check the file; store nothing")
    get = actions.add_parser("get", help="print the connection's glossary as YAML")
    get.add_argument("connection", help="connection id")
    for command in (put, get):
        command.add_argument("--address", default=None,
                             help=f"connector address (default {settings.host}:{settings.connector_port})")
    put.set_defaults(func=_glossary_set)
    get.set_defaults(func=_glossary_get)


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


def _glossary_set(args: argparse.Namespace) -> int:
    from chatdb.connector.v1 import connector_service_pb2, connector_service_pb2_grpc

    from servers.contracts.glossary import GlossaryFormatError, glossary_to_pb, load_yaml

    try:
        with open(args.file, encoding="utf-8") as f:
            glossary = load_yaml(f.read())
    except GlossaryFormatError as exc:
        raise CliError(f"{args.file}: {exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"{args.file}: not UTF-8 text") from None
    settings = Settings()
    address = args.address or f"{settings.host}:{settings.connector_port}"

    async def run():
        async with _channel(address, settings) as channel:
            stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
            return await stub.SetGlossary(connector_service_pb2.SetGlossaryRequest(
                connection_id=args.connection, glossary=glossary_to_pb(glossary), validate_only=args.dry_run),
                timeout=60)

    try:
        reply = asyncio.run(run())
    except grpc.aio.AioRpcError as exc:
        if exc.code() is not grpc.StatusCode.INVALID_ARGUMENT:
            raise
        raise CliError(f"{args.file}: {_violations(exc)}") from None
    g = reply.glossary
    counts = (f"{len(g.metrics)} metrics, {len(g.segments)} segments, {len(g.synonyms)} synonyms, "
              f"{len(g.relationships)} relationships")
    if args.dry_run:
        print(f"{args.file}: valid for {args.connection} ({counts}); nothing stored (--dry-run)")
    else:
        print(f"{args.connection}: glossary set ({counts}), version {g.version or '-'}")
    return 0


def _glossary_get(args: argparse.Namespace) -> int:
    from chatdb.connector.v1 import connector_service_pb2, connector_service_pb2_grpc

    from servers.contracts.glossary import dump_yaml, glossary_from_pb

    settings = Settings()
    address = args.address or f"{settings.host}:{settings.connector_port}"

    async def run():
        async with _channel(address, settings) as channel:
            stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
            return await stub.GetGlossary(
                connector_service_pb2.GetGlossaryRequest(connection_id=args.connection), timeout=30)

    reply = asyncio.run(run())
    glossary = glossary_from_pb(reply.glossary)
    if glossary.empty:
        print(f"# {args.connection} has no glossary")
        return 0
    print(f"# glossary of {args.connection}, version {reply.glossary.version}")
    print(dump_yaml(glossary), end="")
    return 0


def _violations(exc: grpc.aio.AioRpcError) -> str:
    """The field violations of an INVALID_ARGUMENT on one line (the message when none)."""
    from servers.runtime.status import details_from_rpc_error

    details = details_from_rpc_error(exc)
    if not details.violations:
        return details.message or exc.details() or "invalid glossary"
    return "; ".join(f"{v.field}: {v.description}" for v in details.violations)


async def register_demo_connections(address: str, *, settings: Settings | None = None,
                                    only: tuple[str, ...] | None = None) -> None:
    """Create the read-only connections demo-postgres and demo-mysql (or those of them
    in `only`) on the connector at `address`; a connection that already exists is left
    as it is (idempotent)."""
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
            if only is not None and connection_id not in only:
                continue
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
