"""Tenancy on ConnectorService through a real server: a tenant sees its own connections
and the shared ones (created without a principal); another tenant's connection is
NOT_FOUND on every RPC, with the message a missing one gets; only admins change shared
connections. Callers carry the identity headers the edge would add (Principal.metadata())."""

from __future__ import annotations

import uuid

import grpc
import pytest
from chatdb.connector.v1 import glossary_pb2

from servers.runtime.identity import Principal

from .service_support import PG, create, expect_error, pb, running_connector, sql

pytestmark = pytest.mark.timeout(120)

A = Principal("key:a", tenant="tenant-a", role="user").metadata()
A_ADMIN = Principal("key:a-admin", tenant="tenant-a", role="admin").metadata()
B = Principal("key:b", tenant="tenant-b", role="user").metadata()


@pytest.fixture(scope="module")
async def connector(settings):
    async with running_connector(settings) as c:
        yield c


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _create(stub, cid: str, dsn: str, metadata=None):
    from chatdb.connector.v1 import connection_pb2

    response = await stub.CreateConnection(
        pb.CreateConnectionRequest(connection_id=cid, connection=connection_pb2.Connection(kind=PG, dsn=dsn)),
        metadata=metadata,
    )
    return response.connection


async def _ids(stub, metadata) -> set[str]:
    out, token = set(), ""
    while True:
        r = await stub.ListConnections(pb.ListConnectionsRequest(page_size=100, page_token=token), metadata=metadata)
        out.update(c.connection_id for c in r.connections)
        if not r.next_page_token:
            return out
        token = r.next_page_token


async def test_tenant_sees_own_and_shared_connections_only(connector, pg_database):
    stub = connector.stub
    a_id, b_id, shared_id = _id("ta"), _id("tb"), _id("ts")
    a = await _create(stub, a_id, pg_database, A)
    b = await _create(stub, b_id, pg_database, B)
    shared = await create(stub, shared_id, kind=PG, dsn=pg_database)  # no principal
    try:
        assert (a.tenant, b.tenant, shared.tenant) == ("tenant-a", "tenant-b", "")

        seen_a = await _ids(stub, A)
        assert a_id in seen_a and shared_id in seen_a and b_id not in seen_a
        seen_b = await _ids(stub, B)
        assert b_id in seen_b and shared_id in seen_b and a_id not in seen_b
        assert {a_id, b_id, shared_id} <= await _ids(stub, None)  # internal caller: everything

        got = (await stub.GetConnection(pb.GetConnectionRequest(connection_id=a_id), metadata=A)).connection
        assert got.tenant == "tenant-a"
        assert (await stub.GetConnection(pb.GetConnectionRequest(connection_id=shared_id), metadata=B)).connection.tenant == ""

        # Another tenant's connection reads exactly as a missing one.
        missing = await expect_error(
            stub.GetConnection(pb.GetConnectionRequest(connection_id="nope-" + a_id), metadata=B),
            grpc.StatusCode.NOT_FOUND)
        hidden = await expect_error(
            stub.GetConnection(pb.GetConnectionRequest(connection_id=a_id), metadata=B), grpc.StatusCode.NOT_FOUND)
        assert hidden.message == missing.message.replace("nope-" + a_id, a_id)

        for call in (
            stub.GetSchema(pb.GetSchemaRequest(connection_id=a_id), metadata=B),
            stub.ExecuteQuery(pb.ExecuteQueryRequest(connection_id=a_id, statement=sql("SELECT 1")), metadata=B),
            stub.GetGlossary(pb.GetGlossaryRequest(connection_id=a_id), metadata=B),
            stub.SetGlossary(pb.SetGlossaryRequest(connection_id=a_id, glossary=glossary_pb2.Glossary()), metadata=B),
            stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=a_id), metadata=B),
        ):
            await expect_error(call, grpc.StatusCode.NOT_FOUND)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for _ in stub.StreamQuery(pb.StreamQueryRequest(connection_id=a_id, statement=sql("SELECT 1")),
                                            metadata=B):
                pass
        assert err.value.code() is grpc.StatusCode.NOT_FOUND
        # allow_missing: another tenant's connection is "missing": nothing happens to it.
        await stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=a_id, allow_missing=True), metadata=B)

        # Own and shared connections work for reads.
        r = await stub.ExecuteQuery(pb.ExecuteQueryRequest(connection_id=a_id, statement=sql("SELECT 1 AS x")),
                                    metadata=A)
        assert len(r.rows) == 1
        r = await stub.ExecuteQuery(pb.ExecuteQueryRequest(connection_id=shared_id, statement=sql("SELECT 1 AS x")),
                                    metadata=B)
        assert len(r.rows) == 1
        await stub.GetSchema(pb.GetSchemaRequest(connection_id=shared_id), metadata=A)
        await stub.GetGlossary(pb.GetGlossaryRequest(connection_id=shared_id), metadata=A)

        # Shared connections are changed by admins (and internal callers) only.
        await expect_error(
            stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=shared_id), metadata=A),
            grpc.StatusCode.PERMISSION_DENIED)
        await expect_error(
            stub.SetGlossary(pb.SetGlossaryRequest(connection_id=shared_id, glossary=glossary_pb2.Glossary()),
                             metadata=A),
            grpc.StatusCode.PERMISSION_DENIED)
        await stub.SetGlossary(pb.SetGlossaryRequest(connection_id=shared_id, glossary=glossary_pb2.Glossary()),
                               metadata=A_ADMIN)

        # The owner deletes its own; the other tenant's stays.
        await stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=a_id), metadata=A)
        await stub.GetConnection(pb.GetConnectionRequest(connection_id=b_id), metadata=B)
    finally:
        for cid in (a_id, b_id, shared_id):
            await stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=cid, allow_missing=True))
