"""Ask end to end on PostgreSQL: the real gateway in front of the real parser and
connector, over the parser tests' shop database."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from chatdb.connector.v1 import connection_pb2
from chatdb.gateway.v1 import chat_service_pb2 as pb
from chatdb.gateway.v1 import query_record_pb2 as qr
from google.protobuf import timestamp_pb2

from servers.runtime.status import details_from_rpc_error
from tests.conftest import drop_pg_database
from tests.gateway.support import rows_of, running_gateway
from tests.parser.service_support import create_shop_pg, register

PG = connection_pb2.CONNECTION_KIND_POSTGRES


def field_of(error) -> list[str]:
    return [v.field for v in details_from_rpc_error(error).violations]


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    database = f"chatdb_test_{run_id}_gw_pg"
    dsn = await create_shop_pg(database)
    try:
        async with running_gateway(settings) as m:
            await register(m.connector, "gw-pg", PG, dsn)
            yield m
    finally:
        await drop_pg_database(database)


async def test_a_question_comes_back_with_its_rows_statement_and_timings(mesh):
    reply = await mesh.ask("show the names of customers from new york", "gw-pg")
    assert sorted(r[0] for r in rows_of(reply)) == ["Ada Obi", "Cy Diaz"]
    assert reply.statement.sql.sql.upper().startswith("SELECT")
    assert reply.parsed_query.intent
    assert reply.query_id and reply.conversation_id and reply.trace_id
    assert reply.answer == "2 rows"
    assert reply.source == qr.ANSWER_SOURCE_DATABASE
    assert reply.explanation
    assert reply.timings.total.ToNanoseconds() >= reply.timings.parse.ToNanoseconds() > 0
    assert reply.timings.execute.ToNanoseconds() > 0
    assert [c.name for c in reply.columns]


async def test_an_empty_question_is_invalid(mesh):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.stub.Ask(pb.AskRequest(question="  ", connection_id="gw-pg"))
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_pages_follow_each_other_to_the_end(mesh):
    first = await mesh.ask("show all orders", "gw-pg", page_size=2)
    assert len(first.rows) == 2 and first.next_page_token
    assert "more on the next page" in first.answer
    seen = rows_of(first)
    token = first.next_page_token
    while token:
        page = await mesh.ask("show all orders", "gw-pg", page_size=2, page_token=token)
        assert page.query_id == first.query_id  # a page belongs to the question that produced it
        seen += rows_of(page)
        token = page.next_page_token
    assert sorted(r[0] for r in seen) == [1, 2, 3, 4, 5]


async def test_max_rows_cuts_the_result_and_says_so(mesh):
    reply = await mesh.ask("show all orders", "gw-pg", max_rows=3, page_size=10)
    assert len(reply.rows) == 3
    assert reply.truncated
    assert not reply.next_page_token


async def test_a_page_token_of_another_question_is_refused(mesh):
    first = await mesh.ask("show all orders", "gw-pg", page_size=2)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.ask("show all customers", "gw-pg", page_size=2, page_token=first.next_page_token)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field_of(err.value) == ["page_token"]


async def test_a_too_long_question_is_invalid(mesh):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.ask("show customers " + "x" * 2000, "gw-pg")
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field_of(err.value) == ["question"]


async def test_a_connection_must_be_named_when_several_exist(mesh, pg_database):
    from tests.gateway.conftest import register as ensure

    await ensure(mesh.connector, "gw-pg-other", PG, pg_database)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.ask("how many customers are there")
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field_of(err.value) == ["connection_id"]


async def test_an_unknown_conversation_is_not_found(mesh):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.ask("how many customers are there", "gw-pg", conversation_id="no-such-conversation")
    assert err.value.code() is grpc.StatusCode.NOT_FOUND


async def test_a_conversation_continues_and_the_parser_gets_the_previous_question(mesh, monkeypatch):
    first = await mesh.ask("show the names of customers from new york", "gw-pg")
    seen = []
    parse = mesh.core.parser.parse

    async def spy(question, connection_id, *, reference_time, context):
        seen.append(context)
        return await parse(question, connection_id, reference_time=reference_time, context=context)

    monkeypatch.setattr(mesh.core.parser, "parse", spy)
    second = await mesh.ask("how many customers are there", "gw-pg", conversation_id=first.conversation_id)
    assert second.conversation_id == first.conversation_id
    assert seen[0].statement == first.parsed_query.statement
    assert rows_of(second) == [(4,)]


async def test_the_reference_time_reaches_the_parser(mesh):
    at = timestamp_pb2.Timestamp()
    at.FromDatetime(dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    reply = await mesh.ask("show orders from last month", "gw-pg", reference_time=at)
    assert sorted(r[0] for r in rows_of(reply)) == [1, 2]  # November 2026
