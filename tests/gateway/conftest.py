"""The demo data set (deploy/demo) at a small scale and a fixed date, loaded once per
session into PostgreSQL and MariaDB under this run's names and into mongomock per
module, and the real mesh (connector, parser, gateway) with the three registered as
demo-pg, demo-my and demo-mongo."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from chatdb.connector.v1 import connection_pb2
from mongomock_motor import AsyncMongoMockClient

from deploy.demo import data as dd
from tests.conftest import MYSQL, PG_ADMIN_DSN, drop_mysql_database, drop_pg_database
from tests.connector.service_support import mysql_dsn, pg_dsn
from tests.gateway.support import forget, running_gateway
from tests.mongo_support import mongomock_opener

TODAY = dt.date(2026, 11, 30)
SCALE = 0.05


async def register(connector, connection_id: str, kind: int, dsn: str) -> None:
    """Register a connection unless an earlier module of this session did (one platform
    database per session)."""
    from tests.parser.service_support import register as create

    try:
        await create(connector, connection_id, kind, dsn)
    except grpc.aio.AioRpcError as exc:
        if exc.code() is not grpc.StatusCode.ALREADY_EXISTS:
            raise


@pytest.fixture(scope="session")
def demo_spec(run_id) -> dd.DemoSpec:
    return dd.DemoSpec(seed=7, today=TODAY, scale=SCALE, database=f"chatdb_test_{run_id}_gw_demo")


@pytest.fixture(scope="session")
def demo_data(demo_spec) -> dd.DemoData:
    return dd.generate(demo_spec)


@pytest.fixture(scope="session")
async def demo_databases(demo_spec):
    """(PostgreSQL DSN, MariaDB DSN) of the loaded demo database."""
    await dd.load_postgres(PG_ADMIN_DSN, demo_spec)
    await dd.load_mysql(MYSQL["host"], MYSQL["port"], MYSQL["user"], MYSQL["password"], demo_spec)
    try:
        yield pg_dsn(demo_spec.database), mysql_dsn(demo_spec.database)
    finally:
        await drop_pg_database(demo_spec.database)
        await drop_mysql_database(demo_spec.database)


@pytest.fixture(scope="module")
async def demo_mesh(settings, demo_spec, demo_databases):
    pg, my = demo_databases
    client = AsyncMongoMockClient(tz_aware=True)
    await dd.load_mongo(client[demo_spec.database], demo_spec)

    opener = mongomock_opener(client)

    async with running_gateway(settings, opener=opener) as mesh:
        await register(mesh.connector, "demo-pg", connection_pb2.CONNECTION_KIND_POSTGRES, pg)
        await register(mesh.connector, "demo-my", connection_pb2.CONNECTION_KIND_MYSQL, my)
        await register(mesh.connector, "demo-mongo", connection_pb2.CONNECTION_KIND_MONGODB,
                       f"mongodb://127.0.0.1:27017/{demo_spec.database}")
        yield mesh
        await forget(mesh.connector, "demo-pg", "demo-my", "demo-mongo")
