"""Helpers of the parser's fuzz tests (not a test module): three small schemas of our own
(a shop in snake_case, an HR department in camelCase with a self-reference, a school
with a link table), created with a few rows on the machine's PostgreSQL and MariaDB;
seeded question generators; and the checks a rendered statement must pass (one read-only
SELECT naming only what the schema has)."""

from __future__ import annotations

import datetime as dt
import random
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import aiomysql
import asyncpg
import sqlglot
from sqlglot import exp

from servers.contracts.glossary import Glossary, Metric, Segment, Synonym, with_version
from servers.parser.domain import (
    ColumnInfo,
    ColumnKind,
    ColumnRef,
    ForeignKeyInfo,
    SchemaView,
    TableInfo,
)
from tests.conftest import MYSQL, create_pg_database, drop_pg_database

T, INT, N, D, TS, B = (
    ColumnKind.TEXT,
    ColumnKind.INTEGER,
    ColumnKind.NUMBER,
    ColumnKind.DATE,
    ColumnKind.TIMESTAMP,
    ColumnKind.BOOLEAN,
)
NOW = dt.datetime(2026, 6, 15, 12, 0)


def _table(name: str, columns: list[tuple[str, ColumnKind]], pk: tuple[str, ...], fks=()) -> TableInfo:
    return TableInfo(
        name,
        tuple(ColumnInfo(c, k, primary_key=c in pk, nullable=c not in pk) for c, k in columns),
        pk,
        tuple(ForeignKeyInfo((a,), b, (c,)) for a, b, c in fks),
    )


SHOP = SchemaView(
    (
        _table("customers", [("customer_id", INT), ("name", T), ("city", T), ("age", INT), ("joined_on", D)], ("customer_id",)),
        _table("products", [("product_id", INT), ("name", T), ("category", T), ("price", N), ("in_stock", B)], ("product_id",)),
        _table(
            "orders",
            [("order_id", INT), ("customer_id", INT), ("placed_at", TS), ("status", T), ("total", N)],
            ("order_id",),
            [("customer_id", "customers", "customer_id")],
        ),
        _table(
            "order_items",
            [("item_id", INT), ("order_id", INT), ("product_id", INT), ("quantity", INT)],
            ("item_id",),
            [("order_id", "orders", "order_id"), ("product_id", "products", "product_id")],
        ),
    ),
    version="fuzz-shop-1",
)
SHOP_ROWS = {
    "customers": [
        (1, "Ada Obi", "New York", 34, dt.date(2024, 1, 10)),
        (2, "Bo Chen", "Lagos", 28, dt.date(2025, 3, 2)),
        (3, "Cy O'Neil", "New York", None, dt.date(2026, 4, 20)),
    ],
    "products": [(1, "Desk", "furniture", 120.0, True), (2, "Lamp", "lighting", 25.5, False), (3, "Chair", "furniture", None, True)],
    "orders": [
        (1, 1, dt.datetime(2026, 5, 3, 9, 30), "shipped", 145.5),
        (2, 1, dt.datetime(2026, 3, 20, 18, 0), "cancelled", 60.0),
        (3, 2, dt.datetime(2025, 10, 1, 8, 15), "shipped", None),
    ],
    "order_items": [(1, 1, 1, 1), (2, 1, 2, 3), (3, 2, 3, 1), (4, 3, 1, 2)],
}

HR = SchemaView(
    (
        _table("Department", [("deptId", INT), ("deptName", T), ("annualBudget", N), ("locationCity", T)], ("deptId",)),
        _table(
            "Employee",
            [
                ("empId", INT),
                ("firstName", T),
                ("lastName", T),
                ("jobTitle", T),
                ("baseSalary", N),
                ("hireDate", D),
                ("deptId", INT),
                ("managerId", INT),
            ],
            ("empId",),
            [("deptId", "Department", "deptId"), ("managerId", "Employee", "empId")],
        ),
    ),
    version="fuzz-hr-1",
)
HR_ROWS = {
    "Department": [(1, "Engineering", 500000.0, "Berlin"), (2, "Sales", 200000.0, "Lagos"), (3, "Legal", None, "Berlin")],
    "Employee": [
        (1, "Maria", "Garcia", "Director", 150000.0, dt.date(2018, 2, 1), 1, None),
        (2, "John", "Smith", "Engineer", 90000.0, dt.date(2021, 7, 15), 1, 1),
        (3, "Wei", "Chen", "Account Manager", 70000.0, dt.date(2026, 3, 30), 2, 1),
        (4, "Amara", "Okafor", "Engineer", None, dt.date(2026, 6, 1), 1, 2),
    ],
}

