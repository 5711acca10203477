"""anomaly_detection end to end: CreateTrainingJob → a real `chatdb worker` trains an
IsolationForest, exports it to ONNX with parity and registers it → the real prediction
service answers Predict with `score` and `is_anomaly` per row. Planted outliers come
out flagged, with the highest scores."""

from __future__ import annotations

import contextlib

import grpc
import numpy as np
import onnxruntime as ort
import pytest
from chatdb.prediction.v1 import prediction_service_pb2 as pred_pb
from chatdb.prediction.v1 import prediction_service_pb2_grpc as pred_grpc
from chatdb.training.v1 import job_state_pb2 as states
from chatdb.training.v1 import training_job_pb2 as job_pb
from google.protobuf import json_format, struct_pb2

from servers.prediction.app import open_prediction
from servers.runtime.server import GrpcServer
from servers.runtime.status import details_from_rpc_error

from ..runtime.test_cli_serve import free_port
from .conftest import write_csv
from .test_service import TERMINAL, create, download, spec, wait_for

PLANTED = (11, 97, 230, 301)


def orders(n: int = 320, seed: int = 3) -> list[tuple]:
    rng = np.random.default_rng(seed)
    amount = rng.normal(60, 6, n)
    quantity = rng.integers(1, 6, n).astype(float)
    channel = rng.choice(["web", "store"], n)
    amount[list(PLANTED)] = [900.0, 750.0, -300.0, 1200.0]
    quantity[list(PLANTED)] = [60.0, 1.0, 45.0, 80.0]
    return [(f"{a:.2f}", f"{q:.0f}", c) for a, q, c in zip(amount, quantity, channel, strict=True)]


@contextlib.asynccontextmanager
async def prediction_service(mesh):
    port = free_port()
    own = mesh.settings.model_copy(update={"prediction_port": port, "grace_period_s": 0})
    async with contextlib.AsyncExitStack() as stack:
        app = await open_prediction(own, stack)
        server = GrpcServer(own, app.bindings, host="127.0.0.1", port=port, ready=False)
        await server.start()
        stack.push_async_callback(server.stop, 0)
        await app.start(server)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        stack.push_async_callback(channel.close)
        yield pred_grpc.PredictionServiceStub(channel)


async def test_anomaly_detection_trains_registers_and_serves_score_and_is_anomaly(worker):
    mesh = worker
    rows = orders()
    write_csv(mesh.settings.data_dir / "orders.csv", ["amount", "quantity", "channel"], rows)
    job = await create(mesh, spec(
        "orders-unusual", task=job_pb.TASK_ANOMALY_DETECTION, algorithm="isolation_forest",
        dataset=job_pb.Dataset(csv_path="orders.csv"),
        hyperparameters={"n_estimators": 150, "contamination": 0.02, "random_state": 0}))
    done = await wait_for(mesh, job.job_id, TERMINAL)
    assert done.state == states.JOB_STATE_SUCCEEDED, done.error
    assert 0 <= done.metrics["anomaly_share"] <= 0.2
    assert {"score_threshold", "score_p50", "score_p99", "score_max"} <= set(done.metrics)
    version = done.model_version.version

    meta, artifact = await download(mesh, "orders-unusual", version)
    assert {i.name for i in meta.inputs} == {"amount", "quantity", "channel"}
    assert [o.name for o in ort.InferenceSession(artifact, providers=["CPUExecutionProvider"]).get_outputs()] == [
        "score", "is_anomaly"]

    records = [json_format.ParseDict({"amount": float(a), "quantity": float(q), "channel": c}, struct_pb2.Struct())
               for a, q, c in rows]
    async with prediction_service(mesh) as stub:
        reply = await stub.Predict(pred_pb.PredictRequest(model="orders-unusual", version=version, records=records),
                                   timeout=30)
        # BatchPredict in small batches (rows split over several ONNX runs) answers the same.
        batch = await stub.BatchPredict(pred_pb.BatchPredictRequest(
            model="orders-unusual", version=version, records=records, batch_size=64), timeout=30)
    batched = list(batch.predictions)
    assert [(p.score, p.is_anomaly) for p in batched] == [(p.score, p.is_anomaly) for p in reply.predictions]
    assert len(reply.predictions) == len(rows)
    assert all(p.HasField("score") and p.HasField("is_anomaly") for p in reply.predictions)
    scores = np.array([p.score for p in reply.predictions])
    flagged = np.array([p.is_anomaly for p in reply.predictions])
    assert flagged[list(PLANTED)].all()
    assert sorted(np.argsort(-scores)[: len(PLANTED)].tolist()) == list(PLANTED)
    assert 0 < flagged.sum() <= 0.05 * len(rows)
    assert ((scores > 0) & (scores <= 1)).all()

    # The platform's own client (what the gateway uses) reads both outputs too.
    from servers.contracts.clients import _prediction

    read = [_prediction(p) for p in reply.predictions[:20]]
    assert [(r.score, r.is_anomaly) for r in read] == [(p.score, p.is_anomaly) for p in reply.predictions[:20]]
    assert all(r.label is None and r.value is None for r in read)


@pytest.mark.parametrize(
    ("job", "fields", "words"),
    [
        (spec("bad", task=job_pb.TASK_ANOMALY_DETECTION, algorithm="isolation_forest",
              dataset=job_pb.Dataset(csv_path="churn.csv"), target="label"),
         {"training_job.target"}, "takes no target"),
        (spec("bad", task=job_pb.TASK_ANOMALY_DETECTION, algorithm="random_forest",
              dataset=job_pb.Dataset(csv_path="churn.csv")), {"training_job.algorithm"}, "isolation_forest"),
        (spec("bad", task=job_pb.TASK_ANOMALY_DETECTION, algorithm="isolation_forest",
              dataset=job_pb.Dataset(csv_path="churn.csv"), hyperparameters={"contamination": 0.7, "max_samples": 0}),
         {"training_job.hyperparameters.contamination", "training_job.hyperparameters.max_samples"}, "must be"),
    ],
    ids=["target-given", "wrong-algorithm", "bad-hyperparameters"],
)
async def test_bad_anomaly_specs_are_invalid_argument_naming_the_field(mesh, job, fields, words):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await create(mesh, job)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    violations = {v.field: v.description for v in details_from_rpc_error(err.value).violations}
    assert fields <= set(violations), violations
    assert any(words in violations[f] for f in fields), violations
