"""Records read straight from the request's bytes (wire.split_records / decode_records,
convert.RequestDecoder) against the protobuf path they replace, on many random inputs:

- the decoder yields either exactly the message protobuf parses (it fell back) or the
  other fields as a message plus the records column by column;
- from those columns the input plan builds exactly the feeds the protobuf path builds,
  or raises exactly the same error (message and field violations, in order);
- mutated bytes never make the decoder accept what protobuf refuses;
- through a running server, Predict and BatchPredict answer the same (or fail with the
  same status and field violations) whether the records take the fast path or not.
"""

from __future__ import annotations

import math
import random

import grpc
import numpy as np
import pytest
from chatdb.prediction.v1 import prediction_service_pb2 as pb
from google.protobuf import struct_pb2
from google.protobuf.message import DecodeError

from servers.prediction import convert, wire
from servers.prediction.domain import TensorInfo
from servers.prediction.plan import InputPlan
from servers.runtime.errors import InvalidArgument
from servers.runtime.status import details_from_rpc_error

from .conftest import unique

SEEDS = range(600)

_NUMBERS = [0.0, -0.0, 1.5, -2.25, 1e39, -1e39, 3.4e38, 1e300, math.nan, math.inf, -math.inf, 7.0, 1.0, 2.0]


def _number(rng: random.Random) -> float:
    return rng.choice(_NUMBERS) if rng.random() < 0.3 else rng.uniform(-1e3, 1e3)


def _plan(rng: random.Random) -> InputPlan:
    """A random model interface: all-FP32 (often fused into one matrix) or mixed types."""
    width = rng.randint(1, 8)
    names = [rng.choice(["f", "x", "feature_", "é"]) + str(i) for i in range(width)]
    if rng.random() < 0.6:
        inputs = [TensorInfo(n, "FP32", (-1, 1)) for n in names]
        if rng.random() < 0.5:
            return InputPlan("m", inputs, matrix_input="X", columns=names)
        return InputPlan("m", inputs)
    types = ["FP32", "FP64", "INT64", "BOOL", "BYTES", "INT32"]
    return InputPlan("m", [TensorInfo(n, rng.choice(types), rng.choice([(-1, 1), (-1,)])) for n in names])


def _cell_kind(rng: random.Random) -> str:
    return rng.choices(["number", "null", "bool", "string", "list"], weights=[70, 10, 10, 7, 3])[0]


def _cell(rng: random.Random, kind: str):
    if kind == "number":
        return _number(rng)
    if kind == "null":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "string":
        return rng.choice(["", "a", "3", "été", "x" * 200])
    return [1.0, "a"] if rng.random() < 0.5 else {"k": 1.0}


def _records(rng: random.Random, plan: InputPlan) -> list[dict]:
    """Mostly rows of one layout (the fast path), sometimes with a key missing, an extra
    key, another order or a cell of another kind somewhere."""
    n = rng.randint(2, 40)
    keys = list(plan.names)
    rng.shuffle(keys)
    if rng.random() < 0.15 and keys:
        keys.pop(rng.randrange(len(keys)))
    if rng.random() < 0.15:
        keys.insert(rng.randint(0, len(keys)), "unknown")
    kinds = {k: ("number" if rng.random() < 0.8 else _cell_kind(rng)) for k in keys}
    sprinkle = rng.choice([0.0, 0.0, 0.02, 0.1, 0.4])  # cells of another kind here and there
    out = []
    for _ in range(n):
        record = {k: _cell(rng, kinds[k] if rng.random() >= sprinkle else _cell_kind(rng)) for k in keys}
        if rng.random() < 0.03:  # one odd row
            choice = rng.random()
            if choice < 0.3 and record:
                record.pop(rng.choice(list(record)))
            elif choice < 0.6:
                record["extra"] = 1.0
            elif record:
                record[rng.choice(list(record))] = _cell(rng, _cell_kind(rng))
        out.append(record)
    return out


