"""The MongoDB driver on mongomock-motor, and the same tests against a real server when
CHATDB_TEST_MONGO_URL is set (e.g. mongodb://127.0.0.1:27017)."""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from bson import Decimal128, Int64, ObjectId
from mongomock_motor import AsyncMongoMockClient

from servers.connector.domain import (
    ConnectionConfig,
    ConnectionKind,
    DataType,
    Json,
    MongoAggregate,
    MongoFind,
    SqlQuery,
)
from servers.connector.drivers import open_driver
from servers.connector.drivers.mongo import MongoDriver
from servers.runtime.errors import (
    ChatDBError,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unavailable,
)

MONGO_URL = os.environ.get("CHATDB_TEST_MONGO_URL", "")
IST = timezone(timedelta(hours=5, minutes=30))
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
BIG_DECIMAL = Decimal("12345678901234567890.123456789")
OID = ObjectId("65f0a1b2c3d4e5f601234567")

TYPED_DOCS = [
    {
        "_id": OID,
        "small": 42,
        "big": Int64(INT64_MAX),
        "neg": Int64(INT64_MIN),
        "ratio": float("nan"),
        "pos_inf": float("inf"),
        "neg_inf": float("-inf"),
        "price": Decimal128(BIG_DECIMAL),
        "name": "héllo wörld 👍🏽🚀",
        "rtl": "مرحبا بالعالم",
        "empty": "",
        "nothing": None,
        "flag": True,
        "raw": b"\x00\x01\xff\x00",
        "at": datetime(2024, 3, 10, 12, 34, 56, 789000, tzinfo=IST),
        "address": {"city": "München", "geo": {"lat": 48.1, "lng": 11.6}},
        "tags": ["a", "ü", {"k": 1}],
    },
    {"_id": "plain-id", "small": 2.5, "name": None, "flag": False, "extra": "only here"},
]


def _mongo_url(run_id: str) -> str:
    """CHATDB_TEST_MONGO_URL with this session's database in place of any other."""
    base, _, options = MONGO_URL.partition("?")
    scheme, _, rest = base.partition("://")
    hosts = rest.split("/", 1)[0]
    url = f"{scheme}://{hosts}/chatdb_test_{run_id}_mongo"
    return f"{url}?{options}" if options else url


@pytest.fixture(params=["mongomock", "server"])
async def mongo(request, run_id):
    """(driver factory, database handle): mongomock-motor, or the real server."""
    if request.param == "mongomock":
        client = AsyncMongoMockClient(tz_aware=True)
        dsn = "mongodb://mongomock.invalid:27017/chatdb_test"

        def make(**options):
            return MongoDriver(
                ConnectionConfig(ConnectionKind.MONGODB, dsn, **options), client=client
            )

        yield make, client["chatdb_test"]
        return
    if not MONGO_URL:
        pytest.skip("CHATDB_TEST_MONGO_URL is not set")
    from motor.motor_asyncio import AsyncIOMotorClient

    dsn = _mongo_url(run_id)
    client = AsyncIOMotorClient(dsn, tz_aware=True)
    db = client.get_default_database()
    for name in await db.list_collection_names():
        await db.drop_collection(name)
    made = []

    def make(**options):
        driver = open_driver(ConnectionConfig(ConnectionKind.MONGODB, dsn, **options))
        made.append(driver)
        return driver

    yield make, db
    for driver in made:
        await driver.close()
    await client.drop_database(db.name)
    client.close()


@pytest.fixture
async def loaded(mongo):
    make, db = mongo
    await db.typed.insert_many([dict(d) for d in TYPED_DOCS])
    await db.numbers.insert_many(
        [{"_id": i, "n": i, "even": i % 2 == 0, "group": i % 7} for i in range(1, 10001)]
    )
    return make(), db


async def test_check_and_identity(loaded):
    driver, _ = loaded
    await driver.check()
    assert driver.kind is ConnectionKind.MONGODB and driver.dialect == "mongodb"


