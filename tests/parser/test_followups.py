"""Follow-up questions on the shop schema, at the language level: the thread before a
question is re-read, the follow-up changes its plan (a filter, a grouping, an ordering,
a limit, a count), and the statement is rendered and run, so each case asserts the rows
a person gets back and the part of the SQL that changed."""

from __future__ import annotations

import pytest

from servers.parser.domain import Aggregate, Op, TimeGrain, Unresolved
from servers.parser.followups import explanation, resolve, thread_of
from servers.parser.render.sql import render_sql
from tests.parser.language_support import NOW, flat, shop


@pytest.fixture(scope="module")
def db():
    return shop()


def follow(db, thread: list[str], question: str):
    resolved = resolve(question, thread, db.prepared, now=NOW)
    plan = resolved.understanding.plan
    assert plan is not None
    sql = render_sql(plan, db.schema, "sqlite")
    return resolved, sql, db.connection.execute(sql).fetchall()


# ------------------------------------------------------------------------ filters


@pytest.mark.parametrize(
    "question",
    ["only those in 2024", "just those in 2024", "only the ones in 2024", "and only in 2024"],
)
def test_only_those_in_a_year_adds_a_date_filter(db, question):
    resolved, sql, rows = follow(db, ["list the orders"], question)
    assert resolved.follow_up
    assert resolved.understanding.plan.time_window.column.column == "ordered_on"
    assert "ordered_on >= '2024-01-01'" in sql and "ordered_on < '2025-01-01'" in sql
    assert [r[0] for r in rows] == [5]
    assert resolved.changes == ["added filter ordered_on in 2024"]


@pytest.mark.parametrize(
    "question",
    ["just the ones from London", "only those from London", "only those in London", "just London"],
)
def test_just_the_ones_from_a_value_adds_a_filter_on_its_column(db, question):
    resolved, sql, rows = follow(db, ["list customers older than 30"], question)
    assert "city = 'London'" in sql and "age > 30" in sql  # the earlier filter stays
    assert sorted(flat(rows)) == ["Ada Lovelace", "Alan Turing"]


@pytest.mark.parametrize("question", ["what about New York?", "and for New York?", "how about New York", "and in New York?"])
def test_what_about_another_value_replaces_the_filter_on_that_column(db, question):
    resolved, sql, rows = follow(db, ["show customers from London"], question)
    assert "New York" in sql and "London" not in sql
    assert sorted(flat(rows)) == ["Barbara Liskov", "Grace Hopper"]
    assert resolved.changes == ["replaced filter city = 'London' with city = 'New York'"]


def test_what_about_keeps_the_kind_of_question(db):
    resolved, sql, rows = follow(db, ["how many customers are in London"], "what about Rotterdam?")
    assert sql == "SELECT COUNT(*) AS count FROM customers WHERE city = 'Rotterdam'"
    assert rows == [(1,)]


def test_what_about_a_value_of_another_column_adds_a_filter(db):
    resolved, sql, rows = follow(db, ["list orders placed in 2025"], "what about cancelled?")
    assert "status = 'cancelled'" in sql and "2025-01-01" in sql
    assert [r[0] for r in rows] == [4]


@pytest.mark.parametrize(
    ("question", "condition", "names"),
    [
        ("only those older than 40", "age > 40", ["Alan Turing"]),
        ("just the ones younger than 40", "age < 40", ["Ada Lovelace"]),
        ("not those in London", None, []),
    ],
)
def test_comparisons_and_negations_narrow_the_rows(db, question, condition, names):
    resolved, sql, rows = follow(db, ["show customers from London"], question)
    if condition:
        assert condition in sql and "city = 'London'" in sql
        assert sorted(flat(rows)) == names
    else:  # "not in London" replaces "in London": the other customers
        assert "city <> 'London'" in sql and "city = 'London'" not in sql
        assert sorted(flat(rows)) == ["Barbara Liskov", "Edsger Dijkstra", "Grace Hopper"]


def test_a_price_cap_on_products(db):
    _, sql, rows = follow(db, ["list products"], "only those cheaper than 50")
    assert "price < 50" in sql
    assert sorted(flat(rows)) == ["Keyboard", "Mouse", "Notebook"]


def test_a_relative_date_in_a_follow_up_uses_the_requests_clock(db):
    # NOW is 2025-06-15: last month is May 2025
    _, sql, rows = follow(db, ["list the orders"], "only those placed last month")
    assert "'2025-05-01'" in sql and "'2025-06-01'" in sql
    assert sorted(r[0] for r in rows) == [1, 4]


