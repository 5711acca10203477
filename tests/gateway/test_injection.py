"""Questions that try to write or inject SQL never change a table: every table's
checksum is the same before and after, on PostgreSQL and MariaDB. Each question is
either answered read-only or refused; none is answered by running what it smuggles in."""

from __future__ import annotations

import grpc
import pytest
from chatdb.connector.v1 import connection_pb2

from tests.conftest import drop_mysql_database, drop_pg_database
from tests.connector.service_support import mysql_checksums, pg_checksums
from tests.gateway.support import running_gateway
from tests.parser.service_support import create_shop_mysql, create_shop_pg, register

ATTEMPTS = [
    "customers; DROP TABLE customers",
    "delete all orders",
    "' OR 1=1 --",
    "update products set price=0",
    "show customers where name = 'x'; DELETE FROM customers; --",
    "insert into customers values (9, 'Eve', 'Paris', 40, '2026-01-01')",
    "truncate table order_items",
    "show products\"; drop table products; --",
    "drop the orders table",
    "alter table customers drop column city",
    "grant all on customers to public",
    "show customers named Robert'); DROP TABLE customers;--",
]


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    database = f"chatdb_test_{run_id}_gw_inject"
    pg = await create_shop_pg(database)
    my = await create_shop_mysql(database)
    try:
        async with running_gateway(settings) as m:
            await register(m.connector, "gw-inj-pg", connection_pb2.CONNECTION_KIND_POSTGRES, pg)
            await register(m.connector, "gw-inj-my", connection_pb2.CONNECTION_KIND_MYSQL, my)
            m.pg, m.my_database = pg, database
            yield m
    finally:
        await drop_pg_database(database)
        await drop_mysql_database(database)


async def checksums(mesh) -> tuple[dict, dict]:
    return await pg_checksums(mesh.pg), await mysql_checksums(mesh.my_database)


@pytest.mark.parametrize("question", ATTEMPTS)
async def test_a_question_never_writes(mesh, question):
    before = await checksums(mesh)
    for connection in ("gw-inj-pg", "gw-inj-my"):
        try:
            reply = await mesh.ask(question, connection, use_cache=False)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED), exc
        else:
            sql = reply.statement.sql.sql.upper()
            assert sql.lstrip().startswith(("SELECT", "WITH")) or not sql, sql
            for word in ("DROP ", "DELETE ", "UPDATE ", "INSERT ", "TRUNCATE ", "ALTER ", "GRANT "):
                assert word not in sql, sql
    assert await checksums(mesh) == before
