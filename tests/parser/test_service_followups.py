"""Follow-ups through the real QueryParserService in front of the real connector, on the
shop database in PostgreSQL and MariaDB: the previous parse goes back as `context`, the
response says it read a follow-up and carries the thread, and the statement answers
with the right rows when run. The prediction service is not running: the intent comes
from the rules, as in test_service.py."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from chatdb.connector.v1 import connector_service_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq
from chatdb.parser.v1 import query_parser_service_pb2 as pb
from google.protobuf import timestamp_pb2

from servers.contracts.cells import cell_to_value
from servers.runtime.status import details_from_rpc_error
from tests.parser.service_support import (
    parser_over_shop,
)

CONNECTIONS = ["fu-pg", "fu-my"]


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    async with parser_over_shop(settings, f"chatdb_test_{run_id}_parser_followups", pg="fu-pg", my="fu-my") as m:
        yield m


def at(year: int, month: int, day: int) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(dt.datetime(year, month, day, 12, tzinfo=dt.UTC))
    return ts


async def parse(mesh, question: str, connection: str, context: pq.ParsedQuery | None = None, **fields) -> pq.ParsedQuery:
    request = pb.ParseQueryRequest(question=question, connection_id=connection, **fields)
    if context is not None:
        request.context.CopyFrom(context)
    return (await mesh.parser.ParseQuery(request)).parsed_query


async def rows(mesh, parsed: pq.ParsedQuery, connection: str) -> list[tuple]:
    reply = await mesh.connector.stub.ExecuteQuery(
        connector_service_pb2.ExecuteQueryRequest(connection_id=connection, statement=parsed.statement)
    )
    return [tuple(cell_to_value(c) for c in r.cells) for r in reply.rows]


@pytest.mark.parametrize("connection", CONNECTIONS)
async def test_what_about_another_city_replaces_the_filter(mesh, connection):
    first = await parse(mesh, "show customers from New York", connection)
    assert not first.follow_up and list(first.conversation) == ["show customers from New York"]
    assert sorted(await rows(mesh, first, connection)) == [("Ada Obi",), ("Cy Diaz",)]

    second = await parse(mesh, "what about Lagos?", connection, context=first)
    assert second.follow_up
    assert list(second.conversation) == ["show customers from New York", "what about Lagos?"]
    assert await rows(mesh, second, connection) == [("Bo Chen",)]
    assert [(f.column, f.values[0].text_value) for f in second.filters] == [("city", "Lagos")]
    assert second.explanation.startswith(
        "Changed the previous question (\"show customers from New York\"):"
        " replaced filter city = 'New York' with city = 'Lagos'."
    )


@pytest.mark.parametrize("connection", CONNECTIONS)
async def test_a_thread_narrows_then_counts(mesh, connection):
    first = await parse(mesh, "list the orders", connection)
    second = await parse(mesh, "only those in 2026", connection, context=first)
    assert second.follow_up and second.time_range.expression == "in 2026"
    assert sorted(r[0] for r in await rows(mesh, second, connection)) == [1, 2, 3, 5]
    third = await parse(mesh, "how many are there?", connection, context=second)
    assert third.intent == pq.INTENT_COUNT
    assert await rows(mesh, third, connection) == [(4,)]
    assert list(third.conversation) == ["list the orders", "only those in 2026", "how many are there?"]


@pytest.mark.parametrize("connection", CONNECTIONS)
async def test_now_by_status_groups_a_count(mesh, connection):
    first = await parse(mesh, "how many orders are there", connection)
    second = await parse(mesh, "now by status", connection, context=first)
    assert second.intent == pq.INTENT_AGGREGATE and list(second.group_by) == ["status"]
    assert dict(await rows(mesh, second, connection)) == {"shipped": 3, "cancelled": 1, "pending": 1}


@pytest.mark.parametrize("connection", CONNECTIONS)
async def test_ordering_and_a_limit(mesh, connection):
    first = await parse(mesh, "list products", connection)
    second = await parse(mesh, "most expensive first", connection, context=first)
    assert [r[0] for r in await rows(mesh, second, connection)] == ["Desk", "Chair", "Lamp"]
    assert second.order_by[0].direction == pq.SORT_DIRECTION_DESCENDING
    third = await parse(mesh, "only the first 2", connection, context=second)
    assert third.limit == 2
    assert [r[0] for r in await rows(mesh, third, connection)] == ["Desk", "Chair"]


async def test_relative_dates_in_the_thread_use_this_requests_clock(mesh):
    first = await parse(mesh, "list the orders", "fu-pg")
    second = await parse(mesh, "only those placed last month", "fu-pg", context=first, reference_time=at(2026, 12, 3))
    assert sorted(r[0] for r in await rows(mesh, second, "fu-pg")) == [1, 2]  # November 2026
    # the same thread asked a month later: "last month" is December
    third = await parse(mesh, "sort them by id", "fu-pg", context=second, reference_time=at(2027, 1, 10))
    assert [r[0] for r in await rows(mesh, third, "fu-pg")] == [5]


async def test_a_question_of_its_own_starts_a_new_thread(mesh):
    first = await parse(mesh, "show customers from New York", "fu-pg")
    other = await parse(mesh, "how many products are there?", "fu-pg", context=first)
    assert not other.follow_up
    assert list(other.conversation) == ["how many products are there?"]
    assert await rows(mesh, other, "fu-pg") == [(3,)]


async def test_a_follow_up_without_context_is_invalid_argument(mesh):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await parse(mesh, "what about Lagos?", "fu-pg")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = details_from_rpc_error(caught.value)
    assert details.reason == "QUESTION_NOT_UNDERSTOOD"
    assert [v.field for v in details.violations] == ["question"]
    assert "no previous question" in caught.value.details()


async def test_a_follow_up_that_cannot_be_applied_is_invalid_argument(mesh):
    first = await parse(mesh, "show customers from New York", "fu-pg")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await parse(mesh, "what about Paris?", "fu-pg", context=first)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details_from_rpc_error(caught.value).reason == "QUESTION_NOT_UNDERSTOOD"
    assert '"Paris"' in caught.value.details()


@pytest.mark.parametrize("question", ["what failed today?", "which jobs failed?", "what broke today?"])
async def test_what_failed_today_is_a_question_about_the_system(mesh, question):
    parsed = await parse(mesh, question, "fu-pg")
    assert parsed.intent == pq.INTENT_SYSTEM_STATUS
    assert not parsed.HasField("statement")
