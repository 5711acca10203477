"""QueryParserService under fuzzing and hostile requests, through the real gRPC service
in front of the real connector: a question gets OK or INVALID_ARGUMENT, never INTERNAL
or UNKNOWN, and an OK statement runs through the connector. The language bugs that
test_fuzz_questions.py knows (strict xfails there) are caught here by the service's last
check (servers/parser/plan_check.py): a plan the database would refuse is
INVALID_ARGUMENT. The prediction service is not running: the parser answers on its rule
path."""

from __future__ import annotations

import datetime as dt

import asyncpg
import grpc
import pytest
from chatdb.connector.v1 import (
    connection_pb2,
    connector_service_pb2,
    data_type_pb2,
    schema_pb2,
    statement_pb2,
)
from chatdb.parser.v1 import query_parser_service_pb2 as pb
from google.protobuf import timestamp_pb2

from servers.contracts.glossary import glossary_to_pb
from servers.runtime.status import details_from_rpc_error
from tests.conftest import drop_mysql_database, drop_pg_database, pg_dsn_for
from tests.connector.service_support import free_port, mysql_dsn
from tests.parser import fuzz_support as fz
from tests.parser.service_support import register, running_parser
from tests.parser.test_fuzz_questions import KNOWN_BUGS

PG = connection_pb2.CONNECTION_KIND_POSTGRES
MY = connection_pb2.CONNECTION_KIND_MYSQL
ALLOWED = (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT)
ODD_NAMES_DDL = [
    'CREATE TABLE "order ""lines"" list" ("line id" INTEGER PRIMARY KEY, "it\'s name" VARCHAR(40),'
    ' "unit price" NUMERIC(8,2), "Ship Date" DATE)',
    'INSERT INTO "order ""lines"" list" VALUES (1, \'Desk\', 120.00, \'2026-05-01\'), (2, \'Lamp\', 25.50, NULL)',
]


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    created: list[str] = []
    try:
        async with running_parser(settings, prediction_port=free_port()) as m:
            for name, (schema, rows) in fz.SCHEMAS.items():
                database = f"chatdb_test_{run_id}_sfuzz_{name}"
                created.append(database)
                await (await fz.create_pg(database, schema, rows)).close()
                (await fz.create_mysql(database, schema, rows)).close()
                await register(m.connector, f"fuzz-{name}-pg", PG, pg_dsn_for(database))
                await register(m.connector, f"fuzz-{name}-my", MY, mysql_dsn(database))
                if name in fz.GLOSSARIES:
                    for engine in ("pg", "my"):
                        await m.connector.stub.SetGlossary(
                            connector_service_pb2.SetGlossaryRequest(
                                connection_id=f"fuzz-{name}-{engine}", glossary=glossary_to_pb(fz.GLOSSARIES[name])
                            )
                        )
            odd = f"chatdb_test_{run_id}_sfuzz_odd"
            created.append(odd)
            await (await fz.create_pg(odd, fz.SchemaView(()), {})).close()
            conn = await asyncpg.connect(pg_dsn_for(odd))
            try:
                for sql in ODD_NAMES_DDL:
                    await conn.execute(sql)
            finally:
                await conn.close()
            await register(m.connector, "fuzz-odd-pg", PG, pg_dsn_for(odd))
            yield m
    finally:
        for database in created:
            await drop_pg_database(database)
            await drop_mysql_database(database)


async def ask(mesh, question: str, connection: str = "fuzz-shop-pg", **fields):
    """(status code, ParsedQuery or None, error message)."""
    try:
        reply = await mesh.parser.ParseQuery(pb.ParseQueryRequest(question=question, connection_id=connection, **fields))
    except grpc.aio.AioRpcError as error:
        return error.code(), None, f"{error.details()} / {details_from_rpc_error(error).reason}"
    return grpc.StatusCode.OK, reply.parsed_query, ""


async def execute(mesh, connection: str, statement: statement_pb2.Statement) -> str:
    """'' when the statement ran, else the connector's message."""
    try:
        await mesh.connector.stub.ExecuteQuery(
            connector_service_pb2.ExecuteQueryRequest(connection_id=connection, statement=statement)
        )
    except grpc.aio.AioRpcError as error:
        return f"{error.code().name}: {error.details()}"
    return ""