# ------------------------------------------------------------------------ grouping


@pytest.mark.parametrize("question", ["and by month?", "now by month", "per month", "break it down by month"])
def test_by_month_turns_a_count_into_a_count_per_month(db, question):
    resolved, sql, rows = follow(db, ["how many orders are there"], question)
    plan = resolved.understanding.plan
    assert plan.bucket.grain is TimeGrain.MONTH and plan.bucket.column.column == "ordered_on"
    assert "GROUP BY STRFTIME('%Y-%m-01', ordered_on)" in sql
    assert rows == [("2024-12-01", 1), ("2025-04-01", 1), ("2025-05-01", 2), ("2025-06-01", 2)]


@pytest.mark.parametrize("question", ["break it down by category", "now by category", "by category", "per category"])
def test_a_plain_list_broken_down_becomes_a_count_per_group(db, question):
    resolved, sql, rows = follow(db, ["list products"], question)
    assert sql == "SELECT category, COUNT(*) AS count FROM products GROUP BY category"
    assert sorted(rows) == [("books", 1), ("hardware", 3), ("stationery", 1)]
    assert resolved.changes == ["counted the rows", "grouped by category"]


def test_an_aggregate_gets_a_grouping(db):
    _, sql, rows = follow(db, ["average price of products"], "by category")
    assert sql == "SELECT category, AVG(price) AS avg_price FROM products GROUP BY category"
    assert dict(rows)["stationery"] == 3.5


def test_now_by_replaces_the_grouping_and_and_by_adds_one(db):
    resolved, sql, rows = follow(db, ["number of orders per month"], "now by status")
    assert sql == "SELECT status, COUNT(*) AS count FROM orders GROUP BY status"
    assert resolved.changes == ["replaced the grouping by month with status"]
    resolved, sql, rows = follow(db, ["how many orders are there per status"], "and by month?")
    assert "GROUP BY STRFTIME('%Y-%m-01', ordered_on), status" in sql
    assert ("2025-05-01", 1, "cancelled") in rows


def test_by_a_table_groups_by_its_rows_and_names_them(db):
    _, sql, rows = follow(db, ["list the orders"], "now by customer")
    assert "GROUP BY T2.customer_id, T2.name" in sql
    assert sorted(rows) == [("Ada Lovelace", 3), ("Alan Turing", 1), ("Grace Hopper", 2)]


# ------------------------------------------------------------------------ ordering


@pytest.mark.parametrize(
    ("question", "order"),
    [
        ("sort them by price", "ORDER BY price ASC"),
        ("order them by price", "ORDER BY price ASC"),
        ("sorted by price descending", "ORDER BY price DESC"),
        ("cheapest first", "ORDER BY price ASC"),
        ("most expensive first", "ORDER BY price DESC"),
        ("highest price first", "ORDER BY price DESC"),
        ("least expensive first", "ORDER BY price ASC"),
    ],
)
def test_ordering_the_previous_rows(db, question, order):
    resolved, sql, rows = follow(db, ["list products in hardware"], question)
    assert sql.endswith(order) and "category = 'hardware'" in sql
    expected = ["Mouse", "Keyboard", "Monitor"]
    assert flat(rows) == (expected[::-1] if order.endswith("DESC") else expected)


@pytest.mark.parametrize(
    ("question", "order"),
    [
        ("order by name descending", "ORDER BY name DESC"),
        ("sort them alphabetically", "ORDER BY name ASC"),
        ("oldest first", "ORDER BY age DESC"),
        ("youngest first", "ORDER BY age ASC"),
    ],
)
def test_ordering_customers(db, question, order):
    _, sql, rows = follow(db, ["list customers"], question)
    assert sql.endswith(order)
    assert len(rows) == 5


def test_newest_first_orders_by_the_date(db):
    _, sql, rows = follow(db, ["list the orders"], "newest first")
    assert sql.endswith("ORDER BY ordered_on DESC")
    assert rows[0][0] == 6


def test_ordering_a_grouped_answer_by_its_measure(db):
    _, sql, rows = follow(db, ["average price of products by category"], "cheapest first")
    assert sql.endswith("ORDER BY AVG(price) ASC")
    assert [r[0] for r in rows] == ["stationery", "books", "hardware"]
    _, sql, rows = follow(db, ["how many orders did each customer place"], "sort them descending")
    assert sql.endswith("ORDER BY COUNT(*) DESC")
    assert rows[0] == ("Ada Lovelace", 3)


