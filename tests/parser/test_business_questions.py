"""The questions ChatDB's users actually ask — business phrasing over a shop of our own
with a glossary (a revenue metric with a filter and a time column, a segment,
synonyms), and a sales team and a billing schema (with a yes/no column) without one.
Each question goes through the parser's public API (prepare / understand, render_sql /
render_mongo) and the statement runs: the test asserts the rows a person would get
back, with the clock fixed at 2025-06-15 (last month is May 2025, this year is 2025).

Time buckets ("by month", "each quarter", "weekly") also run on the machine's real
PostgreSQL and MariaDB, and as MongoDB pipelines on mongomock; two questions go through
the real connector and parser services with a glossary set by SetGlossary."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiomysql
import asyncpg
import grpc
import pytest
from bson import json_util
from chatdb.connector.v1 import connection_pb2, connector_service_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq
from chatdb.parser.v1 import query_parser_service_pb2 as parser_pb
from mongomock_motor import AsyncMongoMockClient

from servers.contracts.cells import cell_to_value
from servers.contracts.glossary import Glossary, Metric, Segment, Synonym, glossary_to_pb
from servers.parser.convert import plan_entities
from servers.parser.domain import (
    ColumnKind,
    SchemaFlavour,
    SchemaView,
    TimeGrain,
    Unresolved,
)
from servers.parser.language import understand
from servers.parser.render import explain, render_mongo, render_sql
from servers.runtime.status import details_from_rpc_error
from tests.conftest import MYSQL, create_pg_database, drop_mysql_database, drop_pg_database
from tests.connector.service_support import free_port
from tests.parser.language_support import NOW, Database, database, flat, table
from tests.parser.service_support import (
    create_shop_mysql,
    create_shop_pg,
    register,
    running_parser,
)

T, INT, N, D = ColumnKind.TEXT, ColumnKind.INTEGER, ColumnKind.NUMBER, ColumnKind.DATE


# ------------------------------------------------------------------------ the shop

SHOP = SchemaView(
    (
        table(
            "customers",
            [
                ("customer_id", INT),
                ("name", T),
                ("city", T),
                ("age", INT),
                ("status", T),
                ("segment", T),
                ("joined_on", D),
            ],
        ),
        table("stores", [("store_id", INT), ("store_name", T), ("region", T)]),
        table("products", [("product_id", INT), ("name", T), ("price", N)]),
        table(
            "product_categories",
            [("link_id", INT), ("product_id", INT), ("category", T)],
            fks=[("product_id", "products", "product_id")],
        ),
        table(
            "orders",
            [
                ("order_id", INT),
                ("customer_id", INT),
                ("store_id", INT),
                ("ordered_on", D),
                ("status", T),
                ("total", N),
            ],
            fks=[("customer_id", "customers", "customer_id"), ("store_id", "stores", "store_id")],
        ),
        table(
            "order_items",
            [("item_id", INT), ("order_id", INT), ("product_id", INT), ("quantity", INT)],
            fks=[("order_id", "orders", "order_id"), ("product_id", "products", "product_id")],
        ),
        table(
            "employees",
            [("emp_id", INT), ("full_name", T), ("salary", N), ("store_id", INT)],
            fks=[("store_id", "stores", "store_id")],
        ),
    )
)

SHOP_ROWS: dict[str, list[tuple]] = {
    "customers": [
        (1, "Ada Lovelace", "London", 36, "active", "retail", "2024-01-10"),
        (2, "Grace Hopper", "New York", 45, "active", "business", "2024-03-02"),
        (3, "Alan Turing", "London", 41, "lapsed", "retail", "2025-05-20"),
        (4, "Edsger Dijkstra", "Rotterdam", 29, "active", "business", "2025-02-01"),
        (5, "Barbara Liskov", "New York", 52, "lapsed", "retail", "2023-11-11"),
        (6, "Chinua Achebe", "Lagos", 33, "active", "retail", "2025-03-15"),
        (7, "Hedy Lamarr", "Berlin", 27, "active", "business", "2024-08-08"),
        (8, "Kurt Godel", "New York", 60, "lapsed", "retail", "2022-04-04"),
    ],
    "stores": [(1, "Downtown", "North"), (2, "Harbour", "South"), (3, "Airport", "North")],
    "products": [
        (1, "Keyboard", 45.0),
        (2, "Mouse", 15.0),
        (3, "Monitor", 180.0),
        (4, "Cable", 12.0),
        (5, "Desk Lamp", 20.0),
        (6, "Notebook", 3.5),
    ],
    "product_categories": [
        (1, 1, "computing"),
        (2, 2, "computing"),
        (3, 3, "computing"),
        (4, 4, "computing"),
        (5, 4, "home"),
        (6, 5, "home"),
        (7, 6, "office"),
        (8, 5, "office"),
    ],
    "orders": [
        (1, 1, 1, "2025-05-03", "shipped", 105.0),
        (2, 1, 2, "2025-06-10", "pending", 180.0),
        (3, 2, 1, "2025-01-22", "shipped", 60.0),
        (4, 2, 1, "2025-02-14", "shipped", 30.0),
        (5, 2, 3, "2025-04-02", "shipped", 45.0),
        (6, 2, 2, "2025-05-28", "cancelled", 90.0),
        (7, 3, 2, "2025-05-30", "shipped", 24.0),
        (8, 5, 1, "2024-12-30", "shipped", 15.0),
        (9, 5, 3, "2024-03-05", "shipped", 200.0),
        (10, 5, 1, "2025-03-18", "shipped", 20.0),
        (11, 4, 2, "2024-07-07", "shipped", 36.0),
        (12, 6, 3, "2025-06-01", "pending", 12.0),  # no items yet
    ],
    "order_items": [
        (1, 1, 1, 1),
        (2, 1, 2, 4),
        (3, 2, 3, 1),
        (4, 3, 2, 2),
        (5, 3, 4, 3),
        (6, 4, 4, 2),
        (7, 5, 1, 1),
        (8, 6, 3, 1),
        (9, 7, 4, 2),
        (10, 8, 2, 1),
        (11, 9, 3, 1),
        (12, 10, 5, 1),
        (13, 11, 6, 6),
        (14, 9, 2, 3),
    ],
    "employees": [
        (1, "Rosa Parks", 48000.0, 1),
        (2, "Tim Berners", 52000.0, 2),
        (3, "Ivy Chen", 61000.0, 1),
        (4, "Omar Diallo", 39000.0, 3),
    ],
}

GLOSSARY = Glossary(
    metrics=(
        Metric(
            name="revenue",
            table="orders",
            expression="sum(orders.total)",
            filters=("orders.status <> 'cancelled'",),
            time_column="orders.ordered_on",
            synonyms=("sales", "turnover"),
        ),
        Metric(
            name="average order value",
            table="orders",
            expression="avg(orders.total)",
            filters=("orders.status <> 'cancelled'",),
            time_column="orders.ordered_on",
            synonyms=("aov",),
        ),
        Metric(
            name="units sold",
            table="order_items",
            expression="sum(order_items.quantity)",
            time_column="orders.ordered_on",
        ),
    ),
    segments=(
        Segment(name="active customer", table="customers", condition="customers.status = 'active'"),
    ),
    synonyms=(Synonym(term="client", target="customers"), Synonym(term="outlet", target="stores")),
    version="business-1",
)

# ------------------------------------------------------------- a sales team, no glossary

TEAM = SchemaView(
    (
        table("reps", [("rep_id", INT), ("name", T), ("region", T)]),
        table(
            "sales",
            [("sale_id", INT), ("rep_id", INT), ("sold_on", D), ("amount", N), ("units", INT)],
            fks=[("rep_id", "reps", "rep_id")],
        ),
    )
)
TEAM_ROWS: dict[str, list[tuple]] = {
    "reps": [(1, "Ana", "North"), (2, "Ben", "South"), (3, "Cal", "North"), (4, "Dot", "East")],
    "sales": [
        (1, 1, "2025-05-02", 100.0, 2),
        (2, 2, "2025-05-10", 250.0, 5),
        (3, 3, "2025-05-20", 50.0, 1),
        (4, 1, "2025-06-01", 999.0, 9),
        (5, 4, "2025-04-30", 70.0, 1),
        (6, 2, "2025-05-31", 30.0, 1),
    ],
}


# ------------------------------------------------------- billing: flags and amounts

BILLING = SchemaView(
    (
        table("accounts", [("account_id", INT), ("company", T), ("plan", T), ("opened_on", D)]),
        table(
            "invoices",
            [
                ("invoice_id", INT),
                ("account_id", INT),
                ("issued_on", D),
                ("amount", N),
                ("paid", ColumnKind.BOOLEAN),
            ],
            fks=[("account_id", "accounts", "account_id")],
        ),
    )
)
BILLING_ROWS: dict[str, list[tuple]] = {
    "accounts": [
        (1, "Acme", "pro", "2024-11-02"),
        (2, "Globex", "basic", "2025-03-10"),
        (3, "Initech", "pro", "2025-05-20"),
    ],
    "invoices": [
        (1, 1, "2025-04-01", 1200.0, True),
        (2, 1, "2025-05-01", 99.0, False),
        (3, 2, "2025-05-15", 19.0, True),
        (4, 2, "2025-06-01", 19.0, False),
    ],
}


@pytest.fixture(scope="module")
def shop() -> Database:
    return database(SHOP, SHOP_ROWS, GLOSSARY)


@pytest.fixture(scope="module")
def team() -> Database:
    return database(TEAM, TEAM_ROWS)


@pytest.fixture(scope="module")
def billing() -> Database:
    return database(BILLING, BILLING_ROWS)


def rows(db: Database, question: str) -> list[tuple]:
    return [tuple(_plain(v) for v in row) for row in db.ask(question)]


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        value = round(value, 2)
        return int(value) if value == int(value) else value
    return value


# ------------------------------------------------------------------- sums and metrics


def test_total_sales_by_region_last_month(team: Database) -> None:
    assert sorted(rows(team, "total sales by region last month")) == [
        ("North", 150),
        ("South", 280),
    ]


def test_total_units_by_region(team: Database) -> None:
    assert sorted(rows(team, "total units by region")) == [
        ("East", 1),
        ("North", 12),
        ("South", 6),
    ]


def test_total_sales_per_rep(team: Database) -> None:
    assert sorted(rows(team, "total sales per rep")) == [
        ("Ana", 1099),
        ("Ben", 280),
        ("Cal", 50),
        ("Dot", 70),
    ]


def test_revenue_by_region_this_year(shop: Database) -> None:
    assert sorted(rows(shop, "revenue by region this year")) == [("North", 272), ("South", 204)]


def test_revenue_per_store(shop: Database) -> None:
    assert sorted(rows(shop, "revenue per store")) == [
        ("Airport", 257),
        ("Downtown", 230),
        ("Harbour", 240),
    ]


def test_revenue_last_month(shop: Database) -> None:
    assert rows(shop, "revenue last month") == [(129,)]


def test_sales_in_2024_are_the_revenue_metric(shop: Database) -> None:
    assert rows(shop, "sales in 2024") == [(251,)]


def test_revenue_from_active_customers(shop: Database) -> None:
    assert rows(shop, "revenue from active customers") == [(468,)]


def test_average_order_value_per_customer_segment(shop: Database) -> None:
    # "per" keeps the question's order (the measure, then the key); "by" puts the key first
    assert sorted(rows(shop, "average order value per customer segment")) == [
        (42.75, "business"),
        (79.43, "retail"),
    ]


def test_a_metric_named_with_order_is_no_ordering_cue(shop: Database) -> None:
    # "average order value by store": "order … by" inside a glossary term orders nothing
    assert sorted(rows(shop, "average order value by store")) == [
        ("Airport", 85.67),
        ("Downtown", 46),
        ("Harbour", 80),
    ]


def test_top_products_by_units_sold(shop: Database) -> None:
    assert [row[0] for row in rows(shop, "top 3 products by units sold")] == [
        "Mouse",
        "Cable",
        "Notebook",
    ]


def test_top_customers_by_revenue(shop: Database) -> None:
    assert [row[0] for row in rows(shop, "top 2 customers by revenue")] == [
        "Ada Lovelace",
        "Barbara Liskov",
    ]


def test_sales_by_region_sums_the_amount(team: Database) -> None:
    # a table named for money, broken down by a column: the sum of its amount
    assert sorted(rows(team, "sales by region")) == [
        ("East", 70),
        ("North", 1149),
        ("South", 280),
    ]


def test_which_region_had_the_highest_sales_last_month(team: Database) -> None:
    assert [row[0] for row in rows(team, "which region had the highest sales last month")] == [
        "South"
    ]


def test_customers_by_city_counts_them(shop: Database) -> None:
    assert sorted(rows(shop, "customers by city")) == [
        ("Berlin", 1),
        ("Lagos", 1),
        ("London", 2),
        ("New York", 3),
        ("Rotterdam", 1),
    ]


def test_which_customer_has_the_highest_revenue(shop: Database) -> None:
    assert [row[0] for row in rows(shop, "which customer has the highest revenue")] == [
        "Ada Lovelace"
    ]


def test_a_metric_is_never_inflated_by_a_join(shop: Database) -> None:
    # revenue is a total per order; categories sit under the order's items, so a join
    # would add each order once per item: refused, with breakdowns that are safe
    with pytest.raises(Unresolved) as refused:
        shop.understand("revenue by category")
    assert "more than once" in refused.value.what
    assert "stores.region" in refused.value.suggestions


def test_units_sold_by_month_uses_the_metric_time_column(shop: Database) -> None:
    assert rows(shop, "units sold this year by month") == [
        ("2025-01-01", 5),
        ("2025-02-01", 2),
        ("2025-03-01", 1),
        ("2025-04-01", 1),
        ("2025-05-01", 8),
        ("2025-06-01", 1),
    ]


def test_the_best_selling_product(shop: Database) -> None:
    # the quantity in the table that refers to products, summed per product
    assert flat(rows(shop, "the best selling product")) == ["Mouse"]
    assert flat(rows(shop, "the 2 best-selling products")) == ["Mouse", "Cable"]


def test_the_most_popular_category_counts_its_rows(shop: Database) -> None:
    assert flat(rows(shop, "most popular category")) == ["computing"]


def test_top_cities_by_revenue_ranks_the_column(shop: Database) -> None:
    assert rows(shop, "top 2 cities by revenue") == [("New York", 370), ("London", 309)]


def test_top_regions_by_sales(team: Database) -> None:
    assert rows(team, "top 2 regions by sales") == [("North", 1149), ("South", 280)]


def test_monthly_sales_sum_the_amount(team: Database) -> None:
    assert rows(team, "monthly sales") == [
        ("2025-04-01", 70),
        ("2025-05-01", 430),
        ("2025-06-01", 999),
    ]


def test_monthly_revenue_by_store(shop: Database) -> None:
    got = rows(shop, "monthly revenue by store")
    assert got[:3] == [
        ("2024-03-01", "Airport", 200),
        ("2024-07-01", "Harbour", 36),
        ("2024-12-01", "Downtown", 15),
    ]
    assert ("2025-05-01", "Downtown", 105) in got and ("2025-05-01", "Harbour", 24) in got


def test_new_customers_per_month(shop: Database) -> None:
    assert rows(shop, "new customers per month")[-3:] == [
        ("2025-02-01", 1),
        ("2025-03-01", 1),
        ("2025-05-01", 1),
    ]


def test_orders_over_100_dollars(shop: Database) -> None:
    assert sorted(row[0] for row in rows(shop, "orders over 100 dollars")) == [1, 2, 9]


def test_customers_who_spent_more_than_200(shop: Database) -> None:
    # what they paid: the money column of the table that refers to them, summed
    assert sorted(flat(rows(shop, "customers who spent more than 200 dollars"))) == [
        "Ada Lovelace",
        "Barbara Liskov",
        "Grace Hopper",
    ]


def test_customers_who_spent_more_than_100_this_year(shop: Database) -> None:
    assert sorted(flat(rows(shop, "customers who spent more than 100 this year"))) == [
        "Ada Lovelace",
        "Grace Hopper",
    ]


def test_how_much_revenue_did_we_make_last_month(shop: Database) -> None:
    assert rows(shop, "how much revenue did we make last month") == [(129,)]


def test_the_largest_order_has_the_most_money(shop: Database) -> None:
    assert [row[0] for row in rows(shop, "the biggest order last month")] == [1]


def test_the_largest_sale_is_one_row(team: Database) -> None:
    assert [row[0] for row in rows(team, "largest sale")] == [4]


def test_the_rep_with_the_highest_sales(team: Database) -> None:
    assert flat(rows(team, "the rep with the highest sales"))[0][0] == "Ana"


def test_quarters_and_to_date_windows(shop: Database) -> None:
    assert rows(shop, "revenue in Q1") == [(110,)]  # the latest Q1: 2025
    assert rows(shop, "revenue in the second quarter of 2025") == [(366,)]
    assert [row[0] for row in rows(shop, "orders during Q3 2024")] == [11]
    assert rows(shop, "revenue year to date") == [(476,)]
    assert rows(shop, "revenue month-to-date") == [(192,)]
    assert "ordered_on in Q1 2025" in explain(shop.plan("revenue in Q1"), SHOP)


def test_quantities_add_up(team: Database) -> None:
    # "sold" is the verb, not the sold_on date; units are summed, not counted
    assert rows(team, "how many units were sold last month") == [(9,)]
    expected = [("Ana", 11), ("Ben", 6), ("Cal", 1), ("Dot", 1)]
    assert sorted(rows(team, "how many units did each rep sell")) == expected
    assert sorted(rows(team, "units sold per rep")) == expected


# ------------------------------------------------------------------------ time buckets


def test_revenue_by_month(shop: Database) -> None:
    assert rows(shop, "revenue by month") == [
        ("2024-03-01", 200),
        ("2024-07-01", 36),
        ("2024-12-01", 15),
        ("2025-01-01", 60),
        ("2025-02-01", 30),
        ("2025-03-01", 20),
        ("2025-04-01", 45),
        ("2025-05-01", 129),
        ("2025-06-01", 192),
    ]


def test_monthly_order_count_in_2025(shop: Database) -> None:
    assert rows(shop, "monthly order count in 2025") == [
        ("2025-01-01", 1),
        ("2025-02-01", 1),
        ("2025-03-01", 1),
        ("2025-04-01", 1),
        ("2025-05-01", 3),
        ("2025-06-01", 2),
    ]


def test_number_of_orders_each_quarter(shop: Database) -> None:
    assert rows(shop, "number of orders each quarter") == [
        ("2024-01-01", 1),
        ("2024-07-01", 1),
        ("2024-10-01", 1),
        ("2025-01-01", 3),
        ("2025-04-01", 6),
    ]


def test_yearly_revenue(shop: Database) -> None:
    assert rows(shop, "yearly revenue") == [("2024-01-01", 251), ("2025-01-01", 476)]


def test_weekly_revenue_last_month(shop: Database) -> None:
    assert rows(shop, "weekly revenue last month") == [("2025-04-28", 105), ("2025-05-26", 24)]


def test_the_bucket_is_named_after_its_grain(shop: Database) -> None:
    plan = shop.plan("number of orders per year")
    assert plan.bucket is not None and plan.bucket.grain is TimeGrain.YEAR
    assert rows(shop, "number of orders per year") == [("2024-01-01", 3), ("2025-01-01", 9)]
    assert "grouped by year of ordered_on" in explain(plan, SHOP)
    parsed = pq.ParsedQuery()
    plan_entities(plan, parsed)
    assert list(parsed.group_by) == ["year(ordered_on)"]


def test_a_column_named_after_the_grain_is_grouped_as_it_stands() -> None:
    films = SchemaView(
        (table("films", [("film_id", INT), ("title", T), ("year", INT), ("released_on", D)]),)
    )
    db = database(
        films,
        {
            "films": [
                (1, "Alpha", 2001, "2001-12-30"),
                (2, "Beta", 2001, "2002-01-05"),  # catalogued by its festival year
                (3, "Gamma", 2003, "2003-03-03"),
            ]
        },
    )
    plan = db.plan("number of films per year")
    assert plan.bucket is None
    assert sorted(rows(db, "number of films per year"), key=lambda r: r[1]) == [
        (2, 2001),
        (1, 2003),
    ]


# --------------------------------------------------------------- counts, having, segments


def test_how_many_active_customers(shop: Database) -> None:
    assert rows(shop, "how many active customers") == [(5,)]


def test_number_of_orders_per_status(shop: Database) -> None:
    assert sorted(rows(shop, "number of orders per status"), key=lambda r: r[1]) == [
        (1, "cancelled"),
        (2, "pending"),
        (9, "shipped"),
    ]


def test_customers_in_new_york_who_ordered_more_than_3_times_this_year(shop: Database) -> None:
    question = "which customers in New York ordered more than 3 times this year"
    assert flat(rows(shop, question)) == ["Grace Hopper"]


def test_customers_with_more_than_2_orders(shop: Database) -> None:
    assert sorted(flat(rows(shop, "customers with more than 2 orders"))) == [
        "Barbara Liskov",
        "Grace Hopper",
    ]


def test_which_city_has_the_most_customers(shop: Database) -> None:
    assert flat(rows(shop, "which city has the most customers"))[:1] == ["New York"]


def test_how_many_orders_last_month(shop: Database) -> None:
    assert rows(shop, "how many orders last month") == [(3,)]


def test_customers_counted_once_however_many_orders(shop: Database) -> None:
    # the join brings one row per order: each customer still counts once
    assert rows(shop, "how many customers ordered in 2025") == [(5,)]
    assert rows(shop, "number of customers with pending orders") == [(2,)]


def test_a_window_belongs_to_the_counted_rows_not_their_dimension(shop: Database) -> None:
    # the customers' segment groups the orders; "last month" is when they were ordered
    got = rows(shop, "number of orders by customer segment last month")
    assert sorted(got) == [("business", 1), ("retail", 2)]
    # unless the dimension's date is named
    assert [r[0] for r in rows(shop, "orders of customers who joined last month")] == [7]


def test_a_segment_said_first_names_the_rows_asked_about(shop: Database) -> None:
    # active customers (not their orders), each once however many orders they placed
    assert rows(shop, "active customers who ordered last month") == [
        ("Ada Lovelace",),
        ("Grace Hopper",),
    ]
    assert sorted(flat(rows(shop, "customers who ordered this year"))) == [
        "Ada Lovelace",
        "Alan Turing",
        "Barbara Liskov",
        "Chinua Achebe",
        "Grace Hopper",
    ]


def test_a_measure_compared_per_group(shop: Database, team: Database) -> None:
    # a glossary metric, a money table's amount, a segment's rows: HAVING on each group
    assert sorted(rows(shop, "stores with revenue above 200 this year")) == [
        ("Downtown", 215),
        ("Harbour", 204),
    ]
    assert flat(rows(team, "regions with sales over 200 last month")) == ["South"]
    assert flat(rows(team, "regions where sales exceeded 200 last month")) == ["South"]
    assert sorted(rows(team, "reps with total sales above 100")) == [("Ana", 1099), ("Ben", 280)]
    assert rows(shop, "cities with more than 1 active customer") == []
    assert len(rows(shop, "cities with at least 1 active customer")) == 5


def test_shares(shop: Database) -> None:
    # the question's condition is the numerator; windows and groups stay
    assert rows(shop, "what percentage of orders were cancelled last month") == [(33.33,)]
    assert rows(shop, "share of customers in London") == [(25,)]
    assert sorted(rows(shop, "percentage of orders shipped per store")) == [
        ("Airport", 66.67),
        ("Downtown", 100),
        ("Harbour", 50),
    ]
    assert rows(shop, "percentage of orders shipped by month")[-1] == ("2025-06-01", 0)


# ---------------------------------------------------------------------------- negation


def test_customers_who_never_placed_an_order(shop: Database) -> None:
    assert sorted(flat(rows(shop, "customers who never placed an order"))) == [
        "Hedy Lamarr",
        "Kurt Godel",
    ]


def test_orders_without_items(shop: Database) -> None:
    assert [row[0] for row in rows(shop, "orders without items")] == [12]


def test_a_window_on_what_is_excluded(shop: Database) -> None:
    # not ordered this year: NOT IN this year's orders, not a join filtered by them
    assert sorted(flat(rows(shop, "customers who have not ordered this year"))) == [
        "Edsger Dijkstra",
        "Hedy Lamarr",
        "Kurt Godel",
    ]
    # the items take their date from their order
    assert flat(rows(shop, "products that were not ordered in 2025")) == ["Notebook"]


def test_a_verb_names_the_table_that_records_it(team: Database) -> None:
    # "sold" → the sales table: reps with no sale this month
    assert sorted(flat(rows(team, "reps who have not sold anything this month"))) == [
        "Ben",
        "Cal",
        "Dot",
    ]


# ------------------------------------------------------------ superlatives and numbers


def test_the_most_expensive_product(shop: Database) -> None:
    assert flat(rows(shop, "the most expensive product")) == ["Monitor"]


def test_the_youngest_customer(shop: Database) -> None:
    assert flat(rows(shop, "the youngest customer")) == ["Hedy Lamarr"]


def test_customers_older_than_thirty(shop: Database) -> None:
    assert sorted(flat(rows(shop, "customers older than thirty"))) == [
        "Ada Lovelace",
        "Alan Turing",
        "Barbara Liskov",
        "Chinua Achebe",
        "Grace Hopper",
        "Kurt Godel",
    ]


def test_products_between_10_and_20_dollars(shop: Database) -> None:
    assert sorted(flat(rows(shop, "products between 10 and 20 dollars"))) == [
        "Cable",
        "Desk Lamp",
        "Mouse",
    ]


def test_orders_older_than_30_days(shop: Database) -> None:
    assert sorted(r[0] for r in rows(shop, "orders older than 30 days")) == [
        1,
        3,
        4,
        5,
        8,
        9,
        10,
        11,
    ]
    assert sorted(r[0] for r in rows(shop, "orders placed more than 6 months ago")) == [9, 11]


def test_a_segment_broken_down_by_a_column(shop: Database) -> None:
    assert sorted(rows(shop, "active customers by city")) == [
        ("Berlin", 1),
        ("Lagos", 1),
        ("London", 1),
        ("New York", 1),
        ("Rotterdam", 1),
    ]


def test_orders_since_march(shop: Database) -> None:
    assert sorted(row[0] for row in rows(shop, "orders since March")) == [1, 2, 5, 6, 7, 10, 12]


def test_customers_who_joined_this_year(shop: Database) -> None:
    assert sorted(flat(rows(shop, "customers who joined this year"))) == [
        "Alan Turing",
        "Chinua Achebe",
        "Edsger Dijkstra",
    ]


# -------------------------------------------------------------------- values and sets


def test_customers_from_either_lagos_or_berlin(shop: Database) -> None:
    assert sorted(flat(rows(shop, "customers from either Lagos or Berlin"))) == [
        "Chinua Achebe",
        "Hedy Lamarr",
    ]


def test_products_in_both_categories(shop: Database) -> None:
    # a product has several categories (a link table): both means the two at once
    assert flat(rows(shop, "products in both categories computing and home")) == ["Cable"]


def test_employees_whose_wage_is_above_50000(shop: Database) -> None:
    # no glossary synonym: "wage" finds salary by meaning
    assert sorted(flat(rows(shop, "employees whose wage is above 50000"))) == [
        "Ivy Chen",
        "Tim Berners",
    ]


def test_a_synonym_from_the_glossary(shop: Database) -> None:
    assert rows(shop, "how many clients are there") == [(8,)]


# ------------------------------------------------- flags, amounts, breakdowns by a table


def test_unpaid_invoices_older_than_30_days(billing: Database) -> None:
    # "unpaid": the paid flag's no value; "older than 30 days": issued before May 16
    assert [r[0] for r in rows(billing, "unpaid invoices older than 30 days")] == [2]
    assert rows(billing, "total amount of unpaid invoices") == [(118,)]


def test_an_amount_broken_down(billing: Database) -> None:
    assert rows(billing, "invoice amount by month") == [
        ("2025-04-01", 1200),
        ("2025-05-01", 118),
        ("2025-06-01", 19),
    ]
    assert sorted(rows(billing, "amount by plan")) == [("basic", 38), ("pro", 1299)]


def test_top_accounts_by_an_amount_of_their_invoices(billing: Database) -> None:
    # the accounts have no name column: their key says which they are
    assert rows(billing, "top 2 accounts by invoiced amount") == [(1, 1299), (2, 38)]


def test_top_products_by_a_column_of_their_own(shop: Database) -> None:
    assert flat(rows(shop, "top 3 products by price")) == ["Monitor", "Keyboard", "Desk Lamp"]


def test_a_table_broken_down_by_another(billing: Database, shop: Database) -> None:
    # "by" a table: one group per row of it, named
    assert sorted(rows(shop, "orders by store")) == [
        ("Airport", 3),
        ("Downtown", 5),
        ("Harbour", 4),
    ]
    # accounts have no name column: their key says which is which
    assert sorted(rows(billing, "amount by account")) == [(1, 1299), (2, 38)]


def test_total_of_a_table_that_holds_no_money_counts_it(shop: Database) -> None:
    assert rows(shop, "total customers in London") == [(2,)]


def test_accounts_without_invoices(billing: Database) -> None:
    assert [r[0] for r in rows(billing, "accounts with no invoices")] == [3]


# ------------------------------------------------ buckets on PostgreSQL, MariaDB, MongoDB

_TYPES = {
    "postgres": {T: "VARCHAR(100)", INT: "INTEGER", N: "NUMERIC(10,2)", D: "DATE"},
    "mysql": {T: "VARCHAR(100)", INT: "INTEGER", N: "DECIMAL(10,2)", D: "DATE"},
}


def _value(value: Any, kind: ColumnKind) -> Any:
    return dt.date.fromisoformat(value) if kind is D else value


def _normal(row: Any) -> tuple:
    out = []
    for value in row:
        if isinstance(value, (decimal.Decimal, float)):
            value = _plain(float(value))
        elif isinstance(value, (dt.date, dt.datetime)):
            value = value.strftime("%Y-%m-%d")
        out.append(value)
    return tuple(out)


class Engine:
    """The shop on a real server, in a throwaway database."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.name = f"chatdb_test_business_{uuid.uuid4().hex[:8]}"
        self.pg: asyncpg.Connection | None = None
        self.my: aiomysql.Connection | None = None

    async def open(self) -> Engine:
        q = "`" if self.dialect == "mysql" else '"'
        statements, inserts = [], []
        for info in SHOP.tables:
            columns = ", ".join(
                f"{q}{c.name}{q} {_TYPES[self.dialect][c.kind]}" for c in info.columns
            )
            statements.append(f"CREATE TABLE {q}{info.name}{q} ({columns})")
            marks = ", ".join(
                "%s" if self.dialect == "mysql" else f"${i}"
                for i in range(1, len(info.columns) + 1)
            )
            values = [
                tuple(_value(v, c.kind) for v, c in zip(row, info.columns, strict=True))
                for row in SHOP_ROWS[info.name]
            ]
            inserts.append((f"INSERT INTO {q}{info.name}{q} VALUES ({marks})", values))
        if self.dialect == "postgres":
            self.pg = await asyncpg.connect(await create_pg_database(self.name))
            for statement in statements:
                await self.pg.execute(statement)
            for statement, values in inserts:
                await self.pg.executemany(statement, values)
        else:
            admin = await aiomysql.connect(**MYSQL, autocommit=True)
            async with admin.cursor() as cur:
                await cur.execute(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4")
            admin.close()
            self.my = await aiomysql.connect(**MYSQL, db=self.name, autocommit=True)
            async with self.my.cursor() as cur:
                await cur.execute(
                    "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ONLY_FULL_GROUP_BY')"
                )
                for statement in statements:
                    await cur.execute(statement)
                for statement, values in inserts:
                    await cur.executemany(statement, values)
        return self

    async def rows(self, sql: str) -> list[tuple]:
        if self.pg is not None:
            return [_normal(r) for r in await self.pg.fetch(sql)]
        assert self.my is not None
        async with self.my.cursor() as cur:
            await cur.execute(sql)
            return [_normal(r) for r in await cur.fetchall()]

    async def close(self) -> None:
        if self.pg is not None:
            await self.pg.close()
            await drop_pg_database(self.name)
        if self.my is not None:
            async with self.my.cursor() as cur:
                await cur.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
            self.my.close()


@pytest.fixture(scope="module", params=["postgres", "mysql"])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[Engine]:
    server = await Engine(request.param).open()
    yield server
    await server.close()


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("revenue by month", [("2024-03-01", 200), ("2024-07-01", 36), ("2024-12-01", 15)]),
        ("number of orders each quarter", [("2024-01-01", 1), ("2024-07-01", 1)]),
        ("weekly revenue last month", [("2025-04-28", 105), ("2025-05-26", 24)]),
        ("daily revenue last month", [("2025-05-03", 105), ("2025-05-30", 24)]),
        ("revenue by region this year", [("North", 272), ("South", 204)]),
        ("what percentage of orders were cancelled last month", [(33.33,)]),
        ("customers who have not ordered this year", [("Edsger Dijkstra",), ("Hedy Lamarr",)]),
    ],
)
async def test_buckets_and_metrics_on_real_servers(
    engine: Engine, shop: Database, question: str, expected: list[tuple]
) -> None:
    sql = render_sql(shop.plan(question), SHOP, engine.dialect)
    got = await engine.rows(sql)
    assert sorted(got)[: len(expected)] == sorted(expected)


