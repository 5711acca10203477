"""The result cache: the same question (as people vary it: case, spaces, punctuation)
is answered from Redis; a glossary change or a schema change is a new key, so the next
question goes to the database again; use_cache=false goes past the cache."""

from __future__ import annotations

import asyncpg
import pytest
from chatdb.connector.v1 import connection_pb2, glossary_pb2
from chatdb.connector.v1 import connector_service_pb2 as cpb
from chatdb.gateway.v1 import query_record_pb2 as qr

from tests.conftest import drop_pg_database
from tests.gateway.support import rows_of, running_gateway
from tests.parser.service_support import create_shop_pg, register

QUESTION = "show the names of customers from new york"


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    database = f"chatdb_test_{run_id}_gw_cache"
    dsn = await create_shop_pg(database)
    try:
        async with running_gateway(settings) as m:
            await register(m.connector, "gw-cache", connection_pb2.CONNECTION_KIND_POSTGRES, dsn)
            m.dsn = dsn
            yield m
    finally:
        await drop_pg_database(database)


async def test_the_same_question_again_comes_from_the_cache(mesh):
    first = await mesh.ask(QUESTION, "gw-cache")
    again = await mesh.ask("  Show the names of Customers from New York? ", "gw-cache")
    assert not first.cached and first.source == qr.ANSWER_SOURCE_DATABASE
    assert again.cached and again.source == qr.ANSWER_SOURCE_CACHE
    assert rows_of(again) == rows_of(first)
    assert again.statement == first.statement
    assert again.query_id != first.query_id
    assert any(first.query_id in note for note in again.notes)


async def test_use_cache_false_goes_to_the_database(mesh):
    await mesh.ask(QUESTION, "gw-cache")
    fresh = await mesh.ask(QUESTION, "gw-cache", use_cache=False)
    assert not fresh.cached and fresh.source == qr.ANSWER_SOURCE_DATABASE


async def test_another_page_size_is_another_entry(mesh):
    await mesh.ask("show all orders", "gw-cache", page_size=2)
    other = await mesh.ask("show all orders", "gw-cache", page_size=3)
    assert not other.cached and len(other.rows) == 3
    again = await mesh.ask("show all orders", "gw-cache", page_size=3)
    assert again.cached and again.next_page_token
    rest = await mesh.ask("show all orders", "gw-cache", page_size=3, page_token=again.next_page_token)
    assert sorted(r[0] for r in rows_of(again) + rows_of(rest)) == [1, 2, 3, 4, 5]


async def test_a_glossary_change_invalidates(mesh):
    await mesh.ask(QUESTION, "gw-cache")
    assert (await mesh.ask(QUESTION, "gw-cache")).cached
    await mesh.connector.stub.SetGlossary(cpb.SetGlossaryRequest(
        connection_id="gw-cache",
        glossary=glossary_pb2.Glossary(synonyms=[glossary_pb2.Synonym(term="clients", target="customers")]),
    ))
    after = await mesh.ask(QUESTION, "gw-cache")
    assert not after.cached
    assert (await mesh.ask(QUESTION, "gw-cache")).cached


async def test_a_schema_change_invalidates(mesh):
    await mesh.ask(QUESTION, "gw-cache")
    assert (await mesh.ask(QUESTION, "gw-cache")).cached
    conn = await asyncpg.connect(mesh.dsn)
    try:
        await conn.execute("ALTER TABLE customers ADD COLUMN nickname VARCHAR(20)")
    finally:
        await conn.close()
    # The connector notices on its next introspection (its cache TTL, or a refresh).
    await mesh.connector.stub.GetSchema(cpb.GetSchemaRequest(connection_id="gw-cache", refresh=True))
    after = await mesh.ask(QUESTION, "gw-cache")
    assert not after.cached
    assert (await mesh.ask(QUESTION, "gw-cache")).cached
