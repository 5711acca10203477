"""Plans rendered to SQL and run on real PostgreSQL, real MariaDB and SQLite: every
feature of the intermediate form returns the rows a person would expect, on every
dialect, and values from questions never become SQL."""

from __future__ import annotations

import datetime as dt
import decimal
import random
from collections.abc import AsyncIterator

import pytest
import sqlglot

from servers.parser.domain import (
    Aggregate,
    ColumnInfo,
    ColumnKind,
    ColumnRef,
    Condition,
    Expression,
    Op,
    Ordering,
    QueryPlan,
    SchemaView,
    Selection,
    SetOperator,
    TableInfo,
    TimeWindow,
    Unresolved,
)
from servers.parser.render.sql import render_sql
from tests.parser.render_support import ROWS, SCHOOL, SHOP, Database, ref


@pytest.fixture(scope="module", params=["postgres", "mysql", "sqlite"])
async def db(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    database = await Database(request.param).open()
    yield database
    await database.close()


async def run(db: Database, plan: QueryPlan, schema=SHOP) -> list[tuple]:
    return await db.rows(render_sql(plan, schema, db.dialect))


def col(text: str, aggregate: Aggregate | None = None, **kwargs) -> Selection:
    return Selection(column=ref(text), aggregate=aggregate, **kwargs)


def where(text: str, op: Op, *values, **kwargs) -> Condition:
    return Condition(ref(text), op, tuple(values), **kwargs)


STAR = ColumnRef("customers", "*")


# -- select list -------------------------------------------------------------------------


async def test_empty_select_is_every_column_of_the_main_table(db: Database) -> None:
    rows = await run(
        db, QueryPlan(tables=("customers",), order_by=(Ordering(ref("customers.id")),))
    )
    assert [r[:2] for r in rows] == [(1, "Ann"), (2, "Bob"), (3, "O'Brien"), (4, "Dee")]
    assert len(rows[0]) == 5


async def test_every_column_of_one_table_in_a_join(db: Database) -> None:
    plan = QueryPlan(
        select=(Selection(STAR), col("orders.status")),
        where=(where("orders.status", Op.EQ, "pending"),),
    )
    assert await run(db, plan) == [(1, "Ann", "New York", "gold", "2023-03-01", "pending")]


async def test_count_star_and_count_distinct(db: Database) -> None:
    plan = QueryPlan(
        select=(
            Selection(STAR, Aggregate.COUNT),
            col("customers.city", Aggregate.COUNT, distinct=True),
        )
    )
    assert await run(db, plan) == [(4, 3)]


async def test_select_distinct(db: Database) -> None:
    rows = await run(db, QueryPlan(select=(col("customers.city"),), distinct=True))
    assert sorted(rows) == [("Boston",), ("Chicago",), ("New York",)]


async def test_sum_avg_min_max_with_readable_names(db: Database) -> None:
    plan = QueryPlan(
        select=tuple(
            col("products.price", a)
            for a in (Aggregate.SUM, Aggregate.AVG, Aggregate.MIN, Aggregate.MAX)
        )
    )
    sql = render_sql(plan, SHOP, db.dialect)
    for name in ("sum_price", "avg_price", "min_price", "max_price"):
        assert f"AS {name}" in sql
    assert await db.rows(sql) == [(80.5, pytest.approx(20.125, abs=0.01), 5, 40)]


async def test_reserved_and_capitalised_names_are_quoted(db: Database) -> None:
    plan = QueryPlan(
        select=(col("products.group"), col("customers.Tier")),
        where=(where("customers.Tier", Op.EQ, "silver"),),
        tables=("products", "customers"),
    )
    rows = await run(db, plan)
    # products and customers connect through order_items and orders: Bob bought a Widget
    assert rows == [("tools", "silver")]


async def test_single_table_has_no_aliases_and_joins_use_t1_t2(db: Database) -> None:
    single = render_sql(QueryPlan(select=(col("customers.name"),)), SHOP, db.dialect)
    assert "T1" not in single and single.startswith("SELECT name FROM customers")
    joined = render_sql(
        QueryPlan(select=(col("customers.name"), col("orders.status"))), SHOP, db.dialect
    )
    assert "customers AS T1 JOIN orders AS T2 ON T2.customer_id = T1.id" in joined


async def test_same_column_name_from_two_tables_gets_distinct_output_names(db: Database) -> None:
    plan = QueryPlan(
        select=(col("customers.id"), col("orders.id")),
        where=(where("orders.status", Op.EQ, "pending"),),
    )
    sql = render_sql(plan, SHOP, db.dialect)
    assert "AS orders_id" in sql
    assert await db.rows(sql) == [(1, 2)]


# -- where --------------------------------------------------------------------------------


async def test_and_or(db: Database) -> None:
    both = QueryPlan(
        select=(col("customers.name"),),
        where=(where("customers.city", Op.EQ, "New York"), where("customers.Tier", Op.EQ, "gold")),
    )
    assert await run(db, both) == [("Ann",)]
    either = QueryPlan(select=both.select, where=both.where, where_any=True)
    assert sorted(await run(db, either)) == [("Ann",), ("Dee",), ("O'Brien",)]


async def test_comparisons_type_the_value_by_the_column(db: Database) -> None:
    # a number written as text against a numeric column is a number; a number against a
    # text column is a string (PostgreSQL refuses text = integer)
    cheap = QueryPlan(select=(col("products.name"),), where=(where("products.price", Op.LE, "10"),))
    assert sorted(await run(db, cheap)) == [("50% Off Sign",), ("Widget",)]
    sql = render_sql(
        QueryPlan(select=(col("customers.name"),), where=(where("customers.city", Op.EQ, 42),)),
        SHOP,
        db.dialect,
    )
    assert "city = '42'" in sql
    assert await db.rows(sql) == []
    others = QueryPlan(
        select=(col("orders.id"),), where=(where("orders.status", Op.NE, "shipped"),)
    )
    assert sorted(await run(db, others)) == [(2,), (4,)]


async def test_like_is_case_insensitive_containment_with_wildcards_escaped(db: Database) -> None:
    def like(value: str, op: Op = Op.LIKE) -> QueryPlan:
        return QueryPlan(select=(col("products.name"),), where=(where("products.name", op, value),))

    assert await run(db, like("gad")) == [("Gadget",)]
    assert await run(db, like("50%")) == [("50% Off Sign",)]
    assert await run(db, like("_")) == [("Gizmo_X",)]
    assert await run(db, like("I", Op.NOT_LIKE)) == [("Gadget",)]
    keyword = "ILIKE" if db.dialect == "postgres" else "LIKE"
    assert f"name {keyword} '%gad%'" in render_sql(like("gad"), SHOP, db.dialect)


async def test_like_on_a_number_searches_its_text(db: Database) -> None:
    plan = QueryPlan(
        select=(col("products.name"),), where=(where("products.price", Op.LIKE, "25.5"),)
    )
    assert await run(db, plan) == [("Gadget",)]


async def test_between_in_not_in_and_nulls(db: Database) -> None:
    between = QueryPlan(
        select=(col("products.name"),), where=(where("products.price", Op.BETWEEN, 10, 30),)
    )
    assert sorted(await run(db, between)) == [("Gadget",), ("Widget",)]
    in_values = QueryPlan(
        select=(col("orders.id"),), where=(where("orders.status", Op.IN, "pending", "cancelled"),)
    )
    assert sorted(await run(db, in_values)) == [(2,), (4,)]
    not_in = QueryPlan(
        select=(col("orders.id"),), where=(where("orders.status", Op.NOT_IN, "shipped", "pending"),)
    )
    assert await run(db, not_in) == [(4,)]
    no_tier = QueryPlan(
        select=(col("customers.name"),), where=(where("customers.Tier", Op.IS_NULL),)
    )
    assert await run(db, no_tier) == [("O'Brien",)]
    has_tier = QueryPlan(
        select=(col("customers.name"),), where=(where("customers.Tier", Op.IS_NOT_NULL),)
    )
    assert len(await run(db, has_tier)) == 3


async def test_in_and_not_in_a_subquery(db: Database) -> None:
    ordered = QueryPlan(select=(col("orders.customer_id"),))
    never = QueryPlan(
        select=(col("customers.name"),),
        where=(Condition(ref("customers.id"), Op.NOT_IN, subquery=ordered),),
    )
    assert await run(db, never) == [("Dee",)]
    shipped = QueryPlan(
        select=(col("orders.customer_id"),), where=(where("orders.status", Op.EQ, "shipped"),)
    )
    some = QueryPlan(
        select=(col("customers.name"),),
        where=(Condition(ref("customers.id"), Op.IN, subquery=shipped),),
    )
    assert sorted(await run(db, some)) == [("Ann",), ("Bob",)]


async def test_comparison_with_a_scalar_subquery(db: Database) -> None:
    average = QueryPlan(select=(col("products.price", Aggregate.AVG),))
    plan = QueryPlan(
        select=(col("products.name"),),
        where=(Condition(ref("products.price"), Op.GT, subquery=average),),
    )
    assert sorted(await run(db, plan)) == [("Gadget",), ("Gizmo_X",)]


async def test_dates_and_time_window(db: Database) -> None:
    january = TimeWindow(
        ref("orders.ordered_at"),
        dt.datetime(2024, 1, 1),
        dt.datetime(2024, 2, 1),
        "in January 2024",
    )
    plan = QueryPlan(
        select=(col("orders.id"),), time_window=january, order_by=(Ordering(ref("orders.id")),)
    )
    assert await run(db, plan) == [(1,), (3,), (5,)]
    since = TimeWindow(ref("orders.ordered_at"), dt.datetime(2024, 2, 1), None, "since February")
    assert await run(db, QueryPlan(select=(col("orders.id"),), time_window=since)) == [(2,)]
    recent = QueryPlan(
        select=(col("customers.name"),),
        where=(where("customers.joined_on", Op.GE, dt.date(2024, 1, 1)),),
    )
    assert sorted(await run(db, recent)) == [("Dee",), ("O'Brien",)]


# -- grouping, having, ordering, limit ------------------------------------------------------


async def test_group_by_derived_from_plain_and_aggregated_selections(db: Database) -> None:
    plan = QueryPlan(select=(col("customers.city"), Selection(STAR, Aggregate.COUNT)))
    sql = render_sql(plan, SHOP, db.dialect)
    assert "GROUP BY city" in sql and "AS count" in sql
    assert sorted(await db.rows(sql)) == [("Boston", 1), ("Chicago", 1), ("New York", 2)]


async def test_explicit_group_by_and_having(db: Database) -> None:
    plan = QueryPlan(
        select=(col("customers.name"), Selection(ColumnRef("orders", "*"), Aggregate.COUNT)),
        group_by=(ref("customers.id"),),
        having=(Condition(ColumnRef("orders", "*"), Op.GT, (1,), aggregate=Aggregate.COUNT),),
    )
    assert await run(db, plan) == [("Ann", 3)]


async def test_having_with_count_distinct(db: Database) -> None:
    plan = QueryPlan(
        select=(col("customers.name"),),
        having=(
            Condition(
                ref("order_items.product_id"), Op.GE, (3,), aggregate=Aggregate.COUNT, distinct=True
            ),
        ),
    )
    assert await run(db, plan) == [("Ann",)]


async def test_order_by_aggregate_of_the_group_with_limit(db: Database) -> None:
    plan = QueryPlan(
        select=(col("products.name"), col("order_items.quantity", Aggregate.SUM)),
        order_by=(Ordering(ref("order_items.quantity"), descending=True, aggregate=Aggregate.SUM),),
        limit=2,
    )
    assert await run(db, plan) == [("50% Off Sign", 5), ("Gadget", 4)]


async def test_most_frequent_without_selecting_the_count(db: Database) -> None:
    plan = QueryPlan(
        select=(col("customers.city"),),
        order_by=(Ordering(None, descending=True, aggregate=Aggregate.COUNT),),
        limit=1,
    )
    assert await run(db, plan) == [("New York",)]


async def test_nulls_sort_lowest_on_every_dialect(db: Database) -> None:
    ascending = QueryPlan(
        select=(col("customers.name"),),
        order_by=(Ordering(ref("customers.Tier")), Ordering(ref("customers.id"))),
    )
    assert [r[0] for r in await run(db, ascending)] == ["O'Brien", "Ann", "Dee", "Bob"]
    descending = QueryPlan(
        select=(col("customers.name"),),
        order_by=(Ordering(ref("customers.Tier"), descending=True), Ordering(ref("customers.id"))),
    )
    assert [r[0] for r in await run(db, descending)] == ["Bob", "Ann", "Dee", "O'Brien"]


async def test_plain_order_column_is_grouped_too(db: Database) -> None:
    plan = QueryPlan(
        select=(col("customers.city"), Selection(STAR, Aggregate.COUNT)),
        order_by=(Ordering(ref("customers.city")),),
    )
    assert await run(db, plan) == [("Boston", 1), ("Chicago", 1), ("New York", 2)]


# -- joins, set operations, glossary expressions --------------------------------------------


async def test_link_table_joined_between_two_mentioned_tables(db: Database) -> None:
    plan = QueryPlan(
        select=(col("students.name"),),
        where=(where("courses.title", Op.EQ, "Math"),),
        order_by=(Ordering(ref("students.name")),),
    )
    sql = render_sql(plan, SCHOOL, db.dialect)
    assert "enrollments AS T2" in sql
    assert await db.rows(sql) == [("Ann",), ("Bo",)]


async def test_no_join_path_is_unresolved(db: Database) -> None:
    plan = QueryPlan(select=(col("students.name"), col("rooms.label")))
    with pytest.raises(Unresolved, match="no foreign-key path between students and rooms"):
        render_sql(plan, SCHOOL, db.dialect)


async def test_intersect_union_except(db: Database) -> None:
    shipped = QueryPlan(
        select=(col("customers.name"),), where=(where("orders.status", Op.EQ, "shipped"),)
    )
    new_york = QueryPlan(
        select=(col("customers.name"),), where=(where("customers.city", Op.EQ, "New York"),)
    )

    def combined(operator: SetOperator) -> QueryPlan:
        return QueryPlan(
            select=shipped.select, where=shipped.where, set_operation=(operator, new_york)
        )

    assert await run(db, combined(SetOperator.INTERSECT)) == [("Ann",)]
    assert sorted(await run(db, combined(SetOperator.UNION))) == [("Ann",), ("Bob",), ("O'Brien",)]
    assert await run(db, combined(SetOperator.EXCEPT)) == [("Bob",)]


async def test_set_operation_side_with_its_own_order_and_limit(db: Database) -> None:
    priciest = QueryPlan(
        select=(col("products.name"),),
        order_by=(Ordering(ref("products.price"), descending=True),),
        limit=1,
    )
    cheapest = QueryPlan(
        select=(col("products.name"),), order_by=(Ordering(ref("products.price")),), limit=1
    )
    plan = QueryPlan(
        select=priciest.select,
        order_by=priciest.order_by,
        limit=1,
        set_operation=(SetOperator.UNION, cheapest),
    )
    assert sorted(await run(db, plan)) == [("50% Off Sign",), ("Gizmo_X",)]


async def test_glossary_metric_and_segment(db: Database) -> None:
    revenue = Expression(
        "sum(order_items.quantity * products.price)", ("order_items", "products"), aggregated=True
    )
    gold = Expression("customers.Tier = 'gold'", ("customers",))
    plan = QueryPlan(
        select=(col("customers.city"), Selection(expression=revenue, alias="revenue")),
        order_by=(Ordering(None, descending=True, expression=revenue),),
    )
    sql = render_sql(plan, SHOP, db.dialect)
    assert "AS revenue" in sql
    assert await db.rows(sql) == [("New York", 187), ("Boston", 10)]
    segment = QueryPlan(
        select=(col("customers.name"),), where=(Condition(None, Op.EQ, expression=gold),)
    )
    assert sorted(await run(db, segment)) == [("Ann",), ("Dee",)]
    not_gold = QueryPlan(
        select=(col("customers.name"),), where=(Condition(None, Op.NE, expression=gold),)
    )
    assert await run(db, not_gold) == [("Bob",)]
    big_spenders = QueryPlan(
        select=(col("customers.name"),),
        having=(Condition(None, Op.GT, (100,), expression=revenue),),
    )
    assert await run(db, big_spenders) == [("Ann",)]


# -- values stay values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "x'; DROP TABLE customers; --",
        "x\\'; DROP TABLE customers; --",
        "Ann' OR '1'='1",
        "Ann /* comment */",
        "Ann -- trailing",
        "'; SELECT 1; SELECT '",
        "\\",
    ],
)
async def test_hostile_values_stay_literals(db: Database, value: str) -> None:
    before = await db.table_count()
    for op in (Op.EQ, Op.LIKE, Op.IN):
        plan = QueryPlan(
            select=(col("customers.name"),), where=(where("customers.name", op, value),)
        )
        sql = render_sql(plan, SHOP, db.dialect)
        assert len(sqlglot.parse(sql, read=db.dialect)) == 1  # one statement, the value inside it
        assert await db.rows(sql) == []
    assert await db.table_count() == before