def _struct(record: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(record)
    return message


def _request(rng: random.Random, records: list[dict]) -> pb.PredictRequest:
    request = pb.PredictRequest(records=[_struct(r) for r in records])
    if rng.random() < 0.8:
        request.model = rng.choice(["m", "a-model", "é"])
    choice = rng.random()
    if choice < 0.2:
        request.version = rng.randint(-3, 10**12)
    elif choice < 0.4:
        request.alias = rng.choice(["production", "staging", ""])
    request.include_outputs = rng.random() < 0.3
    return request


def _outcome(fn):
    try:
        return "ok", fn()
    except InvalidArgument as exc:
        return "error", (str(exc), [(v.field, v.description) for v in exc.violations])


def _same_feeds(a: dict, b: dict) -> bool:
    if set(a) != set(b):
        return False
    for name in a:
        x, y = a[name], b[name]
        if x.dtype != y.dtype or x.shape != y.shape:
            return False
        if x.dtype == object:
            if x.tolist() != y.tolist():
                return False
        elif not np.array_equal(x, y, equal_nan=True):
            return False
    return True


def _old_records(data: bytes):
    return convert.predict_inputs(pb.PredictRequest.FromString(data))


@pytest.mark.parametrize("seed", SEEDS)
def test_fast_records_give_the_feeds_or_errors_of_the_protobuf_path(seed):
    rng = random.Random(seed)
    plan = _plan(rng)
    request = _request(rng, _records(rng, plan))
    data = request.SerializeToString()
    decoded = convert.PREDICT_DECODER.decode(data)
    if type(decoded) is not convert.WireRequest:
        assert decoded == request  # fell back: protobuf's own message
        return
    rest = pb.PredictRequest()
    rest.CopyFrom(request)
    del rest.records[:]
    assert decoded.message == rest
    assert len(decoded.records) == len(request.records)
    kind_new, new = _outcome(lambda: plan.records_feeds(decoded.records))
    kind_old, old = _outcome(lambda: plan.records_feeds(_old_records(data)))
    assert kind_new == kind_old, (new, old)
    if kind_new == "ok":
        assert _same_feeds(new, old)
    else:
        assert new == old


def test_the_fast_path_is_taken_for_uniform_records():
    """The property test above must exercise the fast path, not only the fallback."""
    taken = 0
    for seed in SEEDS:
        rng = random.Random(seed)
        plan = _plan(rng)
        data = _request(rng, _records(rng, plan)).SerializeToString()
        taken += type(convert.PREDICT_DECODER.decode(data)) is convert.WireRequest
    assert taken > len(SEEDS) // 3


def test_numbers_bools_and_nulls_decode_exactly():
    records = [{"a": float(i) * 0.1, "b": i % 2 == 0, "c": None, "d": -0.0 if i else math.nan} for i in range(50)]
    data = pb.PredictRequest(model="m", records=[_struct(r) for r in records]).SerializeToString()
    split = wire.split_records(data, frozenset({5}))
    assert split is not None
    layout = wire.decode_records(data, split[1], split[2])
    assert layout is not None and layout.rows == 50 and layout.matrix is None
    by_name = dict(zip(layout.names, layout.columns, strict=True))
    assert by_name["a"].tolist() == [r["a"] for r in records]
    assert by_name["b"] == [r["b"] for r in records]
    assert by_name["c"] == [None] * 50
    assert math.isnan(by_name["d"][0]) and str(by_name["d"][1]) == "-0.0"


def test_a_few_records_of_another_layout_are_read_one_by_one():
    """Nulls and strings among numbers (a REST client's missing values): the records of
    the common layout are read together, the others one by one; the template need not
    be record 0."""
    records = [{"a": float(i), "b": -float(i)} for i in range(40)]
    records[0]["a"] = None
    records[7]["b"] = "x"
    records[9]["a"] = True
    records[20]["b"] = ""
    data = pb.PredictRequest(model="m", records=[_struct(r) for r in records]).SerializeToString()
    decoded = convert.PREDICT_DECODER.decode(data)
    assert type(decoded) is convert.WireRequest
    by_name = dict(zip(decoded.records.names, decoded.records.columns, strict=True))
    assert list(by_name["a"]) == [r["a"] for r in records]
    assert list(by_name["b"]) == [r["b"] for r in records]
    assert decoded.records.matrix is None
    # Too many of them: protobuf's path.
    many = [{"a": None if i % 2 else 1.0} for i in range(40)]
    data = pb.PredictRequest(records=[_struct(r) for r in many]).SerializeToString()
    assert type(convert.PREDICT_DECODER.decode(data)) is pb.PredictRequest
    # Numbers only, one of them written by another record layout: still one matrix.
    plain = [{"a": float(i), "b": 2.0} for i in range(10)]
    data = pb.PredictRequest(records=[_struct(r) for r in plain]).SerializeToString()
    decoded = convert.PREDICT_DECODER.decode(data)
    assert decoded.records.matrix is not None and decoded.records.matrix.shape == (10, 2)


def test_what_the_decoder_leaves_to_protobuf():
    record = _struct({"a": 1.0, "b": 2.0})
    one = pb.PredictRequest(model="m", records=[record]).SerializeToString()
    assert type(convert.PREDICT_DECODER.decode(one)) is pb.PredictRequest  # one record
    both = pb.PredictRequest(model="m", records=[record, record],
                             tensors=[{"name": "a", "datatype": "FP32", "shape": [1]}]).SerializeToString()
    assert type(convert.PREDICT_DECODER.decode(both)) is pb.PredictRequest  # tensors too
    strings = pb.PredictRequest(records=[_struct({"a": "x"})] * 3).SerializeToString()
    assert type(convert.PREDICT_DECODER.decode(strings)) is pb.PredictRequest  # strings everywhere
    # Records apart (a field between them) are legal protobuf: left to protobuf.
    head = pb.PredictRequest(records=[record]).SerializeToString()
    apart = head + pb.PredictRequest(model="m").SerializeToString() + head
    decoded = convert.PREDICT_DECODER.decode(apart)
    assert type(decoded) is pb.PredictRequest and len(decoded.records) == 2 and decoded.model == "m"
    # Different key orders in one request.
    other = struct_pb2.Struct()
    other.update({"b": 2.0, "a": 1.0})
    mixed = pb.PredictRequest(records=[record, other]).SerializeToString()
    if record.SerializeToString() != other.SerializeToString():
        assert type(convert.PREDICT_DECODER.decode(mixed)) is pb.PredictRequest
    # BatchPredict: rows or columns are another form.
    rows = pb.BatchPredictRequest(records=[record, record], columns=["a"]).SerializeToString()
    assert type(convert.BATCH_PREDICT_DECODER.decode(rows)) is pb.BatchPredictRequest
    fast = pb.BatchPredictRequest(records=[record, record], batch_size=3).SerializeToString()
    decoded = convert.BATCH_PREDICT_DECODER.decode(fast)
    assert type(decoded) is convert.WireRequest and decoded.message.batch_size == 3


@pytest.mark.parametrize("seed", range(300))
def test_mutated_bytes_are_refused_or_read_as_protobuf_reads_them(seed):
    rng = random.Random(seed)
    records = [{"f0": _number(rng), "f1": rng.random() < 0.5, "é": None} for _ in range(rng.randint(2, 6))]
    data = bytearray(pb.PredictRequest(model="mm", alias="x", records=[_struct(r) for r in records],
                                       include_outputs=True).SerializeToString())
    for _ in range(rng.randint(1, 3)):
        data[rng.randrange(len(data))] = rng.choice([0, 1, 0x22, 0x80, 0xFF, rng.randrange(256)])
    data = bytes(data)
    try:
        expected = pb.PredictRequest.FromString(data)
    except DecodeError:
        with pytest.raises(DecodeError):
            convert.PREDICT_DECODER.decode(data)
        return
    decoded = convert.PREDICT_DECODER.decode(data)
    if type(decoded) is convert.WireRequest:
        rest = pb.PredictRequest()
        rest.CopyFrom(expected)
        del rest.records[:]
        assert decoded.message == rest
        old = convert.predict_inputs(expected).rows
        new = decoded.records.records().rows
        assert new == old or _nan_equal(new, old)
        columns = dict(zip(decoded.records.names, decoded.records.columns, strict=True))
        for r, row in enumerate(old):
            assert set(row) == set(columns)
            for key, value in row.items():
                cell = columns[key][r]
                plain = float(cell) if isinstance(cell, np.floating) else cell
                assert _nan_equal([plain], [value]) and type(plain) is type(value), (key, cell, value)
    else:
        assert decoded == expected


def _nan_equal(a, b) -> bool:
    def norm(v):
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, float) and math.isnan(v):
            return "nan"
        return v

    return norm(a) == norm(b)


