"""Every bad input gets the right status code and names the field: missing, extra and
mistyped features, wrong tensor shapes and types, empty and oversized batches, unknown
models, versions and aliases (NOT_FOUND), and a model that cannot load
(FAILED_PRECONDITION with the reason)."""

from __future__ import annotations

import grpc
import pytest
from chatdb.prediction.v1 import prediction_pb2
from chatdb.prediction.v1 import prediction_service_pb2 as pb

from servers.runtime.status import details_from_rpc_error

from ..tiny_onnx import unloadable_onnx
from .conftest import batch_request, list_value, predict_request, struct, unique


@pytest.fixture(scope="module")
def names() -> dict[str, str]:
    return {}


@pytest.fixture
async def served(models, registry, start_prediction, names):
    """The lr, text and mixed models registered once for the module, and a server."""
    for key in ("lr", "text", "mixed"):
        if key not in names:
            names[key] = unique(key)
            await registry.upload(names[key], models[key])
    return await start_prediction(prediction_max_batch_rows=50, prediction_max_predict_rows=20), names


async def _fails(call, code: grpc.StatusCode) -> tuple[str, dict[str, str]]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, info.value.details()
    details = details_from_rpc_error(info.value)
    return details.message, {v.field: v.description for v in details.violations}


def _lr_record(models) -> dict:
    return dict(models["lr"].records[0])


async def test_missing_extra_and_mistyped_features(served, models):
    prediction, names = served
    stub, lr = prediction.stub, names["lr"]
    record = _lr_record(models)
    del record["f3"]
    _, fields = await _fails(stub.Predict(predict_request(lr, record)), grpc.StatusCode.INVALID_ARGUMENT)
    assert "f3" in fields["records[0].f3"] and "missing" in fields["records[0].f3"]

    record = {**_lr_record(models), "bogus": 1.0}
    _, fields = await _fails(stub.Predict(predict_request(lr, record)), grpc.StatusCode.INVALID_ARGUMENT)
    assert "not an input" in fields["records[0].bogus"]

    record = {**_lr_record(models), "f0": "high", "f1": [1, 2]}
    _, fields = await _fails(stub.Predict(predict_request(lr, record)), grpc.StatusCode.INVALID_ARGUMENT)
    assert "must be a number" in fields["records[0].f0"]
    assert "single value" in fields["records[0].f1"]

    good = _lr_record(models)
    bad = {k: v for k, v in good.items() if k != "f7"}
    _, fields = await _fails(stub.Predict(predict_request(lr, good, good, bad)), grpc.StatusCode.INVALID_ARGUMENT)
    assert set(fields) == {"records[2].f7"}
    _, fields = await _fails(stub.BatchPredict(batch_request(lr, [good, {**good, "x": 1.0}])),
                             grpc.StatusCode.INVALID_ARGUMENT)
    assert set(fields) == {"records[1].x"}


async def test_coercions_that_are_allowed(served, models):
    """Nulls are missing values (imputed), booleans are 0/1, numbers become text for text
    inputs, booleans become "true"/"false" for categories."""
    prediction, names = served
    record = {**_lr_record(models), "f0": None, "f1": True}
    reply = await prediction.stub.Predict(predict_request(names["lr"], record))
    assert reply.predictions[0].label.string_value.startswith("c")
    reply = await prediction.stub.Predict(predict_request(names["text"], {"review": 12345}))
    assert reply.predictions[0].label.string_value in {"sports", "tech", "food"}
    mixed = {"tenure": 1.0, "spend": None, "segment": 7, "promo": False}
    reply = await prediction.stub.Predict(predict_request(names["mixed"], mixed))
    assert reply.predictions[0].label.string_value in {"churn", "stay"}


