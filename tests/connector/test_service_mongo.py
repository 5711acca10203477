"""MongoDB through the real ConnectorService: the core's driver opener serves MONGODB
connections from one in-process mongomock-motor client (the drivers' tests cover a real
server when CHATDB_TEST_MONGO_URL is set). Find with filter/projection/sort/paging,
aggregate, streaming, schema inference, and the read-only refusals."""

from __future__ import annotations

import grpc
import pytest
from chatdb.connector.v1 import statement_pb2
from mongomock_motor import AsyncMongoMockClient

from deploy.demo.data import DemoSpec, load_mongo
from tests.mongo_support import mongomock_opener

from .service_support import MONGO, create, expect_error, pb, running_connector

pytestmark = pytest.mark.timeout(120)
DATABASE = "chatdb_demo"


@pytest.fixture(scope="module")
async def mongo_connector(settings):
    client = AsyncMongoMockClient(tz_aware=True)
    await load_mongo(client[DATABASE], DemoSpec(database=DATABASE, scale=0.05))

    opener = mongomock_opener(client)

    async with running_connector(settings, opener=opener) as c:
        await create(c.stub, "mongo-demo", kind=MONGO, dsn=f"mongodb://127.0.0.1:27017/{DATABASE}")
        yield c


def find(**kw) -> statement_pb2.Statement:
    return statement_pb2.Statement(mongo_find=statement_pb2.MongoFind(**kw))


def aggregate(collection: str, pipeline: str) -> statement_pb2.Statement:
    return statement_pb2.Statement(mongo_aggregate=statement_pb2.MongoAggregate(collection=collection, pipeline=pipeline))


async def test_find_pages_through_a_collection(mongo_connector):
    stub = mongo_connector.stub
    statement = find(collection="customers", filter='{"customer_id": {"$gt": 0}}', projection='{"_id": 0, "customer_id": 1, "name": 1}',
                     sort='{"customer_id": 1}')
    ids, token = [], ""
    while True:
        page = await stub.ExecuteQuery(pb.ExecuteQueryRequest(
            connection_id="mongo-demo", statement=statement, page_size=7, page_token=token))
        names = [c.name for c in page.columns]
        assert "customer_id" in names and "name" in names
        at = names.index("customer_id")
        ids += [r.cells[at].int64_value for r in page.rows]
        token = page.next_page_token
        if not token:
            break
    assert ids == sorted(ids) and len(ids) == len(set(ids)) and len(ids) >= 20


async def test_aggregate_and_stream(mongo_connector):
    stub = mongo_connector.stub
    pipeline = '[{"$group": {"_id": "$region", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]'
    page = await stub.ExecuteQuery(pb.ExecuteQueryRequest(connection_id="mongo-demo",
                                                          statement=aggregate("sales", pipeline)))
    assert page.rows_returned == 5  # North, South, East, West, Central
    messages = [m async for m in stub.StreamQuery(pb.StreamQueryRequest(
        connection_id="mongo-demo", statement=find(collection="orders", sort='{"order_id": 1}'), batch_size=100))]
    assert messages[0].WhichOneof("payload") == "header"
    rows = sum(len(m.batch.rows) for m in messages if m.WhichOneof("payload") == "batch")
    assert messages[-1].summary.rows_returned == rows > 100


async def test_schema_is_inferred(mongo_connector):
    schema = (await mongo_connector.stub.GetSchema(pb.GetSchemaRequest(connection_id="mongo-demo"))).schema
    customers = next(t for t in schema.tables if t.name == "customers")
    assert customers.kind == 3  # TABLE_KIND_COLLECTION
    assert list(customers.primary_key) == ["_id"]
    assert {"name", "email", "city"} <= {c.name for c in customers.columns}


async def test_read_only_refusals_and_bad_json(mongo_connector):
    stub = mongo_connector.stub
    for statement in (
        aggregate("orders", '[{"$match": {}}, {"$out": "stolen"}]'),
        aggregate("orders", '[{"$merge": {"into": "x"}}]'),
        find(collection="orders", filter='{"$where": "sleep(1000)"}'),
    ):
        err = await expect_error(stub.ExecuteQuery(pb.ExecuteQueryRequest(connection_id="mongo-demo", statement=statement)),
                                 grpc.StatusCode.PERMISSION_DENIED)
        assert err.reason == "STATEMENT_NOT_READ_ONLY"
    err = await expect_error(stub.ExecuteQuery(pb.ExecuteQueryRequest(
        connection_id="mongo-demo", statement=find(collection="orders", filter='{"a": '))), grpc.StatusCode.INVALID_ARGUMENT)
    assert err.violations[0].field == "statement.mongo_find.filter"
    err = await expect_error(stub.ExecuteQuery(pb.ExecuteQueryRequest(
        connection_id="mongo-demo", statement=statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql="SELECT 1")))),
        grpc.StatusCode.INVALID_ARGUMENT)
    assert err.violations[0].field == "statement"
