"""ConnectorService SetGlossary / GetGlossary through a real server and stub, on a small
shop database of our own in the machine's PostgreSQL (and the demo data set in
mongomock for MongoDB): round trip, empty for a new connection, NOT_FOUND, validation
errors that name the entry, versions, and the glossary going with its connection."""

from __future__ import annotations

import uuid

import asyncpg
import grpc
import pytest
from chatdb.connector.v1 import glossary_pb2
from mongomock_motor import AsyncMongoMockClient

from deploy.demo.data import DemoSpec, load_mongo
from tests.conftest import create_pg_database, drop_pg_database
from tests.mongo_support import mongomock_opener

from .service_support import MONGO, PG, create, expect_error, pb, running_connector

pytestmark = pytest.mark.timeout(120)

SHOP = """
CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, status text NOT NULL,
                        vip boolean NOT NULL DEFAULT false);
CREATE TABLE orders (id integer PRIMARY KEY, customer_ref integer NOT NULL, status text NOT NULL,
                     total numeric(10,2) NOT NULL, ordered_at timestamp NOT NULL);
CREATE TABLE order_items (order_id integer NOT NULL, price numeric(10,2) NOT NULL, quantity integer NOT NULL);
"""
MONGO_DATABASE = "chatdb_demo"


@pytest.fixture(scope="module")
async def shop(run_id):
    name = f"chatdb_test_{run_id}_glossary"
    await drop_pg_database(name)
    dsn = await create_pg_database(name)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SHOP)
    finally:
        await conn.close()
    yield dsn
    await drop_pg_database(name)


@pytest.fixture(scope="module")
async def connector(settings):
    client = AsyncMongoMockClient(tz_aware=True)
    await load_mongo(client[MONGO_DATABASE], DemoSpec(database=MONGO_DATABASE, scale=0.02))

    opener = mongomock_opener(client)

    async with running_connector(settings, opener=opener) as c:
        yield c


@pytest.fixture
async def shop_id(connector, shop):
    cid = f"shop-{uuid.uuid4().hex[:8]}"
    await create(connector.stub, cid, kind=PG, dsn=shop)
    yield cid
    await connector.stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=cid, allow_missing=True))


def glossary(**sections) -> glossary_pb2.Glossary:
    return glossary_pb2.Glossary(
        metrics=[glossary_pb2.Metric(**m) for m in sections.get("metrics", [])],
        segments=[glossary_pb2.Segment(**s) for s in sections.get("segments", [])],
        synonyms=[glossary_pb2.Synonym(term=t, target=v) for t, v in sections.get("synonyms", {}).items()],
        relationships=[glossary_pb2.Relationship(**r) for r in sections.get("relationships", [])],
    )


REVENUE = {"name": "revenue", "table": "order_items", "expression": "sum(price * quantity)",
           "filters": ["orders.status <> 'cancelled'"], "time_column": "orders.ordered_at",
           "description": "Money from orders that were not cancelled", "synonyms": ["sales", "turnover"]}
ACTIVE = {"name": "active customer", "table": "customers", "condition": "status = 'active' and not vip"}


async def set_glossary(stub, cid: str, g: glossary_pb2.Glossary, **kw) -> glossary_pb2.Glossary:
    return (await stub.SetGlossary(pb.SetGlossaryRequest(connection_id=cid, glossary=g, **kw))).glossary


async def get_glossary(stub, cid: str) -> glossary_pb2.Glossary:
    return (await stub.GetGlossary(pb.GetGlossaryRequest(connection_id=cid))).glossary


async def violations(stub, cid: str, g: glossary_pb2.Glossary) -> dict[str, str]:
    err = await expect_error(stub.SetGlossary(pb.SetGlossaryRequest(connection_id=cid, glossary=g)),
                             grpc.StatusCode.INVALID_ARGUMENT)
    return {v.field: v.description for v in err.violations}


async def test_a_new_connection_has_an_empty_glossary(connector, shop_id):
    got = await get_glossary(connector.stub, shop_id)
    assert got == glossary_pb2.Glossary()  # empty, no version, no update time


async def test_set_then_get_returns_it_qualified(connector, shop_id):
    stub = connector.stub
    g = glossary(metrics=[REVENUE], segments=[ACTIVE], synonyms={"client": "customers", "cost": "ORDERS.total"},
                 relationships=[{"from_table": "orders", "from_columns": ["customer_ref"], "to_table": "customers",
                                 "to_columns": ["id"], "name": "customer of order"}])
    stored = await set_glossary(stub, shop_id, g)
    assert stored.version and stored.update_time.seconds > 0
    metric = stored.metrics[0]
    assert metric.expression == "SUM(order_items.price * order_items.quantity)"
    assert list(metric.filters) == ["orders.status <> 'cancelled'"]
    assert metric.time_column == "orders.ordered_at" and list(metric.synonyms) == ["sales", "turnover"]
    assert stored.segments[0].condition == "customers.status = 'active' AND NOT customers.vip"
    assert {s.term: s.target for s in stored.synonyms} == {"client": "customers", "cost": "orders.total"}
    assert stored.relationships[0].to_table == "customers" and list(stored.relationships[0].to_columns) == ["id"]
    assert await get_glossary(stub, shop_id) == stored


