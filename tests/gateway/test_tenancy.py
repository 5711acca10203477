"""Tenancy through the real gateway, parser and connector (each a gRPC server; calls carry
the identity headers the edge would add): a tenant's questions, conversations and
feedback are its own; an Ask for tenant B on tenant A's connection is NOT_FOUND (the
parser's calls to the connector carry B's identity, forwarded by the channels); and a
cached answer is the asking tenant's — on a shared connection too, and although the
gateway remembers schema versions (gateway_versions_ttl_s) without asking the connector."""

from __future__ import annotations

import grpc
import pytest
from chatdb.connector.v1 import connection_pb2, connector_service_pb2
from chatdb.gateway.v1 import chat_service_pb2 as pb
from chatdb.gateway.v1 import query_record_pb2 as qr

from servers.runtime.identity import Principal
from tests.conftest import drop_pg_database
from tests.gateway.support import forget, running_gateway
from tests.parser.service_support import create_shop_pg, register

pytestmark = pytest.mark.timeout(120)

A = Principal("key:a", tenant="tenant-a", role="user").metadata()
A_ADMIN = Principal("key:a-admin", tenant="tenant-a", role="admin").metadata()
B = Principal("key:b", tenant="tenant-b", role="user").metadata()
SHARED, OWN_A = "gw-ten-shared", "gw-ten-a"
QUESTION = "how many customers are there"


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    database = f"chatdb_test_{run_id}_gw_tenancy"
    dsn = await create_shop_pg(database)
    try:
        # Schema versions remembered for a minute: a tenant's Ask can reach the cache
        # lookup without the connector having been asked anything for it.
        async with running_gateway(settings, gateway_updates={"gateway_versions_ttl_s": 60.0}) as m:
            await register(m.connector, SHARED, connection_pb2.CONNECTION_KIND_POSTGRES, dsn)  # internal: shared
            await m.connector.stub.CreateConnection(connector_service_pb2.CreateConnectionRequest(
                connection_id=OWN_A,
                connection=connection_pb2.Connection(kind=connection_pb2.CONNECTION_KIND_POSTGRES, dsn=dsn),
            ), metadata=A)
            yield m
            await forget(m.connector, SHARED, OWN_A)
    finally:
        await drop_pg_database(database)


async def ask(mesh, metadata, connection_id: str, question: str = QUESTION, **fields) -> pb.AskResponse:
    return await mesh.stub.Ask(pb.AskRequest(question=question, connection_id=connection_id, **fields),
                               metadata=metadata)