async def test_a_quote_in_a_value_matches_the_stored_text(db: Database) -> None:
    plan = QueryPlan(
        select=(col("customers.id"),), where=(where("customers.name", Op.EQ, "O'Brien"),)
    )
    assert await run(db, plan) == [(3,)]
    assert await run(
        db, QueryPlan(select=plan.select, where=(where("customers.name", Op.LIKE, "o'b"),))
    ) == [(3,)]


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown dialect"):
        render_sql(QueryPlan(tables=("customers",)), SHOP, "oracle")


# -- shapes PostgreSQL is strict about ---------------------------------------------------------


async def test_distinct_ordered_by_a_column_not_selected(db: Database) -> None:
    plan = QueryPlan(
        select=(col("customers.city"),),
        distinct=True,
        order_by=(Ordering(ref("customers.joined_on"), descending=True),),
    )
    assert await run(db, plan) == [("Chicago",), ("New York",), ("Boston",)]


async def test_grouped_and_ordered_by_a_column_that_is_not_a_key(db: Database) -> None:
    plan = QueryPlan(
        select=(col("customers.city"), Selection(STAR, Aggregate.COUNT)),
        order_by=(Ordering(ref("customers.joined_on")),),
    )
    # the groups stay one per city, ordered by each city's earliest joined_on
    assert await run(db, plan) == [("New York", 2), ("Boston", 1), ("Chicago", 1)]