async def test_buckets_on_mongodb(shop: Database) -> None:
    database = AsyncMongoMockClient()[f"business_{uuid.uuid4().hex[:6]}"]
    orders = SHOP.table("orders")
    assert orders is not None
    documents = [
        {
            c.name: (dt.datetime.fromisoformat(v) if c.kind is D else v)
            for v, c in zip(row, orders.columns, strict=True)
        }
        for row in SHOP_ROWS["orders"]
    ]
    await database.orders.insert_many(documents)
    schema = SchemaView(SHOP.tables, flavour=SchemaFlavour.MONGODB)
    understanding = understand("number of orders per month in 2025", shop.prepared, now=NOW)
    statement = render_mongo(understanding.plan, schema)
    pipeline = json_util.loads(statement.pipeline)
    got = [d async for d in database[statement.collection].aggregate(pipeline)]
    assert [(d["month"], d["count"]) for d in got] == [
        ("2025-01-01", 1),
        ("2025-02-01", 1),
        ("2025-03-01", 1),
        ("2025-04-01", 1),
        ("2025-05-01", 3),
        ("2025-06-01", 2),
    ]


# ------------------------------------------ through the service: glossary set by its RPC

SERVICE_GLOSSARY = Glossary(
    metrics=(
        Metric(
            name="revenue",
            table="orders",
            expression="sum(orders.total)",
            filters=("orders.status <> 'cancelled'",),
            time_column="orders.ordered_at",
        ),
    ),
)


