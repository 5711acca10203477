"""Plans rendered as MongoDB finds and pipelines, run on mongomock-motor: the documents
a person would expect, values that stay values, and a clear refusal for what one
collection query cannot do."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bson import json_util
from mongomock_motor import AsyncMongoMockClient

from servers.parser.domain import (
    Aggregate,
    ColumnRef,
    Condition,
    Expression,
    Op,
    Ordering,
    QueryPlan,
    SchemaFlavour,
    SchemaView,
    Selection,
    SetOperator,
    TimeWindow,
    Unresolved,
)
from servers.parser.render.mongo import MongoStatement, render_mongo
from tests.parser.render_support import SHOP, ref

SCHEMA = SchemaView(tables=SHOP.tables, flavour=SchemaFlavour.MONGODB)
STAR = ColumnRef("customers", "*")

CUSTOMERS = [
    {
        "id": 1,
        "name": "Ann",
        "city": "New York",
        "Tier": "gold",
        "joined_on": dt.datetime(2023, 3, 1),
    },
    {
        "id": 2,
        "name": "Bob",
        "city": "Boston",
        "Tier": "silver",
        "joined_on": dt.datetime(2023, 7, 15),
    },
    {
        "id": 3,
        "name": "O'Brien",
        "city": "New York",
        "Tier": None,
        "joined_on": dt.datetime(2024, 1, 2),
    },
    {
        "id": 4,
        "name": "Dee",
        "city": "Chicago",
        "Tier": "gold",
        "joined_on": dt.datetime(2024, 2, 20),
    },
]
ORDERS = [
    {"id": 1, "customer_id": 1, "status": "shipped", "ordered_at": dt.datetime(2024, 1, 5, 10)},
    {"id": 2, "customer_id": 1, "status": "pending", "ordered_at": dt.datetime(2024, 2, 10, 9)},
    {"id": 3, "customer_id": 2, "status": "shipped", "ordered_at": dt.datetime(2024, 1, 20, 12)},
    {"id": 4, "customer_id": 3, "status": "cancelled", "ordered_at": dt.datetime(2023, 12, 31, 23)},
    {
        "id": 5,
        "customer_id": 1,
        "status": "shipped",
        "ordered_at": dt.datetime(2024, 1, 31, 23, 59),
    },
]
PRODUCTS = [
    {"id": 1, "name": "Widget", "price": 10.0, "group": "tools"},
    {"id": 2, "name": "Gadget", "price": 25.5, "group": "tools"},
    {"id": 3, "name": "50% Off (Sign)", "price": 5.0, "group": "signs"},
    {"id": 4, "name": "Gizmo.X", "price": 40.0, "group": "toys"},
]


@pytest.fixture(scope="module")
async def db() -> AsyncIterator[Any]:
    database = AsyncMongoMockClient()["render_test"]
    await database.customers.insert_many([dict(d) for d in CUSTOMERS])
    await database.orders.insert_many([dict(d) for d in ORDERS])
    await database.products.insert_many([dict(d) for d in PRODUCTS])
    yield database


async def run(db: Any, statement: MongoStatement) -> list[dict]:
    """Execute as the connector does: Extended JSON documents, find or aggregate."""
    collection = db[statement.collection]
    if statement.aggregate:
        pipeline = json_util.loads(statement.pipeline)
        return [d async for d in collection.aggregate(pipeline)]
    kwargs: dict[str, Any] = {
        "filter": json_util.loads(statement.filter) if statement.filter else {}
    }
    if statement.projection:
        kwargs["projection"] = json_util.loads(statement.projection)
    if statement.sort:
        kwargs["sort"] = list(json_util.loads(statement.sort).items())
    if statement.limit:
        kwargs["limit"] = statement.limit
    return [d async for d in collection.find(**kwargs)]


def names(docs: list[dict]) -> list[str]:
    return [d["name"] for d in docs]


def select(*columns: str, **kwargs) -> QueryPlan:
    return QueryPlan(select=tuple(Selection(column=ref(c)) for c in columns), **kwargs)


def cond(column: str, op: Op, *values) -> Condition:
    return Condition(ref(column), op, tuple(values))


async def test_find_with_filter_projection_sort_limit(db) -> None:
    plan = select(
        "customers.name",
        where=(cond("customers.city", Op.EQ, "New York"),),
        order_by=(Ordering(ref("customers.name"), descending=True),),
        limit=1,
    )
    statement = render_mongo(plan, SCHEMA)
    assert not statement.aggregate and statement.collection == "customers"
    assert json_util.loads(statement.projection) == {"name": 1, "_id": 0}
    assert await run(db, statement) == [{"name": "O'Brien"}]


async def test_every_filter_operator(db) -> None:
    async def products(*conditions: Condition, any_: bool = False) -> list[str]:
        plan = select(
            "products.name",
            where=conditions,
            where_any=any_,
            order_by=(Ordering(ref("products.id")),),
        )
        return names(await run(db, render_mongo(plan, SCHEMA)))

    assert await products(cond("products.price", Op.GT, "20")) == ["Gadget", "Gizmo.X"]
    assert await products(cond("products.price", Op.LE, 10)) == ["Widget", "50% Off (Sign)"]
    assert await products(cond("products.group", Op.NE, "tools")) == ["50% Off (Sign)", "Gizmo.X"]
    assert await products(cond("products.price", Op.BETWEEN, 10, 30)) == ["Widget", "Gadget"]
    assert await products(cond("products.group", Op.IN, "toys", "signs")) == [
        "50% Off (Sign)",
        "Gizmo.X",
    ]
    assert await products(cond("products.group", Op.NOT_IN, "tools")) == [
        "50% Off (Sign)",
        "Gizmo.X",
    ]
    assert await products(cond("products.name", Op.LIKE, "GAD")) == ["Gadget"]
    assert await products(cond("products.name", Op.LIKE, "% off (")) == ["50% Off (Sign)"]
    assert await products(cond("products.name", Op.LIKE, ".")) == ["Gizmo.X"]
    assert await products(
        cond("products.price", Op.GT, 30), cond("products.price", Op.LT, 6), any_=True
    ) == [
        "50% Off (Sign)",
        "Gizmo.X",
    ]
    assert await products(cond("products.price", Op.GT, 6), cond("products.price", Op.LT, 30)) == [
        "Widget",
        "Gadget",
    ]


async def test_negations_never_match_a_missing_value_as_in_sql(db) -> None:
    for op, value in ((Op.NE, "gold"), (Op.NOT_IN, "gold"), (Op.NOT_LIKE, "old")):
        plan = select("customers.name", where=(cond("customers.Tier", op, value),))
        assert names(await run(db, render_mongo(plan, SCHEMA))) == ["Bob"]


async def test_like_on_a_number_searches_its_text(db) -> None:
    plan = select("products.name", where=(cond("products.price", Op.LIKE, "25.5"),))
    assert names(await run(db, render_mongo(plan, SCHEMA))) == ["Gadget"]
    plan = select("products.name", where=(cond("products.id", Op.NOT_LIKE, "2"),))
    assert names(await run(db, render_mongo(plan, SCHEMA))) == [
        "Widget",
        "50% Off (Sign)",
        "Gizmo.X",
    ]


async def test_not_like_and_nulls(db) -> None:
    plan = select("products.name", where=(cond("products.name", Op.NOT_LIKE, "i"),))
    assert names(await run(db, render_mongo(plan, SCHEMA))) == ["Gadget"]
    no_tier = select("customers.name", where=(cond("customers.Tier", Op.IS_NULL),))
    assert names(await run(db, render_mongo(no_tier, SCHEMA))) == ["O'Brien"]
    tier = select("customers.name", where=(cond("customers.Tier", Op.IS_NOT_NULL),))
    assert len(await run(db, render_mongo(tier, SCHEMA))) == 3


async def test_time_window_and_dates(db) -> None:
    january = TimeWindow(
        ref("orders.ordered_at"), dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1), "in January"
    )
    plan = QueryPlan(
        select=(Selection(ref("orders.id")),),
        time_window=january,
        order_by=(Ordering(ref("orders.id")),),
    )
    assert [d["id"] for d in await run(db, render_mongo(plan, SCHEMA))] == [1, 3, 5]
    recent = select(
        "customers.name", where=(cond("customers.joined_on", Op.GE, dt.date(2024, 1, 1)),)
    )
    assert sorted(names(await run(db, render_mongo(recent, SCHEMA)))) == ["Dee", "O'Brien"]


async def test_count_star_and_count_distinct(db) -> None:
    plan = QueryPlan(
        select=(
            Selection(STAR, Aggregate.COUNT),
            Selection(ref("customers.city"), Aggregate.COUNT, distinct=True),
            Selection(ref("customers.Tier"), Aggregate.COUNT),
        )
    )
    statement = render_mongo(plan, SCHEMA)
    assert statement.aggregate
    assert await run(db, statement) == [{"count": 4, "count_city": 3, "count_Tier": 3}]


async def test_group_by_with_aggregates_having_sort_limit(db) -> None:
    plan = QueryPlan(
        select=(Selection(ref("products.group")), Selection(ref("products.price"), Aggregate.AVG)),
        having=(Condition(ColumnRef("products", "*"), Op.GE, (1,), aggregate=Aggregate.COUNT),),
        order_by=(Ordering(ref("products.price"), descending=True, aggregate=Aggregate.AVG),),
        limit=2,
    )
    statement = render_mongo(plan, SCHEMA)
    stages = [next(iter(s)) for s in json_util.loads(statement.pipeline)]
    assert stages == ["$group", "$match", "$sort", "$limit", "$project"]
    assert await run(db, statement) == [
        {"group": "toys", "avg_price": 40.0},
        {"group": "tools", "avg_price": 17.75},
    ]


async def test_most_frequent_and_having_on_count(db) -> None:
    busiest = QueryPlan(
        select=(Selection(ref("customers.city")),),
        order_by=(Ordering(None, descending=True, aggregate=Aggregate.COUNT),),
        limit=1,
    )
    assert await run(db, render_mongo(busiest, SCHEMA)) == [{"city": "New York"}]
    repeat = QueryPlan(
        select=(
            Selection(ref("orders.customer_id")),
            Selection(ColumnRef("orders", "*"), Aggregate.COUNT),
        ),
        where=(cond("orders.status", Op.NE, "cancelled"),),
        having=(Condition(ColumnRef("orders", "*"), Op.GT, (1,), aggregate=Aggregate.COUNT),),
    )
    assert await run(db, render_mongo(repeat, SCHEMA)) == [{"customer_id": 1, "count": 3}]


async def test_distinct(db) -> None:
    plan = select("customers.city", distinct=True, order_by=(Ordering(ref("customers.city")),))
    assert await run(db, render_mongo(plan, SCHEMA)) == [
        {"city": "Boston"},
        {"city": "Chicago"},
        {"city": "New York"},
    ]


@pytest.mark.parametrize(
    "value", ["$where", "x'; db.dropDatabase(); '", '{"$gt": ""}', ".*", "a|b"]
)
async def test_hostile_values_stay_values(db, value: str) -> None:
    for op in (Op.EQ, Op.LIKE, Op.IN):
        plan = select("customers.name", where=(cond("customers.name", op, value),))
        assert await run(db, render_mongo(plan, SCHEMA)) == []
    assert await db.customers.count_documents({}) == 4


def test_what_one_collection_cannot_do_is_unresolved() -> None:
    join = select("customers.name", "orders.status")
    with pytest.raises(Unresolved, match="customers and orders together"):
        render_mongo(join, SCHEMA)
    union = select("customers.name", set_operation=(SetOperator.UNION, select("customers.name")))
    with pytest.raises(Unresolved, match="cannot combine two queries"):
        render_mongo(union, SCHEMA)
    sub = select(
        "customers.name",
        where=(Condition(ref("customers.id"), Op.IN, subquery=select("customers.id")),),
    )
    with pytest.raises(Unresolved, match="subqueries"):
        render_mongo(sub, SCHEMA)
    computed = Expression("upper(customers.name) = 'ANN'", ("customers",))
    with pytest.raises(Unresolved, match="MongoDB cannot run"):
        render_mongo(
            select("customers.name", where=(Condition(None, Op.EQ, expression=computed),)), SCHEMA
        )


async def test_glossary_segment_and_metric(db) -> None:
    gold = Expression(
        "customers.Tier = 'gold' AND NOT customers.city IN ('Boston')", ("customers",)
    )
    plan = select("customers.name", where=(Condition(None, Op.EQ, expression=gold),))
    assert sorted(names(await run(db, render_mongo(plan, SCHEMA)))) == ["Ann", "Dee"]
    not_gold = select("customers.name", where=(Condition(None, Op.NE, expression=gold),))
    assert names(await run(db, render_mongo(not_gold, SCHEMA))) == [
        "Bob"
    ]  # as SQL: NULL Tier is neither

    stock = Expression("sum(products.price * 2)", ("products",), aggregated=True)
    by_group = QueryPlan(
        select=(Selection(ref("products.group")), Selection(expression=stock, alias="stock_value")),
        having=(Condition(None, Op.GT, (20,), expression=stock),),
        order_by=(Ordering(None, descending=True, expression=stock),),
    )
    assert await run(db, render_mongo(by_group, SCHEMA)) == [
        {"group": "toys", "stock_value": 80.0},
        {"group": "tools", "stock_value": 71.0},
    ]


async def test_grouped_order_by_a_field_that_is_not_a_key(db) -> None:
    plan = QueryPlan(
        select=(Selection(ref("customers.city")), Selection(STAR, Aggregate.COUNT)),
        order_by=(Ordering(ref("customers.joined_on")),),
    )
    assert await run(db, render_mongo(plan, SCHEMA)) == [
        {"city": "New York", "count": 2},
        {"city": "Boston", "count": 1},
        {"city": "Chicago", "count": 1},
    ]
    distinct = select(
        "customers.city", distinct=True, order_by=(Ordering(ref("customers.joined_on"), True),)
    )
    assert await run(db, render_mongo(distinct, SCHEMA)) == [
        {"city": "Chicago"},
        {"city": "New York"},
        {"city": "Boston"},
    ]
