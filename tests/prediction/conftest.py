"""Fixtures of the prediction tests.

Models are trained in-process by the platform's own trainer (workers.ml_engine.trainer,
the code the worker runs) and uploaded through the registry's gRPC CreateModelVersion to
a real registry server on this session's platform database. Each prediction server is a
real GrpcServer on an ephemeral port, started NOT_SERVING and turned SERVING by the
preload, as `PredictionApp.start` does.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import grpc
import numpy as np
import pytest
from chatdb.prediction.v1 import prediction_service_pb2 as pb
from chatdb.prediction.v1 import prediction_service_pb2_grpc as pb_grpc
from chatdb.registry.v1 import model_registry_service_pb2 as reg
from chatdb.registry.v1 import model_registry_service_pb2_grpc as reg_grpc
from chatdb.registry.v1 import model_version_pb2
from google.protobuf import json_format, struct_pb2

from servers.contracts.ml.spec import Dataset, Task, TrainingSpec
from servers.prediction.app import PredictionApp, open_prediction
from servers.registry.app import open_registry
from servers.registry.core import Registry as RegistryCore
from servers.registry.service import registry_binding
from servers.runtime.server import GrpcServer
from servers.runtime.settings import Settings
from workers.ml_engine.features import FeatureData
from workers.ml_engine.trainer import Trained, run

from ..conftest import drop_pg_database, pg_dsn_for


def unique(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --- datasets and trained models -----------------------------------------------------------


def tabular(n: int, seed: int = 0, classes: int = 3) -> tuple[list[str], np.ndarray, list[str]]:
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=n, n_features=20, n_informative=8, n_classes=classes,
                               random_state=seed)
    return [f"f{i}" for i in range(20)], x, [f"c{v}" for v in y]


def texts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(300)] + ["été", "naïve", "x", "ok"]
    topics = {t: rng.choice(vocabulary, size=25, replace=False) for t in ("sports", "tech", "food")}
    docs, labels = [], []
    for _ in range(n):
        topic = str(rng.choice(list(topics)))
        words = list(rng.choice(vocabulary, size=6)) + list(rng.choice(topics[topic], size=4))
        rng.shuffle(words)
        docs.append(" ".join(words))
        labels.append(topic)
    return docs, labels


def mixed(n: int, seed: int = 0) -> tuple[list[str], list[tuple], list[str]]:
    rng = np.random.default_rng(seed)
    tenure = rng.normal(size=n)
    spend = rng.normal(size=n) * 100
    segment = rng.choice(["retail", "corporate", "home"], size=n)
    promo = rng.random(n) > 0.5
    label = np.where(tenure + spend / 100 + (segment == "corporate") + promo * 0.5 > 0.6, "churn", "stay")
    rows = [(float(a), float(b), str(s), bool(p)) for a, b, s, p in zip(tenure, spend, segment, promo, strict=True)]
    return ["tenure", "spend", "segment", "promo"], rows, [str(v) for v in label]


@dataclass
class Model:
    """A platform-trained model, its held-out rows and scikit-learn's answers on them."""

    key: str
    trained: Trained
    records: list[dict]  # held-out rows as records
    expected_labels: list[str] | None
    expected_scores: np.ndarray | None  # probabilities (or decision values)
    expected_values: np.ndarray | None

    @property
    def onnx(self) -> bytes:
        return self.trained.result.onnx_model


def _reference(trained: Trained, names: list[str], columns: list[list]) -> tuple:
    the_plan = trained.plan
    data = FeatureData.encode(names, the_plan.feature_kinds, columns, text=the_plan.task is Task.TEXT_CLASSIFICATION)
    x = data.matrix()
    pipeline = trained.pipeline
    if the_plan.task.is_classification:
        labels = [str(v) for v in pipeline.predict(x)]
        if hasattr(pipeline, "predict_proba") and the_plan.algorithm.output == "probabilities":
            return labels, pipeline.predict_proba(x), None
        return labels, np.asarray(pipeline.decision_function(x)), None
    return None, None, pipeline.predict(x)


def _train(key: str, spec: TrainingSpec, columns: list[str], train_rows: list[tuple], test_rows: list[tuple]) -> Model:
    trained = run(spec, Dataset(tuple(columns), train_rows))
    features = list(trained.plan.features)
    index = [columns.index(f) for f in features]
    held_out = [[row[i] for row in test_rows] for i in index]
    records = [{f: row[i] for f, i in zip(features, index, strict=True)} for row in test_rows]
    labels, scores, values = _reference(trained, features, held_out)
    return Model(key, trained, records, labels, scores, values)


@pytest.fixture(scope="session")
def models() -> dict[str, Model]:
    """Trained once per session: every algorithm family the service must read."""
    out: dict[str, Model] = {}
    names, x, y = tabular(700)
    rows = [(*map(float, r), label) for r, label in zip(x, y, strict=True)]
    cols = [*names, "label"]
    train, test = rows[:600], rows[600:]
    out["lr"] = _train("lr", TrainingSpec("lr", Task.CLASSIFICATION, "logistic_regression", "label"), cols, train, test)
    out["rf"] = _train("rf", TrainingSpec("rf", Task.CLASSIFICATION, "random_forest", "label",
                                          hyperparameters={"n_estimators": 25}), cols, train, test)
    reg_rows = [(*map(float, r), float(r[0] * 3 - r[1] + 0.5)) for r in x]
    out["ridge"] = _train("ridge", TrainingSpec("ridge", Task.REGRESSION, "ridge", "y"),
                          [*names, "y"], reg_rows[:600], reg_rows[600:])
    docs, labels = texts(400)
    text_rows = list(zip(docs, labels, strict=True))
    out["text"] = _train("text", TrainingSpec("text", Task.TEXT_CLASSIFICATION, "logistic_regression", "topic"),
                         ["review", "topic"], text_rows[:320], text_rows[320:])
    out["svc"] = _train("svc", TrainingSpec("svc", Task.TEXT_CLASSIFICATION, "linear_svc", "topic"),
                        ["review", "topic"], text_rows[:320], text_rows[320:])
    mcols, mrows, mlabels = mixed(500)
    mixed_rows = [(*r, label) for r, label in zip(mrows, mlabels, strict=True)]
    out["mixed"] = _train("mixed", TrainingSpec("mixed", Task.CLASSIFICATION, "logistic_regression", "label"),
                          [*mcols, "label"], mixed_rows[:400], mixed_rows[400:])
    return out


