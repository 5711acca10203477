"""PredictionService through gRPC: it answers exactly what scikit-learn answers in
process, for models the platform trained: labels identical, probabilities within 1e-5,
regression within float32 rounding — through Predict (one row per call) and
BatchPredict (records and columns).
Its error statuses are test_errors.py; the KServe v2 servicer, test_kserve.py."""

from __future__ import annotations

import numpy as np
import pytest
from chatdb.prediction.v1 import prediction_service_pb2 as pb

from .conftest import batch_request, list_value, predict_request, unique


def _check(model, predictions, rows=None) -> None:
    rows = rows if rows is not None else range(len(model.records))
    rows = list(rows)
    assert len(predictions) == len(rows)
    if model.expected_labels is not None:
        assert [p.label.string_value for p in predictions] == [model.expected_labels[i] for i in rows]
        classes = model.trained.result.classes
        if model.trained.plan.algorithm.output == "probabilities":
            got = np.array([[p.probabilities[c] for c in classes] for p in predictions])
            np.testing.assert_allclose(got, model.expected_scores[rows], atol=1e-5, rtol=0)
        else:
            assert all(not p.probabilities for p in predictions)  # linear_svc: no probabilities
    else:
        got = np.array([p.value for p in predictions])
        np.testing.assert_allclose(got, model.expected_values[rows], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("key", ["lr", "rf", "ridge", "text", "svc", "mixed"])
async def test_predictions_equal_scikit_learn(key, models, registry, start_prediction):
    model = models[key]
    name = unique(key)
    version = await registry.upload(name, model)
    prediction = await start_prediction()

    batch = await prediction.stub.BatchPredict(batch_request(name, model.records), timeout=30)
    assert (batch.model, batch.version) == (name, version)
    _check(model, batch.predictions)

    for i in range(0, len(model.records), 10):  # single rows: the hot path
        reply = await prediction.stub.Predict(predict_request(name, model.records[i]), timeout=10)
        assert reply.version == version
        _check(model, reply.predictions, [i])

    several = await prediction.stub.Predict(predict_request(name, *model.records[:7]), timeout=10)
    _check(model, several.predictions, range(7))


async def test_columns_and_rows_form_matches_records(models, registry, start_prediction):
    for key in ("lr", "mixed"):
        model = models[key]
        name = unique(key)
        await registry.upload(name, model)
        prediction = await start_prediction()
        columns = list(model.records[0])[::-1]  # any column order
        rows = [list_value([r[c] for c in columns]) for r in model.records]
        reply = await prediction.stub.BatchPredict(
            pb.BatchPredictRequest(model=name, columns=columns, rows=rows, batch_size=16), timeout=30)
        _check(model, reply.predictions)


async def test_include_outputs_returns_raw_tensors(models, registry, start_prediction):
    model = models["svc"]
    name = unique("svc")
    await registry.upload(name, model)
    prediction = await start_prediction()
    reply = await prediction.stub.Predict(
        predict_request(name, *model.records[:3], include_outputs=True), timeout=10)
    outputs = {o.name: o for o in reply.outputs}
    assert set(outputs) == {"label", "scores"}
    assert list(outputs["scores"].shape) == [3, 3]
    np.testing.assert_allclose(
        np.array(outputs["scores"].contents.fp32_contents).reshape(3, 3), model.expected_scores[:3], atol=1e-4)
    assert list(outputs["label"].contents.string_contents) == model.expected_labels[:3]
    assert reply.inference_duration.ToNanoseconds() > 0


def _raw_tensors(model, columns: list[str]) -> list:
    """One [n, 1] tensor per feature with its elements packed in raw_contents."""
    import struct as packing

    from chatdb.prediction.v1 import prediction_pb2

    tensors = []
    for column in columns:
        values = [r[column] for r in model.records]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raw, datatype = np.asarray(values, dtype="<f4").tobytes(), "FP32"
        else:
            encoded = [str(v).encode() for v in values]
            raw, datatype = b"".join(packing.pack("<I", len(e)) + e for e in encoded), "BYTES"
        tensors.append(prediction_pb2.NamedTensor(
            name=column, datatype=datatype, shape=[len(values), 1], raw_contents=raw))
    return tensors


def _unpack_bytes(raw: bytes) -> list[str]:
    out, at = [], 0
    while at < len(raw):
        size = int.from_bytes(raw[at : at + 4], "little")
        out.append(raw[at + 4 : at + 4 + size].decode())
        at += 4 + size
    return out


@pytest.mark.parametrize("key", ["lr", "text", "ridge"])
async def test_raw_tensors_in_and_output_tensors_out(key, models, registry, start_prediction):
    from chatdb.prediction.v1 import prediction_pb2

    model = models[key]
    name = unique(key)
    await registry.upload(name, model, task="regression" if key == "ridge" else "classification")
    prediction = await start_prediction()
    tensors = _raw_tensors(model, list(model.records[0]))
    n = len(model.records)

    outputs_only = await prediction.stub.BatchPredict(pb.BatchPredictRequest(
        model=name, tensors=tensors, view=prediction_pb2.PREDICTION_VIEW_OUTPUTS, batch_size=16), timeout=30)
    assert not outputs_only.predictions and outputs_only.inference_duration.ToNanoseconds() > 0
    outputs = {o.name: o for o in outputs_only.outputs}
    if model.expected_labels is not None:
        assert (outputs["label"].datatype, list(outputs["label"].shape)) == ("BYTES", [n])
        assert _unpack_bytes(outputs["label"].raw_contents) == model.expected_labels
        probabilities = np.frombuffer(outputs["probabilities"].raw_contents, dtype="<f4").reshape(
            list(outputs["probabilities"].shape))
        np.testing.assert_allclose(probabilities, model.expected_scores, atol=1e-5, rtol=0)
    else:
        values = np.frombuffer(outputs["variable"].raw_contents, dtype="<f4")
        assert list(outputs["variable"].shape) == [n, 1]
        np.testing.assert_allclose(values, model.expected_values, rtol=1e-5, atol=1e-4)

    # The default view answers row by row, from the same raw tensors; FULL gives both.
    rows = await prediction.stub.BatchPredict(pb.BatchPredictRequest(model=name, tensors=tensors), timeout=30)
    _check(model, rows.predictions)
    assert not rows.outputs
    full = await prediction.stub.BatchPredict(pb.BatchPredictRequest(
        model=name, tensors=tensors, view=prediction_pb2.PREDICTION_VIEW_FULL), timeout=30)
    _check(model, full.predictions)
    assert {o.name: o.raw_contents for o in full.outputs} == {o.name: o.raw_contents for o in outputs_only.outputs}


async def test_views_work_with_rows_too(models, registry, start_prediction):
    from chatdb.prediction.v1 import prediction_pb2

    model = models["lr"]
    name = unique("lr")
    await registry.upload(name, model)
    prediction = await start_prediction()
    columns = list(model.records[0])
    rows = [list_value([r[c] for c in columns]) for r in model.records]
    reply = await prediction.stub.BatchPredict(pb.BatchPredictRequest(
        model=name, columns=columns, rows=rows, view=prediction_pb2.PREDICTION_VIEW_FULL, batch_size=7), timeout=30)
    _check(model, reply.predictions)
    labels = {o.name: o for o in reply.outputs}["label"]
    assert _unpack_bytes(labels.raw_contents) == model.expected_labels