async def test_columns_and_rows_errors(served, models):
    prediction, names = served
    stub, lr = prediction.stub, names["lr"]
    columns = [f"f{i}" for i in range(20)]
    row = [models["lr"].records[0][c] for c in columns]

    async def batch(**fields):
        return await _fails(stub.BatchPredict(pb.BatchPredictRequest(model=lr, **fields)),
                            grpc.StatusCode.INVALID_ARGUMENT)

    _, fields = await batch(columns=columns[:-1], rows=[list_value(row[:-1])])
    assert "f19" in fields["columns"]
    _, fields = await batch(columns=[*columns, "extra"], rows=[list_value([*row, 1.0])])
    assert "not an input" in fields["columns[20]"]
    _, fields = await batch(columns=[*columns[:-1], "f0"], rows=[list_value(row)])
    assert "twice" in fields["columns[19]"]
    _, fields = await batch(columns=columns, rows=[list_value(row), list_value(row[:5])])
    assert "5 values for 20 columns" in fields["rows[1]"]
    _, fields = await batch(columns=columns, rows=[list_value(row), list_value(["x", *row[1:]])])
    assert "must be a number" in fields["rows[1][0]"]
    _, fields = await batch(rows=[list_value(row)])
    assert "columns" in fields
    _, fields = await batch(columns=columns, rows=[list_value(row)], records=[struct(models["lr"].records[0])])
    assert "records" in fields
    _, fields = await batch(columns=columns, rows=[list_value(row)], batch_size=-1)
    assert "batch_size" in fields


async def test_tensor_errors(served, models):
    prediction, names = served
    stub = prediction.stub

    def tensor(name, shape, values, datatype="FP32"):
        contents = prediction_pb2.TensorContents(fp32_contents=values) if datatype == "FP32" else \
            prediction_pb2.TensorContents(string_contents=values)
        return prediction_pb2.NamedTensor(name=name, datatype=datatype, shape=shape, contents=contents)

    good = [tensor(f"f{i}", [2, 1], [0.1, 0.2]) for i in range(20)]
    reply = await stub.Predict(pb.PredictRequest(model=names["lr"], tensors=good))
    assert len(reply.predictions) == 2

    async def predict(tensors, model=names["lr"]):
        return await _fails(stub.Predict(pb.PredictRequest(model=model, tensors=tensors)),
                            grpc.StatusCode.INVALID_ARGUMENT)

    _, fields = await predict([*good[:3], tensor("f3", [1, 2], [0.1, 0.2]), *good[4:]])
    assert "[-1, 1]" in fields["tensors[3].shape"]
    _, fields = await predict([*good[:3], tensor("f3", [2, 1], [0.1, 0.2, 0.3]), *good[4:]])
    assert "3 elements" in fields["tensors[3].contents"]
    _, fields = await predict([*good[:3], tensor("f3", [3, 1], [0.1, 0.2, 0.3]), *good[4:]])
    assert "3 rows" in fields["tensors[3].shape"]
    _, fields = await predict([*good[:3], tensor("f3", [2, 1], ["a", "b"], "BYTES"), *good[4:]])
    assert "FP32" in fields["tensors[3].datatype"]
    _, fields = await predict(good[:19])
    assert "f19" in fields["tensors"]
    _, fields = await predict([*good, tensor("zzz", [2, 1], [0.1, 0.2])])
    assert "not an input" in fields["tensors[20].name"]
    _, fields = await predict([*good[:3], tensor("f3", [0, 1], []), *good[4:]])
    assert "empty" in fields["tensors[3].shape"]
    _, fields = await predict([prediction_pb2.NamedTensor(name="f0", datatype="COMPLEX", shape=[1, 1])])
    assert "datatype" in next(iter(fields))
    _, fields = await _fails(
        stub.Predict(pb.PredictRequest(model=names["lr"], tensors=good, records=[struct(models["lr"].records[0])])),
        grpc.StatusCode.INVALID_ARGUMENT)
    assert "tensors" in fields


async def test_empty_and_oversized_batches(served, models):
    prediction, names = served
    stub, lr = prediction.stub, names["lr"]
    record = _lr_record(models)
    _, fields = await _fails(stub.Predict(pb.PredictRequest(model=lr)), grpc.StatusCode.INVALID_ARGUMENT)
    assert "empty" in fields["records"]
    _, fields = await _fails(stub.BatchPredict(pb.BatchPredictRequest(model=lr)), grpc.StatusCode.INVALID_ARGUMENT)
    assert "empty" in fields["records"]
    _, fields = await _fails(stub.Predict(predict_request(lr, *[record] * 21)), grpc.StatusCode.INVALID_ARGUMENT)
    assert "at most 20" in fields["records"] and "BatchPredict" in fields["records"]
    _, fields = await _fails(stub.BatchPredict(batch_request(lr, [record] * 51)), grpc.StatusCode.INVALID_ARGUMENT)
    assert "at most 50" in fields["records"]
    columns = list(record)
    _, fields = await _fails(stub.BatchPredict(pb.BatchPredictRequest(
        model=lr, columns=columns, rows=[list_value([record[c] for c in columns])] * 51)),
        grpc.StatusCode.INVALID_ARGUMENT)
    assert "at most 50" in fields["rows"]


