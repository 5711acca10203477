"""The arq job that runs one attempt of a training job.

    claim (QUEUED → RUNNING, attempts + 1) → load the dataset → train in a child process
    → upload the ONNX model to the registry → move `staging` → SUCCEEDED

While it runs, a heartbeat task records liveness every few seconds and watches for
CANCELLING; the orchestrator's reaper re-queues the job if the heartbeats stop (a
SIGKILLed worker). Every write is conditional on still owning the attempt, so a worker
that was given up on cannot overwrite the attempt that replaced it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from chatdb.registry.v1 import model_version_pb2

from servers.runtime.errors import ChatDBError, Code
from servers.training.domain import Job, JobSpec, JobState
from servers.training.store import JobStore
from servers.training.validation import training_spec
from workers.clients import ConnectorClient, RegistryClient
from workers.ml_engine.child import train_in_child
from workers.ml_engine.datasets import CsvFile, from_records
from workers.ml_engine.errors import TrainingCancelled
from workers.ml_engine.spec import Dataset

log = logging.getLogger("chatdb.worker.training")


class AttemptLost(Exception):
    """This worker no longer owns the attempt (the reaper gave it to another)."""


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


async def _attempt(ctx: dict[str, Any], job: Job, cancel: asyncio.Event) -> tuple[dict[str, float], int]:
    store: JobStore = ctx["jobs"]
    worker_id: str = ctx["worker_id"]
    registry: RegistryClient = ctx["registry"]
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
    version = await registry.upload(
        job.spec.model_name, result.onnx_model, version_metadata(job, result), request_id=job.job_id
    )
    await registry.set_alias(job.spec.model_name, "staging", version)
    return result.metrics, version


async def _heartbeat(ctx: dict[str, Any], job_id: str, cancel: asyncio.Event, lost: asyncio.Event) -> None:
    store: JobStore = ctx["jobs"]
    while True:
        await asyncio.sleep(ctx["settings"].training_heartbeat_interval_s)
        try:
            state = await store.heartbeat(job_id, ctx["worker_id"])
        except ChatDBError:
            continue  # the database blinked; the next beat tries again
        if state is None:
            lost.set()
            return
        if state is JobState.CANCELLING:
            cancel.set()


async def run_training_job(ctx: dict[str, Any], job_id: str) -> str:
    store: JobStore = ctx["jobs"]
    worker_id: str = ctx["worker_id"]
    job = await store.claim(job_id, worker_id)
    if job is None:
        return "not queued"  # cancelled before it started, finished, or another worker has it
    log.info("training started", extra={"job_id": job_id, "attempt": job.attempts})
    cancel, lost = asyncio.Event(), asyncio.Event()
    beat = asyncio.create_task(_heartbeat(ctx, job_id, cancel, lost))
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
    except asyncio.CancelledError:
        # The worker is shutting down (SIGTERM): hand the attempt back at once instead of
        # letting the reaper find it stale; arq re-runs this job on another worker.
        work.cancel()
        with contextlib.suppress(BaseException):
            await work
        await store.release(job_id, worker_id)
        raise
    finally:
        beat.cancel()
        lost_wait.cancel()