async def test_in_a_subquery_with_its_own_limit(db: Database) -> None:
    latest = QueryPlan(
        select=(col("orders.customer_id"),),
        order_by=(Ordering(ref("orders.ordered_at"), descending=True),),
        limit=1,
    )
    plan = QueryPlan(
        select=(col("customers.name"),),
        where=(Condition(ref("customers.id"), Op.IN, subquery=latest),),
    )
    assert await run(db, plan) == [("Ann",)]


def test_tables_outside_the_default_schema_are_qualified() -> None:
    notes = TableInfo(
        "notes",
        (ColumnInfo("id", ColumnKind.INTEGER), ColumnInfo("body", ColumnKind.TEXT)),
        schema_name="archive",
    )
    public = TableInfo("people", (ColumnInfo("id", ColumnKind.INTEGER),), schema_name="public")
    schema = SchemaView(tables=(notes, public), database="shop")
    plan = QueryPlan(select=(col("notes.body"),))
    assert render_sql(plan, schema, "postgres") == "SELECT body FROM archive.notes"
    assert render_sql(plan, schema, "mysql") == "SELECT body FROM archive.notes"
    assert (
        render_sql(QueryPlan(select=(col("people.id"),)), schema, "postgres")
        == "SELECT id FROM people"
    )
    own = SchemaView(
        tables=(TableInfo("notes", notes.columns, schema_name="shop"),), database="shop"
    )
    assert render_sql(plan, own, "mysql") == "SELECT body FROM notes"