@pytest.fixture(scope="module")
async def service(settings, run_id):
    """The real connector and parser over the service tests' shop (PostgreSQL and
    MariaDB), with a glossary set through ConnectorService.SetGlossary."""
    name = f"chatdb_test_{run_id}_business_shop"
    pg_dsn = await create_shop_pg(name)
    my_dsn = await create_shop_mysql(name)
    try:
        async with running_parser(settings, prediction_port=free_port()) as mesh:
            for cid, kind, dsn in (
                ("biz-pg", connection_pb2.CONNECTION_KIND_POSTGRES, pg_dsn),
                ("biz-my", connection_pb2.CONNECTION_KIND_MYSQL, my_dsn),
            ):
                await register(mesh.connector, cid, kind, dsn)
                await mesh.connector.stub.SetGlossary(
                    connector_service_pb2.SetGlossaryRequest(
                        connection_id=cid, glossary=glossary_to_pb(SERVICE_GLOSSARY)
                    )
                )
            yield mesh
    finally:
        await drop_pg_database(name)
        await drop_mysql_database(name)


async def _ask(mesh, question: str, connection: str) -> tuple[pq.ParsedQuery, list[tuple]]:
    reply = await mesh.parser.ParseQuery(
        parser_pb.ParseQueryRequest(question=question, connection_id=connection)
    )
    parsed = reply.parsed_query
    result = await mesh.connector.stub.ExecuteQuery(
        connector_service_pb2.ExecuteQueryRequest(
            connection_id=connection, statement=parsed.statement
        )
    )
    return parsed, [_normal(cell_to_value(c) for c in r.cells) for r in result.rows]


@pytest.mark.parametrize("connection", ["biz-pg", "biz-my"])
async def test_revenue_by_month_through_the_service(service, connection: str) -> None:
    parsed, got = await _ask(service, "revenue by month", connection)
    assert got == [
        ("2025-02-01", 25.5),
        ("2026-10-01", 120),
        ("2026-11-01", 145.5),
        ("2026-12-01", 85.5),
    ]
    assert list(parsed.group_by) == ["month(ordered_at)"]
    assert "grouped by month of ordered_at" in parsed.explanation


@pytest.mark.parametrize("connection", ["biz-pg", "biz-my"])
async def test_revenue_by_city_through_the_service(service, connection: str) -> None:
    _, got = await _ask(service, "revenue by city", connection)
    assert sorted(got) == [("Lagos", 120), ("New York", 256.5)]


async def test_an_inflating_join_is_refused_through_the_service(service) -> None:
    # revenue is a total per order; categories sit under the order's items
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.parser.ParseQuery(
            parser_pb.ParseQueryRequest(question="revenue by category", connection_id="biz-pg")
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = details_from_rpc_error(refused.value)
    assert "more than once" in details.metadata["unresolved"]
    assert "customers.city" in details.metadata["suggestions"]