def test_the_oldest_alone_is_the_one_row_at_that_end(db):
    _, sql, rows = follow(db, ["list customers"], "the oldest one")
    assert sql.endswith("ORDER BY age DESC LIMIT 1")
    assert rows == [("Barbara Liskov",)]


# ------------------------------------------------------------------------ limits and counts


@pytest.mark.parametrize("question", ["top 2", "only the top 2", "just the top 2"])
def test_top_n_of_a_grouped_answer_ranks_by_its_measure(db, question):
    _, sql, rows = follow(db, ["how many orders per customer"], question)
    assert sql.endswith("ORDER BY COUNT(*) DESC LIMIT 2")
    assert rows == [("Ada Lovelace", 3), ("Grace Hopper", 2)]


@pytest.mark.parametrize("question", ["only the first 3", "just the first 3", "first 3", "limit to 3", "just 3"])
def test_only_the_first_n_limits_the_rows(db, question):
    resolved, sql, rows = follow(db, ["list products sorted by price"], question)
    assert sql.endswith("ORDER BY price ASC LIMIT 3")
    assert flat(rows) == ["Notebook", "Mouse", "Keyboard"]
    assert resolved.understanding.plan.limit == 3


@pytest.mark.parametrize("question", ["how many are there?", "how many of them are there", "count them"])
def test_how_many_are_there_counts_the_previous_rows(db, question):
    resolved, sql, rows = follow(db, ["customers from London"], question)
    assert sql == "SELECT COUNT(*) AS count FROM customers WHERE city = 'London'"
    assert rows == [(2,)]
    assert resolved.understanding.plan.select[0].aggregate is Aggregate.COUNT


def test_how_many_of_them_with_a_filter_counts_and_filters(db):
    resolved, sql, rows = follow(db, ["list customers"], "how many of them are from New York?")
    assert sql == "SELECT COUNT(*) AS count FROM customers WHERE city = 'New York'"
    assert rows == [(2,)]
    assert resolved.changes == ["counted the rows", "added filter city = 'New York'"]


# ------------------------------------------------------------------------ threads


def test_a_thread_of_follow_ups_is_re_read_in_order(db):
    thread = ["list customers", "only those from London", "sort them by age"]
    resolved, sql, rows = follow(db, thread, "top 1")
    assert sql == "SELECT name FROM customers WHERE city = 'London' ORDER BY age DESC LIMIT 1"
    assert rows == [("Alan Turing",)]
    assert resolved.conversation == [*thread, "top 1"]


def test_the_explanation_says_what_changed(db):
    resolved, sql, _ = follow(db, ["list the orders"], "only those in 2024")
    text = explanation(resolved, "Lists the orders.")
    assert text.startswith('Added filter ordered_on in 2024 to the previous question ("list the orders").')
    assert text.endswith("Lists the orders.")


def test_the_thread_comes_from_the_context(db):
    from chatdb.parser.v1 import parsed_query_pb2 as pq

    assert thread_of(None) == []
    assert thread_of(pq.ParsedQuery(question="list customers")) == ["list customers"]
    assert thread_of(pq.ParsedQuery(question="x", conversation=["a", "b"])) == ["a", "b"]


@pytest.mark.parametrize(
    "question", ["how many orders are there?", "show all products", "how many customers live in New York"]
)
def test_a_question_that_names_its_own_table_stands_alone(db, question):
    resolved = resolve(question, ["list customers from London"], db.prepared, now=NOW)
    assert not resolved.follow_up
    assert resolved.conversation == [question]
    assert all(c.values != ("London",) for c in resolved.understanding.plan.where)


def test_a_table_in_a_grouping_does_not_make_a_question_stand_alone(db):
    resolved = resolve("now by customer", ["list the orders"], db.prepared, now=NOW)
    assert resolved.follow_up


# ------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    "question", ["what about London?", "only those in 2024", "how many are there?", "top 5", "and for Rotterdam?"]
)
def test_a_follow_up_without_a_previous_question_is_refused(db, question):
    with pytest.raises(Unresolved) as caught:
        resolve(question, [], db.prepared, now=NOW)
    assert "no previous question" in caught.value.what


@pytest.mark.parametrize(
    ("question", "named"),
    [("what about Paris?", "Paris"), ("what about the blue ones?", "blue"), ("only those with gravitas", "gravitas")],
)
def test_a_follow_up_that_cannot_be_applied_names_what_could_not(db, question, named):
    with pytest.raises(Unresolved) as caught:
        resolve(question, ["show customers from London"], db.prepared, now=NOW)
    assert f'"{named}"' in caught.value.what
    assert "show customers from London" in caught.value.what


