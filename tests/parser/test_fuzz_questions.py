"""The parser's promise under seeded fuzzing: every question gets either a statement that
runs read-only and names only tables and columns that exist, or Unresolved — never
another exception, a hang, a statement that fails on the database, or a write.

Questions are generated from three schemas of our own (tests/parser/fuzz_support.py),
understood and rendered in-process, and every statement is run on real PostgreSQL and
MariaDB inside a read-only transaction that is rolled back. A failure prints the seed and
the question, so it replays with `questions(schema, rows, seed, 1)`-style reruns."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import pytest
from bson import json_util

from servers.parser import plan_check
from servers.parser.domain import SchemaFlavour, SchemaView, Unresolved
from servers.parser.language import Prepared, prepare, understand
from servers.parser.render.explain import explain
from servers.parser.render.mongo import render_mongo
from servers.parser.render.sql import render_sql
from tests.conftest import drop_mysql_database, drop_pg_database
from tests.parser import fuzz_support as fz

QUESTIONS_PER_SCHEMA = 250
HANG_S = 5  # far beyond the 60 ms target: only a runaway parse trips it


@dataclass
class Target:
    name: str
    schema: SchemaView
    rows: dict
    prepared: Prepared
    pg: object
    my: object
    mongo: object


@pytest.fixture(scope="module")
async def targets(run_id):
    opened: dict[str, Target] = {}
    try:
        for name, (schema, rows) in fz.SCHEMAS.items():
            database = f"chatdb_test_{run_id}_fuzz_{name}"
            pg = await fz.create_pg(database, schema, rows)
            my = await fz.create_mysql(database, schema, rows)
            prepared = prepare(schema, fz.samples(schema, rows), fz.GLOSSARIES.get(name))
            opened[name] = Target(name, schema, rows, prepared, pg, my, fz.mongo_database(schema, rows))
        yield opened
    finally:
        for name, target in opened.items():
            await target.pg.close()
            target.my.close()
            await drop_pg_database(f"chatdb_test_{run_id}_fuzz_{name}")
            await drop_mysql_database(f"chatdb_test_{run_id}_fuzz_{name}")


class Hang(Exception):
    pass


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raises Hang in the main thread when the block runs longer than `seconds`."""

    def expire(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_mongo(target: Target, plan) -> list[str]:
    try:
        statement = render_mongo(plan, replace(target.schema, flavour=SchemaFlavour.MONGODB))
    except Unresolved:
        return []
    problems = []
    if target.schema.table(statement.collection) is None:
        problems.append(f"collection {statement.collection!r} is not in the schema")
    for field in ("filter", "projection", "sort", "pipeline"):
        text = getattr(statement, field)
        if not text:
            continue
        try:
            document = json_util.loads(text)
        except (ValueError, json.JSONDecodeError) as error:
            problems.append(f"mongo {field} is not Extended JSON: {error}: {text[:200]}")
            continue
        expected = list if field == "pipeline" else dict
        if not isinstance(document, expected):
            problems.append(f"mongo {field} is a {type(document).__name__}")
    if statement.limit < 0:
        problems.append(f"mongo limit {statement.limit}")
    if not problems:
        problems += _run_mongo(target, statement)
    return problems


def _run_mongo(target: Target, statement) -> list[str]:
    """Runs the statement on mongomock; what mongomock does not implement is skipped
    (a limit of the stand-in, not of the statement)."""
    import mongomock

    collection = target.mongo[statement.collection]
    try:
        if statement.aggregate:
            list(collection.aggregate(json_util.loads(statement.pipeline)))
        else:
            cursor = collection.find(
                json_util.loads(statement.filter) if statement.filter else {},
                json_util.loads(statement.projection) if statement.projection else None,
            )
            if statement.sort:
                cursor = cursor.sort(list(json_util.loads(statement.sort).items()))
            if statement.limit:
                cursor = cursor.limit(statement.limit)
            list(cursor)
    except NotImplementedError:
        return []
    except (mongomock.OperationFailure, TypeError, ValueError) as error:
        return [f"mongo failed: {type(error).__name__}: {error} in {statement}"]
    return []


async def probe(target: Target, question: str, guarded: bool = False) -> tuple[list[str], float, bool]:
    """(problems, seconds to understand and render, whether a statement came out).
    `guarded` adds what the service does between understanding and rendering
    (core.py): limits bounded, plans the database would refuse refused, dates that
    leave the calendar refused."""
    started = time.perf_counter()
    try:
        with deadline(HANG_S):
            understanding = understand(question, target.prepared, now=fz.NOW)
            plan = understanding.plan
            if plan is None or not understanding.kind.runs_a_statement:
                return [], time.perf_counter() - started, False
            if guarded:
                plan = plan_check.bounded(plan)
                if plan_check.problems(plan, target.schema):
                    return [], time.perf_counter() - started, False
            statements = {d: render_sql(plan, target.schema, d) for d in ("postgres", "mysql")}
            sentence = explain(plan, target.schema)
    except Unresolved:
        return [], time.perf_counter() - started, False
    except (OverflowError, ValueError) as error:
        if guarded and "out of range" in str(error):
            return [], time.perf_counter() - started, False
        return [f"{type(error).__name__}: {error}"], time.perf_counter() - started, False
    except Exception as error:  # noqa: BLE001 - any other exception is the bug being looked for
        return [f"{type(error).__name__}: {error}"], time.perf_counter() - started, False
    elapsed = time.perf_counter() - started
    problems = []
    if not sentence.strip():
        problems.append("empty explanation")
    for dialect, sql in statements.items():
        problems += [f"{dialect}: {p} in {sql}" for p in fz.check_statement(sql, dialect, target.schema)]
    for dialect, run, conn in (("postgres", fz.run_pg, target.pg), ("mysql", fz.run_mysql, target.my)):
        try:
            await run(conn, statements[dialect])
        except Exception as error:  # noqa: BLE001 - the database said no: a bug either way
            problems.append(f"{dialect} failed: {type(error).__name__}: {str(error)[:300]} in {statements[dialect]}")
    try:
        problems += check_mongo(target, plan)
    except Exception as error:  # noqa: BLE001
        problems.append(f"render_mongo raised {type(error).__name__}: {error}")
    return problems, elapsed, True


@dataclass(frozen=True)
class Bug:
    """A bug the fuzzing found: what its failures look like, and the smallest questions
    that show it (schema, question). Each repro is a strict xfail below, so it flips to a
    failure the day the bug is fixed and the entry can go."""

    reason: str
    pattern: re.Pattern[str]
    repros: tuple[tuple[str, str], ...]


KNOWN_BUGS = {
    "aggregate-of-non-number": Bug(
        "language/: average/total/min/max is applied to a text, boolean or date column"
        " (PostgreSQL: function avg(character varying) does not exist)",
        re.compile(r"function (avg|sum|min|max)\((character varying|boolean|date|timestamp without time zone)\)"),
        (
            ("shop", "average name!"),
            ("shop", "average stock"),
            ("school", "total home_town"),
            ("hr", "mean hire date??"),
            ("school", "date never above the average"),  # versus_average: AVG(birth_date)
            ("shop", "highest in_stock different!"),  # render/: DISTINCT + ORDER BY → MAX(in_stock)
        ),
    ),
    "number-against-date": Bug(
        "language/: a bare number is compared with a date or timestamp column"
        " (\"under 100 hireDate\" → \"hireDate\" < 100)",
        re.compile(r"operator does not exist: (date|timestamp without time zone) \S+ (integer|numeric)"),
        (("hr", "under 100 hireDate"), ("shop", "007 JOINED ON!"), ("shop", "placed 2"), ("shop", "at least 3 joined")),
    ),
    "text-against-typed-column": Bug(
        "language/ + render/: a quoted phrase or impossible date becomes a text value for an"
        " integer/date column (\"id ' naïve ''\" → item_id = 'naïve')",
        re.compile(r"invalid input syntax for type (integer|numeric|date|boolean|timestamp)|date/time field value out of range"),
        (("shop", "id ' naïve ''"),),
    ),
    "huge-limit": Bug(
        "language/ + render/: a 23-digit number becomes LIMIT 99999999999999999999999"
        " (PostgreSQL: bigint out of range; MariaDB: syntax error)",
        re.compile(r"bigint out of range|1064.*near '\d{19,}"),
        (("hr", "99999999999999999999999 recent name"), ("school", "99999999999999999999999 highest score")),
    ),
    "nul-in-literal": Bug(
        "language/ + render/: a NUL character of the question reaches a string literal, which"
        " PostgreSQL cannot hold (the service strips it: see test_service_fuzz.py)",
        re.compile(r"insufficient data left in message|\\x00|invalid byte sequence"),
        (("shop", "'; customers; \x00 ' id"),),
    ),
}


def known_bug(problems: list[str]) -> str | None:
    """The known bug that explains every problem of a question, if one does; a question
    with any unexplained problem is a new failure."""
    names = set()
    for problem in problems:
        name = next((n for n, bug in KNOWN_BUGS.items() if bug.pattern.search(problem)), None)
        if name is None:
            return None
        names.add(name)
    return ", ".join(sorted(names))


@pytest.mark.parametrize("name", list(fz.SCHEMAS))
async def test_generated_questions_never_break_the_parser(targets, name):
    target = targets[name]
    failures, times, answered, known = [], [], 0, {}
    seed = list(fz.SCHEMAS).index(name) + 1
    for q in fz.questions(target.schema, target.rows, seed, QUESTIONS_PER_SCHEMA):
        problems, elapsed, ran = await probe(target, q.text)
        times.append(elapsed)
        answered += ran
        if problems:
            bug = known_bug(problems)
            if bug:
                known[bug] = known.get(bug, 0) + 1
            else:
                failures.append(f"seed {q.seed} {q.text!r}:\n    " + "\n    ".join(problems))
    times.sort()
    print(
        f"\n{name}: {len(times)} questions, {answered} with a statement, "
        f"p50 {times[len(times) // 2] * 1000:.1f} ms, p95 {times[int(len(times) * 0.95)] * 1000:.1f} ms, "
        f"known bugs {known}"
    )
    assert answered >= QUESTIONS_PER_SCHEMA // 10, "the generator should reach the statement path"
    assert not failures, f"{len(failures)} failing questions:\n" + "\n".join(failures[:15])


@pytest.mark.parametrize("name", list(fz.SCHEMAS))
async def test_with_the_service_check_no_statement_fails_on_the_database(targets, name):
    """The same questions (and more) through the service's last check: every statement
    it lets through runs; nothing is excused by a known bug."""
    target = targets[name]
    failures, answered = [], 0
    seed = list(fz.SCHEMAS).index(name) + 11
    for q in fz.questions(target.schema, target.rows, seed, QUESTIONS_PER_SCHEMA):
        problems, _, ran = await probe(target, q.text, guarded=True)
        answered += ran
        if problems:
            failures.append(f"seed {q.seed} {q.text!r}:\n    " + "\n    ".join(problems))
    assert answered >= QUESTIONS_PER_SCHEMA // 10
    assert not failures, f"{len(failures)} failing questions:\n" + "\n".join(failures[:15])


@pytest.mark.parametrize(
    ("name", "question"),
    [
        pytest.param(name, question, marks=pytest.mark.xfail(strict=True, reason=f"{key}: {bug.reason}"), id=f"{key}-{i}")
        for key, bug in KNOWN_BUGS.items()
        for i, (name, question) in enumerate(bug.repros)
    ],
)
async def test_known_bug_repro(targets, name, question):
    problems, _, _ = await probe(targets[name], question)
    assert not problems, "\n".join(problems)


def test_the_statement_check_catches_what_it_must():
    """The checker itself: a write, two statements, an unknown table or column fail."""
    bad = [
        "DELETE FROM customers",
        "SELECT 1; SELECT 2",
        "SELECT name FROM clients",
        "SELECT T1.salary FROM customers AS T1",
        "SELECT salary FROM customers",
        "SELECT name FROM customers WHERE customer_id IN (SELECT T9.customer_id FROM orders AS T1)",
    ]
    for sql in bad:
        assert fz.check_statement(sql, "postgres", fz.SHOP), sql
    good = (
        "SELECT T1.name, COUNT(*) AS count FROM customers AS T1 JOIN orders AS T2"
        " ON T2.customer_id = T1.customer_id GROUP BY T1.name ORDER BY count DESC"
    )
    assert fz.check_statement(good, "postgres", fz.SHOP) == []


NUMBERED = fz.SchemaView(
    tuple(
        fz.TableInfo(
            f"region_{i}",
            (fz.ColumnInfo("id", fz.INT, primary_key=True), fz.ColumnInfo("label", fz.T), fz.ColumnInfo("amount", fz.INT)),
            ("id",),
        )
        for i in (1, 2, 3)
    ),
    version="numbered-1",
)


@pytest.mark.xfail(
    strict=True,
    reason="language/linking: a table named with a number (region_2) is read as its stem plus a"
    " number, so 'how many region_2' counts region_1 and 'average amount of region_3' becomes"
    " HAVING AVG(amount) = 3 on region_1 (found with an inline schema of 500 numbered tables)",
)
@pytest.mark.parametrize(
    ("question", "table"),
    [("how many region_2", "region_2"), ("average amount of region_3", "region_3"), ("labels of region_2", "region_2")],
)
def test_a_table_named_with_a_number_is_the_one_asked_about(question, table):
    plan = understand(question, prepare(NUMBERED, {}), now=fz.NOW).plan
    assert plan is not None and plan.referenced_tables() == [table]
    assert plan.having == ()