async def code_of(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value.code(), info.value.details()


async def test_ask_on_another_tenants_connection_is_not_found(mesh):
    answered = await ask(mesh, A, OWN_A)
    assert answered.rows
    # B: the gateway has the versions of OWN_A in memory and asks nobody for them; the
    # cache key is B's, so the parser is asked, and its GetSchema carries B's identity.
    code, details = await code_of(ask(mesh, B, OWN_A))
    assert code is grpc.StatusCode.NOT_FOUND, details
    missing_code, missing = await code_of(ask(mesh, B, "gw-ten-nope"))
    assert missing_code is grpc.StatusCode.NOT_FOUND
    assert details == missing.replace("gw-ten-nope", OWN_A)  # as for a missing connection
    # Not even a cached answer: B's use_cache Ask gets the same refusal.
    code, _ = await code_of(ask(mesh, B, OWN_A, use_cache=True))
    assert code is grpc.StatusCode.NOT_FOUND


async def test_cached_answers_are_the_asking_tenants(mesh):
    question = "how many products are there"
    first_a = await ask(mesh, A, SHARED, question)
    again_a = await ask(mesh, A, SHARED, question)
    assert again_a.cached and not first_a.cached
    first_b = await ask(mesh, B, SHARED, question)
    assert not first_b.cached  # A's cached answer is not B's, on a shared connection too
    assert (await ask(mesh, B, SHARED, question)).cached
    assert not (await ask(mesh, None, SHARED, question)).cached  # nor an internal caller's


async def test_history_and_feedback_are_the_tenants(mesh):
    a = await ask(mesh, A, SHARED, "how many orders are there")
    b = await ask(mesh, B, SHARED, "how many orders are there")
    internal = await ask(mesh, None, SHARED, "how many orders are there")

    got = (await mesh.stub.GetQuery(pb.GetQueryRequest(query_id=a.query_id), metadata=A)).query
    assert got.question == "how many orders are there"
    # B cannot read A's question: in memory (not yet written) and from the database.
    _, missing = await code_of(mesh.stub.GetQuery(pb.GetQueryRequest(query_id="0" * 32), metadata=B))
    code, details = await code_of(mesh.stub.GetQuery(pb.GetQueryRequest(query_id=a.query_id), metadata=B))
    assert code is grpc.StatusCode.NOT_FOUND and details == missing.replace("0" * 32, a.query_id)
    await mesh.core.history.flush()
    code, _ = await code_of(mesh.stub.GetQuery(pb.GetQueryRequest(query_id=a.query_id), metadata=B))
    assert code is grpc.StatusCode.NOT_FOUND
    await mesh.stub.GetQuery(pb.GetQueryRequest(query_id=internal.query_id), metadata=B)  # shared

    listed_b = {q.query_id for q in (await mesh.stub.ListQueries(
        pb.ListQueriesRequest(page_size=1000), metadata=B)).queries}
    assert b.query_id in listed_b and internal.query_id in listed_b and a.query_id not in listed_b
    listed_all = {q.query_id for q in (await mesh.stub.ListQueries(pb.ListQueriesRequest(page_size=1000))).queries}
    assert {a.query_id, b.query_id, internal.query_id} <= listed_all

    correct = qr.FEEDBACK_VERDICT_CORRECT
    code, _ = await code_of(mesh.stub.SubmitFeedback(
        pb.SubmitFeedbackRequest(query_id=a.query_id, verdict=correct), metadata=B))
    assert code is grpc.StatusCode.NOT_FOUND
    code, _ = await code_of(mesh.stub.SubmitFeedback(
        pb.SubmitFeedbackRequest(query_id=internal.query_id, verdict=correct), metadata=A))
    assert code is grpc.StatusCode.PERMISSION_DENIED  # a shared question: admins only
    await mesh.stub.SubmitFeedback(pb.SubmitFeedbackRequest(query_id=a.query_id, verdict=correct), metadata=A)


async def test_a_conversation_is_its_tenants(mesh):
    first = await ask(mesh, A, SHARED, "show customers")
    for wait in (False, True):  # the conversation waiting in memory, then written
        if wait:
            await mesh.core.history.flush()
        code, details = await code_of(ask(mesh, B, SHARED, "only the first 2",
                                          conversation_id=first.conversation_id))
        assert code is grpc.StatusCode.NOT_FOUND and "conversation" in details
    follow = await ask(mesh, A, SHARED, "only the first 2", conversation_id=first.conversation_id)
    assert follow.conversation_id == first.conversation_id


async def test_an_accepted_answer_is_reused_for_its_tenant_only(mesh):
    from chatdb.connector.v1 import statement_pb2

    question = "how many customers do we have in total"
    asked = await ask(mesh, A, SHARED, question)
    corrected = statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql="SELECT count(*) AS n FROM customers"))
    await mesh.stub.SubmitFeedback(pb.SubmitFeedbackRequest(
        query_id=asked.query_id, verdict=qr.FEEDBACK_VERDICT_INCORRECT, corrected_statement=corrected), metadata=A)
    assert (await ask(mesh, A, SHARED, question)).reused_query_id == asked.query_id
    assert (await ask(mesh, B, SHARED, question)).reused_query_id == ""



async def test_what_failed_lists_the_tenants_own_failures(mesh):
    """The failed questions "what failed today?" lists (the system answerer is not wired
    in this mesh: the core's list it reads, as the caller)."""
    import datetime as dt
    import uuid

    from servers.runtime.identity import principal_from_metadata, reset_principal, set_principal

    secret = f"how many widgets in warehouse {uuid.uuid4().hex[:8]}"
    code, _ = await code_of(ask(mesh, A, "gw-ten-missing", secret))  # fails: no such connection
    assert code is grpc.StatusCode.NOT_FOUND
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)

    async def failed_for(metadata) -> set[str]:
        token = set_principal(principal_from_metadata(metadata))
        try:
            return {item["question"] for item in await mesh.core.failed_questions(since)}
        finally:
            reset_principal(token)

    for written in (False, True):  # waiting in memory, then from the database
        if written:
            await mesh.core.history.flush()
        assert secret in await failed_for(A)
        assert secret not in await failed_for(B)