def test_names_with_spaces_digits_and_dialect_spellings() -> None:
    odd = TableInfo(
        "Order Lines",
        (ColumnInfo("1st price", ColumnKind.NUMBER), ColumnInfo("qty", ColumnKind.INTEGER)),
    )
    schema = SchemaView(tables=(odd,))
    plan = QueryPlan(
        select=(Selection(ColumnRef("Order Lines", "1st price")),),
        where=(Condition(ColumnRef("Order Lines", "qty"), Op.GT, (-2,)),),
    )
    assert (
        render_sql(plan, schema, "postgresql")
        == 'SELECT "1st price" FROM "Order Lines" WHERE qty > -2'
    )
    assert (
        render_sql(plan, schema, "mariadb")
        == "SELECT `1st price` FROM `Order Lines` WHERE qty > -2"
    )


def test_a_value_that_is_no_number_is_unresolved() -> None:
    plan = QueryPlan(
        select=(col("products.name"),), where=(where("products.price", Op.GT, float("nan")),)
    )
    with pytest.raises(Unresolved, match="not a number"):
        render_sql(plan, SHOP, "postgres")


async def test_ordering_a_single_aggregate_row_by_a_column_is_dropped(db: Database) -> None:
    plan = QueryPlan(
        select=(col("products.price", Aggregate.MAX),),
        order_by=(Ordering(ref("products.name")),),
    )
    assert await run(db, plan) == [(40,)]


