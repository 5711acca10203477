"""Tenancy on QueryParserService through real parser and connector servers: the parser
reads a connection's schema, glossary and values as the caller (the channel forwards the
identity headers), and its caches of them answer only callers whose tenant may see the
connection: tenant B's ParseQuery on tenant A's connection is NOT_FOUND, also right
after A's question filled the caches (nothing of A's schema is told)."""

from __future__ import annotations

import grpc
import pytest
from chatdb.connector.v1 import connection_pb2, connector_service_pb2
from chatdb.parser.v1 import query_parser_service_pb2 as pb

from servers.runtime.identity import Principal
from tests.conftest import drop_pg_database
from tests.connector.service_support import free_port
from tests.parser.service_support import create_shop_pg, running_parser

pytestmark = pytest.mark.timeout(120)

A = Principal("key:a", tenant="tenant-a", role="user").metadata()
B = Principal("key:b", tenant="tenant-b", role="user").metadata()


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    database = f"chatdb_test_{run_id}_parser_tenancy"
    dsn = await create_shop_pg(database)
    try:
        # A long schema TTL: B's question comes while A's inputs are cached.
        async with running_parser(settings, prediction_port=free_port(), parser_schema_ttl_s=60.0) as m:
            await m.connector.stub.CreateConnection(connector_service_pb2.CreateConnectionRequest(
                connection_id="parse-ten-a",
                connection=connection_pb2.Connection(kind=connection_pb2.CONNECTION_KIND_POSTGRES, dsn=dsn),
            ), metadata=A)
            yield m
            await m.connector.stub.DeleteConnection(connector_service_pb2.DeleteConnectionRequest(
                connection_id="parse-ten-a", allow_missing=True))
    finally:
        await drop_pg_database(database)


async def test_another_tenants_connection_is_not_found_also_from_the_cache(mesh):
    question = pb.ParseQueryRequest(question="how many customers are there", connection_id="parse-ten-a")
    for metadata in (B, A, B, None):  # cold (the connector refuses), warm for A, warm for B, internal
        if metadata is B:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await mesh.parser.ParseQuery(question, metadata=metadata)
            assert err.value.code() is grpc.StatusCode.NOT_FOUND, err.value.details()
            assert "customers" not in err.value.details()
        else:
            reply = await mesh.parser.ParseQuery(question, metadata=metadata)
            assert reply.parsed_query.statement.WhichOneof("form")
