"""The worker and the jobs it runs outlive the services around them: a Redis outage (the
test runs its own redis-server and stops it), a registry that is away when a training
ends, and a live worker whose event loop is too busy to heartbeat; a job that runs twice
still registers one version."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from pathlib import Path

import asyncpg
import grpc
import pytest
from chatdb.registry.v1 import model_registry_service_pb2 as reg_pb
from chatdb.registry.v1 import model_registry_service_pb2_grpc, model_version_pb2
from chatdb.training.v1 import job_state_pb2 as states
from chatdb.training.v1 import training_job_pb2 as job_pb
from grpc_health.v1 import health_pb2, health_pb2_grpc

from servers.training.store import JobStore

from ..runtime.test_cli_serve import free_port
from .conftest import open_mesh
from .test_service import TERMINAL, create, download, get, spec, wait_for

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")

OUTAGE_S = 10.0  # the issue: "stop Redis for 10 s"
REGISTRY_AWAY_AFTER_FIT_S = 30.0  # the issue: "start it again 30 s after the fit ended"


class RedisServer:
    """A redis-server of this module's own (never the shared one), without persistence:
    a restart loses every key, as a crashed Redis does."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--daemonize", "no"],
                stdout=log, stderr=log,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True).stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis") / "redis.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def mesh(settings, data_dir, redis_server):
    async with open_mesh(settings, data_dir, redis_url=redis_server.url) as mesh:
        yield mesh


@pytest.fixture
async def worker(mesh):
    proc = mesh.start_worker()
    yield mesh, proc
    mesh.stop_workers()