# --- registry --------------------------------------------------------------------------------


@dataclass
class Registry:
    address: str
    stub: reg_grpc.ModelRegistryServiceStub
    server: GrpcServer
    core: RegistryCore

    async def upload(self, name: str, model: Model | bytes, *, task: str = "classification") -> int:
        data = model if isinstance(model, bytes) else model.onnx
        version = model_version_pb2.ModelVersion(task=task)
        if not isinstance(model, bytes):
            result = model.trained.result
            version = model_version_pb2.ModelVersion(
                task=model.trained.plan.task.value,
                inputs=[model_version_pb2.TensorSpec(name=s.name, datatype=s.datatype, shape=list(s.shape))
                        for s in result.inputs],
                outputs=[model_version_pb2.TensorSpec(name=s.name, datatype=s.datatype, shape=list(s.shape))
                         for s in result.outputs],
            )

        async def stream():
            yield reg.CreateModelVersionRequest(model=name, metadata=reg.CreateModelVersionRequest.Metadata(
                expected_sha256=hashlib.sha256(data).hexdigest(), expected_size_bytes=len(data),
                model_version=version))
            for start in range(0, len(data), 256 * 1024):
                yield reg.CreateModelVersionRequest(chunk=data[start : start + 256 * 1024])

        reply = await self.stub.CreateModelVersion(stream(), timeout=30)
        return reply.model_version.version

    async def set_alias(self, name: str, version: int, alias: str = "production") -> None:
        await self.stub.SetAlias(reg.SetAliasRequest(model=name, alias=alias, version=version), timeout=10)


@pytest.fixture(scope="session")
async def registry(settings: Settings, run_id: str) -> AsyncIterator[Registry]:
    # A database of its own: on the session's platform database the registry tests' models
    # (each with a `production` alias) would be preloaded by every prediction server, and
    # fill its LRU, when tests/registry runs first.
    database = f"chatdb_test_{run_id}_prediction"
    await drop_pg_database(database)
    own = settings.model_copy(update={"registry_watch_poll_s": 0.2, "database_url": pg_dsn_for(database)})
    async with AsyncExitStack() as stack:
        stack.push_async_callback(drop_pg_database, database)
        core = await open_registry(own, stack)
        server = GrpcServer(settings, [registry_binding(core)], host="127.0.0.1", port=0)
        await server.start()
        channel = grpc.aio.insecure_channel(server.address)
        try:
            yield Registry(server.address, reg_grpc.ModelRegistryServiceStub(channel), server, core)
        finally:
            await channel.close()
            await server.stop(grace_s=0)


# --- prediction servers ------------------------------------------------------------------------


@dataclass
class Prediction:
    app: PredictionApp
    server: GrpcServer
    channel: grpc.aio.Channel
    stub: pb_grpc.PredictionServiceStub

    @property
    def address(self) -> str:
        return self.server.address

    @property
    def manager(self):
        return self.app.manager


StartPrediction = Callable[..., Awaitable[Prediction]]


@pytest.fixture
async def start_prediction(settings: Settings, registry: Registry) -> AsyncIterator[StartPrediction]:
    """`await start_prediction(**settings_overrides)`: a prediction server on an ephemeral
    port whose registry is the session's; waits for the preload unless wait=False."""
    started: list[tuple[AsyncExitStack, Prediction]] = []

    async def start(*, wait: bool = True, source=None, **overrides) -> Prediction:
        port = int(registry.address.rsplit(":", 1)[1])
        own = settings.model_copy(update={"registry_port": port, "grace_period_s": 0, **overrides})
        stack = AsyncExitStack()
        app = await open_prediction(own, stack, source=source)
        server = GrpcServer(own, app.bindings, host="127.0.0.1", port=0, ready=False)
        await server.start()
        stack.push_async_callback(server.stop, 0)
        await app.start(server)
        channel = grpc.aio.insecure_channel(server.address)
        stack.push_async_callback(channel.close)
        handle = Prediction(app, server, channel, pb_grpc.PredictionServiceStub(channel))
        started.append((stack, handle))
        if wait:
            await wait_ready(handle)
        return handle

    yield start
    for stack, _ in reversed(started):
        await stack.aclose()


async def wait_ready(prediction: Prediction, timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not prediction.app.core.ready:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("preload did not finish")
        await asyncio.sleep(0.02)


async def eventually(predicate, timeout_s: float = 30.0, interval_s: float = 0.02) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval_s)


# --- request helpers ---------------------------------------------------------------------------


def struct(record: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(record)
    return message


def predict_request(model: str, *records: dict, **fields) -> pb.PredictRequest:
    return pb.PredictRequest(model=model, records=[struct(r) for r in records], **fields)


def batch_request(model: str, records: list[dict], **fields) -> pb.BatchPredictRequest:
    return pb.BatchPredictRequest(model=model, records=[struct(r) for r in records], **fields)


def list_value(values: list) -> struct_pb2.ListValue:
    return json_format.ParseDict(values, struct_pb2.ListValue())
