"""REST/JSON through the edge (mTLS, transcoding, ext_authz) reaching the real services."""

from __future__ import annotations

import asyncpg
import pytest


@pytest.fixture(scope="module")
async def customers_db(pg_database):
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS customers (id int primary key, name text, city text)")
        await conn.execute("INSERT INTO customers VALUES (1, 'Ada', 'New York'), (2, 'Bo', 'Lagos'), (3, 'Cy', 'New York') ON CONFLICT DO NOTHING")
    finally:
        await conn.close()
    return pg_database


@pytest.fixture(scope="module")
def connection(edge, customers_db) -> str:
    rest = edge.rest()
    reply = rest.call("POST", "/v1/connections", {"connectionId": "edge-pg", "connection": {"kind": "CONNECTION_KIND_POSTGRES", "dsn": customers_db}})
    assert reply.status in (200, 409), reply.body
    return "edge-pg"


def test_create_get_and_list_connections(edge, connection):
    rest = edge.rest()
    got = rest.call("GET", f"/v1/connections/{connection}")
    assert got.status == 200, got.body
    assert got.json()["connection"]["connectionId"] == connection
    listed = rest.call("GET", "/v1/connections")
    assert connection in {c["connectionId"] for c in listed.json()["connections"]}


def test_execute(edge, connection):
    reply = edge.rest().call("POST", f"/v1/connections/{connection}:execute",
                             {"statement": {"sql": {"sql": "SELECT name FROM customers ORDER BY id"}}})
    assert reply.status == 200, reply.body
    assert "Ada" in reply.body.decode()


def test_status(edge):
    reply = edge.rest().call("GET", "/v1/status")
    assert reply.status == 200, reply.body
    assert reply.json()["status"]["level"] in range(5)


def test_parse_and_ask(edge, connection):
    rest = edge.rest()
    parsed = rest.call("POST", "/v1/parse", {"question": "how many customers are there", "connectionId": connection})
    assert parsed.status == 200, parsed.body
    assert "count" in parsed.body.decode().lower()
    asked = rest.call("POST", "/v1/ask", {"question": "how many customers are there", "connectionId": connection})
    assert asked.status == 200, asked.body
    assert "3" in asked.body.decode()


def test_missing_connection_is_404_json(edge):
    reply = edge.rest().call("GET", "/v1/connections/no-such-connection")
    assert reply.status == 404, reply.body
    assert reply.json()["code"] == 5


def test_unknown_path_is_404(edge):
    assert edge.rest().call("GET", "/v1/nothing-here").status == 404
