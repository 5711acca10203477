"""The history: every Ask, answered or not, is a record that GetQuery returns at once
(the write happens off the response path), ListQueries lists newest first with filters
and signed page tokens, and each question leaves one audit row."""

from __future__ import annotations

import datetime as dt

import asyncpg
import grpc
import pytest
from chatdb.connector.v1 import connection_pb2
from chatdb.gateway.v1 import chat_service_pb2 as pb
from chatdb.gateway.v1 import query_record_pb2 as qr

from tests.conftest import drop_pg_database
from tests.gateway.support import running_gateway
from tests.parser.service_support import create_shop_pg, register


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    database = f"chatdb_test_{run_id}_gw_history"
    dsn = await create_shop_pg(database)
    try:
        async with running_gateway(settings) as m:
            await register(m.connector, "gw-hist", connection_pb2.CONNECTION_KIND_POSTGRES, dsn)
            yield m
    finally:
        await drop_pg_database(database)


async def get(mesh, query_id: str) -> qr.QueryRecord:
    return (await mesh.stub.GetQuery(pb.GetQueryRequest(query_id=query_id))).query


async def test_an_answered_question_is_in_the_history_at_once(mesh):
    reply = await mesh.stub.Ask(pb.AskRequest(question="how many customers are there", connection_id="gw-hist"),
                                metadata=(("x-chatdb-principal", "ada@example.com"),))
    record = await get(mesh, reply.query_id)
    assert record.status == qr.QUERY_STATUS_SUCCEEDED
    assert record.question == "how many customers are there"
    assert record.connection_id == "gw-hist"
    assert record.statement == reply.statement
    assert record.row_count == 1
    assert record.intent == reply.parsed_query.intent
    assert record.principal == "ada@example.com"
    assert record.trace_id == reply.trace_id
    assert record.conversation_id == reply.conversation_id
    assert record.answer == reply.answer and record.explanation == reply.explanation
    assert record.source == qr.ANSWER_SOURCE_DATABASE
    assert record.timings.total.ToNanoseconds() > 0
    # and once written, from PostgreSQL as well
    await mesh.core.history.flush()
    assert await get(mesh, reply.query_id) == record


async def test_a_failed_question_is_kept_with_its_error(mesh):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.ask("blorp zzyzx quux", "gw-hist")
    failed = [q for q in (await mesh.stub.ListQueries(pb.ListQueriesRequest(
        connection_id="gw-hist", status=qr.QUERY_STATUS_FAILED))).queries]
    assert failed[0].question == "blorp zzyzx quux"
    assert failed[0].error.code == err.value.code().value[0]
    assert failed[0].error.message
    assert failed[0].principal == "anonymous"


async def test_an_unknown_query_is_not_found(mesh):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await get(mesh, "no-such-query")
    assert err.value.code() is grpc.StatusCode.NOT_FOUND


async def test_list_pages_newest_first_with_filters(mesh):
    first = await mesh.ask("how many orders are there", "gw-hist")
    conversation = first.conversation_id
    asked = [first.query_id]
    for question in ("show all products", "show all customers", "how many products are there"):
        asked.append((await mesh.ask(question, "gw-hist", conversation_id=conversation)).query_id)
    seen, token = [], ""
    while True:
        page = await mesh.stub.ListQueries(pb.ListQueriesRequest(conversation_id=conversation, page_size=3,
                                                                 page_token=token))
        assert len(page.queries) <= 3
        seen += [q.query_id for q in page.queries]
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(asked))
    # the token is bound to its filters
    page = await mesh.stub.ListQueries(pb.ListQueriesRequest(conversation_id=conversation, page_size=1))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.stub.ListQueries(pb.ListQueriesRequest(page_size=1, page_token=page.next_page_token))
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_list_filters_by_time_and_status(mesh):
    before = dt.datetime.now(dt.UTC)
    reply = await mesh.ask("how many customers are there", "gw-hist")
    start = pb.ListQueriesRequest(connection_id="gw-hist", status=qr.QUERY_STATUS_SUCCEEDED)
    start.start_time.FromDatetime(before)
    listed = (await mesh.stub.ListQueries(start)).queries
    assert [q.query_id for q in listed] == [reply.query_id]
    end = pb.ListQueriesRequest(connection_id="gw-hist")
    end.end_time.FromDatetime(before)
    assert reply.query_id not in [q.query_id for q in (await mesh.stub.ListQueries(end)).queries]


async def test_every_question_leaves_one_audit_row(mesh):
    reply = await mesh.stub.Ask(pb.AskRequest(question="show all products", connection_id="gw-hist"),
                                metadata=(("x-chatdb-principal", "bo@example.com"),))
    await mesh.core.history.flush()
    conn = await asyncpg.connect(mesh.settings.database_url)
    try:
        rows = await conn.fetch("SELECT * FROM gateway_audit WHERE query_id = $1", reply.query_id)
    finally:
        await conn.close()
    [row] = rows
    assert row["principal"] == "bo@example.com"
    assert row["connection_id"] == "gw-hist"
    assert row["question"] == "show all products"
    assert row["statement"] == reply.statement.sql.sql
    assert row["row_count"] == 3
    assert row["status"] == "SUCCEEDED"
    assert row["event_time"] <= dt.datetime.now(dt.UTC)
