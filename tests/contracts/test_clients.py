"""The typed clients (servers/contracts/clients.py) against real servers: the training
orchestrator, the registry, the prediction service and the connector, on channels that
map failures to the runtime's error tree."""

from __future__ import annotations

import numpy as np
import pytest
from chatdb.connector.v1 import statement_pb2
from chatdb.registry.v1 import model_version_pb2
from chatdb.training.v1 import job_state_pb2, training_job_pb2
from google.protobuf import json_format

from servers.contracts.ml.spec import Dataset, Task, TrainingSpec
from servers.runtime.errors import InvalidArgument, NotFound
from tests.gateway.ml_support import CITIES, MlMesh, create_customers, ml_mesh, segment_of
from workers.ml_engine.trainer import run

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
async def mesh(settings, tmp_path_factory, pg_database):
    await create_customers(pg_database)
    async with ml_mesh(settings, tmp_path_factory.mktemp("clients-data"), workers=0) as mesh:
        await mesh.register("clients-shop", pg_database)
        yield mesh


def records(n: int = 200) -> list[dict]:
    rng = np.random.default_rng(3)
    out = []
    for _ in range(n):
        age, city = int(rng.integers(18, 80)), str(rng.choice(CITIES))
        out.append({"age": age, "city": city, "segment": segment_of(age, city)})
    return out


def inline_job(model: str, target: str = "segment") -> training_job_pb2.TrainingJob:
    dataset = training_job_pb2.Dataset()
    for record in records():
        json_format.ParseDict(record, dataset.inline_records.records.add())
    return training_job_pb2.TrainingJob(model_name=model, task=training_job_pb2.TASK_CLASSIFICATION,
                                        algorithm="logistic_regression", target=target, dataset=dataset)


async def upload_trained(mesh: MlMesh, model: str) -> int:
    """A model trained here by the platform's trainer, uploaded with its inputs and metrics."""
    rows = [(r["age"], r["city"], r["segment"]) for r in records()]
    trained = run(TrainingSpec(model, Task.CLASSIFICATION, "random_forest", "segment"),
                  Dataset(("age", "city", "segment"), rows))
    result = trained.result
    version = model_version_pb2.ModelVersion(
        task="classification", metrics=result.metrics,
        inputs=[model_version_pb2.TensorSpec(name=s.name, datatype=s.datatype, shape=list(s.shape)) for s in result.inputs],
        outputs=[model_version_pb2.TensorSpec(name=s.name, datatype=s.datatype, shape=list(s.shape))
                 for s in result.outputs],
    )
    return await mesh.registry.upload(model, result.onnx_model, version, request_id=f"{model}-upload")


async def test_training_client_creates_reads_and_lists_jobs(mesh):
    job = await mesh.training.create(inline_job("clients-train"))
    assert job.name == f"trainingJobs/{job.job_id}" and job.state == job_state_pb2.JOB_STATE_QUEUED
    assert (await mesh.training.job(job.name)).job_id == job.job_id
    assert (await mesh.training.job(job.job_id)).model_name == "clients-train"
    listed = await mesh.training.jobs(model_name="clients-train")
    assert [j.job_id for j in listed] == [job.job_id]
    assert job.job_id in [j.job_id for j in await mesh.training.jobs(state=job_state_pb2.JOB_STATE_QUEUED)]


async def test_training_client_raises_the_error_tree(mesh):
    with pytest.raises(InvalidArgument) as caught:
        await mesh.training.create(inline_job("clients-bad", target="no_such_column"))
    assert any("target" in v.field for v in caught.value.violations)
    with pytest.raises(NotFound):
        await mesh.training.job("trainingJobs/does-not-exist")


async def test_registry_reads_models_versions_and_names(mesh):
    version = await upload_trained(mesh, "clients-registry")
    model = await mesh.registry.model("clients-registry")
    assert model.latest_version == version and model.aliases["production"] == version  # a first version is production
    read = await mesh.registry.model_version("clients-registry", version)
    assert sorted(i.name for i in read.inputs) == ["age", "city"] and "accuracy" in read.metrics
    assert (await mesh.registry.newest_ready_version("clients-registry")).version == version
    assert "clients-registry" in await mesh.registry.model_names()
    with pytest.raises(NotFound):
        await mesh.registry.model("clients-nope")


async def test_prediction_client_predicts_from_records(mesh):
    version = await upload_trained(mesh, "clients-predict")
    result = await mesh.prediction.predict("clients-predict", [{"age": 70, "city": "Lima"}, {"age": 20, "city": "Lagos"}],
                                           version=version)
    assert (result.model, result.version) == ("clients-predict", version)
    assert [p.label for p in result.predictions] == ["gold", "silver"]
    assert set(result.predictions[0].probabilities) == {"bronze", "gold", "silver"}
    assert (await mesh.prediction.predict("clients-predict", [{"age": 70, "city": "Lima"}], alias="production")).version == version
    with pytest.raises(InvalidArgument) as caught:
        await mesh.prediction.predict("clients-predict", [{"age": 70}], version=version)
    assert any("city" in v.field for v in caught.value.violations)
    with pytest.raises(NotFound):
        await mesh.prediction.predict("clients-nope", [{"age": 70, "city": "Lima"}])


async def test_connector_rows_reads_a_statement_bounded(mesh):
    statement = statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql="SELECT age, city FROM customers ORDER BY id"))
    names, rows = await mesh.connector.rows("clients-shop", statement, max_rows=5)
    assert list(names) == ["age", "city"]
    assert len([row async for row in rows]) == 5