async def health_of(port: int) -> str:
    """The worker's grpc.health.v1 status, or UNREACHABLE when its port does not answer."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.aio.AioRpcError:
            return "UNREACHABLE"
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


async def wait_health(port: int, wanted: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    status = ""
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the worker exited with {proc.returncode}"
        status = await health_of(port)
        if status == wanted:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"worker health stayed {status}, not {wanted}")


async def versions_of(mesh, model: str) -> list[model_version_pb2.ModelVersion]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.settings.registry_port}") as channel:
        stub = model_registry_service_pb2_grpc.ModelRegistryServiceStub(channel)
        reply = await stub.ListModelVersions(reg_pb.ListModelVersionsRequest(model=model), timeout=10, wait_for_ready=True)
    return list(reply.model_versions)


def log_of(mesh, proc) -> str:
    return mesh.logs[[p.pid for p in mesh.workers].index(proc.pid)].read_text()


def assert_alive(mesh, proc) -> None:
    """The worker is still running; if not, the failure carries the end of its log."""
    if proc.poll() is not None:
        tail = "\n".join(log_of(mesh, proc).splitlines()[-40:])
        raise AssertionError(f"the worker exited with {proc.returncode}; its log ends:\n{tail}")


# --- point 4: Redis outage ----------------------------------------------------------------


@pytest.mark.timeout(300)
async def test_worker_rides_out_a_redis_outage_idle_and_while_training(worker, redis_server):
    mesh, proc = worker
    port = mesh.worker_ports[proc.pid]
    churn = dict(dataset=job_pb.Dataset(csv_path="churn.csv"), target="label")
    try:
        # Idle: Redis goes away for 10 s; a job is created meanwhile (its enqueue fails).
        redis_server.stop()
        away = time.monotonic()
        await wait_health(port, "NOT_SERVING", proc, timeout_s=20)
        while_idle = await create(mesh, spec("outage-idle", **churn))
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - away)))
        assert_alive(mesh, proc)
        redis_server.start()
        await wait_health(port, "SERVING", proc, timeout_s=30)
        done = await wait_for(mesh, while_idle.job_id, TERMINAL, timeout_s=60)
        assert done.state == states.JOB_STATE_SUCCEEDED, done.error

        # Busy: Redis goes away for 10 s while a training runs; another job is created meanwhile.
        running = await create(mesh, spec("outage-busy", algorithm="random_forest", dataset=job_pb.Dataset(csv_path="big.csv"),
                                          target="y", hyperparameters={"n_estimators": 40}))
        job = await wait_for(mesh, running.job_id, {states.JOB_STATE_RUNNING}, timeout_s=30)
        redis_server.stop()
        away = time.monotonic()
        while_busy = await create(mesh, spec("outage-queued", **churn))
        await wait_health(port, "NOT_SERVING", proc, timeout_s=20)
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - away)))
        assert_alive(mesh, proc)
        redis_server.start()
        await wait_health(port, "SERVING", proc, timeout_s=30)
        finished = [await wait_for(mesh, j.job_id, TERMINAL, timeout_s=90) for j in (running, while_busy)]
        assert [j.state for j in finished] == [states.JOB_STATE_SUCCEEDED] * 2, [j.error for j in finished]
        assert job.attempts == 1 and finished[0].attempts == 1  # finished by the worker that ran it, not re-run
    finally:
        if redis_server.proc is None:
            redis_server.start()
    log = log_of(mesh, proc)
    assert log.count("redis unreachable") == log.count("redis reachable again") >= 2  # one line per state change


# --- point 5: registry away when the training ends --------------------------------------


@pytest.mark.timeout(240)
async def test_registry_back_30_s_after_the_fit_ended_still_registers_the_version_once(worker):
    mesh, _ = worker
    job = await create(mesh, spec("patient", algorithm="random_forest", dataset=job_pb.Dataset(csv_path="big.csv"),
                                  target="y", hyperparameters={"n_estimators": 20}))
    await wait_for(mesh, job.job_id, {states.JOB_STATE_RUNNING}, timeout_s=30)
    await mesh.stop_registry()  # killed while the job fits
    try:
        deadline = time.monotonic() + 90
        while (current := await get(mesh, job.job_id)).progress.stage != "registering":
            assert current.state not in TERMINAL, current.error
            assert time.monotonic() < deadline, "the fit never ended"
            await asyncio.sleep(0.1)
        await asyncio.sleep(REGISTRY_AWAY_AFTER_FIT_S)
        waiting = await get(mesh, job.job_id)
        assert waiting.state == states.JOB_STATE_RUNNING, waiting.error
    finally:
        await mesh.start_registry()
    done = await wait_for(mesh, job.job_id, TERMINAL, timeout_s=60)
    assert done.state == states.JOB_STATE_SUCCEEDED, done.error
    versions = [v for v in await versions_of(mesh, "patient") if v.training_job_id == job.job_id]
    assert [v.version for v in versions] == [done.model_version.version]


@pytest.mark.timeout(120)
async def test_registry_away_past_the_retry_window_fails_the_job_with_a_reason(mesh):
    mesh.start_worker(CHATDB_TRAINING_REGISTRY_RETRY_S="3")
    try:
        await mesh.stop_registry()
        try:
            job = await create(mesh, spec("stranded", dataset=job_pb.Dataset(csv_path="churn.csv"), target="label"))
            done = await wait_for(mesh, job.job_id, TERMINAL, timeout_s=60)
        finally:
            await mesh.start_registry()
    finally:
        mesh.stop_workers()
    assert done.state == states.JOB_STATE_FAILED
    assert done.error.code == grpc.StatusCode.UNAVAILABLE.value[0]
    message = done.error.message
    assert f"the model registry at 127.0.0.1:{mesh.settings.registry_port} was unreachable for" in message, message
    assert "the job can be retried" in message and "failed to connect" not in message


# --- point 6: a job that runs twice registers once --------------------------------------


@pytest.mark.timeout(180)
async def test_a_rerun_job_adopts_the_version_its_earlier_attempt_registered(mesh):
    from servers.contracts.clients import RegistryClient

    churn = dict(dataset=job_pb.Dataset(csv_path="churn.csv"), target="label")
    # Another model's artifact stands for what the job's first attempt uploaded before its
    # worker was written off: valid ONNX, but not the bytes the re-run will produce.
    mesh.start_worker()
    try:
        other = await create(mesh, spec("adopted", algorithm="random_forest", hyperparameters={"n_estimators": 5}, **churn))
        other = await wait_for(mesh, other.job_id, TERMINAL)
        assert other.state == states.JOB_STATE_SUCCEEDED, other.error
    finally:
        mesh.stop_workers()
    meta, artifact = await download(mesh, "adopted", other.model_version.version)

    job = await create(mesh, spec("adopted", **churn))  # no worker: stays QUEUED
    first_attempt = model_version_pb2.ModelVersion(
        inputs=meta.inputs, outputs=meta.outputs, metrics={"accuracy": 0.5}, dataset_fingerprint=meta.dataset_fingerprint,
        library_versions=meta.library_versions, training_job_id=job.job_id, task=meta.task, description="attempt 1",
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.settings.registry_port}") as channel:
        registered = await RegistryClient(channel).upload("adopted", artifact, first_attempt, request_id=job.job_id)

    mesh.start_worker()
    try:
        done = await wait_for(mesh, job.job_id, TERMINAL)
    finally:
        mesh.stop_workers()
    assert done.state == states.JOB_STATE_SUCCEEDED, done.error
    assert done.model_version.version == registered
    assert dict(done.metrics) == {"accuracy": 0.5}  # the adopted version's, so job and registry agree
    assert [v.version for v in await versions_of(mesh, "adopted") if v.training_job_id == job.job_id] == [registered]


@pytest.mark.timeout(120)
async def test_a_blocked_worker_loop_does_not_get_its_live_job_reaped(mesh):
    """Heartbeats do not depend on the worker's event loop: with the loop blocked for
    longer than the stale threshold, the reaper (judging PostgreSQL's heartbeat_at)
    still sees the job alive, and the one attempt finishes it."""
    from workers.main import shutdown, startup
    from workers.training_job import run_training_job

    stale_s = mesh.settings.training_heartbeat_stale_s
    ctx = {"settings": mesh.settings.model_copy(update={"training_heartbeat_interval_s": 0.5}), "worker_id": "blocked-loop"}
    await startup(ctx)
    try:
        job = await create(mesh, spec("busy-loop", dataset=job_pb.Dataset(csv_path="churn.csv"), target="label"))
        run = asyncio.create_task(run_training_job(ctx, job.job_id))
        await wait_for(mesh, job.job_id, {states.JOB_STATE_RUNNING}, timeout_s=30)

        reaped: list = []

        def reaper_meanwhile() -> None:
            async def reap() -> list:
                await asyncio.sleep(stale_s + 1)
                conn = await asyncpg.connect(mesh.settings.database_url)
                try:
                    return await JobStore(conn).reap(stale_s)
                finally:
                    await conn.close()

            reaped.extend(asyncio.run(reap()))

        reaper = threading.Thread(target=reaper_meanwhile)
        reaper.start()
        time.sleep(stale_s + 2)  # noqa: ASYNC251 - on purpose: the worker's event loop is blocked all along
        reaper.join()
        assert [j.job_id for j in reaped] == []
        assert await asyncio.wait_for(run, 60) == "succeeded"
        done = await get(mesh, job.job_id)
        assert done.state == states.JOB_STATE_SUCCEEDED and done.attempts == 1
    finally:
        await shutdown(ctx)