async def test_version_follows_the_content(connector, shop_id):
    stub = connector.stub
    first = await set_glossary(stub, shop_id, glossary(metrics=[REVENUE]))
    again = await set_glossary(stub, shop_id, glossary(metrics=[REVENUE]))
    assert again.version == first.version
    changed = await set_glossary(stub, shop_id, glossary(metrics=[REVENUE], segments=[ACTIVE]))
    assert changed.version != first.version
    cleared = await set_glossary(stub, shop_id, glossary_pb2.Glossary())
    assert cleared.version == "" and await get_glossary(stub, shop_id) == glossary_pb2.Glossary()


async def test_validate_only_stores_nothing(connector, shop_id):
    stub = connector.stub
    checked = await set_glossary(stub, shop_id, glossary(metrics=[REVENUE]), validate_only=True)
    assert checked.version and checked.metrics[0].expression.startswith("SUM(order_items.")
    assert await get_glossary(stub, shop_id) == glossary_pb2.Glossary()


async def test_unknown_connection_is_not_found(connector):
    stub = connector.stub
    err = await expect_error(stub.GetGlossary(pb.GetGlossaryRequest(connection_id="no-such-connection")),
                             grpc.StatusCode.NOT_FOUND)
    assert err.reason == "CONNECTION_NOT_FOUND"
    await expect_error(stub.SetGlossary(pb.SetGlossaryRequest(connection_id="no-such-connection",
                                                              glossary=glossary(metrics=[REVENUE]))),
                       grpc.StatusCode.NOT_FOUND)


async def test_unknown_table_and_column_name_the_entry(connector, shop_id):
    found = await violations(connector.stub, shop_id, glossary(
        metrics=[REVENUE, {"name": "spend", "table": "orders", "expression": "sum(amount)"}],
        segments=[{"name": "big", "table": "ordres", "condition": "total > 100"}],
        synonyms={"client": "customer", "wage": "customers.nmae"},
        relationships=[{"from_table": "orders", "from_columns": ["customer_id"], "to_table": "customers",
                        "to_columns": ["id"]}],
    ))
    assert found == {
        "glossary.metrics[1].expression": "column orders.amount does not exist; closest: orders.total",
        "glossary.segments[0].table": "table ordres does not exist; closest: orders",
        "glossary.synonyms[0].target": "table customer does not exist; closest: customers",
        "glossary.synonyms[1].target": "column customers.nmae does not exist; closest: customers.name",
        "glossary.relationships[0].from_columns[0]":
            "column orders.customer_id does not exist; closest: orders.customer_ref",
    }
    assert await get_glossary(connector.stub, shop_id) == glossary_pb2.Glossary()  # nothing stored


async def test_a_metric_must_aggregate_and_a_segment_must_be_a_condition(connector, shop_id):
    found = await violations(connector.stub, shop_id, glossary(
        metrics=[{"name": "doubled", "table": "orders", "expression": "total * 2"},
                 {"name": "mixed", "table": "orders", "expression": "sum(total) + id"},
                 {"name": "ranked", "table": "orders", "expression": "sum(total) over ()"},
                 {"name": "dated", "table": "orders", "expression": "count(*)", "time_column": "status"}],
        segments=[{"name": "named", "table": "customers", "condition": "name"},
                  {"name": "many", "table": "customers", "condition": "count(*) > 1"}],
    ))
    assert "is not an aggregate" in found["glossary.metrics[0].expression"]
    assert "column id is outside an aggregate" in found["glossary.metrics[1].expression"]
    assert "window" in found["glossary.metrics[2].expression"]
    assert found["glossary.metrics[3].time_column"] == "column orders.status is text, not a date or timestamp"
    assert "not a boolean condition" in found["glossary.segments[0].condition"]
    assert "must not aggregate" in found["glossary.segments[1].condition"]


