"""Helpers of the QueryParserService tests (not a test module): a small shop database of
our own on the machine's PostgreSQL and MariaDB, the real connector serving it, and the
real parser in front of it, each on 127.0.0.1:<ephemeral>."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiomysql
import asyncpg
import grpc
from chatdb.connector.v1 import connection_pb2, connector_service_pb2
from chatdb.parser.v1 import query_parser_service_pb2_grpc

from servers.parser.app import open_parser
from servers.parser.service import parser_binding
from servers.runtime.server import GrpcServer
from servers.runtime.settings import Settings
from tests.conftest import MYSQL, create_pg_database, drop_mysql_database, drop_pg_database
from tests.connector.service_support import free_port, mysql_dsn, running_connector

SHOP_DDL = [
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(60) NOT NULL, city VARCHAR(40), age INTEGER, signup_date DATE)",
    "CREATE TABLE products (id INTEGER PRIMARY KEY, name VARCHAR(60) NOT NULL, category VARCHAR(40), price NUMERIC(10,2))",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), ordered_at DATE, status VARCHAR(20), total NUMERIC(10,2))",
    "CREATE TABLE order_items (order_id INTEGER REFERENCES orders(id), product_id INTEGER REFERENCES products(id), quantity INTEGER, PRIMARY KEY (order_id, product_id))",
]
SHOP_ROWS = [
    "INSERT INTO customers VALUES (1, 'Ada Obi', 'New York', 34, '2024-01-10'), (2, 'Bo Chen', 'Lagos', 28, '2024-03-02'),"
    " (3, 'Cy Diaz', 'New York', 45, '2025-06-20'), (4, 'Di Eze', 'Berlin', 22, '2026-11-05')",
    "INSERT INTO products VALUES (1, 'Desk', 'furniture', 120.00), (2, 'Lamp', 'lighting', 25.50), (3, 'Chair', 'furniture', 60.00)",
    "INSERT INTO orders VALUES (1, 1, '2026-11-03', 'shipped', 145.50), (2, 1, '2026-11-20', 'cancelled', 60.00),"
    " (3, 2, '2026-10-01', 'shipped', 120.00), (4, 3, '2025-02-14', 'shipped', 25.50), (5, 1, '2026-12-01', 'pending', 85.50)",
    "INSERT INTO order_items VALUES (1, 1, 1), (1, 2, 1), (2, 3, 1), (3, 1, 1), (4, 2, 1), (5, 3, 1), (5, 2, 1)",
]


async def create_shop_pg(database: str) -> str:
    await drop_pg_database(database)
    dsn = await create_pg_database(database)
    conn = await asyncpg.connect(dsn)
    try:
        for sql in SHOP_DDL + SHOP_ROWS:
            await conn.execute(sql)
    finally:
        await conn.close()
    return dsn


async def create_shop_mysql(database: str) -> str:
    await drop_mysql_database(database)
    conn = await aiomysql.connect(**MYSQL, autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
            await cur.execute(f"USE `{database}`")
            for sql in SHOP_DDL + SHOP_ROWS:
                await cur.execute(sql)
    finally:
        conn.close()
    return mysql_dsn(database)


@dataclass
class Mesh:
    connector: object  # tests.connector.service_support.Connector
    parser: query_parser_service_pb2_grpc.QueryParserServiceStub
    parser_core: object
    settings: Settings  # the parser's (connector_port is the running connector's)
    parser_port: int


@contextlib.asynccontextmanager
async def running_parser(settings: Settings, *, opener=None, **updates) -> AsyncIterator[Mesh]:
    """The connector and the parser, both real, the parser calling the connector over
    gRPC. The prediction service is wherever `settings` says (tests that want the rule
    path point it at a closed port). `opener` replaces the connector's driver opener
    (MongoDB connections served from mongomock-motor)."""
    options = {"opener": opener} if opener else {}
    async with running_connector(settings, **options) as connector, contextlib.AsyncExitStack() as stack:
        port = int(connector.server.address.rsplit(":", 1)[1])
        parser_settings = settings.model_copy(update={"connector_port": port, **updates})
        core = await open_parser(parser_settings, stack)
        server = GrpcServer(parser_settings, [parser_binding(core)], host="127.0.0.1", port=0)
        await server.start()
        stack.push_async_callback(server.stop, 0, 0)
        channel = grpc.aio.insecure_channel(server.address)
        stack.push_async_callback(channel.close)
        yield Mesh(
            connector,
            query_parser_service_pb2_grpc.QueryParserServiceStub(channel),
            core,
            parser_settings,
            int(server.address.rsplit(":", 1)[1]),
        )


async def register(connector, connection_id: str, kind: int, dsn: str) -> None:
    await connector.stub.CreateConnection(
        connector_service_pb2.CreateConnectionRequest(
            connection_id=connection_id, connection=connection_pb2.Connection(kind=kind, dsn=dsn)
        )
    )


@contextlib.asynccontextmanager
async def parser_over_shop(settings: Settings, database: str, *, pg: str = "", my: str = "",
                           **updates) -> AsyncIterator[Mesh]:
    """running_parser (rule path: nothing listens on its prediction port) with the shop
    loaded into a PostgreSQL database named `database`, registered as connection `pg`,
    and, when `my` is given, into a MariaDB one registered as `my`; both dropped after."""
    pg_dsn = await create_shop_pg(database)
    my_dsn = await create_shop_mysql(database) if my else ""
    try:
        async with running_parser(settings, prediction_port=free_port(), **updates) as mesh:
            await register(mesh.connector, pg, connection_pb2.CONNECTION_KIND_POSTGRES, pg_dsn)
            if my:
                await register(mesh.connector, my, connection_pb2.CONNECTION_KIND_MYSQL, my_dsn)
            yield mesh
    finally:
        await drop_pg_database(database)
        if my:
            await drop_mysql_database(database)