SCHOOL = SchemaView(
    (
        _table("students", [("student_id", INT), ("full_name", T), ("grade_level", INT), ("birth_date", D), ("home_town", T)], ("student_id",)),
        _table("courses", [("course_id", INT), ("title", T), ("credits", INT), ("subject", T)], ("course_id",)),
        _table(
            "enrollments",
            [("student_id", INT), ("course_id", INT), ("enrolled_on", D), ("score", N)],
            ("student_id", "course_id"),
            [("student_id", "students", "student_id"), ("course_id", "courses", "course_id")],
        ),
    ),
    version="fuzz-school-1",
)
SCHOOL_ROWS = {
    "students": [
        (1, "Lena Park", 9, dt.date(2010, 5, 1), "Springfield"),
        (2, "Omar Haddad", 10, dt.date(2009, 11, 23), "Riverside"),
        (3, "Zoë Adler", 9, None, "Springfield"),
    ],
    "courses": [(1, "Algebra", 4, "math"), (2, "Biology", 3, "science"), (3, "Poetry", 2, "english")],
    "enrollments": [
        (1, 1, dt.date(2025, 9, 1), 88.5),
        (1, 2, dt.date(2025, 9, 1), 92.0),
        (2, 1, dt.date(2026, 1, 10), 71.0),
        (3, 3, dt.date(2026, 2, 3), None),
    ],
}

# The shop again with a glossary: metrics, segments and synonyms are matched before
# anything else, so their SQL fragments meet every other cue.
SHOP_GLOSSARY = with_version(
    Glossary(
        metrics=(
            Metric("revenue", "orders", "sum(orders.total)", ("orders.status <> 'cancelled'",),
                   "orders.placed_at", synonyms=("sales",)),
            Metric("units sold", "order_items", "sum(order_items.quantity)"),
            Metric("average basket", "orders", "avg(orders.total)", time_column="orders.placed_at"),
        ),
        segments=(
            Segment("local customer", "customers", "customers.city = 'New York'", synonyms=("locals",)),
            Segment("stocked product", "products", "products.in_stock = true"),
            Segment("open order", "orders", "orders.status NOT IN ('shipped', 'cancelled')"),
        ),
        synonyms=(Synonym("client", "customers"), Synonym("cost", "products.price"), Synonym("town", "customers.city")),
    )
)

SCHEMAS = {
    "shop": (SHOP, SHOP_ROWS),
    "hr": (HR, HR_ROWS),
    "school": (SCHOOL, SCHOOL_ROWS),
    "glossary": (SHOP, SHOP_ROWS),
}
GLOSSARIES = {"glossary": SHOP_GLOSSARY}

_SQL_TYPES = {T: "VARCHAR(80)", INT: "INTEGER", N: "NUMERIC(12,2)", D: "DATE", TS: "TIMESTAMP NULL", B: "BOOLEAN"}


def samples(schema: SchemaView, rows: dict[str, list[tuple]]) -> dict[ColumnRef, list[str]]:
    """The distinct text values the connector would sample, per text column."""
    found: dict[ColumnRef, list[str]] = {}
    for table in schema.tables:
        for i, column in enumerate(table.columns):
            if column.kind is T:
                found[ColumnRef(table.name, column.name)] = sorted({r[i] for r in rows[table.name] if r[i] is not None})
    return found


def _ddl(schema: SchemaView, q: str) -> list[str]:
    statements = []
    for table in schema.tables:
        columns = [f"{q}{c.name}{q} {_SQL_TYPES[c.kind]}" for c in table.columns]
        columns.append("PRIMARY KEY (" + ", ".join(f"{q}{c}{q}" for c in table.primary_key) + ")")
        statements.append(f"CREATE TABLE {q}{table.name}{q} ({', '.join(columns)})")
    return statements


def _insert(table: TableInfo, q: str, mark: str) -> str:
    names = ", ".join(f"{q}{c.name}{q}" for c in table.columns)
    marks = ", ".join(mark.format(i + 1) for i in range(len(table.columns)))
    return f"INSERT INTO {q}{table.name}{q} ({names}) VALUES ({marks})"


async def create_pg(database: str, schema: SchemaView, rows: dict[str, list[tuple]]) -> asyncpg.Connection:
    await drop_pg_database(database)
    conn = await asyncpg.connect(await create_pg_database(database))
    for sql in _ddl(schema, '"'):
        await conn.execute(sql)
    for table in schema.tables:
        await conn.executemany(_insert(table, '"', "${}"), rows[table.name])
    # a runaway statement is a bug to report, not a test that hangs
    await conn.execute("SET statement_timeout = '5s'")
    return conn