@pytest.mark.parametrize(("condition", "refused"), [
    ("id = 1; DROP TABLE orders", "not several statements"),
    ("id IN (WITH d AS (DELETE FROM orders RETURNING customer_ref) SELECT customer_ref FROM d)", "WITH"),
    ("id IN (SELECT customer_ref FROM orders FOR UPDATE)", "locking clause"),
    ("pg_sleep(10) IS NOT NULL", "function pg_sleep"),
    ("lo_unlink(id) = 1", "function lo_unlink"),
    ("name IN (SELECT passwd FROM pg_shadow)", "table pg_shadow does not exist"),
    ("(SELECT count(*) FROM orders) > 0 OR set_config('role', 'postgres', false) = ''", "set_config"),
    ("id = $1", "parameter"),
    ("id = %s", "parameter placeholder"),
])
async def test_writes_and_unsafe_functions_are_refused(connector, shop_id, condition, refused):
    found = await violations(connector.stub, shop_id, glossary(
        segments=[{"name": "risky", "table": "customers", "condition": condition}]))
    assert refused in found["glossary.segments[0].condition"]


async def test_subqueries_resolve_their_own_tables(connector, shop_id):
    stored = await set_glossary(connector.stub, shop_id, glossary(segments=[
        {"name": "buyer", "table": "customers",
         "condition": "exists (select 1 from orders o where o.customer_ref = customers.id and total > 10)"}]))
    assert stored.segments[0].condition == (
        "EXISTS(SELECT 1 FROM orders AS o WHERE o.customer_ref = customers.id AND o.total > 10)")


async def test_names_are_unique_across_terms(connector, shop_id):
    found = await violations(connector.stub, shop_id, glossary(
        metrics=[REVENUE, {**REVENUE, "name": "Revenue", "synonyms": []}],
        segments=[{**ACTIVE, "synonyms": ["sales"]}],
        synonyms={"client": "customers", "CLIENT": "customers"},
    ))
    assert set(found) == {"glossary.metrics[1].name", "glossary.segments[0].synonyms[0]", "glossary.synonyms[1].term"}
    assert "already used by glossary.metrics[0].synonyms[0]" in found["glossary.segments[0].synonyms[0]"]


async def test_a_column_added_after_the_schema_was_cached_is_found(connector, shop, shop_id):
    stub = connector.stub
    await stub.GetSchema(pb.GetSchemaRequest(connection_id=shop_id))  # cached now, without `region`
    conn = await asyncpg.connect(shop)
    try:
        await conn.execute("ALTER TABLE customers ADD COLUMN IF NOT EXISTS region text")
    finally:
        await conn.close()
    stored = await set_glossary(stub, shop_id, glossary(synonyms={"area": "customers.region"}))
    assert stored.synonyms[0].target == "customers.region"


async def test_deleting_the_connection_deletes_its_glossary(connector, shop, shop_id):
    stub = connector.stub
    await set_glossary(stub, shop_id, glossary(metrics=[REVENUE]))
    await stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=shop_id))
    await expect_error(stub.GetGlossary(pb.GetGlossaryRequest(connection_id=shop_id)), grpc.StatusCode.NOT_FOUND)
    await create(stub, shop_id, kind=PG, dsn=shop)  # the same id again starts without one
    assert await get_glossary(stub, shop_id) == glossary_pb2.Glossary()


async def test_mongodb_takes_comparisons_and_simple_aggregates(connector):
    stub = connector.stub
    cid = f"mongo-{uuid.uuid4().hex[:8]}"
    await create(stub, cid, kind=MONGO, dsn=f"mongodb://127.0.0.1:27017/{MONGO_DATABASE}")
    try:
        stored = await set_glossary(stub, cid, glossary(
            metrics=[{"name": "revenue", "table": "orders", "expression": "sum(total)",
                      "filters": ["status <> 'cancelled'"], "time_column": "order_date"}],
            segments=[{"name": "big spender", "table": "orders",
                       "condition": "total >= 500 and not (status = 'returned' or status = 'cancelled')"}],
            synonyms={"client": "customers"},
            relationships=[{"from_table": "sales", "from_columns": ["product_id"], "to_table": "products",
                            "to_columns": ["product_id"]}],
        ))
        assert stored.metrics[0].expression == "SUM(orders.total)"
        assert stored.metrics[0].time_column == "orders.order_date"
        found = await violations(stub, cid, glossary(
            metrics=[{"name": "doubled", "table": "orders", "expression": "sum(total * 2)"}],
            segments=[{"name": "upper", "table": "customers", "condition": "upper(name) = 'X'"}],
        ))
        assert set(found) == {"glossary.metrics[0].expression", "glossary.segments[0].condition"}
        assert "not supported on MongoDB" in found["glossary.segments[0].condition"]
    finally:
        await stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=cid))


async def test_a_refused_filter_is_named_not_its_metric(connector, shop_id):
    found = await violations(connector.stub, shop_id, glossary(metrics=[
        {**REVENUE, "filters": ["orders.status <> 'cancelled'", "pg_sleep(1) IS NULL"]}]))
    assert list(found) == ["glossary.metrics[0].filters[1]"]
    assert "function pg_sleep" in found["glossary.metrics[0].filters[1]"]
