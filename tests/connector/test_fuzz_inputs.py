"""Malformed ConnectorService requests from a fixed seed against a live connector with a
real PostgreSQL connection: none may come back INTERNAL, UNKNOWN or RESOURCE_EXHAUSTED,
and good calls still work afterwards. Plus the connector's regressions of the hardening
issue.

CHATDB_FUZZ_CASES (200) and CHATDB_FUZZ_SEED widen a local run."""

from __future__ import annotations

import os
import random
import uuid

import asyncpg
import grpc
import pytest
from chatdb.connector.v1 import connection_pb2, result_pb2, statement_pb2
from google.protobuf import duration_pb2

from ..fuzz_support import ALLOWED, HUGE, MAX_DETAILS_CHARS, garbage, odd_string, outcome, raw_unary
from .service_support import MONGO, MY, PG, create, pb, running_connector, sql

pytestmark = pytest.mark.timeout(240)

CASES = int(os.environ.get("CHATDB_FUZZ_CASES", "200"))
SERVICE = "/chatdb.connector.v1.ConnectorService/"
# A user's database may refuse (read-only connection) or be unreachable (a fuzzed DSN).
CONNECTOR_ALLOWED = ALLOWED | {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAVAILABLE,
                               grpc.StatusCode.DEADLINE_EXCEEDED}


@pytest.fixture(scope="module")
async def connector(settings):
    async with running_connector(settings) as c:
        yield c


@pytest.fixture(scope="module")
async def fuzz_table(pg_database):
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS fuzz_items (id int PRIMARY KEY, name text, born date)")
        await conn.execute("INSERT INTO fuzz_items VALUES (1, 'one', '2020-01-01'), (2, 'two', NULL) ON CONFLICT DO NOTHING")
    finally:
        await conn.close()
    return "fuzz_items"


def _cell(rng: random.Random) -> result_pb2.Cell:
    pick = rng.choice(["int", "text", "decimal", "date", "datetime", "bytes", "double", "null", "empty"])
    if pick == "int":
        return result_pb2.Cell(int64_value=rng.choice([1, -1, 2**63 - 1]))
    if pick == "text":
        return result_pb2.Cell(text_value=odd_string(rng, "one"))
    if pick == "decimal":
        return result_pb2.Cell(decimal_value=rng.choice(["1.5", "abc", "1e999999", "NaN", ""]))
    if pick == "date":
        return result_pb2.Cell(date_value=rng.choice(["2020-01-01", "2020-13-45", "x", "0000-00-00"]))
    if pick == "datetime":
        return result_pb2.Cell(datetime_value=rng.choice(["2020-01-01T00:00:00", "2020-01-01T00:00:00+02:00", "never"]))
    if pick == "bytes":
        return result_pb2.Cell(bytes_value=rng.randbytes(rng.randint(0, 8)))
    if pick == "double":
        return result_pb2.Cell(double_value=rng.choice([0.5, float("nan"), float("inf")]))
    if pick == "null":
        return result_pb2.Cell(null_value=0)
    return result_pb2.Cell()


def _statement(rng: random.Random, table: str) -> statement_pb2.Statement:
    pick = rng.random()
    if pick < 0.1:
        return statement_pb2.Statement()
    if pick < 0.2:
        return statement_pb2.Statement(mongo_find=statement_pb2.MongoFind(
            collection=odd_string(rng, "items"), filter=odd_string(rng, "{}"), sort=odd_string(rng, '{"a": 1}')))
    text = odd_string(rng, rng.choice([f"SELECT id, name FROM {table} WHERE id = $1", f"SELECT * FROM {table}",
                                        "SELECT 1", f"DELETE FROM {table}", "SELECT $1::date", "SELECT pg_sleep(0)"]))
    params = [_cell(rng) for _ in range(rng.choice([0, 0, 1, 1, 2]))]
    return sql(text, *params, dialect=rng.choice([0, 1, 2, 9]))


def _duration(rng: random.Random) -> duration_pb2.Duration | None:
    return rng.choice([None, None, duration_pb2.Duration(seconds=5), duration_pb2.Duration(seconds=-1),
                       duration_pb2.Duration(seconds=10**10), duration_pb2.Duration(nanos=1)])


def _connection(rng: random.Random, dsn: str) -> connection_pb2.Connection:
    conn = connection_pb2.Connection(
        kind=rng.choice([PG, PG, MY, MONGO, 0, 42]),
        dsn=odd_string(rng, rng.choice([dsn, "postgresql://nobody@127.0.0.1:1/x", "mysql://u:p@127.0.0.1:1/db", "nonsense://"])),
        display_name=odd_string(rng, "Fuzz"), read_only=rng.random() < 0.8,
    )
    if rng.random() < 0.3:
        conn.options.pool_max_size = rng.choice([1, 0, -1, 10**6])
        conn.options.max_rows = rng.choice([1, 0, -5])
        conn.options.driver_options[odd_string(rng, "application_name")] = odd_string(rng, "fuzz")
        conn.options.connect_timeout.FromSeconds(rng.choice([1, 0, -1]))
    return conn