def test_a_previous_question_that_ran_nothing_cannot_be_followed_up(db):
    with pytest.raises(Unresolved) as caught:
        resolve("only those in 2024", ["what tables are there"], db.prepared, now=NOW)
    assert "nothing to follow up" in caught.value.what


def test_the_same_column_twice_replaces_instead_of_matching_nothing(db):
    resolved, sql, rows = follow(db, ["list products in hardware"], "just books")
    assert "category = 'books'" in sql and "hardware" not in sql
    assert flat(rows) == ["Compiler Book"]
    plan = resolved.understanding.plan
    assert [c.op for c in plan.where] == [Op.EQ]


# ------------------------------------------------------------------------ other schemas and engines


def test_hr_follow_ups_group_by_a_table_and_rank_a_measure():
    from tests.parser.language_support import hr

    db = hr()
    _, sql, rows = follow(db, ["list employees"], "by department")
    assert "GROUP BY T2.dept_id, T2.dept_name" in sql
    assert sorted(rows) == [("Engineering", 2), ("Sales", 2)]
    # "first" here is no first-name column
    _, sql, rows = follow(db, ["average salary per department"], "highest first")
    assert sql.endswith("ORDER BY AVG(T2.salary) DESC")
    assert rows[0] == ("Engineering", 100000.0)
    _, sql, rows = follow(db, ["list employees in Sales"], "what about Engineering?")
    assert "dept_name = 'Engineering'" in sql and "Sales" not in sql
    assert sorted(flat(rows)) == ["Maria", "Wei"]


def test_a_change_alone_is_never_read_as_a_question_of_its_own(db):
    with pytest.raises(Unresolved):
        resolve("highest first", ["what tables are there"], db.prepared, now=NOW)


def test_a_follow_up_plan_renders_for_mongodb(db):
    from dataclasses import replace

    from servers.parser.domain import SchemaFlavour
    from servers.parser.render.mongo import render_mongo

    mongo = replace(db.schema, flavour=SchemaFlavour.MONGODB)
    resolved = resolve("what about London?", ["list customers from New York"], db.prepared, now=NOW)
    statement = render_mongo(resolved.understanding.plan, mongo)
    assert statement.collection == "customers" and '"London"' in statement.filter and "New York" not in statement.filter
    resolved = resolve("break it down by category", ["list products"], db.prepared, now=NOW)
    assert '"$group"' in render_mongo(resolved.understanding.plan, mongo).pipeline


def test_the_rows_named_again_with_a_pointing_word_are_still_a_follow_up(db):
    resolved, sql, rows = follow(db, ["list customers older than 30"], "only those customers from London")
    assert resolved.follow_up
    assert sql == "SELECT name FROM customers WHERE age > 30 AND city = 'London'"
    resolved, sql, rows = follow(db, ["list orders placed in 2025"], "how many of those orders are shipped?")
    assert resolved.follow_up and resolved.changes == ["counted the rows", "added filter status = 'shipped'"]
    assert "ordered_on >= '2025-01-01'" in sql and rows == [(3,)]


def test_a_very_long_thread_is_refused_not_cut(db):
    from servers.parser.followups import MAX_THREAD

    thread = ["list customers"] + ["sort them by age"] * MAX_THREAD
    with pytest.raises(Unresolved) as caught:
        resolve("top 1", thread, db.prepared, now=NOW)
    assert "start a new one" in caught.value.what
    # a question of its own still answers
    assert not resolve("how many products are there", thread, db.prepared, now=NOW).follow_up


def test_a_follow_up_is_no_surer_than_its_thread(db):
    resolved = resolve("what about Londn?", ["show customers from New York"], db.prepared, now=NOW)
    assert resolved.follow_up and resolved.understanding.confidence < 1


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("what about 2025?", "2025-01-01", "2026-01-01"),
        ("and for last month?", "2025-05-01", "2025-06-01"),
        ("what about in 2025", "2025-01-01", "2026-01-01"),
    ],
)
def test_another_time_replaces_the_time_window(db, question, start, end):
    resolved, sql, rows = follow(db, ["list orders in 2024"], question)
    assert f"ordered_on >= '{start}'" in sql and f"ordered_on < '{end}'" in sql and "2024-01-01" not in sql
    assert resolved.changes[0].startswith("replaced the time window ordered_on in 2024 with")


def test_a_question_over_two_sets_of_rows_is_not_changed_in_half(db):
    with pytest.raises(Unresolved) as caught:
        resolve("only those in 2024", ["customers who ordered both Keyboard and Monitor"], db.prepared, now=NOW)
    assert "two sets of rows" in caught.value.what


