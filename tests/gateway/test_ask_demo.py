"""Ask end to end on the demo data set in PostgreSQL, MariaDB and MongoDB (mongomock):
the answers are checked against the generated data itself, since a statement that looks
right but answers wrong is what users notice."""

from __future__ import annotations

from collections import Counter

import pytest
from chatdb.gateway.v1 import query_record_pb2 as qr

from tests.gateway.support import rows_of

CONNECTIONS = ["demo-pg", "demo-my", "demo-mongo"]


def column(data, table: str, name: str) -> list:
    t = data[table]
    i = t.columns.index(name)
    return [row[i] for row in t.rows]


@pytest.mark.parametrize("connection", CONNECTIONS)
async def test_how_many_customers(demo_mesh, demo_data, connection):
    reply = await demo_mesh.ask("how many customers are there", connection)
    assert rows_of(reply) == [(len(demo_data["customers"].rows),)]
    assert reply.source == qr.ANSWER_SOURCE_DATABASE
    assert reply.answer == "1 row"
    assert reply.statement.WhichOneof("form") == ("sql" if connection != "demo-mongo" else "mongo_aggregate")


@pytest.mark.parametrize("connection", CONNECTIONS)
async def test_customers_of_one_city(demo_mesh, demo_data, connection):
    cities = Counter(column(demo_data, "customers", "city"))
    city = cities.most_common(1)[0][0]
    reply = await demo_mesh.ask(f"show the names of customers from {city}", connection)
    names = [n for n, c in zip(column(demo_data, "customers", "name"), column(demo_data, "customers", "city"),
                               strict=True) if c == city]
    got = [r[[c.name for c in reply.columns].index("name")] for r in rows_of(reply)]
    assert sorted(got) == sorted(names)


@pytest.mark.parametrize("connection", CONNECTIONS)
async def test_orders_per_status(demo_mesh, demo_data, connection):
    reply = await demo_mesh.ask("how many orders are there for each status", connection)
    expected = Counter(column(demo_data, "orders", "status"))
    got = {}
    for row in rows_of(reply):
        status = next(v for v in row if isinstance(v, str))
        got[status] = next(v for v in row if isinstance(v, int) and not isinstance(v, bool))
    assert got == dict(expected)
