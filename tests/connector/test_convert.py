"""Converters proto ⇄ domain: cells round-trip exactly, rows encode alike on the fast
and the general path, statements and connections translate with field-named errors."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from chatdb.connector.v1 import connection_pb2, connector_service_pb2, result_pb2, statement_pb2

from servers.connector import convert
from servers.connector.domain import (
    Connection,
    ConnectionKind,
    ConnectionOptions,
    DataType,
    Json,
    MongoAggregate,
    MongoFind,
    ResultColumn,
    SqlQuery,
    StreamBatch,
    StreamHeader,
    StreamSummary,
    Unsupported,
)
from servers.runtime.errors import InvalidArgument

VALUES = [
    None,
    True,
    False,
    0,
    2**63 - 1,
    -(2**63),
    1.5,
    -0.0,
    float("inf"),
    float("-inf"),
    float("nan"),
    5e-324,
    Decimal("1234.50"),
    Decimal("-0.000001"),
    Decimal("12345678901234567890.123456789"),
    Decimal("NaN"),
    "",
    "plain",
    "unicode: 日本語 🚀 ümlaut \u0000 nul and \u202e bidi",
    b"",
    b"\x00\xff binary",
    date(1, 1, 1),
    date(2024, 2, 29),
    date(9999, 12, 31),
    datetime(2024, 5, 1, 12, 30, 45, 123456, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2024, 5, 1, 12, 30, 45),
    datetime(2024, 5, 1, 12, 30, 45, 7),
    Json('{"a": [1, 2.5, null, "x"], "b": {"c": true}}'),
    Json("[]"),
    Json('"just a string"'),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_cell_round_trip(value):
    cell = convert.value_to_cell(value)
    wire = result_pb2.Cell.FromString(cell.SerializeToString())
    back = convert.cell_to_value(wire)
    assert convert.values_equal(back, value), (value, back)


def test_cell_cases():
    case = lambda v: convert.value_to_cell(v).WhichOneof("value")  # noqa: E731
    assert case(None) == "null_value"
    assert case(True) == "bool_value"
    assert case(7) == "int64_value"
    assert case(2**63) == "decimal_value"  # beyond int64 (BIGINT UNSIGNED) stays exact
    assert convert.value_to_cell(2**64 - 1).decimal_value == str(2**64 - 1)
    assert case(1.0) == "double_value"
    assert case(Decimal("1")) == "decimal_value"
    assert convert.value_to_cell(Decimal("1E+3")).decimal_value == "1000"  # plain notation
    assert convert.value_to_cell(Decimal("1.50")).decimal_value == "1.50"  # scale kept
    assert case(date(2024, 1, 1)) == "date_value"
    assert case(datetime(2024, 1, 1)) == "datetime_value"
    assert case(datetime(2024, 1, 1, tzinfo=UTC)) == "timestamp_value"
    assert case(Json("{}")) == "json_value"
    assert case(b"x") == "bytes_value"
    assert case(bytearray(b"x")) == "bytes_value"
    assert convert.value_to_cell(Unsupported("1 day 02:00:00")).text_value == "1 day 02:00:00"


def test_aware_timestamps_normalise_to_utc():
    plus2 = timezone(timedelta(hours=2))
    local = datetime(2024, 5, 1, 14, 0, 0, 250000, tzinfo=plus2)
    cell = convert.value_to_cell(local)
    assert cell.timestamp_value.ToDatetime(tzinfo=UTC) == local
    back = convert.cell_to_value(cell)
    assert back == local and back.utcoffset() == timedelta(0)
    assert (
        convert.value_to_cell(datetime(2024, 5, 1, 12, 0, 0, 1)).datetime_value
        == "2024-05-01T12:00:00.000001"
    )


@pytest.mark.parametrize(
    "cell, message",
    [
        (result_pb2.Cell(), "no value"),
        (result_pb2.Cell(decimal_value="12,5"), "not a decimal"),
        (result_pb2.Cell(date_value="2024-13-01"), "not a valid date"),
        (result_pb2.Cell(date_value="20240101"), "YYYY-MM-DD"),
        (result_pb2.Cell(datetime_value="yesterday"), "YYYY-MM-DDTHH"),
        (result_pb2.Cell(datetime_value="2024-01-01T00:00:00+02:00"), "offset"),
        (result_pb2.Cell(json_value="{nope"), "not valid JSON"),
    ],
)
def test_bad_cells_are_refused(cell, message):
    with pytest.raises(ValueError, match=message):
        convert.cell_to_value(cell)


TYPED_COLUMNS = (
    ResultColumn("i", DataType.INTEGER, "bigint"),
    ResultColumn("f", DataType.FLOAT, "double precision"),
    ResultColumn("d", DataType.DECIMAL, "numeric"),
    ResultColumn("t", DataType.TEXT, "text"),
    ResultColumn("b", DataType.BOOLEAN, "boolean"),
    ResultColumn("dt", DataType.DATE, "date"),
    ResultColumn("ts", DataType.TIMESTAMP, "timestamptz"),
    ResultColumn("j", DataType.JSON, "jsonb"),
    ResultColumn("by", DataType.BYTES, "bytea"),
    ResultColumn("o", DataType.OTHER, "interval"),
)


def _slow(rows):
    out = []
    for r in rows:
        row = result_pb2.Row()
        for v in r:
            row.cells.append(convert.value_to_cell(v))
        out.append(row)
    return out


def test_rows_fast_path_matches_general_path():
    rows = [
        (
            1,
            1.5,
            Decimal("2.50"),
            "x",
            True,
            date(2024, 1, 2),
            datetime(2024, 1, 2, tzinfo=UTC),
            Json("{}"),
            b"\x01",
            Unsupported("1 day"),
        ),
        (None,) * 10,
        # values whose Python type does not match the column type take the general path
        (
            "7",
            2,
            3,
            4.5,
            0,
            datetime(2024, 1, 2, 3, 4),
            datetime(2024, 1, 2, 3, 4),
            "s",
            bytearray(b"z"),
            "t",
        ),
    ]
    assert convert.rows_to_pb(rows) == _slow(rows)


def test_rows_out_of_int64_fall_back_without_losing_rows():
    rows = [(1,), (2**64 - 1,), (3,)]
    encoded = convert.rows_to_pb(rows)
    assert [r.cells[0].WhichOneof("value") for r in encoded] == [
        "int64_value",
        "decimal_value",
        "int64_value",
    ]
    assert encoded == _slow(rows)


def _random_value(rng: random.Random):
    kind = rng.randrange(9)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([0, 1, -1, 127, 128, 16383, 16384, 2**31, -(2**31), 2**63 - 1, -(2**63),
                           rng.randrange(-(2**63), 2**63)])
    if kind == 2:
        return rng.choice([0.0, -0.0, 1.5, float("nan"), float("inf"), -1e308, rng.random()])
    if kind == 3:
        n = rng.choice([0, 1, 5, 127, 128, 300, 20000])
        return "".join(rng.choice("ab c\u00e9\u65e5\U0001f680\x00") for _ in range(n))
    if kind == 4:
        return rng.random() < 0.5
    if kind == 5:
        return Decimal(rng.randrange(-(10**12), 10**12)) / 100
    if kind == 6:
        return bytes(rng.randrange(256) for _ in range(rng.choice([0, 3, 200])))
    if kind == 7:
        return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**8))
    return 2**64 - 1  # beyond int64


@pytest.mark.parametrize("seed", range(40))
def test_vectorised_rows_match_upb(seed):
    """Column-wise numpy encoding gives the bytes upb gives, whatever the mix: columns of
    one type, with NULLs, mixed types, multi-byte varints, non-ASCII text."""
    rng = random.Random(seed)
    width, n = rng.randrange(0, 6), rng.choice([1, 2, 17, 300])
    makers = [rng.choice(["same", "same", "mixed"]) for _ in range(width)]
    protos = [_random_value(rng) for _ in range(width)]
    rows = []
    for _ in range(n):
        row = []
        for maker, proto in zip(makers, protos, strict=True):
            if maker == "same":
                v = _random_value(rng)
                row.append(v if (v is None or type(v) is type(proto)) and rng.random() < 0.9 else proto)
            else:
                row.append(_random_value(rng))
        rows.append(tuple(row))
    for field in (1, 2):
        assert convert.encode_rows(rows, field) == convert._encode_rows_slowly(rows, field)


def test_ragged_rows_still_encode():
    rows = [(1, "a"), (2,), ()]
    assert convert.rows_to_pb(rows) == _slow(rows)


def test_stream_encoder_messages():
    enc = convert.StreamEncoder()
    cols = (ResultColumn("a", DataType.INTEGER, "int4"),)
    header = enc.encode(StreamHeader(cols))
    assert header.WhichOneof("payload") == "header"
    assert header.header.columns[0].name == "a"
    batch = enc.encode(StreamBatch([(1,), (None,)], 500))
    assert batch.WhichOneof("payload") == "batch" and batch.batch.offset == 500
    assert [r.cells[0].WhichOneof("value") for r in batch.batch.rows] == [
        "int64_value",
        "null_value",
    ]
    summary = enc.encode(StreamSummary(0, False, 0.0))
    assert summary.WhichOneof("payload") == "summary"
    assert convert.StreamEncoder().encode(StreamHeader(())).WhichOneof("payload") == "header"


# --------------------------------------------------------------------------- statements


def _sql(sql, *params, dialect=0):
    return statement_pb2.Statement(
        sql=statement_pb2.SqlStatement(sql=sql, params=list(params), dialect=dialect)
    )


def test_sql_statement_with_params():
    stmt, dialect = convert.statement_from_pb(
        _sql(
            "SELECT $1, $2",
            result_pb2.Cell(int64_value=5),
            result_pb2.Cell(null_value=0),
            dialect=statement_pb2.SQL_DIALECT_POSTGRES,
        )
    )
    assert stmt == SqlQuery("SELECT $1, $2", (5, None))
    assert dialect == "postgres"


def test_sql_params_violations_name_the_param():
    with pytest.raises(InvalidArgument) as err:
        convert.statement_from_pb(
            _sql("SELECT $1", result_pb2.Cell(), result_pb2.Cell(date_value="x"))
        )
    assert [v.field for v in err.value.violations] == [
        "statement.sql.params[0]",
        "statement.sql.params[1]",
    ]


def test_missing_statement():
    with pytest.raises(InvalidArgument) as err:
        convert.statement_from_pb(statement_pb2.Statement())
    assert err.value.violations[0].field == "statement"


def test_mongo_find_extended_json():
    pb = statement_pb2.Statement(
        mongo_find=statement_pb2.MongoFind(
            collection="orders",
            filter='{"total": {"$gt": {"$numberDecimal": "10.5"}}, "when": {"$date": "2024-05-01T00:00:00Z"},'
            ' "n": {"$numberLong": "7"}}',
            projection='{"total": 1, "_id": 0}',
            sort='{"total": -1, "name": 1}',
            skip=5,
            limit=10,
        )
    )
    stmt, _ = convert.statement_from_pb(pb)
    assert isinstance(stmt, MongoFind)
    assert stmt.sort == (("total", -1), ("name", 1))  # key order kept
    assert stmt.filter["when"] == datetime(2024, 5, 1, tzinfo=UTC) or stmt.filter["when"].replace(
        tzinfo=UTC
    ) == datetime(2024, 5, 1, tzinfo=UTC)
    assert stmt.filter["n"] == 7
    assert stmt.projection == {"total": 1, "_id": 0}
    assert (stmt.skip, stmt.limit) == (5, 10)
    empty, _ = convert.statement_from_pb(
        statement_pb2.Statement(mongo_find=statement_pb2.MongoFind(collection="c"))
    )
    assert empty == MongoFind("c", {}, None, (), 0, 0)


@pytest.mark.parametrize(
    "find, field",
    [
        (
            statement_pb2.MongoFind(collection="c", filter="{bad json"),
            "statement.mongo_find.filter",
        ),
        (statement_pb2.MongoFind(collection="c", filter="[1, 2]"), "statement.mongo_find.filter"),
        (
            statement_pb2.MongoFind(collection="c", projection='{"a": '),
            "statement.mongo_find.projection",
        ),
        (statement_pb2.MongoFind(collection="c", sort='{"a": "up"}'), "statement.mongo_find.sort"),
        (statement_pb2.MongoFind(collection="c", skip=-1), "statement.mongo_find.skip"),
        (statement_pb2.MongoFind(filter="{}"), "statement.mongo_find.collection"),
    ],
)
def test_mongo_find_errors_name_the_field(find, field):
    with pytest.raises(InvalidArgument) as err:
        convert.statement_from_pb(statement_pb2.Statement(mongo_find=find))
    assert err.value.violations[0].field == field


def test_mongo_aggregate():
    stmt, _ = convert.statement_from_pb(
        statement_pb2.Statement(
            mongo_aggregate=statement_pb2.MongoAggregate(
                collection="sales",
                pipeline='[{"$match": {"region": "East"}}, {"$group": {"_id": "$region", "n": {"$sum": 1}}}]',
            )
        )
    )
    assert isinstance(stmt, MongoAggregate) and len(stmt.pipeline) == 2
    for bad in ('{"$match": {}}', "[1]", "[{"):
        with pytest.raises(InvalidArgument) as err:
            convert.statement_from_pb(
                statement_pb2.Statement(
                    mongo_aggregate=statement_pb2.MongoAggregate(collection="s", pipeline=bad)
                )
            )
        assert err.value.violations[0].field == "statement.mongo_aggregate.pipeline"


# --------------------------------------------------------------------------- connections


def test_connection_spec_defaults_and_options():
    spec = convert.connection_spec(
        connection_pb2.Connection(kind=connection_pb2.CONNECTION_KIND_MYSQL, host="h")
    )
    assert spec.kind is ConnectionKind.MYSQL and spec.read_only is True
    pb = connection_pb2.Connection(kind=connection_pb2.CONNECTION_KIND_POSTGRES, read_only=False)
    pb.options.statement_timeout.FromMilliseconds(1500)
    pb.options.driver_options["sslmode"] = "disable"
    spec = convert.connection_spec(pb)
    assert spec.read_only is False
    assert spec.options.statement_timeout_s == 1.5
    assert spec.options.driver_options == {"sslmode": "disable"}
    assert convert.connection_spec(connection_pb2.Connection()).kind is None


def test_connection_to_pb_never_carries_the_secret():
    c = Connection(
        connection_id="shop",
        kind=ConnectionKind.POSTGRES,
        dsn="postgresql://app:****@db/shop",
        secret_dsn="postgresql://app:hunter2@db/shop",
        user="app",
        host="db",
        port=5432,
        database="shop",
        has_password=True,
        options=ConnectionOptions(1, 5, 5.0, 30.0, 1000, {"sslmode": "require"}),
        create_time=datetime(2024, 1, 1, tzinfo=UTC),
        update_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    pb = convert.connection_to_pb(c)
    assert b"hunter2" not in pb.SerializeToString()
    assert pb.password == "" and pb.has_password and pb.read_only
    assert pb.options.statement_timeout.seconds == 30
    assert pb.create_time.ToDatetime(tzinfo=UTC) == c.create_time


def test_execute_request_carries_deadline_and_timeout():
    pb = connector_service_pb2.ExecuteQueryRequest(
        connection_id="x", statement=_sql("SELECT 1"), page_size=5
    )
    pb.timeout.FromMilliseconds(250)
    req = convert.execute_request(pb, 3.5)
    assert req.timeout_s == 0.25 and req.deadline_s == 3.5 and req.page_size == 5
    assert math.isclose(
        convert.execute_request(
            connector_service_pb2.ExecuteQueryRequest(statement=_sql("SELECT 1")), None
        ).timeout_s,
        0.0,
    )