async def test_no_malformed_connector_request_becomes_an_internal_error(connector, pg_database, fuzz_table):
    stub, channel = connector.stub, connector.channel
    good_id = f"fuzz-{uuid.uuid4().hex[:8]}"
    await create(stub, good_id, kind=PG, dsn=pg_database)
    created = [good_id]
    rng = random.Random(int(os.environ.get("CHATDB_FUZZ_SEED", "20261203")))
    seen: dict[str, set[str]] = {}
    failures: list = []
    for case in range(CASES):
        kind = rng.choice(["create", "get", "list", "delete", "schema", "execute", "execute", "stream", "raw"])
        stream = False
        if kind == "create":
            connection_id = odd_string(rng, f"fuzz-{case}-{uuid.uuid4().hex[:6]}")
            created.append(connection_id)
            call = stub.CreateConnection(pb.CreateConnectionRequest(
                connection_id=connection_id, connection=_connection(rng, pg_database),
                request_id=odd_string(rng, "")), timeout=20)
        elif kind == "get":
            call = stub.GetConnection(pb.GetConnectionRequest(connection_id=odd_string(rng, good_id)), timeout=10)
        elif kind == "list":
            call = stub.ListConnections(pb.ListConnectionsRequest(
                page_size=rng.choice([0, 1, -1, 2**31 - 1]), page_token=odd_string(rng, ""),
                kind=rng.choice([0, 1, 3, 99])), timeout=10)
        elif kind == "delete":
            # Never the good connection: later cases use it.
            call = stub.DeleteConnection(pb.DeleteConnectionRequest(
                connection_id=odd_string(rng, "fuzz-none"), allow_missing=rng.random() < 0.5), timeout=10)
        elif kind == "schema":
            call = stub.GetSchema(pb.GetSchemaRequest(
                connection_id=odd_string(rng, good_id), refresh=rng.random() < 0.2,
                schema_names=[odd_string(rng, "public") for _ in range(rng.randint(0, 2))],
                tables=[odd_string(rng, fuzz_table) for _ in range(rng.randint(0, 2))]), timeout=20)
        elif kind == "execute":
            request = pb.ExecuteQueryRequest(
                connection_id=odd_string(rng, good_id), statement=_statement(rng, fuzz_table),
                page_size=rng.choice([0, 1, -1, 2**31 - 1]), page_token=odd_string(rng, ""),
                max_rows=rng.choice([0, 1, -1, 2**62]))
            timeout = _duration(rng)
            if timeout is not None:
                request.timeout.CopyFrom(timeout)
            call = stub.ExecuteQuery(request, timeout=20)
        elif kind == "stream":
            request = pb.StreamQueryRequest(
                connection_id=odd_string(rng, good_id), statement=_statement(rng, fuzz_table),
                batch_size=rng.choice([0, 1, -1, 2**31 - 1]), max_rows=rng.choice([0, 1, -1]))
            timeout = _duration(rng)
            if timeout is not None:
                request.timeout.CopyFrom(timeout)
            call, stream = stub.StreamQuery(request, timeout=20), True
        else:
            method = rng.choice(["CreateConnection", "GetConnection", "ListConnections", "DeleteConnection",
                                 "GetSchema", "ExecuteQuery"])
            call = raw_unary(channel, SERVICE + method)(garbage(rng), timeout=10)
        code, details = await outcome(call, stream=stream)
        seen.setdefault(kind, set()).add(code.name)
        if (code not in CONNECTOR_ALLOWED or (code is not grpc.StatusCode.OK and not details)
                or len(details) > MAX_DETAILS_CHARS):
            failures.append((case, kind, code.name, details[:300]))
    assert not failures, failures[:10]
    assert all(len(codes) >= 2 for kind, codes in seen.items() if kind not in ("raw", "delete")), seen
    reply = await stub.ExecuteQuery(pb.ExecuteQueryRequest(
        connection_id=good_id, statement=sql(f"SELECT name FROM {fuzz_table} ORDER BY id")), timeout=20)
    assert [r.cells[0].text_value for r in reply.rows] == ["one", "two"]
    for connection_id in created:
        if "\x00" not in connection_id:
            try:
                await stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=connection_id, allow_missing=True), timeout=10)
            except grpc.aio.AioRpcError:
                pass


async def test_nul_and_undecodable_requests_are_invalid_argument(connector, pg_database):
    """NUL in a statement or a connection's DSN, and bytes that do not decode: before,
    asyncpg / the DSN parser / grpc answered INTERNAL or UNKNOWN for some of these."""
    stub = connector.stub
    connection_id = f"fuzz-{uuid.uuid4().hex[:8]}"
    await create(stub, connection_id, kind=PG, dsn=pg_database)
    calls = {
        "statement.sql.sql": stub.ExecuteQuery(pb.ExecuteQueryRequest(
            connection_id=connection_id, statement=sql("SELECT 1 -- \x00")), timeout=10),
        "statement.sql.params[0].text_value": stub.ExecuteQuery(pb.ExecuteQueryRequest(
            connection_id=connection_id, statement=sql("SELECT $1::text", result_pb2.Cell(text_value="a\x00"))), timeout=10),
        "connection.dsn": stub.CreateConnection(pb.CreateConnectionRequest(
            connection_id="fuzz-nul", connection=connection_pb2.Connection(kind=PG, dsn=pg_database + "\x00")), timeout=10),
    }
    for field, call in calls.items():
        code, details = await outcome(call)
        assert code is grpc.StatusCode.INVALID_ARGUMENT and field in details, (field, code, details)
    code, details = await outcome(raw_unary(connector.channel, SERVICE + "ExecuteQuery")(b"\x12\x02\xc3\x28", timeout=10))
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "chatdb.connector.v1.ExecuteQueryRequest" in details
    code, details = await outcome(stub.GetConnection(pb.GetConnectionRequest(connection_id="c" * HUGE), timeout=10))
    assert code is grpc.StatusCode.INVALID_ARGUMENT and len(details) < 1000
    await stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=connection_id), timeout=10)
