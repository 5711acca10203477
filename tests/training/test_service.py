"""The training path end to end: CreateTrainingJob → arq → worker process trains in a
child process → ONNX in the registry → job SUCCEEDED; cancel, worker loss, bad specs."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import time

import grpc
import onnxruntime as ort
import pytest
from chatdb.registry.v1 import model_registry_service_pb2 as reg_pb
from chatdb.training.v1 import job_state_pb2 as states
from chatdb.training.v1 import training_job_pb2 as job_pb
from chatdb.training.v1 import training_service_pb2 as pb
from google.protobuf import json_format, struct_pb2

from servers.runtime.status import details_from_rpc_error

TERMINAL = {states.JOB_STATE_SUCCEEDED, states.JOB_STATE_FAILED, states.JOB_STATE_CANCELLED}


def spec(model: str, task=job_pb.TASK_CLASSIFICATION, algorithm="logistic_regression", **kwargs) -> job_pb.TrainingJob:
    job = job_pb.TrainingJob(model_name=model, task=task, algorithm=algorithm, **{k: v for k, v in kwargs.items() if k != "hyperparameters"})
    for key, value in kwargs.get("hyperparameters", {}).items():
        job.hyperparameters[key].CopyFrom(json_format.ParseDict(value, struct_pb2.Value()))
    return job


async def create(mesh, job: job_pb.TrainingJob, request_id: str = "") -> job_pb.TrainingJob:
    reply = await mesh.training.CreateTrainingJob(pb.CreateTrainingJobRequest(training_job=job, request_id=request_id), timeout=30)
    return reply.training_job


async def get(mesh, job_id: str) -> job_pb.TrainingJob:
    return (await mesh.training.GetTrainingJob(pb.GetTrainingJobRequest(job_id=job_id), timeout=10)).training_job


async def wait_for(mesh, job_id: str, states_wanted, timeout_s: float = 90) -> job_pb.TrainingJob:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = await get(mesh, job_id)
        if job.state in states_wanted:
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} still {states.JobState.Name(job.state)}: {job}")


async def download(mesh, model: str, version: int) -> tuple[reg_pb.DownloadModelVersionResponse, bytes]:
    first, chunks = None, []
    async for message in mesh.registry.DownloadModelVersion(reg_pb.DownloadModelVersionRequest(model=model, version=version), timeout=30):
        if message.WhichOneof("payload") == "model_version":
            first = message.model_version
        else:
            chunks.append(message.chunk)
    return first, b"".join(chunks)


async def test_classification_from_csv_trains_exports_and_registers(worker):
    mesh = worker
    job = await create(mesh, spec("churn", dataset=job_pb.Dataset(csv_path="churn.csv"), target="label"))
    assert job.state == states.JOB_STATE_QUEUED and job.name == f"trainingJobs/{job.job_id}"
    done = await wait_for(mesh, job.job_id, TERMINAL)
    assert done.state == states.JOB_STATE_SUCCEEDED, done.error
    assert done.attempts == 1 and done.progress.fraction == 1.0
    assert done.metrics["accuracy"] > 0.8 and "f1_macro" in done.metrics and "roc_auc" in done.metrics
    assert done.model_version.model == "churn" and done.model_version.version >= 1

    meta, artifact = await download(mesh, "churn", done.model_version.version)
    assert hashlib.sha256(artifact).hexdigest() == meta.artifact.sha256
    assert meta.training_job_id == job.job_id and meta.dataset_fingerprint
    assert {i.name for i in meta.inputs} == {"tenure", "spend", "segment"}
    session = ort.InferenceSession(artifact, providers=["CPUExecutionProvider"])
    assert {o.name for o in session.get_outputs()} >= {"label", "probabilities"}

    model = (await mesh.registry.GetModel(reg_pb.GetModelRequest(model="churn"), timeout=10)).model
    assert model.aliases["staging"] == done.model_version.version


async def test_regression_from_inline_records_and_text_classification(worker):
    mesh = worker
    records = [{"x": float(i), "z": float(i % 5), "y": 3.0 * i + 1.0} for i in range(200)]
    regression = spec("line", task=job_pb.TASK_REGRESSION, algorithm="ridge", target="y",
                      dataset=job_pb.Dataset(inline_records=job_pb.Dataset.InlineRecords(
                          records=[json_format.ParseDict(r, struct_pb2.Struct()) for r in records])))
    text = spec("sentiment", task=job_pb.TASK_TEXT_CLASSIFICATION, algorithm="linear_svc",
                dataset=job_pb.Dataset(csv_path="reviews.csv"), target="sentiment")
    jobs = [await create(mesh, regression), await create(mesh, text)]
    finished = [await wait_for(mesh, j.job_id, TERMINAL) for j in jobs]
    assert [j.state for j in finished] == [states.JOB_STATE_SUCCEEDED] * 2, [j.error for j in finished]
    assert finished[0].metrics["r2"] > 0.99
    assert finished[1].metrics["accuracy"] > 0.9


async def test_concurrent_jobs_all_finish(worker):
    mesh = worker
    mesh.start_worker()
    jobs = await asyncio.gather(*(
        create(mesh, spec(f"parallel-{i}", dataset=job_pb.Dataset(csv_path="churn.csv"), target="label"))
        for i in range(4)
    ))
    finished = [await wait_for(mesh, j.job_id, TERMINAL) for j in jobs]
    assert all(j.state == states.JOB_STATE_SUCCEEDED for j in finished), [j.error for j in finished]


async def test_create_is_idempotent_on_request_id(mesh):
    job = spec("idem", dataset=job_pb.Dataset(csv_path="churn.csv"), target="label")
    first = await create(mesh, job, request_id="req-same")
    second = await create(mesh, job, request_id="req-same")
    assert first.job_id == second.job_id
    await mesh.training.CancelTrainingJob(pb.CancelTrainingJobRequest(job_id=first.job_id), timeout=10)


async def test_cancel_a_queued_job_means_it_never_starts(mesh):
    # No worker is running: the job stays QUEUED.
    job = await create(mesh, spec("never", dataset=job_pb.Dataset(csv_path="churn.csv"), target="label"))
    cancelled = (await mesh.training.CancelTrainingJob(pb.CancelTrainingJobRequest(job_id=job.job_id), timeout=10)).training_job
    assert cancelled.state == states.JOB_STATE_CANCELLED
    mesh.start_worker()
    try:
        await asyncio.sleep(2)  # the worker drains the queue entry
        after = await get(mesh, job.job_id)
        assert after.state == states.JOB_STATE_CANCELLED and after.attempts == 0
    finally:
        mesh.stop_workers()


async def test_cancel_a_running_job_stops_it_within_five_seconds(worker):
    mesh = worker
    job = await create(mesh, spec("slow", algorithm="random_forest", dataset=job_pb.Dataset(csv_path="big.csv"),
                                  target="y", hyperparameters={"n_estimators": 3000}))
    running = await wait_for(mesh, job.job_id, {states.JOB_STATE_RUNNING}, timeout_s=30)
    while running.progress.stage in ("starting", "loading dataset"):
        running = await get(mesh, job.job_id)
        await asyncio.sleep(0.1)
    started = time.monotonic()
    reply = await mesh.training.CancelTrainingJob(pb.CancelTrainingJobRequest(job_id=job.job_id), timeout=10)
    assert reply.training_job.state == states.JOB_STATE_CANCELLING
    done = await wait_for(mesh, job.job_id, TERMINAL, timeout_s=10)
    assert done.state == states.JOB_STATE_CANCELLED
    assert time.monotonic() - started < 5


async def test_sigkilled_worker_costs_one_attempt_and_another_finishes(worker):
    mesh = worker
    job = await create(mesh, spec("survivor", algorithm="random_forest", dataset=job_pb.Dataset(csv_path="big.csv"),
                                  target="y", hyperparameters={"n_estimators": 60}))
    running = await wait_for(mesh, job.job_id, {states.JOB_STATE_RUNNING}, timeout_s=30)
    victim = mesh.workers[0]
    os.kill(victim.pid, signal.SIGKILL)  # no clean-up of any kind
    victim.wait(timeout=10)
    mesh.start_worker()
    done = await wait_for(mesh, job.job_id, TERMINAL, timeout_s=60)
    assert done.state == states.JOB_STATE_SUCCEEDED, done.error
    assert done.attempts == 2
    assert running.attempts == 1


async def test_job_over_its_attempts_fails_with_the_reason(mesh):
    # A job whose workers keep dying: with attempts exhausted it ends FAILED, not RUNNING.
    job = await create(mesh, spec("doomed", algorithm="random_forest", dataset=job_pb.Dataset(csv_path="big.csv"),
                                  target="y", hyperparameters={"n_estimators": 3000}))
    for attempt in range(1, 4):
        proc = mesh.start_worker()
        await wait_for(mesh, job.job_id, {states.JOB_STATE_RUNNING}, timeout_s=40)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        mesh.workers.remove(proc)
        if attempt < 3:
            requeued = await wait_for(mesh, job.job_id, {states.JOB_STATE_QUEUED}, timeout_s=20)
            assert requeued.attempts == attempt
    done = await wait_for(mesh, job.job_id, TERMINAL, timeout_s=20)
    assert done.state == states.JOB_STATE_FAILED
    assert done.attempts == 3
    assert "stopped heartbeating" in done.error.message and "no attempts left" in done.error.message


async def test_watch_streams_every_change_until_the_end(worker):
    mesh = worker
    job = await create(mesh, spec("watched", dataset=job_pb.Dataset(csv_path="churn.csv"), target="label"))
    seen = []
    async for message in mesh.training.WatchTrainingJob(pb.WatchTrainingJobRequest(job_id=job.job_id), timeout=90):
        seen.append(message.training_job)
    states_seen = [j.state for j in seen]
    assert states_seen[-1] == states.JOB_STATE_SUCCEEDED
    assert states.JOB_STATE_RUNNING in states_seen
    fractions = [j.progress.fraction for j in seen]
    assert fractions == sorted(fractions) and len({j.progress.stage for j in seen}) >= 3


@pytest.mark.parametrize(
    ("job", "fields"),
    [
        (spec("bad", algorithm="quantum_forest", dataset=job_pb.Dataset(csv_path="churn.csv"), target="label"),
         {"training_job.algorithm"}),
        (spec("bad", dataset=job_pb.Dataset(csv_path="churn.csv"), target="nope", hyperparameters={"C": -1, "depth": 3}),
         {"training_job.target", "training_job.hyperparameters.C", "training_job.hyperparameters.depth"}),
        (spec("bad", task=job_pb.TASK_REGRESSION, algorithm="ridge", dataset=job_pb.Dataset(csv_path="churn.csv"), target="label"),
         {"training_job.target"}),
        (spec("bad", dataset=job_pb.Dataset(csv_path="../etc/passwd"), target="label"), {"training_job.dataset.csv_path"}),
        (spec("bad", dataset=job_pb.Dataset(inline_records=job_pb.Dataset.InlineRecords()), target="label"),
         {"training_job.dataset"}),
        (spec("Bad Name!", task=job_pb.TASK_UNSPECIFIED, algorithm="", target=""),
         {"training_job.model_name", "training_job.task", "training_job.algorithm", "training_job.target", "training_job.dataset"}),
    ],
    ids=["unknown-algorithm", "missing-target-bad-hyperparameters", "wrong-task", "path-traversal", "empty-dataset", "everything-missing"],
)
async def test_bad_specs_are_invalid_argument_naming_each_field(mesh, job, fields):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await create(mesh, job)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    named = {v.field for v in details_from_rpc_error(err.value).violations}
    assert fields <= named, named


async def test_unknown_job_is_not_found(mesh):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await get(mesh, "job-does-not-exist")
    assert err.value.code() is grpc.StatusCode.NOT_FOUND


async def test_list_pages_and_filters(mesh):
    for i in range(5):
        await create(mesh, spec("listed", dataset=job_pb.Dataset(csv_path="churn.csv"), target="label"), request_id=f"list-{i}")
    seen, token = [], ""
    while True:
        reply = await mesh.training.ListTrainingJobs(pb.ListTrainingJobsRequest(page_size=2, page_token=token, model_name="listed"), timeout=10)
        seen += [j.job_id for j in reply.training_jobs]
        token = reply.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 5
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.training.ListTrainingJobs(pb.ListTrainingJobsRequest(page_size=2, page_token=reply.next_page_token or "Zm9v", model_name="other"), timeout=10)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_a_job_submitted_straight_to_the_queue_is_trained(worker):
    # README, "worker queue submission": the same path without gRPC.
    from arq import create_pool
    from arq.connections import RedisSettings

    from servers.contracts.queue import queue_name

    mesh = worker
    redis = await create_pool(RedisSettings.from_dsn(mesh.settings.redis_url), default_queue_name=queue_name(mesh.settings))
    try:
        submitted = await redis.enqueue_job("submit_training_job", {
            "model_name": "from-queue", "task": "classification", "algorithm": "logistic_regression",
            "dataset": {"csv_path": "churn.csv"}, "target": "label",
        })
        job_id = await submitted.result(timeout=60)
        bad = await redis.enqueue_job("submit_training_job", {
            "model_name": "from-queue", "task": "classification", "algorithm": "nope",
            "dataset": {"csv_path": "churn.csv"}, "target": "label",
        })
        with pytest.raises(Exception, match="training_job.algorithm"):
            await bad.result(timeout=60)
    finally:
        await redis.aclose()
    done = await wait_for(mesh, job_id, TERMINAL)
    assert done.state == states.JOB_STATE_SUCCEEDED, done.error


async def test_dataset_from_a_query_on_a_connection(worker, pg_database):
    """The dataset is read through the connector's StreamQuery, read-only."""
    import asyncpg
    from chatdb.connector.v1 import (
        connection_pb2,
        connector_service_pb2,
        connector_service_pb2_grpc,
    )

    mesh = worker
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.execute("CREATE TABLE visits (minutes float8, pages int, plan text, bought bool)")
        await conn.executemany(
            "INSERT INTO visits VALUES ($1, $2, $3, $4)",
            [(float(i % 60), i % 13, ("free", "pro")[i % 2], (i % 60) + 3 * (i % 13) > 40) for i in range(400)],
        )
    finally:
        await conn.close()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.settings.connector_port}") as channel:
        await connector_service_pb2_grpc.ConnectorServiceStub(channel).CreateConnection(
            connector_service_pb2.CreateConnectionRequest(
                connection_id="visits-db",
                connection=connection_pb2.Connection(kind=connection_pb2.CONNECTION_KIND_POSTGRES, dsn=pg_database),
            ),
            timeout=30,
        )
    query = job_pb.Dataset(connection_query=job_pb.Dataset.ConnectionQuery(
        connection_id="visits-db", sql="SELECT minutes, pages, plan, bought FROM visits"))
    job = await create(mesh, spec("visits", algorithm="gradient_boosting", dataset=query, target="bought"))
    done = await wait_for(mesh, job.job_id, TERMINAL)
    assert done.state == states.JOB_STATE_SUCCEEDED, done.error
    assert done.metrics["accuracy"] > 0.8

    refused = job_pb.Dataset(connection_query=job_pb.Dataset.ConnectionQuery(
        connection_id="visits-db", sql="DELETE FROM visits RETURNING *"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await create(mesh, spec("visits", dataset=refused, target="bought"))
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "training_job.dataset.connection_query" in {v.field for v in details_from_rpc_error(err.value).violations}
