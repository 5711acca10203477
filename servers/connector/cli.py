"""The connector's `chatdb` commands (servers/cli.py wires them in):

    chatdb demo-data [--mongo-url URL] ...   load chatdb_demo into PostgreSQL and MySQL
                                             (and MongoDB when --mongo-url is given)
    chatdb connections [--kind KIND]         list the connector's connections

and `register_demo_connections(address)`, which `make up` uses to register the demo
databases as read-only connections demo-postgres and demo-mysql.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from urllib.parse import unquote, urlsplit, urlunsplit

import grpc

from servers.runtime.channels import open_channel
from servers.runtime.settings import Settings

DEMO_CONNECTIONS = ("demo-postgres", "demo-mysql")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    settings = Settings()
    # The demo DSNs name the SELECT-only reader; loading needs the servers' administrators.
    pg_admin = _admin_dsn(settings.connector_demo_postgres_dsn)
    my = urlsplit(settings.connector_demo_mysql_dsn)

    demo = subparsers.add_parser(
        "demo-data", help="load the chatdb_demo sample database into PostgreSQL, MySQL (and MongoDB)",
        description="(Re)create the deterministic demo database (customers, products, orders, order items, "
                    "sales, employees; ~53,000 rows over the last three years) on each server. A database "
                    "that already holds the same data set (checksum marker and row counts) is left as it is.",
    )
    demo.add_argument("--database", default="chatdb_demo", help="database name to (re)create (default chatdb_demo)")
    demo.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives the same rows")
    demo.add_argument("--scale", type=float, default=1.0, help="multiplies every table's row count")
    demo.add_argument("--pg-dsn", default=pg_admin,
                      help=f"DSN of a maintenance database on the PostgreSQL server (default {pg_admin})")
    demo.add_argument("--mysql-host", default=my.hostname or "127.0.0.1")
    demo.add_argument("--mysql-port", type=int, default=my.port or 3306)
    demo.add_argument("--mysql-user", default="root", help="MySQL administrator that loads the data (default root)")
    demo.add_argument("--mysql-password", default="")
    demo.add_argument("--mongo-url", default=None, help="also load into this MongoDB (e.g. mongodb://127.0.0.1:27017)")
    demo.add_argument("--skip-postgres", action="store_true")
    demo.add_argument("--skip-mysql", action="store_true")
    demo.add_argument("--force", action="store_true",
                      help="drop and reload even a database that already holds this data set")
    demo.set_defaults(func=_demo_data)

    conns = subparsers.add_parser("connections", help="list the connector's connections (secrets masked)")
    conns.add_argument("--address", default=None,
                       help=f"connector address (default {settings.host}:{settings.connector_port})")
    conns.add_argument("--kind", choices=["postgres", "mysql", "mongodb"], default=None)
    conns.set_defaults(func=_connections)


def _admin_dsn(dsn: str) -> str:
    """The `postgres` maintenance database on the server of `dsn`, as user postgres."""
    parts = urlsplit(dsn)
    netloc = "postgres@" + parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc, path="/postgres"))


def _reader(dsn: str) -> tuple[str, str] | None:
    """(user, password) of a demo DSN, or None when it has no user of its own."""
    parts = urlsplit(dsn)
    return (unquote(parts.username), unquote(parts.password or "")) if parts.username else None


def _demo_data(args: argparse.Namespace) -> int:
    from .demo_data import DemoSpec, load_mongo_url, load_mysql, load_postgres
    from .demo_reader import ensure_reader_mysql, ensure_reader_postgres

    settings = Settings()
    spec = DemoSpec(seed=args.seed, scale=args.scale, database=args.database)
    pg_reader = _reader(settings.connector_demo_postgres_dsn)
    my_reader = _reader(settings.connector_demo_mysql_dsn)

    async def run() -> None:
        targets = []
        if not args.skip_postgres:
            targets.append(("PostgreSQL", load_postgres(args.pg_dsn, spec, force=args.force)))
        if not args.skip_mysql:
            targets.append(("MySQL", load_mysql(args.mysql_host, args.mysql_port, args.mysql_user,
                                                args.mysql_password, spec, force=args.force)))
        if args.mongo_url:
            targets.append(("MongoDB", load_mongo_url(args.mongo_url, spec)))
        for name, load in targets:
            counts = await load
            detail = ", ".join(f"{table} {n:,}" for table, n in counts.items())
            done = "loaded" if getattr(counts, "reloaded", True) else "already loaded, left as it is"
            print(f"{name}: {spec.database} {done} ({sum(counts.values()):,} rows: {detail})")
        # After every load: a reload drops the tables and with them their grants.
        if not args.skip_postgres and pg_reader and pg_reader[0] != "postgres":
            await ensure_reader_postgres(args.pg_dsn, spec.database, *pg_reader)
            print(f"PostgreSQL: user {pg_reader[0]} may only read {spec.database} (the demo-postgres connection)")
        if not args.skip_mysql and my_reader and my_reader[0] != args.mysql_user:
            await ensure_reader_mysql(args.mysql_host, args.mysql_port, args.mysql_user, args.mysql_password,
                                      spec.database, *my_reader)
            print(f"MySQL: user {my_reader[0]} may only read {spec.database} (the demo-mysql connection)")

    asyncio.run(run())
    return 0


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
