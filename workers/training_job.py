"""The arq job that runs one attempt of a training job.

    claim (QUEUED → RUNNING, attempts + 1) → load the dataset → train in a child process
    → upload the ONNX model to the registry → move `staging` → SUCCEEDED

While it runs, the worker's heartbeat thread (heartbeat.py) records liveness every
interval and reports CANCELLING; the orchestrator's reaper re-queues the job if the
heartbeats stop (a SIGKILLed worker). Every write is conditional on still owning the
attempt, so a worker that was given up on cannot overwrite the attempt that replaced it.

A job registers one version, whatever its attempts do: the upload's request_id is the
job id, and an attempt whose upload is refused because an earlier attempt of the same
job registered a different artifact adopts that earlier version (and its metrics).
Registry calls are retried for CHATDB_TRAINING_REGISTRY_RETRY_S (servers/contracts/clients.py).

An attempt runs as its job's tenant (job_principal): the connector read of the dataset
and the registry upload carry that tenant's identity headers (open_channel forwards the
current principal), so the version lands in a model of the job's tenant, and a job can
neither read another tenant's connection nor add a version to another tenant's model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from chatdb.registry.v1 import model_version_pb2
from opentelemetry.trace import SpanKind, Status, StatusCode

from servers.contracts.clients import ConnectorClient, RegistryClient
from servers.contracts.ml.datasets import CsvFile, from_records
from servers.contracts.ml.spec import Dataset
from servers.runtime import tracing
from servers.runtime.errors import ChatDBError, Code, InvalidArgument
from servers.runtime.identity import Principal, reset_principal, set_principal
from servers.training.domain import Job, JobSpec, JobState
from servers.training.store import JobStore
from servers.training.validation import training_spec
from workers.heartbeat import HeartbeatThread
from workers.ml_engine.child import train_in_child
from workers.ml_engine.errors import TrainingCancelled

log = logging.getLogger("chatdb.worker.training")


async def load_dataset(ctx: dict[str, Any], spec: JobSpec) -> Dataset | CsvFile:
    source = spec.dataset
    if source.csv_path is not None:
        return CsvFile(ctx["settings"].data_dir, source.csv_path)  # read in the training child
    if source.records is not None:
        return from_records(source.records)
    connector: ConnectorClient = ctx["connector"]
    columns, rows = await connector.rows(source.connection_id or "", source.sql or "")
    return Dataset(columns=tuple(columns), rows=[row async for row in rows])


def version_metadata(job: Job, result: Any) -> model_version_pb2.ModelVersion:
    return model_version_pb2.ModelVersion(
        inputs=[model_version_pb2.TensorSpec(name=t.name, datatype=t.datatype, shape=list(t.shape)) for t in result.inputs],
        outputs=[model_version_pb2.TensorSpec(name=t.name, datatype=t.datatype, shape=list(t.shape)) for t in result.outputs],
        metrics=result.metrics,
        dataset_fingerprint=result.dataset_fingerprint,
        library_versions=result.library_versions,
        training_job_id=job.job_id,
        task=job.spec.task,
        description=f"{job.spec.algorithm} trained by job {job.job_id}",
    )


async def register(ctx: dict[str, Any], job: Job, result: Any) -> tuple[dict[str, float], int]:
    """Register the trained model as the job's version and move `staging` to it; returns
    the metrics and the version number."""
    registry: RegistryClient = ctx["registry"]
    model = job.spec.model_name
    try:
        version = await registry.upload(model, result.onnx_model, version_metadata(job, result), request_id=job.job_id)
        metrics = dict(result.metrics)
    except InvalidArgument:
        # An earlier attempt of this job (written off while still alive) registered its
        # own artifact under the same request_id: that version is the job's version.
        earlier = await registry.version_of_job(model, job.job_id)
        if earlier is None:
            raise
        log.warning("an earlier attempt registered this job's version; adopting it",
                    extra={"job_id": job.job_id, "attempt": job.attempts, "version": earlier.version})
        version, metrics = earlier.version, dict(earlier.metrics)
    await registry.set_alias(model, "staging", version)
    return metrics, version


def job_principal(job: Job) -> Principal | None:
    """Who an attempt acts as: the job's tenant (None, an internal caller, for a shared
    job). Role "user": what the job does is what its creator could do."""
    if not job.tenant:
        return None
    return Principal(name=f"training-job:{job.job_id}", tenant=job.tenant, role="user")


async def _attempt(ctx: dict[str, Any], job: Job, cancel: asyncio.Event) -> tuple[dict[str, float], int]:
    # This task's own context: the principal holds for every call made from here on.
    who = set_principal(job_principal(job))
    try:
        return await _attempt_as_tenant(ctx, job, cancel)
    finally:
        reset_principal(who)


async def _attempt_as_tenant(ctx: dict[str, Any], job: Job, cancel: asyncio.Event) -> tuple[dict[str, float], int]:
    store: JobStore = ctx["jobs"]
    worker_id: str = ctx["worker_id"]
    last = 0.0

    async def progress(fraction: float, stage: str) -> None:
        nonlocal last
        # Stage changes always, fraction updates at most a few times a second.
        now = time.monotonic()
        if stage != getattr(progress, "stage", None) or now - last > 0.25 or fraction >= 1.0:
            progress.stage = stage  # type: ignore[attr-defined]
            last = now
            await store.progress(job.job_id, worker_id, 0.05 + 0.85 * fraction, stage)

    await store.progress(job.job_id, worker_id, 0.0, "loading dataset")
    dataset = await load_dataset(ctx, job.spec)
    result = await train_in_child(
        training_spec(job.spec), dataset, progress, cancel=cancel, threads=ctx["settings"].training_threads
    )
    await store.progress(job.job_id, worker_id, 0.92, "registering")
    # The registry may be away for a while (retried in servers/contracts/clients.py): a cancel still stops
    # the job at once instead of after the retry window.
    registering = asyncio.ensure_future(register(ctx, job, result))
    cancelled = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait({registering, cancelled}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        cancelled.cancel()
        if not registering.done():
            registering.cancel()
            with contextlib.suppress(BaseException):
                await registering
    if registering.done() and not registering.cancelled():
        return registering.result()
    raise TrainingCancelled("training cancelled while registering the model")


async def _record_outcome(
    store: JobStore, job_id: str, worker_id: str, work: asyncio.Task, cancel: asyncio.Event
) -> str:
    """End the job of record as the finished attempt came out: SUCCEEDED, FAILED or
    CANCELLED (a cancel asked for meanwhile wins)."""
    try:
        metrics, version = work.result()
    except TrainingCancelled:
        await store.finish(job_id, worker_id, JobState.CANCELLED)
        return "cancelled"
    except ChatDBError as exc:
        if cancel.is_set():
            await store.finish(job_id, worker_id, JobState.CANCELLED)
            return "cancelled"
        await store.finish(job_id, worker_id, JobState.FAILED, error_code=int(exc.code), error_message=exc.message)
        log.info("training failed", extra={"job_id": job_id, "error": exc.message})
        return "failed"
    except Exception as exc:  # noqa: BLE001 - the job must end FAILED, not RUNNING
        log.exception("training crashed", extra={"job_id": job_id})
        await store.finish(
            job_id, worker_id, JobState.FAILED, error_code=int(Code.INTERNAL),
            error_message=f"internal error in the ML engine: {type(exc).__name__}",
        )
        return "failed"
    if cancel.is_set():
        # Finished in the same instant the cancel came: the version exists, but the
        # user asked for the job to stop, so it ends CANCELLED with the version noted.
        await store.finish(job_id, worker_id, JobState.CANCELLED, metrics=metrics, model_version=version)
        return "cancelled"
    await store.finish(job_id, worker_id, JobState.SUCCEEDED, metrics=metrics, model_version=version)
    log.info("training succeeded", extra={"job_id": job_id, "version": version})
    return "succeeded"


async def run_training_job(ctx: dict[str, Any], job_id: str, trace_context: dict[str, str] | None = None) -> str:
    """One attempt, as a span of the trace that queued the job (`trace_context`, the
    W3C headers the training queue put in the arq job): the registry upload and the
    dataset read are its children."""
    with tracing.tracer().start_as_current_span(
        "training attempt", context=tracing.extract(trace_context), kind=SpanKind.CONSUMER,
        attributes={"chatdb.job_id": job_id, "messaging.system": "arq"},
    ) as span:
        outcome = await _run_attempt(ctx, job_id, span)
        span.set_attribute("chatdb.outcome", outcome)
        if outcome == "failed":
            span.set_status(Status(StatusCode.ERROR, "training failed"))
        return outcome


async def _run_attempt(ctx: dict[str, Any], job_id: str, span: Any) -> str:
    store: JobStore = ctx["jobs"]
    worker_id: str = ctx["worker_id"]
    job = await store.claim(job_id, worker_id)
    if job is None:
        return "not queued"  # cancelled before it started, finished, or another worker has it
    span.set_attributes({"chatdb.attempt": job.attempts, "chatdb.model_name": job.spec.model_name,
                         "chatdb.task": str(job.spec.task), "chatdb.algorithm": job.spec.algorithm})
    log.info("training started", extra={"job_id": job_id, "attempt": job.attempts})
    cancel, lost = asyncio.Event(), asyncio.Event()

    def on_beat(state: JobState | None) -> None:
        if state is None:
            lost.set()  # the reaper gave the attempt away
        elif state is JobState.CANCELLING:
            cancel.set()

    heartbeats: HeartbeatThread = ctx["heartbeats"]
    watch = heartbeats.watch(job_id, on_beat)
    work = asyncio.create_task(_attempt(ctx, job, cancel))
    lost_wait = asyncio.create_task(lost.wait())
    try:
        await asyncio.wait({work, lost_wait}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
            log.warning("attempt lost to the reaper; stopped", extra={"job_id": job_id})
            return "lost"
        return await _record_outcome(store, job_id, worker_id, work, cancel)
    except asyncio.CancelledError:
        # The worker is shutting down (SIGTERM): hand the attempt back at once instead of
        # letting the reaper find it stale; arq re-runs this job on another worker.
        work.cancel()
        with contextlib.suppress(BaseException):
            await work
        await store.release(job_id, worker_id)
        raise
    finally:
        heartbeats.unwatch(watch)
        lost_wait.cancel()