async def test_unknown_model_version_and_alias_are_not_found(served, models):
    prediction, names = served
    stub, record = prediction.stub, _lr_record(models)
    message, _ = await _fails(stub.Predict(predict_request("no-such-model", record)), grpc.StatusCode.NOT_FOUND)
    assert "no-such-model" in message
    message, _ = await _fails(stub.Predict(predict_request(names["lr"], record, version=99)), grpc.StatusCode.NOT_FOUND)
    assert "99" in message
    message, _ = await _fails(stub.Predict(predict_request(names["lr"], record, alias="canary")),
                              grpc.StatusCode.NOT_FOUND)
    assert "canary" in message
    _, fields = await _fails(stub.Predict(predict_request(names["lr"], record, version=0)),
                             grpc.StatusCode.INVALID_ARGUMENT)
    assert "version" in fields


async def test_a_model_that_fails_to_load_is_failed_precondition(served, registry, models):
    prediction, _ = served
    name = unique("broken")
    await registry.upload(name, unloadable_onnx())
    for _ in range(2):  # the failure is remembered, with its reason
        message, _ = await _fails(prediction.stub.Predict(predict_request(name, {"x": 1.0})),
                                  grpc.StatusCode.FAILED_PRECONDITION)
        assert "failed to load" in message and name in message
        assert "protobuf" in message.lower() or "onnx" in message.lower() or "parse" in message.lower()


async def test_batch_tensor_and_view_errors(served, models):
    prediction, names = served
    stub, lr = prediction.stub, names["lr"]
    record = _lr_record(models)

    def raw(name, n=2, data=None, datatype="FP32"):
        return prediction_pb2.NamedTensor(name=name, datatype=datatype, shape=[n, 1],
                                          raw_contents=data if data is not None else b"\0\0\0\0" * n)

    good = [raw(f"f{i}") for i in range(20)]
    reply = await stub.BatchPredict(pb.BatchPredictRequest(model=lr, tensors=good))
    assert len(reply.predictions) == 2

    async def batch(**fields):
        return await _fails(stub.BatchPredict(pb.BatchPredictRequest(model=lr, **fields)),
                            grpc.StatusCode.INVALID_ARGUMENT)

    _, fields = await batch(tensors=[*good[:5], raw("f5", data=b"\0" * 7), *good[6:]])
    assert "7 bytes" in fields["tensors[5].raw_contents"]
    _, fields = await batch(tensors=[*good[:5], raw("f5", data=b"\0" * 12), *good[6:]])
    assert "3 elements" in fields["tensors[5].contents"] or "3 elements" in " ".join(fields.values())
    both = prediction_pb2.NamedTensor(name="f0", datatype="FP32", shape=[2, 1], raw_contents=b"\0" * 8,
                                      contents=prediction_pb2.TensorContents(fp32_contents=[1.0, 2.0]))
    _, fields = await batch(tensors=[both, *good[1:]])
    assert "not both" in fields["tensors[0].raw_contents"]
    _, fields = await batch(tensors=good, records=[struct(record)])
    assert "one form" in fields["tensors"]
    _, fields = await batch(tensors=[raw(f"f{i}", n=51) for i in range(20)])
    assert "at most 50" in fields["tensors"]
    _, fields = await batch(records=[struct(record)], view=42)
    assert "view" in fields and "PREDICTION_VIEW_OUTPUTS" in fields["view"]
    _, fields = await batch(tensors=[*good[:5], raw("f5", data=b"\0\0\0", datatype="BYTES"), *good[6:]])
    assert any(k.startswith("tensors[5]") for k in fields)