async def test_every_type_round_trips(loaded):
    driver, _ = loaded
    page = await driver.fetch_page(
        MongoFind("typed", {"_id": OID}), offset=0, limit=10, timeout_s=10
    )
    assert [c.name for c in page.columns] == list(TYPED_DOCS[0])  # _id first, then doc order
    (row,) = page.rows
    cells = dict(zip([c.name for c in page.columns], row, strict=True))
    assert cells["_id"] == str(OID)
    assert cells["small"] == 42 and type(cells["small"]) is int
    assert cells["big"] == INT64_MAX and cells["neg"] == INT64_MIN and type(cells["big"]) is int
    assert (
        math.isnan(cells["ratio"])
        and cells["pos_inf"] == math.inf
        and cells["neg_inf"] == -math.inf
    )
    assert cells["price"] == BIG_DECIMAL and isinstance(cells["price"], Decimal)
    assert cells["name"] == "héllo wörld 👍🏽🚀" and cells["rtl"] == "مرحبا بالعالم"
    assert cells["empty"] == "" and cells["nothing"] is None
    assert cells["flag"] is True
    assert cells["raw"] == b"\x00\x01\xff\x00" and type(cells["raw"]) is bytes
    # Milliseconds survive (BSON dates have no more); the instant is kept, in UTC.
    assert cells["at"] == datetime(2024, 3, 10, 7, 4, 56, 789000, tzinfo=UTC)
    assert cells["at"].utcoffset() == timedelta(0)
    assert isinstance(cells["address"], Json)
    assert json.loads(cells["address"].text) == {
        "city": "München",
        "geo": {"lat": 48.1, "lng": 11.6},
    }
    assert json.loads(cells["tags"].text) == ["a", "ü", {"k": 1}]

    types = {c.name: c.type for c in page.columns}
    assert types["_id"] is DataType.TEXT and types["big"] is DataType.INTEGER
    assert types["ratio"] is DataType.FLOAT and types["price"] is DataType.DECIMAL
    assert types["at"] is DataType.TIMESTAMP and types["address"] is DataType.JSON
    assert types["raw"] is DataType.BYTES and types["flag"] is DataType.BOOLEAN


async def test_documents_with_different_fields_share_columns(loaded):
    driver, _ = loaded
    page = await driver.fetch_page(
        MongoFind("typed", {}, projection={"small": 1, "extra": 1}, sort=(("flag", -1),)),
        offset=0,
        limit=10,
        timeout_s=5,
    )
    assert [c.name for c in page.columns] == ["_id", "small", "extra"]
    assert page.rows == [(str(OID), 42, None), ("plain-id", 2.5, "only here")]
    small = page.columns[1]
    assert small.type is DataType.FLOAT and small.native_type == "double|int"


async def test_find_with_filter_projection_sort_skip_limit(loaded):
    driver, _ = loaded
    query = MongoFind(
        "numbers",
        {"even": True, "n": {"$lte": 40}},
        projection={"_id": 0, "n": 1},
        sort=(("n", -1),),
        skip=2,
        limit=5,
    )
    page = await driver.fetch_page(query, offset=0, limit=10, timeout_s=5)
    assert [c.name for c in page.columns] == ["n"]
    assert page.rows == [(36,), (34,), (32,), (30,), (28,)] and not page.has_more
    # Paging within the query's own skip/limit.
    second = await driver.fetch_page(query, offset=3, limit=10, timeout_s=5)
    assert second.rows == [(30,), (28,)] and not second.has_more
    beyond = await driver.fetch_page(query, offset=5, limit=10, timeout_s=5)
    assert beyond.rows == [] and not beyond.has_more
    cut = await driver.fetch_page(query, offset=0, limit=3, timeout_s=5)
    assert cut.rows == [(36,), (34,), (32,)] and cut.has_more


async def test_aggregate(loaded):
    driver, _ = loaded
    pipeline = (
        {"$match": {"n": {"$lte": 70}}},
        {"$group": {"_id": "$group", "total": {"$sum": "$n"}, "count": {"$sum": 1}}},
        {"$sort": {"_id": 1}},
    )
    page = await driver.fetch_page(
        MongoAggregate("numbers", pipeline), offset=0, limit=3, timeout_s=5
    )
    assert [c.name for c in page.columns] == ["_id", "total", "count"]
    expected = [
        (g, sum(n for n in range(1, 71) if n % 7 == g), sum(1 for n in range(1, 71) if n % 7 == g))
        for g in range(7)
    ]
    assert page.rows == expected[:3] and page.has_more
    rest = await driver.fetch_page(
        MongoAggregate("numbers", pipeline), offset=3, limit=10, timeout_s=5
    )
    assert [r[0] for r in rest.rows] == [3, 4, 5, 6] and not rest.has_more


@pytest.mark.parametrize(
    "kind, page_size", [("find", 1000), ("find", 333), ("aggregate", 1000), ("aggregate", 333)]
)
async def test_paging_walks_10000_documents_without_gaps_or_repeats(loaded, kind, page_size):
    driver, _ = loaded
    query = (
        MongoFind("numbers", {}, sort=(("n", 1),))
        if kind == "find"
        else MongoAggregate("numbers", ({"$sort": {"n": 1}}, {"$project": {"n": 1}}))
    )
    seen, offset, pages = [], 0, 0
    while True:
        page = await driver.fetch_page(query, offset=offset, limit=page_size, timeout_s=10)
        pages += 1
        seen.extend(r[0] for r in page.rows)
        assert len(page.rows) == page_size or not page.has_more
        if not page.has_more:
            break
        offset += page_size
    assert seen == list(range(1, 10001))
    assert pages == math.ceil(10000 / page_size)