# -- many plans: every engine accepts them and they agree ---------------------------------------


def _random_plan(schema: SchemaView, rng: random.Random, nested: bool = False) -> QueryPlan:
    """A plan mixing the features at random over the test schema, with values taken
    from the rows so that filters match something."""
    tables = [t.name for t in schema.tables if t.name != "rooms"]  # rooms joins nothing
    main = rng.choice(tables)
    chosen = [main] + ([rng.choice(tables)] if rng.random() < 0.4 else [])
    columns = [ColumnRef(t, c.name) for t in chosen for c in schema.table(t).columns]
    numeric = [c for c in columns if schema.column(c).kind.numeric]

    def value(ref: ColumnRef):
        position = [c.name for c in schema.table(ref.table).columns].index(ref.column)
        present = [row[position] for row in ROWS[ref.table] if row[position] is not None]
        chosen_value = rng.choice(present)
        return float(chosen_value) if isinstance(chosen_value, decimal.Decimal) else chosen_value

    select = []
    for _ in range(rng.randint(0, 3)):
        roll = rng.random()
        if roll < 0.15:
            select.append(Selection(ColumnRef(main, "*"), Aggregate.COUNT))
        elif roll < 0.3 and numeric:
            aggregate = rng.choice([Aggregate.SUM, Aggregate.AVG, Aggregate.MIN, Aggregate.MAX])
            select.append(Selection(rng.choice(numeric), aggregate))
        elif roll < 0.35:
            select.append(Selection(rng.choice(columns), Aggregate.COUNT, distinct=True))
        else:
            select.append(Selection(rng.choice(columns)))
    where = []
    for _ in range(rng.randint(0, 2)):
        column = rng.choice(columns)
        op = rng.choice(list(Op))
        if op in (Op.IS_NULL, Op.IS_NOT_NULL):
            where.append(Condition(column, op))
        elif op is Op.BETWEEN:
            where.append(Condition(column, op, tuple(sorted([value(column), value(column)]))))
        elif op in (Op.IN, Op.NOT_IN) and not nested and rng.random() < 0.3:
            where.append(Condition(column, op, subquery=QueryPlan(select=(Selection(column),))))
        elif op in (Op.IN, Op.NOT_IN):
            where.append(Condition(column, op, (value(column), value(column))))
        elif op in (Op.LIKE, Op.NOT_LIKE):
            where.append(Condition(column, op, (str(value(column))[:2],)))
        else:
            where.append(Condition(column, op, (value(column),)))
    if not nested and numeric and rng.random() < 0.15:
        column = rng.choice(numeric)
        average = QueryPlan(select=(Selection(column, Aggregate.AVG),))
        where.append(Condition(column, rng.choice([Op.GT, Op.LT]), subquery=average))
    temporal = [c for c in columns if schema.column(c).kind.temporal]
    window = None
    if temporal and rng.random() < 0.3:
        start = dt.datetime(2024, 1, 1) if rng.random() < 0.7 else None
        window = TimeWindow(rng.choice(temporal), start, dt.datetime(2024, 2, 1), "early 2024")
    having = ()
    if rng.random() < 0.2:
        having = (
            Condition(ColumnRef(main, "*"), Op.GE, (rng.randint(1, 2),), aggregate=Aggregate.COUNT),
        )
    order = ()
    if rng.random() < 0.5:
        descending = rng.random() < 0.5
        if rng.random() < 0.3:
            order = (Ordering(None, descending, Aggregate.COUNT),)
        else:
            order = (Ordering(rng.choice(columns), descending),)
    combined = None
    if not nested and select and rng.random() < 0.15 and not any(s.aggregated for s in select):
        other = QueryPlan(
            select=tuple(select), where=(Condition(select[0].column, Op.IS_NOT_NULL),)
        )
        combined = (rng.choice(list(SetOperator)), other)
    return QueryPlan(
        select=tuple(select),
        where=tuple(where),
        where_any=rng.random() < 0.2,
        group_by=(rng.choice(columns),) if rng.random() < 0.2 else (),
        having=having,
        order_by=order,
        distinct=rng.random() < 0.15,
        tables=tuple(chosen),
        time_window=window,
        set_operation=combined,
    )