# --- through a server --------------------------------------------------------------------------


def _apart(request) -> bytes:
    """The same message with a field between its first two records: protobuf reads it
    as the same request, the fast path leaves it to protobuf (the old path)."""
    records = list(request.records)
    first = type(request)(records=records[:1]).SerializeToString()
    rest = type(request)()
    rest.CopyFrom(request)
    del rest.records[:]
    rest.records.extend(records[1:])
    middle = type(request)(model=request.model).SerializeToString()
    data = first + middle + rest.SerializeToString()
    assert type(request).FromString(data) == request
    return data


async def _call(channel, method: str, data: bytes, reply_class):
    call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=reply_class.FromString)
    try:
        reply = await call(data, timeout=30)
    except grpc.aio.AioRpcError as exc:
        details = details_from_rpc_error(exc)
        return exc.code(), details.message, [(v.field, v.description) for v in details.violations]
    reply.ClearField("inference_duration")
    return reply


async def test_the_service_answers_and_fails_alike_on_both_paths(models, registry, start_prediction):
    name = unique("lr")
    await registry.upload(name, models["lr"])
    server = await start_prediction(prediction_max_predict_rows=1000)
    channel = server.channel
    base = [dict(r) for r in models["lr"].records]
    many = [base[i % len(base)] for i in range(1000)]
    rng = random.Random(7)
    cases = {
        "valid": many,
        "valid with odd numbers": [{**r, "f3": rng.choice(_NUMBERS)} for r in many[:200]],
        "too many rows": many + many[:1],
        "missing column": [{k: v for k, v in r.items() if k != "f4"} for r in many[:50]],
        "unknown column": [{**r, "zz": 1.0} for r in many[:50]],
        "wrong type (bool and null are fine, a list is not)": [{**r, "f1": True, "f2": None} for r in many[:30]],
        "a string": [{**r, "f5": "7"} for r in many[:30]],
    }
    for label, records in cases.items():
        for method, message_class, reply_class in (
            ("/chatdb.prediction.v1.PredictionService/Predict", pb.PredictRequest, pb.PredictResponse),
            ("/chatdb.prediction.v1.PredictionService/BatchPredict", pb.BatchPredictRequest, pb.BatchPredictResponse),
        ):
            request = message_class(model=name, records=[_struct(r) for r in records])
            data = request.SerializeToString()
            assert (type(convert.PREDICT_DECODER.decode(data)) is convert.WireRequest) == (
                label != "a string"), label
            fast = await _call(channel, method, data, reply_class)
            old = await _call(channel, method, _apart(request), reply_class)
            assert fast == old, (label, method, fast if isinstance(fast, tuple) else "")
            if label == "valid" and method.endswith("Predict"):
                assert len(fast.predictions) == 1000
            if label == "too many rows" and method.endswith("/Predict"):
                assert fast[0] == grpc.StatusCode.INVALID_ARGUMENT and fast[2][0][0] == "records"
            if label in ("missing column", "unknown column"):
                assert fast[0] == grpc.StatusCode.INVALID_ARGUMENT
                assert fast[2][0][0] == ("records[0].f4" if label == "missing column" else "records[0].zz")


def test_malformed_requests_are_refused_as_before():
    """The screening deserializer names the request type and the problem alike for the
    decoder and for protobuf's FromString (invalid UTF-8 in a key, cut-off bytes)."""
    from servers.runtime.screening import Refused, screening_deserializer

    record = _struct({"ab": 1.0, "cd": 2.0}).SerializeToString()
    good = pb.PredictRequest(model="m", records=[_struct({"ab": 1.0, "cd": 2.0})] * 3).SerializeToString()
    bad_key = good.replace(b"ab", b"a\xff")
    assert bad_key != good and len(record) > 0
    for data in (bad_key, good[:-3], b"\x22\xff\xff\xff", good + b"\x22\x05\x0a"):
        for method, decoder in ((pb.PredictRequest.FromString, convert.PREDICT_DECODER.decode),
                                (pb.BatchPredictRequest.FromString, convert.BATCH_PREDICT_DECODER.decode)):
            old = screening_deserializer(method, screen_strings=False)(data)
            new = screening_deserializer(decoder, screen_strings=False)(data)
            assert type(old) is Refused and type(new) is Refused, data
            assert str(new.error) == str(old.error) and "chatdb.prediction.v1." in str(new.error)