def test_glossary_follow_ups_segments_and_a_metric_by_month():
    from tests.parser.test_language_glossary import GLOSSARY

    db = shop(GLOSSARY)
    _, sql, rows = follow(db, ["list customers"], "only the londoners")
    assert sorted(flat(rows)) == ["Ada Lovelace", "Alan Turing"]
    resolved, sql, rows = follow(db, ["what is the total revenue"], "and by month?")
    assert "GROUP BY STRFTIME('%Y-%m-01', T3.ordered_on)" in sql
    assert rows[-1] == ("2025-06-01", 240.0)
    # a segment added to a metric keeps the metric's own filter (no cancelled orders)
    _, sql, rows = follow(db, ["what is the total revenue"], "what about londoners?")
    assert "status <> 'cancelled'" in sql and "city = 'London'" in sql


@pytest.mark.parametrize("question", ["what tables are there", "describe the schema"])
def test_a_question_about_the_schema_is_never_a_follow_up(db, question):
    from servers.parser.domain import QueryKind

    resolved = resolve(question, ["list customers"], db.prepared, now=NOW)
    assert resolved.understanding.kind is QueryKind.DESCRIBE and not resolved.follow_up


def test_exclude_the_ones_with_a_value(db):
    resolved, sql, rows = follow(db, ["list orders"], "exclude the cancelled ones")
    assert "status <> 'cancelled'" in sql and 4 not in [r[0] for r in rows]


@pytest.mark.parametrize("question", ["reverse the order", "the other way round", "sort them in reverse order"])
def test_reversing_flips_the_ordering(db, question):
    resolved, sql, rows = follow(db, ["list customers sorted by age"], question)
    assert sql.endswith("ORDER BY age DESC")
    assert resolved.changes == ["reversed the order"]


@pytest.mark.parametrize("question", ["the 3 most expensive", "the 3 most expensive ones", "top 3 by price"])
def test_n_at_one_end_orders_and_limits(db, question):
    _, sql, rows = follow(db, ["list products"], question)
    assert sql.endswith("ORDER BY price DESC LIMIT 3")
    assert flat(rows) == ["Monitor", "Compiler Book", "Keyboard"]


def test_a_fragment_naming_a_column_is_refused_not_read_as_its_own_question(db):
    with pytest.raises(Unresolved) as caught:
        resolve("with an email", ["list customers"], db.prepared, now=NOW)
    assert '"email"' in caught.value.what
    # a whole question naming a column stands on its own
    assert not resolve("what is the average age?", ["list customers"], db.prepared, now=NOW).follow_up


@pytest.mark.parametrize(
    ("question", "sql"),
    [
        ("For each category, what is the maximum price?", "SELECT category, MAX(price) AS max_price FROM products GROUP BY category"),
        ("customer emails from London", "SELECT email FROM customers WHERE city = 'London'"),
        (
            "How many orders were placed by customers from London?",
            "SELECT COUNT(*) AS count FROM orders AS T1 JOIN customers AS T2 ON T2.customer_id = T1.customer_id"
            " WHERE T2.city = 'London'",
        ),
    ],
)
def test_whole_questions_after_another_are_parsed_as_they_would_be_alone(db, question, sql):
    # a table named with its column, after a passive "by", or none but a whole question
    resolved = resolve(question, ["list products"], db.prepared, now=NOW)
    assert not resolved.follow_up
    assert render_sql(resolved.understanding.plan, db.schema, "sqlite") == sql


def test_maximum_computes_a_value_and_orders_nothing(db):
    with pytest.raises(Unresolved):  # a change of what is selected is no follow-up this reads
        resolve("maximum price", ["list products"], db.prepared, now=NOW)


def test_a_count_of_a_count_is_refused_and_says_why(db):
    with pytest.raises(Unresolved) as caught:
        resolve("how many are there?", ["customers from London", "how many are there?"], db.prepared, now=NOW)
    assert "already counts its rows" in caught.value.what
    # a count per group counts its groups
    _, sql, rows = follow(db, ["how many customers per city"], "how many are there?")
    assert sql == "SELECT COUNT(DISTINCT city) AS count_city FROM customers" and rows == [(3,)]


def test_the_explanation_of_several_changes(db):
    resolved, _, _ = follow(db, ["show customers from London"], "what about New York, oldest first")
    assert explanation(resolved, "Lists.") == (
        'Changed the previous question ("show customers from London"): replaced filter city = \'London\''
        " with city = 'New York'; ordered by age descending. Lists."
    )
