"""Explanations: one short sentence of plain English per plan, naming what is read,
filtered, grouped, ordered and limited — and never SQL."""

from __future__ import annotations

import datetime as dt

import pytest

from servers.parser.domain import (
    Aggregate,
    ColumnRef,
    Condition,
    Expression,
    Op,
    Ordering,
    QueryPlan,
    Selection,
    SetOperator,
    TimeWindow,
)
from servers.parser.render.explain import explain
from tests.parser.render_support import SCHOOL, SHOP, ref

ORDERS = ColumnRef("orders", "*")
LAST_MONTH = TimeWindow(
    ref("orders.ordered_at"), dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1), "last month"
)


def test_count_with_filter_window_grouping_order_and_limit() -> None:
    plan = QueryPlan(
        select=(Selection(ORDERS, Aggregate.COUNT),),
        where=(Condition(ref("orders.status"), Op.EQ, ("shipped",)),),
        time_window=LAST_MONTH,
        group_by=(ref("customers.city"),),
        order_by=(Ordering(None, descending=True, aggregate=Aggregate.COUNT),),
        limit=5,
    )
    assert explain(plan, SHOP) == (
        "Counts the rows of orders and customers where status is 'shipped' and ordered_at is in "
        "last month, grouped by city, largest first, first 5."
    )


def test_every_column_newest_first() -> None:
    plan = QueryPlan(
        tables=("customers",), order_by=(Ordering(ref("customers.joined_on"), True),), limit=1
    )
    assert (
        explain(plan, SHOP)
        == "Lists every column of customers, by joined_on, newest first, only the first."
    )


def test_link_table_is_named() -> None:
    plan = QueryPlan(
        select=(Selection(ref("students.name")),),
        where=(Condition(ref("courses.title"), Op.EQ, ("Math",)),),
    )
    assert explain(plan, SCHOOL) == (
        "Lists name of students and courses (linked through enrollments) where title is 'Math'."
    )


def test_subqueries_read_as_words() -> None:
    average = QueryPlan(select=(Selection(ref("products.price"), Aggregate.AVG),))
    above = QueryPlan(
        select=(Selection(ref("products.name")),),
        where=(Condition(ref("products.price"), Op.GT, subquery=average),),
    )
    assert (
        explain(above, SHOP)
        == "Lists name of products where price is more than the average price of products."
    )
    buyers = QueryPlan(select=(Selection(ref("orders.customer_id")),))
    never = QueryPlan(
        select=(Selection(ref("customers.name")),),
        where=(Condition(ref("customers.id"), Op.NOT_IN, subquery=buyers),),
    )
    assert (
        explain(never, SHOP)
        == "Lists name of customers where id is not among the customer_id of orders."
    )


def test_aggregates_having_and_shared_column_names() -> None:
    plan = QueryPlan(
        select=(
            Selection(ref("customers.name")),
            Selection(ref("orders.id"), Aggregate.COUNT, distinct=True),
        ),
        having=(Condition(ORDERS, Op.GT, (1,), aggregate=Aggregate.COUNT),),
    )
    assert explain(plan, SHOP) == (
        "Lists name and the number of distinct orders.id of customers and orders, grouped by name, "
        "keeping groups where the number of rows is more than 1."
    )


def test_or_like_between_null_and_set_operation() -> None:
    plan = QueryPlan(
        select=(Selection(ref("customers.name")),),
        where=(
            Condition(ref("customers.name"), Op.LIKE, ("an",)),
            Condition(
                ref("customers.joined_on"), Op.BETWEEN, (dt.date(2023, 1, 1), dt.date(2023, 12, 31))
            ),
        ),
        where_any=True,
        set_operation=(
            SetOperator.EXCEPT,
            QueryPlan(
                select=(Selection(ref("customers.name")),),
                where=(Condition(ref("customers.Tier"), Op.IS_NULL),),
            ),
        ),
    )
    assert explain(plan, SHOP) == (
        "Lists name of customers where name contains 'an' or joined_on is between 2023-01-01 and 2023-12-31; "
        "leaving out those in: lists name of customers where Tier is empty."
    )


def test_glossary_segment_uses_the_question_words() -> None:
    gold = Expression("customers.Tier = 'gold'", ("customers",))
    plan = QueryPlan(
        select=(Selection(ref("customers.name")),),
        where=(Condition(None, Op.EQ, expression=gold, source="gold customers"),),
    )
    assert explain(plan, SHOP) == "Lists name of customers where it matches 'gold customers'."


@pytest.mark.parametrize(
    "plan",
    [
        QueryPlan(select=(Selection(ref("customers.city"), Aggregate.COUNT, distinct=True),)),
        QueryPlan(
            select=(
                Selection(ref("products.price"), Aggregate.AVG),
                Selection(ref("products.price"), Aggregate.MAX),
            )
        ),
        QueryPlan(
            select=(
                Selection(
                    expression=Expression("sum(products.price)", ("products",), True),
                    alias="revenue",
                ),
            ),
            where=(Condition(ref("products.name"), Op.IN, ("a'; DROP TABLE x; --", "b")),),
        ),
    ],
)
def test_never_sql(plan: QueryPlan) -> None:
    text = explain(plan, SHOP)
    assert text.endswith(".") and text[0].isupper()
    for keyword in ("SELECT", "FROM ", "WHERE", "GROUP BY", "sum(", "COUNT("):
        assert keyword not in text
