"""Ask end to end on PostgreSQL: the real gateway in front of the real parser and
connector, over the parser tests' shop database."""

from __future__ import annotations

import grpc
import pytest
from chatdb.connector.v1 import connection_pb2
from chatdb.gateway.v1 import chat_service_pb2 as pb
from chatdb.gateway.v1 import query_record_pb2 as qr

from tests.conftest import drop_pg_database
from tests.gateway.support import rows_of, running_gateway
from tests.parser.service_support import create_shop_pg, register

PG = connection_pb2.CONNECTION_KIND_POSTGRES


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
