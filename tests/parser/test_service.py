"""QueryParserService end to end: the real parser in front of the real connector, over a
small shop database of our own on PostgreSQL and MariaDB. Statements are run through the
connector and their rows checked, since a statement that looks right but answers wrong
is the failure users notice. The prediction service is not running here: the parser
answers on its rule path and says so (the model path is tested in test_intent.py)."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from chatdb.connector.v1 import connection_pb2, connector_service_pb2, statement_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq
from chatdb.parser.v1 import query_parser_service_pb2 as pb
from google.protobuf import timestamp_pb2

from servers.contracts.cells import cell_to_value
from servers.runtime.status import details_from_rpc_error
from tests.connector.service_support import free_port
from tests.parser.service_support import (
    parser_over_shop,
)

PG = connection_pb2.CONNECTION_KIND_POSTGRES
MY = connection_pb2.CONNECTION_KIND_MYSQL


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    # nothing listens on the prediction port: the intent model is "down"
    async with parser_over_shop(settings, f"chatdb_test_{run_id}_parser_shop", pg="shop-pg", my="shop-my") as m:
        yield m


async def parse(mesh, question: str, connection: str = "shop-pg", **fields) -> pq.ParsedQuery:
    reply = await mesh.parser.ParseQuery(pb.ParseQueryRequest(question=question, connection_id=connection, **fields))
    return reply.parsed_query


async def rows(mesh, parsed: pq.ParsedQuery, connection: str = "shop-pg") -> list[tuple]:
    reply = await mesh.connector.stub.ExecuteQuery(
        connector_service_pb2.ExecuteQueryRequest(connection_id=connection, statement=parsed.statement)
    )
    return [tuple(cell_to_value(c) for c in r.cells) for r in reply.rows]


def at(year: int, month: int, day: int) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(dt.datetime(year, month, day, 12, tzinfo=dt.UTC))
    return ts


@pytest.mark.parametrize("connection", ["shop-pg", "shop-my"])
async def test_a_count_question_runs_and_answers(mesh, connection):
    parsed = await parse(mesh, "How many customers are there?", connection)
    assert parsed.intent == pq.INTENT_COUNT
    assert parsed.tables[0] == "customers"
    assert parsed.statement.sql.dialect == (
        statement_pb2.SQL_DIALECT_POSTGRES if connection == "shop-pg" else statement_pb2.SQL_DIALECT_MYSQL
    )
    assert await rows(mesh, parsed, connection) == [(4,)]
    assert parsed.explanation and "SELECT" not in parsed.explanation
    assert parsed.parse_duration.ToTimedelta() > dt.timedelta(0)


async def test_a_value_in_the_question_finds_its_column(mesh):
    parsed = await parse(mesh, "show the names of customers from new york")
    assert sorted(await rows(mesh, parsed)) == [("Ada Obi",), ("Cy Diaz",)]
    assert any(f.column.endswith("city") for f in parsed.filters)


async def test_a_relative_date_uses_the_clock_the_request_fixes(mesh):
    parsed = await parse(mesh, "how many orders were placed last month", reference_time=at(2026, 12, 3))
    assert await rows(mesh, parsed) == [(2,)]  # 2026-11-03 and 2026-11-20
    assert parsed.time_range.expression == "last month"
    assert parsed.time_range.start_time.ToDatetime() == dt.datetime(2026, 11, 1)


async def test_a_question_needing_a_join_follows_the_foreign_key(mesh):
    parsed = await parse(mesh, "how many orders did each customer place")
    assert {"customers", "orders"} <= set(parsed.tables)
    # each row names the customer (by name or id) and ends with the count
    counts = {value: row[-1] for row in await rows(mesh, parsed) for value in row[:-1]}
    assert counts.get("Ada Obi", counts.get(1)) == 3


async def test_the_rule_path_answers_while_the_intent_model_is_down_and_says_so(mesh):
    parsed = await parse(mesh, "how many products are there")
    assert await rows(mesh, parsed) == [(3,)]
    assert parsed.used_fallback
    assert parsed.intent_source == "rules"
    assert any("rules" in note for note in parsed.notes)


async def test_a_training_request_is_routed_not_run(mesh):
    parsed = await parse(mesh, "train a model to predict city from customers")
    assert parsed.intent == pq.INTENT_TRAIN
    assert parsed.target == "city"
    assert not parsed.HasField("statement")


@pytest.mark.parametrize(
    "question",
    [
        "customers; drop table orders",
        "show customers named 'x'; DELETE FROM orders; --",
        "customers where name = ''' or 1=1 --",
        "list customers /* */ union select * from pg_authid",
    ],
)
async def test_an_injected_question_never_writes(mesh, question):
    try:
        parsed = await parse(mesh, question)
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    else:
        if parsed.HasField("statement"):  # else it was answered without one (a schema description)
            sql = parsed.statement.sql.sql.lower()
            assert sql.startswith("select") and ";" not in sql.rstrip(";")
            assert "pg_authid" not in sql
            await rows(mesh, parsed)  # runs read-only
    check = await mesh.connector.stub.ExecuteQuery(
        connector_service_pb2.ExecuteQueryRequest(
            connection_id="shop-pg",
            statement=statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql="SELECT count(*) FROM orders")),
        )
    )
    assert cell_to_value(check.rows[0].cells[0]) == 5


async def test_a_column_that_does_not_exist_is_never_in_the_statement(mesh):
    try:
        parsed = await parse(mesh, "what is the salary of each customer")
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    else:
        assert "salary" not in parsed.statement.sql.sql.lower()


async def test_a_question_that_maps_to_nothing_is_invalid_with_suggestions(mesh):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await parse(mesh, "xylophone quantum zebra")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = details_from_rpc_error(caught.value)
    assert details.reason == "QUESTION_NOT_UNDERSTOOD"
    assert [v.field for v in details.violations] == ["question"]


async def test_bad_requests_get_clear_statuses(mesh):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await parse(mesh, "   ")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in details_from_rpc_error(caught.value).violations] == ["question"]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await parse(mesh, "x" * 2001)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await parse(mesh, "how many customers", connection="no-such-connection")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await mesh.parser.ParseQuery(pb.ParseQueryRequest(question="how many customers"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_schema_given_inline_needs_no_connection(mesh):
    schema = (await mesh.connector.stub.GetSchema(connector_service_pb2.GetSchemaRequest(connection_id="shop-pg"))).schema
    reply = await mesh.parser.ParseQuery(
        pb.ParseQueryRequest(question="how many products", schema=schema, dialect=statement_pb2.SQL_DIALECT_MYSQL)
    )
    assert reply.parsed_query.statement.sql.dialect == statement_pb2.SQL_DIALECT_MYSQL
    assert "`" in reply.parsed_query.statement.sql.sql or "products" in reply.parsed_query.statement.sql.sql


async def test_an_unreachable_connector_is_unavailable_not_a_crash(settings, start_server, channel_to):
    import contextlib

    from chatdb.parser.v1 import query_parser_service_pb2_grpc

    from servers.parser.app import open_parser
    from servers.parser.service import parser_binding

    lonely = settings.model_copy(update={"connector_port": free_port(), "prediction_port": free_port()})
    async with contextlib.AsyncExitStack() as stack:
        server = await start_server([parser_binding(await open_parser(lonely, stack))], settings=lonely)
        stub = query_parser_service_pb2_grpc.QueryParserServiceStub(channel_to(server.address))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ParseQuery(pb.ParseQueryRequest(question="how many customers", connection_id="shop"), timeout=20)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_questions_about_the_schema_are_described_not_run(mesh):
    parsed = await parse(mesh, "what tables are there?")
    assert parsed.intent == pq.INTENT_DESCRIBE and not parsed.HasField("statement")
    assert set(parsed.tables) == {"customers", "products", "orders", "order_items"}
    assert "4 tables" in parsed.explanation
    parsed = await parse(mesh, "which columns does the orders table have")
    assert parsed.intent == pq.INTENT_DESCRIBE
    assert list(parsed.tables) == ["orders"]
    assert list(parsed.columns) == ["id", "customer_id", "ordered_at", "status", "total"]
    assert "customer_id (integer, → customers)" in parsed.explanation


async def test_a_long_question_that_maps_to_nothing_gets_a_short_message(mesh):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await parse(mesh, "zq " * 600)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(caught.value.details()) < 700