@pytest.fixture(scope="module")
async def engines() -> AsyncIterator[dict[str, Database]]:
    opened = {
        dialect: await Database(dialect).open() for dialect in ("postgres", "mysql", "sqlite")
    }
    yield opened
    for database in opened.values():
        await database.close()


async def test_random_plans_run_everywhere_with_the_same_rows(engines: dict[str, Database]) -> None:
    rng = random.Random(20261204)
    for _ in range(150):
        schema = rng.choice([SHOP, SCHOOL])
        plan = _random_plan(schema, rng)
        answers = {}
        for dialect, database in engines.items():
            sql = render_sql(plan, schema, dialect)
            answers[dialect] = sorted(map(repr, await database.rows(sql)))
        assert answers["postgres"] == answers["mysql"] == answers["sqlite"], render_sql(
            plan, schema, "postgres"
        )


RESERVED_NAMES = (
    "year date time timestamp position rank value level type count key interval div mod "
    "window row rows user order group desc limit offset select where table column check "
    "default index primary references left natural using both current_date over partition "
    "range lateral returning fetch cast unique to"
).split()


@pytest.mark.parametrize("table", ["order", "Group"])
async def test_reserved_words_as_names_run_everywhere(
    engines: dict[str, Database], table: str
) -> None:
    schema = SchemaView(
        tables=(TableInfo(table, tuple(ColumnInfo(w, ColumnKind.INTEGER) for w in RESERVED_NAMES)),)
    )
    plans = [
        QueryPlan(
            select=tuple(Selection(ColumnRef(table, w)) for w in RESERVED_NAMES),
            where=tuple(Condition(ColumnRef(table, w), Op.GE, (0,)) for w in RESERVED_NAMES[:12]),
            order_by=tuple(Ordering(ColumnRef(table, w)) for w in RESERVED_NAMES[12:24]),
        ),
        QueryPlan(
            select=(
                Selection(ColumnRef(table, "year")),
                Selection(ColumnRef(table, "*"), Aggregate.COUNT),
                Selection(ColumnRef(table, "value"), Aggregate.SUM),
            ),
            having=(Condition(ColumnRef(table, "*"), Op.GT, (0,), aggregate=Aggregate.COUNT),),
        ),
    ]
    for dialect, database in engines.items():
        quote = "`" if dialect == "mysql" else '"'
        columns = ", ".join(f"{quote}{w}{quote} INTEGER" for w in RESERVED_NAMES)
        await database.rows(f"CREATE TABLE {quote}{table}{quote} ({columns})")
        values = ", ".join("1" for _ in RESERVED_NAMES)
        await database.rows(f"INSERT INTO {quote}{table}{quote} VALUES ({values})")
        assert await database.rows(render_sql(plans[0], schema, dialect)) == [
            (1,) * len(RESERVED_NAMES)
        ]
        assert await database.rows(render_sql(plans[1], schema, dialect)) == [(1, 1, 1)]