async def create_mysql(database: str, schema: SchemaView, rows: dict[str, list[tuple]]) -> aiomysql.Connection:
    conn = await aiomysql.connect(**MYSQL, autocommit=True)
    async with conn.cursor() as cur:
        await cur.execute("SET sql_notes = 0")
        await cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
        await cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
        await cur.execute(f"USE `{database}`")
        for sql in _ddl(schema, "`"):
            await cur.execute(sql)
        for table in schema.tables:
            await cur.executemany(_insert(table, "`", "%s"), rows[table.name])
        await cur.execute("SET SESSION max_statement_time = 5")
    return conn


async def run_pg(conn: asyncpg.Connection, sql: str) -> list:
    """Runs `sql` in a read-only transaction that is rolled back: a write would fail."""
    transaction = conn.transaction(readonly=True)
    await transaction.start()
    try:
        return await conn.fetch(sql)
    finally:
        await transaction.rollback()


async def run_mysql(conn: aiomysql.Connection, sql: str) -> list:
    async with conn.cursor() as cur:
        await cur.execute("START TRANSACTION READ ONLY")
        try:
            # MariaDB's truncation warnings are not failures (PostgreSQL, stricter,
            # reports the same type mismatches as errors)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                await cur.execute(sql)  # no args: aiomysql leaves % alone
            return list(await cur.fetchall())
        finally:
            await cur.execute("ROLLBACK")


def mongo_database(schema: SchemaView, rows: dict[str, list[tuple]]):
    """The rows as documents in an in-memory mongomock database (dates as datetimes,
    which is what BSON holds)."""
    import mongomock

    database = mongomock.MongoClient().get_database("fuzz")
    for table in schema.tables:
        documents = []
        for row in rows[table.name]:
            documents.append({
                c.name: dt.datetime.combine(v, dt.time()) if type(v) is dt.date else v
                for c, v in zip(table.columns, row, strict=True)
                if v is not None
            })
        database[table.name].insert_many(documents)
    return database


# ------------------------------------------------------------------ statement checks


def check_statement(sql: str, dialect: str, schema: SchemaView) -> list[str]:
    """What is wrong with a rendered statement: not exactly one SELECT (or set
    operation), a write anywhere in it, or a table or column the schema does not have."""
    try:
        trees = [t for t in sqlglot.parse(sql, read=dialect) if t is not None]
    except sqlglot.errors.SqlglotError as error:
        return [f"does not parse as {dialect}: {error}"]
    if len(trees) != 1:
        return [f"{len(trees)} statements"]
    tree = trees[0]
    if not isinstance(tree, exp.Select | exp.SetOperation):
        return [f"not a SELECT but {type(tree).__name__}"]
    problems = []
    for node in tree.walk():
        if isinstance(node, exp.Insert | exp.Update | exp.Delete | exp.Drop | exp.Create | exp.Command | exp.Merge):
            problems.append(f"a {type(node).__name__} inside")
    aliases: set[str] = {a.alias for a in tree.find_all(exp.Alias)}
    for table in tree.find_all(exp.Table):
        if schema.table(table.name) is None:
            problems.append(f"table {table.name!r} is not in the schema")
    for column in tree.find_all(exp.Column):
        name = column.name
        if not name or isinstance(column.this, exp.Star):
            continue
        tables = _visible_tables(column)
        if column.table:
            table = tables.get(column.table)
            if table is None:
                problems.append(f"column {column.sql()} names an unknown table or alias")
            elif schema.table(table) is None or schema.table(table).column(name) is None:
                problems.append(f"column {name!r} is not in table {table!r}")
        elif not any(schema.table(t) and schema.table(t).column(name) for t in tables.values()) and name not in aliases:
            problems.append(f"column {name!r} is in none of {sorted(set(tables.values()))}")
    return problems


def _visible_tables(node: exp.Expression) -> dict[str, str]:
    """alias (or name) → table name for every SELECT enclosing `node`, innermost first
    (a correlated subquery sees its outer tables)."""
    visible: dict[str, str] = {}
    select = node.find_ancestor(exp.Select)
    while select is not None:
        for source in select.find_all(exp.Table):
            if source.find_ancestor(exp.Select) is select:  # not a nested subquery's
                visible.setdefault(source.alias_or_name, source.name)
        select = select.find_ancestor(exp.Select)
    return visible


# ------------------------------------------------------------------ questions