def at(moment: dt.datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(moment)
    return ts


async def test_generated_questions_get_ok_or_invalid_argument(mesh):
    failures, answered, durations = [], 0, []
    for seed, name in enumerate(fz.SCHEMAS, 11):
        schema, rows = fz.SCHEMAS[name]
        for q in fz.questions(schema, rows, seed, 34):
            connection = f"fuzz-{name}-{'pg' if q.seed % 2 else 'my'}"
            code, parsed, message = await ask(mesh, q.text, connection, reference_time=at(fz.NOW))
            if code not in ALLOWED:
                failures.append(f"{connection} seed {q.seed} {q.text!r}: {code.name} {message}")
                continue
            if parsed is None or not parsed.HasField("statement"):
                continue
            durations.append(parsed.parse_duration.ToTimedelta().total_seconds() * 1000)
            answered += 1
            problem = await execute(mesh, connection, parsed.statement)
            if problem:
                failures.append(f"{connection} {q.text!r}: {problem} in {parsed.statement.sql.sql}")
    durations.sort()
    print(f"\nservice: {answered} statements run, parse p95 {durations[int(len(durations) * 0.95)]:.1f} ms")
    assert answered >= 20
    code, parsed, message = await ask(mesh, "revenue last month", "fuzz-glossary-pg", reference_time=at(fz.NOW))
    assert code is grpc.StatusCode.OK and "cancelled" in parsed.statement.sql.sql, message  # the glossary is in use
    assert not failures, "\n".join(failures[:10])


HOSTILE_QUESTIONS = [
    "customers named '\x00'",
    "how many \x00 orders",
    "\x00" * 50,
    "orders with status \x00shipped",
    "x" * 2000,
    "how many customers " + "🙂" * 900,
    "\u202eslebal\u202c customers list",  # right-to-left override
    "cus\u0301tomers with ci\u0308ty Lagos",  # combining marks
    "\u200b\u200c\u200d\ufeff",
    "customers " + "(" * 500,
    "customers where name = '" + "'" * 999,
    "average total of orders " + " ".join(["and"] * 300),
    "\\" * 1999,
    "%_%_%" * 300,
    "top 18446744073709551616 customers",
    "customers older than 1e308",
    "customers older than -0.0",
    "orders since 31 February",
    "orders placed on 0001-01-01",
    "orders placed on 9999-12-31",
    "orders in the last 5000 years",
    "orders from the last 99999999 days",
]


@pytest.mark.parametrize("question", HOSTILE_QUESTIONS, ids=range(len(HOSTILE_QUESTIONS)))
@pytest.mark.parametrize("connection", ["fuzz-shop-pg", "fuzz-shop-my"])
async def test_hostile_questions_are_answered_or_refused_never_crash(mesh, question, connection):
    code, parsed, message = await ask(mesh, question, connection, reference_time=at(fz.NOW))
    assert code in ALLOWED, message
    if parsed is not None and parsed.HasField("statement"):
        assert parsed.statement.sql.sql.lstrip().upper().startswith(("SELECT", "(SELECT", "WITH")) is True
        assert await execute(mesh, connection, parsed.statement) == ""


@pytest.mark.parametrize(
    "moment",
    [dt.datetime(1, 1, 1), dt.datetime(1, 1, 31, 23, 59), dt.datetime(1970, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59)],
    ids=["year-1", "january-of-year-1", "epoch", "end-of-9999"],
)
@pytest.mark.parametrize(
    "question",
    ["orders placed last month", "orders this year", "orders since March", "orders last 7 days",
     "orders in the last year", "customers who joined yesterday", "orders next month", "orders by month"],
)
async def test_a_reference_time_at_the_edges_of_the_calendar_is_not_a_crash(mesh, moment, question):
    code, parsed, message = await ask(mesh, question, reference_time=at(moment))
    assert code in ALLOWED, message
    if parsed is not None and parsed.HasField("statement"):
        assert await execute(mesh, "fuzz-shop-pg", parsed.statement) == ""


async def test_a_dialect_that_contradicts_the_connection_is_honoured_not_a_crash(mesh):
    code, parsed, message = await ask(mesh, "how many employees", "fuzz-hr-pg", dialect=statement_pb2.SQL_DIALECT_MYSQL)
    assert code is grpc.StatusCode.OK, message
    assert parsed.statement.sql.dialect == statement_pb2.SQL_DIALECT_MYSQL
    code, parsed, message = await ask(mesh, "how many employees", "fuzz-hr-my", dialect=statement_pb2.SQL_DIALECT_POSTGRES)
    assert code is grpc.StatusCode.OK, message
    assert parsed.statement.sql.dialect == statement_pb2.SQL_DIALECT_POSTGRES
    assert '"Employee"' in parsed.statement.sql.sql


async def test_names_with_quotes_and_spaces_are_quoted_and_run(mesh):
    for question in ["how many order lines list", "average unit price", "show the it's name of order lines",
                     "order lines with unit price over 100", "latest ship date"]:
        code, parsed, message = await ask(mesh, question, "fuzz-odd-pg")
        assert code in ALLOWED, f"{question}: {message}"
        if parsed is not None and parsed.HasField("statement"):
            assert await execute(mesh, "fuzz-odd-pg", parsed.statement) == "", parsed.statement.sql.sql


def _inline_table(name: str, columns: list[tuple[str, int]], pk: str = "") -> schema_pb2.Table:
    return schema_pb2.Table(
        name=name,
        kind=schema_pb2.TABLE_KIND_TABLE,
        columns=[schema_pb2.Column(name=c, type=t, primary_key_ordinal=int(c == pk)) for c, t in columns],
        primary_key=[pk] if pk else [],
    )


INT_T, TEXT_T = data_type_pb2.DATA_TYPE_INTEGER, data_type_pb2.DATA_TYPE_TEXT


async def test_an_inline_schema_of_500_tables_is_answered(mesh):
    tables = [
        _inline_table(f"table_{i}", [(f"table_{i}_id", INT_T), (f"label_{i}", TEXT_T), (f"amount_{i}", INT_T)], f"table_{i}_id")
        for i in range(500)
    ]
    schema = schema_pb2.Schema(schema_version="inline-500", tables=tables)
    for question in ["how many table_250", "average amount_499 of table_499", "zebra quantum", "label_3 of table 3"]:
        code, parsed, message = await ask(mesh, question, "", schema=schema)
        assert code in ALLOWED, f"{question}: {message}"
        if parsed is not None and parsed.HasField("statement"):
            assert fz.check_statement(parsed.statement.sql.sql, "postgres", _view(schema)) == []


async def test_a_table_without_columns_is_not_a_crash(mesh):
    schema = schema_pb2.Schema(
        schema_version="inline-empty-table",
        tables=[
            _inline_table("ghosts", []),
            _inline_table("people", [("person_id", INT_T), ("name", TEXT_T)], "person_id"),
        ],
    )
    for question in ["how many ghosts", "show ghosts", "list the names of ghosts", "how many people", "ghosts per people"]:
        code, parsed, message = await ask(mesh, question, "", schema=schema)
        assert code in ALLOWED, f"{question}: {message}"
        if parsed is not None and parsed.HasField("statement"):
            assert fz.check_statement(parsed.statement.sql.sql, "postgres", _view(schema)) == []


async def test_inline_schemas_without_a_version_do_not_answer_from_each_other(mesh):
    """Two different inline schemas, neither with a schema_version: each question is
    answered from its own schema, never from the one asked about before."""
    first = schema_pb2.Schema(tables=[_inline_table("planets", [("planet_id", INT_T), ("name", TEXT_T)], "planet_id")])
    second = schema_pb2.Schema(tables=[_inline_table("rivers", [("river_id", INT_T), ("name", TEXT_T)], "river_id")])
    code, parsed, _ = await ask(mesh, "how many planets", "", schema=first)
    assert code is grpc.StatusCode.OK and "planets" in parsed.statement.sql.sql
    code, parsed, message = await ask(mesh, "how many rivers", "", schema=second)
    assert code is grpc.StatusCode.OK, message
    assert "rivers" in parsed.statement.sql.sql and "planets" not in parsed.statement.sql.sql


def _view(schema: schema_pb2.Schema):
    from servers.parser.convert import schema_view
    from servers.parser.domain import SchemaFlavour

    return schema_view(schema, SchemaFlavour.POSTGRES)


@pytest.mark.parametrize(
    ("name", "question"),
    [(name, question) for bug in KNOWN_BUGS.values() for name, question in bug.repros],
)
@pytest.mark.parametrize("engine", ["pg", "my"])
async def test_the_language_bugs_the_fuzz_found_never_reach_the_database(mesh, name, question, engine):
    connection = f"fuzz-{name}-{engine}"
    code, parsed, message = await ask(mesh, question, connection, reference_time=at(fz.NOW))
    assert code in ALLOWED, message
    if parsed is not None and parsed.HasField("statement"):
        assert await execute(mesh, connection, parsed.statement) == "", parsed.statement.sql.sql


@pytest.mark.parametrize("question", ["orders in the last 5000 years", "orders from the last 99999999 days"])
@pytest.mark.parametrize("engine", ["pg", "my"])
async def test_a_window_past_the_calendar_is_not_understood(mesh, question, engine):
    code, parsed, message = await ask(mesh, question, f"fuzz-shop-{engine}", reference_time=at(fz.NOW))
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "outside the calendar" in message, message


async def test_an_odd_context_is_accepted_and_changes_nothing(mesh):
    from chatdb.parser.v1 import parsed_query_pb2 as pq

    context = pq.ParsedQuery(question="🙂" * 5000, limit=-5, tables=["no_such_table"] * 100)
    code, parsed, message = await ask(mesh, "how many customers", context=context)
    assert code is grpc.StatusCode.OK, message
    assert "no_such_table" not in parsed.statement.sql.sql
    # a NUL anywhere in the request is refused by the service's request check
    context.question = "\x00"
    code, _, message = await ask(mesh, "how many customers", context=context)
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "context.question" in message


async def test_an_inline_schema_with_broken_foreign_keys_never_joins_on_them(mesh):
    people = _inline_table("people", [("person_id", INT_T), ("name", TEXT_T), ("team_id", INT_T)], "person_id")
    teams = _inline_table("teams", [("team_id", INT_T), ("title", TEXT_T)], "team_id")
    broken = [
        schema_pb2.ForeignKey(columns=["nope"], referenced_table="teams", referenced_columns=["team_id"]),
        schema_pb2.ForeignKey(columns=[], referenced_table="teams", referenced_columns=[]),
        schema_pb2.ForeignKey(columns=["team_id", "name"], referenced_table="teams", referenced_columns=["team_id"]),
        schema_pb2.ForeignKey(columns=["team_id"], referenced_table="nowhere", referenced_columns=["id"]),
    ]
    for fk in broken:
        people.ClearField("foreign_keys")
        people.foreign_keys.append(fk)
        schema = schema_pb2.Schema(tables=[people, teams, _inline_table("", [("", INT_T)])])
        for question in ["people per team", "title of the team of each person", "how many people"]:
            code, parsed, message = await ask(mesh, question, "", schema=schema)
            assert code in ALLOWED, f"{fk} {question}: {message}"
            if parsed is not None and parsed.HasField("statement"):
                assert fz.check_statement(parsed.statement.sql.sql, "postgres", _view(schema)) == []


async def test_an_inline_schema_with_a_connection_that_lacks_its_tables_is_not_a_crash(mesh):
    schema = schema_pb2.Schema(
        tables=[_inline_table("planets", [("planet_id", INT_T), ("name", TEXT_T), ("moons", INT_T)], "planet_id")]
    )
    for connection in ("fuzz-shop-pg", "fuzz-shop-my"):
        for question in ["how many planets", "planets named Mars", "planets with more than 3 moons"]:
            code, parsed, message = await ask(mesh, question, connection, schema=schema)
            assert code in (*ALLOWED, grpc.StatusCode.FAILED_PRECONDITION), f"{connection} {question}: {message}"


async def test_many_questions_at_once_get_the_same_answers_as_one_by_one(mesh):
    import asyncio

    schema, rows = fz.SCHEMAS["school"]
    questions = [q.text for q in fz.questions(schema, rows, 99, 40)]
    alone = [await ask(mesh, q, "fuzz-school-my", reference_time=at(fz.NOW)) for q in questions]
    together = await asyncio.gather(*(ask(mesh, q, "fuzz-school-my", reference_time=at(fz.NOW)) for q in questions))
    for question, (code, parsed, _), (code_too, parsed_too, _) in zip(questions, alone, together, strict=True):
        assert code in ALLOWED and code_too == code, question
        if parsed is not None:
            assert parsed_too.statement.sql.sql == parsed.statement.sql.sql, question
