"""plan_check: the service's last check refuses exactly the plans a database would reject
(each case here is one the fuzz tests found coming out of the language side)."""

from __future__ import annotations

import datetime as dt

import pytest

from servers.parser.domain import (
    Aggregate,
    ColumnRef,
    Condition,
    Op,
    Ordering,
    QueryPlan,
    Selection,
    SetOperator,
)
from servers.parser.plan_check import MAX_LIMIT, bounded, problems
from tests.parser.fuzz_support import SHOP

NAME = ColumnRef("customers", "name")
AGE = ColumnRef("customers", "age")
JOINED = ColumnRef("customers", "joined_on")
PLACED = ColumnRef("orders", "placed_at")
IN_STOCK = ColumnRef("products", "in_stock")
PRICE = ColumnRef("products", "price")


def where(column: ColumnRef, op: Op, *values) -> QueryPlan:
    return QueryPlan(select=(Selection(NAME),), where=(Condition(column, op, values),), tables=("customers",))


@pytest.mark.parametrize(
    "plan",
    [
        QueryPlan(select=(Selection(NAME, Aggregate.AVG),)),
        QueryPlan(select=(Selection(JOINED, Aggregate.SUM),)),
        QueryPlan(select=(Selection(IN_STOCK, Aggregate.MAX),)),
        where(JOINED, Op.EQ, 3),
        where(JOINED, Op.LT, 100.5),
        where(PLACED, Op.IN, 1, 2),
        where(AGE, Op.EQ, "naïve"),
        where(JOINED, Op.EQ, "2025-13-45"),
        where(IN_STOCK, Op.EQ, 1),
        QueryPlan(select=(Selection(NAME),), where=(Condition(JOINED, Op.GT, subquery=QueryPlan(select=(Selection(JOINED, Aggregate.AVG),))),)),
        # DISTINCT with an ordering: the renderer orders by MAX(in_stock)
        QueryPlan(select=(Selection(ColumnRef("products", "name")),), order_by=(Ordering(IN_STOCK, descending=True),), distinct=True, limit=1),
        QueryPlan(
            select=(Selection(ColumnRef("orders", "order_id")),),
            tables=("orders",),
            set_operation=(SetOperator.INTERSECT, QueryPlan(tables=("orders",))),
        ),
    ],
    ids=lambda plan: "",
)
def test_a_plan_the_database_would_reject_is_refused(plan):
    assert problems(plan, SHOP)


@pytest.mark.parametrize(
    "plan",
    [
        QueryPlan(select=(Selection(PRICE, Aggregate.AVG), Selection(NAME, Aggregate.MAX), Selection(ColumnRef("customers", "*"), Aggregate.COUNT))),
        where(JOINED, Op.GE, dt.date(2024, 1, 1)),
        where(JOINED, Op.EQ, "2024-01-01"),
        where(PLACED, Op.LT, dt.datetime(2026, 1, 1, 12)),
        where(AGE, Op.BETWEEN, 10, "20"),
        where(JOINED, Op.LIKE, "2024"),
        where(NAME, Op.EQ, 7),
        where(IN_STOCK, Op.EQ, True),
        QueryPlan(
            select=(Selection(NAME),),
            set_operation=(SetOperator.UNION, QueryPlan(select=(Selection(ColumnRef("customers", "city")),))),
        ),
    ],
    ids=lambda plan: "",
)
def test_a_plan_the_database_takes_passes(plan):
    assert problems(plan, SHOP) == []


def test_a_limit_no_database_holds_means_every_row():
    plan = QueryPlan(select=(Selection(NAME),), limit=10**23)
    assert bounded(plan).limit is None
    assert bounded(QueryPlan(limit=MAX_LIMIT)).limit == MAX_LIMIT
    assert bounded(QueryPlan(limit=3)).limit == 3