CUES = [
    "how many", "count", "number of", "average", "avg", "mean", "total", "sum of", "minimum",
    "maximum", "highest", "lowest", "top 3", "top five", "bottom 2", "first 10", "most recent",
    "oldest", "youngest", "newest", "not", "without", "never", "no", "both", "either", "or",
    "and", "but not", "per", "by", "for each", "each", "every", "grouped by", "since March",
    "last month", "this year", "in 2024", "before 2025", "after January 3", "between 10 and 20",
    "more than five", "at least 3", "under 100", "over 1,000", "fewer than two", "exactly 7",
    "above the average", "below average", "with more than 3", "distinct", "unique", "different",
    "list", "show", "show me", "which", "what", "who", "where", "whose", "named", "called",
    "sorted by", "ordered by", "descending", "ascending", "alphabetically", "the", "of", "in",
    "from", "with", "is", "are", "was", "has", "have", "did", "than", "equal to", "contains",
    "starting with", "is empty", "missing", "null", "last 7 days", "yesterday", "today",
    "in Q3", "by month", "per year", "weekly", "on 2025-02-30", "in 1900", "since 9999",
    "in the last 5000 years", "in the last 99999999 days", "over the past 300 months",
]
JUNK = [
    "'", '"', "''", "`", ";", "--", "/*", "*/", "%", "_", "\\", "%%", "?", "!", "(", ")", "[", "]",
    "{}", "$1", ":name", "@x", "#", "0", "-1", "1e309", "NaN", "inf", "3.14159", "007", "1,000,000",
    "99999999999999999999999", "-0", "½", "²", "2025-13-45", "12/31/1999", "31.12.2024", "0000-00-00",
    "DROP TABLE x", "'; DELETE FROM customers; --", "OR 1=1", "UNION SELECT password FROM users",
    "SELECT * FROM pg_shadow", "sleep(10)", "pg_sleep(10)", "\x00", "\t", "\u200b", "\ufeff",
    "naïve", "Zoë", "日本語", "Ελληνικά", "مرحبا", "🙂", "🔥🔥", "👩‍💻", "\U0001f600" * 5,
    "x" * 300, "supercalifragilisticexpialidocious" * 4, "NULL", "null", "None", "true", "false",
    "*", "select", "from", "where", "group", "order", "limit", "having", "join",
]


def schema_words(schema: SchemaView, rows: dict[str, list[tuple]]) -> list[str]:
    """Table and column names as written and as words, and the stored values."""
    from servers.parser.language.words import split_identifier

    words: list[str] = []
    for table in schema.tables:
        words += [table.name, " ".join(split_identifier(table.name))]
        for column in table.columns:
            words += [column.name, " ".join(split_identifier(column.name))]
    words += [str(v) for table_rows in rows.values() for row in table_rows for v in row if isinstance(v, str)]
    if schema is SHOP:
        glossary = SHOP_GLOSSARY
        words += [m.name for m in glossary.metrics] + [s.name for s in glossary.segments]
        words += [t for entry in (*glossary.metrics, *glossary.segments) for t in entry.synonyms]
        words += [s.term for s in glossary.synonyms]
    return words


@dataclass(frozen=True)
class Question:
    seed: int
    text: str


def questions(schema: SchemaView, rows: dict[str, list[tuple]], seed: int, count: int) -> Iterator[Question]:
    """`count` seeded questions: half shaped like a question (cue + schema words), half
    word salads with junk; a few very long ones."""
    words = schema_words(schema, rows)
    for n in range(count):
        rng = random.Random(seed * 100_003 + n)
        shape = rng.random()
        if shape < 0.45:
            parts = [rng.choice(CUES), rng.choice(words)]
            for _ in range(rng.randint(0, 4)):
                parts.append(rng.choice(CUES) if rng.random() < 0.5 else rng.choice(words))
            if rng.random() < 0.2:
                parts.insert(rng.randrange(len(parts) + 1), rng.choice(JUNK))
        elif shape < 0.95:
            pool = [CUES, words, JUNK]
            parts = [rng.choice(rng.choice(pool)) for _ in range(rng.randint(1, 12))]
        else:
            pool = CUES + words + JUNK
            parts = []
            while sum(len(p) + 1 for p in parts) < 1990:
                parts.append(rng.choice(pool))
        text = " ".join(parts)
        if rng.random() < 0.3:
            text += rng.choice(["?", "!", ".", "??", " ?!", ";"])
        if rng.random() < 0.1:
            text = text.upper()
        yield Question(seed * 100_003 + n, text[:2000])