async def test_stream_yields_columns_then_batches_and_stops_at_max_rows(loaded):
    driver, _ = loaded
    query = MongoFind(
        "numbers", {"n": {"$lte": 25}}, projection={"_id": 0, "n": 1}, sort=(("n", 1),)
    )
    items = [i async for i in driver.stream(query, batch_size=10, timeout_s=5, max_rows=1000)]
    assert [c.name for c in items[0]] == ["n"]
    assert [len(b) for b in items[1:]] == [10, 10, 5]
    capped = [i async for i in driver.stream(query, batch_size=10, timeout_s=5, max_rows=12)]
    assert [r for b in capped[1:] for r in b] == [(i,) for i in range(1, 13)]
    agg = MongoAggregate("numbers", ({"$match": {"n": {"$gt": 9990}}}, {"$sort": {"n": 1}}))
    items = [i async for i in driver.stream(agg, batch_size=4, timeout_s=5, max_rows=100)]
    assert [r[0] for b in items[1:] for r in b] == list(range(9991, 10001))
    stream = driver.stream(MongoFind("numbers", {}), batch_size=100, timeout_s=5, max_rows=10**6)
    await anext(stream)
    assert len(await anext(stream)) == 100
    await stream.aclose()  # closes the server cursor


async def test_introspection_infers_fields_from_a_sample(loaded):
    driver, _ = loaded
    schema = await driver.introspect()
    assert schema.database.startswith("chatdb_test")
    assert {t.name for t in schema.tables} == {"typed", "numbers"}
    numbers = schema.table("numbers")
    assert numbers.kind == "collection" and numbers.row_estimate == 10000
    assert numbers.primary_key == ("_id",)
    assert [(c.name, c.type, c.nullable) for c in numbers.columns] == [
        ("_id", DataType.INTEGER, False),
        ("n", DataType.INTEGER, False),
        ("even", DataType.BOOLEAN, False),
        ("group", DataType.INTEGER, False),
    ]
    typed = schema.table("typed")
    cols = {c.name: c for c in typed.columns}
    assert cols["_id"].primary_key_ordinal == 1 and cols["_id"].native_type == "objectId|string"
    assert cols["address"].type is DataType.JSON
    assert cols["address.city"].type is DataType.TEXT  # nested fields as dotted names
    assert cols["address.geo.lat"].type is DataType.FLOAT
    assert cols["extra"].nullable and cols["name"].nullable  # missing / null in a document
    assert cols["at"].type is DataType.TIMESTAMP and cols["price"].type is DataType.DECIMAL
    first = schema.fingerprint()
    assert (await driver.introspect()).fingerprint() == first


async def test_write_stages_are_refused_on_a_read_only_connection(mongo, loaded):
    make, db = mongo
    driver, _ = loaded
    for stage in ({"$out": "stolen"}, {"$merge": {"into": "stolen"}}):
        with pytest.raises(PermissionDenied) as info:
            await driver.fetch_page(
                MongoAggregate("numbers", (stage,)), offset=0, limit=1, timeout_s=5
            )
        assert "read-only" in info.value.message
        with pytest.raises(PermissionDenied):
            [
                b
                async for b in driver.stream(
                    MongoAggregate("numbers", (stage,)), batch_size=1, timeout_s=5, max_rows=1
                )
            ]
    assert "stolen" not in await db.list_collection_names()


async def test_bad_queries_are_invalid_argument(loaded):
    driver, _ = loaded
    with pytest.raises(InvalidArgument) as info:
        await driver.fetch_page(
            MongoFind("numbers", {"$frobnicate": 1}), offset=0, limit=1, timeout_s=5
        )
    assert info.value.violations[0].field == "statement.filter"
    with pytest.raises(InvalidArgument) as info:
        await driver.fetch_page(
            MongoAggregate("numbers", ({"$match": {}, "$sort": {"n": 1}},)),
            offset=0,
            limit=1,
            timeout_s=5,
        )
    assert info.value.violations[0].field == "statement.pipeline"
    with pytest.raises(InvalidArgument):
        await driver.fetch_page(SqlQuery("SELECT 1"), offset=0, limit=1, timeout_s=5)


def test_dsn_must_name_a_mongodb_database():
    for dsn in ("mongodb://localhost:27017", "mongodb://localhost:27017/", "postgresql://h/db"):
        with pytest.raises(InvalidArgument) as info:
            open_driver(ConnectionConfig(ConnectionKind.MONGODB, dsn))
        assert info.value.violations[0].field == "connection.dsn"


async def test_unreachable_server_check_and_queries():
    # Real motor, nobody listening: no server needed for this one.
    driver = open_driver(
        ConnectionConfig(ConnectionKind.MONGODB, "mongodb://127.0.0.1:1/x", connect_timeout_s=0.5)
    )
    try:
        with pytest.raises(FailedPrecondition) as info:
            await driver.check()
        assert info.value.message.startswith("cannot connect: ") and "refused" in info.value.message
        with pytest.raises(Unavailable) as info:
            await driver.fetch_page(MongoFind("c", {}), offset=0, limit=1, timeout_s=3)
        assert "Topology Description" not in info.value.message
        with pytest.raises(ChatDBError):
            await driver.introspect()
    finally:
        await driver.close()
