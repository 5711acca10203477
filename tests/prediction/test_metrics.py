"""Predictions per model version on a real /metrics endpoint: rows predicted by
Predict (single rows through the batcher and several at once), BatchPredict and
KServe's ModelInfer, per model and version; a model that does not exist is NOT_FOUND
in the request metrics and predicts no rows."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from inference import grpc_service_pb2 as kserve
from inference import grpc_service_pb2_grpc as kserve_grpc

from servers.runtime.metrics import MetricsServer
from tests.metrics.support import ascrape

from .conftest import batch_request, predict_request, unique

SERVICE = "chatdb.prediction.v1.PredictionService"


@pytest.fixture
def endpoint():
    server = MetricsServer("127.0.0.1", 0)
    yield server
    server.close()


async def test_rows_are_counted_per_model_version(models, registry, start_prediction, endpoint):
    lr = models["lr"]
    name = unique("metrics-lr")
    first = await registry.upload(name, lr)
    second = await registry.upload(name, lr)
    prediction = await start_prediction()
    before = await ascrape(endpoint.url)

    for record in lr.records[:3]:  # single rows: the hot path, through the batcher
        await prediction.stub.Predict(predict_request(name, record, version=first), timeout=10)
    await prediction.stub.Predict(predict_request(name, *lr.records[:7], version=first), timeout=10)
    await prediction.stub.BatchPredict(batch_request(name, lr.records[:50], version=second), timeout=30)
    infer = kserve.ModelInferRequest(model_name=name, model_version=str(second))
    rows = np.array([[r[f"f{i}"] for i in range(20)] for r in lr.records[:4]], dtype=np.float32)
    for i in range(20):
        tensor = infer.inputs.add(name=f"f{i}", datatype="FP32", shape=[4, 1])
        tensor.contents.fp32_contents.extend(rows[:, i].tolist())
    await kserve_grpc.GRPCInferenceServiceStub(prediction.channel).ModelInfer(infer, timeout=10)
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await prediction.stub.Predict(predict_request(unique("no-such-model"), lr.records[0]), timeout=10)
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND

    after = await ascrape(endpoint.url)
    assert after.families["chatdb_predictions"].type == "counter"
    assert after.value("chatdb_predictions_total", model=name, version=str(first)) == 3 + 7
    assert after.value("chatdb_predictions_total", model=name, version=str(second)) == 50 + 4
    assert before.value("chatdb_predictions_total", model=name) == 0

    def calls(method: str, status: str) -> float:
        labels = {"service": SERVICE, "method": method, "status": status}
        return after.value("chatdb_request_count_total", **labels) - before.value("chatdb_request_count_total", **labels)

    assert calls("Predict", "OK") == 4
    assert calls("BatchPredict", "OK") == 1
    assert calls("Predict", "NOT_FOUND") == 1
    assert after.matching("chatdb_request_latency_seconds_bucket", service=SERVICE, method="Predict", status="OK")
