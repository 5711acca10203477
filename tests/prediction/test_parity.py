"""The service answers exactly what scikit-learn answers in process, for models the
platform trained: labels identical, probabilities within 1e-5, regression within float32
rounding — through Predict (one row per call) and BatchPredict (records and columns)."""

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
