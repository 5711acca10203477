"""Questions on a MongoDB connection become a find or an aggregation pipeline, run by the
real connector. The connector serves MONGODB connections from an in-process
mongomock-motor client, as its own MongoDB tests do."""

from __future__ import annotations

import datetime as dt

import pytest
from chatdb.connector.v1 import connection_pb2, connector_service_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq
from chatdb.parser.v1 import query_parser_service_pb2 as pb
from mongomock_motor import AsyncMongoMockClient

from servers.contracts.cells import cell_to_value
from tests.connector.service_support import free_port
from tests.mongo_support import mongomock_opener
from tests.parser.service_support import register, running_parser

DATABASE = "shop"


@pytest.fixture(scope="module")
async def mesh(settings):
    client = AsyncMongoMockClient(tz_aware=True)
    db = client[DATABASE]
    await db.customers.insert_many([
        {"customer_id": 1, "name": "Ada Obi", "city": "New York", "age": 34},
        {"customer_id": 2, "name": "Bo Chen", "city": "Lagos", "age": 28},
        {"customer_id": 3, "name": "Cy Diaz", "city": "New York", "age": 45},
        {"customer_id": 4, "name": "Di Eze", "city": "Berlin", "age": 22},
    ])
    await db.orders.insert_many([
        {"order_id": 1, "status": "shipped", "total": 145.5, "ordered_at": dt.datetime(2026, 11, 3, tzinfo=dt.UTC)},
        {"order_id": 2, "status": "cancelled", "total": 60.0, "ordered_at": dt.datetime(2026, 11, 20, tzinfo=dt.UTC)},
        {"order_id": 3, "status": "shipped", "total": 120.0, "ordered_at": dt.datetime(2026, 10, 1, tzinfo=dt.UTC)},
    ])

    opener = mongomock_opener(client)

    async with running_parser(settings, opener=opener, prediction_port=free_port()) as m:
        await register(m.connector, "shop-mongo", connection_pb2.CONNECTION_KIND_MONGODB, f"mongodb://127.0.0.1:27017/{DATABASE}")
        yield m


async def answer(mesh, question: str) -> tuple[pq.ParsedQuery, list[tuple]]:
    parsed = (await mesh.parser.ParseQuery(pb.ParseQueryRequest(question=question, connection_id="shop-mongo"))).parsed_query
    reply = await mesh.connector.stub.ExecuteQuery(
        connector_service_pb2.ExecuteQueryRequest(connection_id="shop-mongo", statement=parsed.statement)
    )
    columns = [c.name for c in reply.columns]
    return parsed, [dict(zip(columns, (cell_to_value(c) for c in r.cells), strict=True)) for r in reply.rows]


async def test_a_filter_on_a_value_becomes_a_find(mesh):
    parsed, rows = await answer(mesh, "show the names of customers from new york")
    assert parsed.statement.WhichOneof("form") == "mongo_find"
    assert sorted(r["name"] for r in rows) == ["Ada Obi", "Cy Diaz"]


async def test_a_count_becomes_an_aggregation(mesh):
    parsed, rows = await answer(mesh, "how many customers are older than 30")
    assert parsed.statement.WhichOneof("form") == "mongo_aggregate"
    assert [list(r.values())[-1] for r in rows] == [2]


async def test_an_average_per_group(mesh):
    parsed, rows = await answer(mesh, "average total of orders for each status")
    by_status = {
        next(v for v in r.values() if isinstance(v, str)): next(v for v in r.values() if isinstance(v, float))
        for r in rows
    }
    assert by_status == {"shipped": pytest.approx(132.75), "cancelled": pytest.approx(60.0)}


async def test_follow_ups_on_mongodb(mesh):
    first = (await mesh.parser.ParseQuery(
        pb.ParseQueryRequest(question="show the names of customers from new york", connection_id="shop-mongo"))).parsed_query
    request = pb.ParseQueryRequest(question="what about Lagos?", connection_id="shop-mongo")
    request.context.CopyFrom(first)
    second = (await mesh.parser.ParseQuery(request)).parsed_query
    assert second.follow_up and list(second.conversation) == ["show the names of customers from new york", "what about Lagos?"]
    reply = await mesh.connector.stub.ExecuteQuery(
        connector_service_pb2.ExecuteQueryRequest(connection_id="shop-mongo", statement=second.statement)
    )
    assert [cell_to_value(r.cells[0]) for r in reply.rows] == ["Bo Chen"]
    request = pb.ParseQueryRequest(question="now by city", connection_id="shop-mongo")
    request.context.CopyFrom(first)
    third = (await mesh.parser.ParseQuery(request)).parsed_query
    assert third.statement.WhichOneof("form") == "mongo_aggregate" and list(third.group_by) == ["city"]
