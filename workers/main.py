"""`chatdb worker`: the arq ML-engine worker, with a grpc.health.v1 server of its own.

The worker consumes its own queue (`<redis_prefix>:ml-engine`). Its health port
(CHATDB_WORKER_PORT) reports SERVING while the worker can take jobs, so the same probes
work for workers as for services: NOT_SERVING while it starts and while Redis is
unreachable (queue_worker.py: the worker waits for Redis and carries on by itself).
Its Prometheus /metrics endpoint (CHATDB_WORKER_METRICS_PORT) carries the training jobs'
durations and the queue's depth, read from Redis when scraped (queue_depth.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

from arq.connections import RedisSettings

from servers.contracts.queue import queue_name
from servers.runtime import logs, tracing
from servers.runtime.metrics import start_metrics
from servers.runtime.server import GrpcServer, wait_for_signal
from servers.runtime.settings import Settings
from servers.runtime.tls import for_service

log = logging.getLogger("chatdb.worker")


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def startup(ctx: dict[str, Any]) -> None:
    """Shared resources of the job functions (arq's ctx): the job store, the spec
    validator of queue submissions, and channels to the registry and the connector."""
    from servers.contracts.clients import ConnectorClient, RegistryClient
    from servers.runtime.channels import open_channel
    from servers.runtime.pg import open_platform_pool
    from servers.training.store import JobStore
    from servers.training.validation import SpecValidator

    from .heartbeat import HeartbeatThread

    settings: Settings = ctx["settings"]
    ctx["pool"] = await open_platform_pool(settings, min_size=1, max_size=4)
    ctx["jobs"] = JobStore(ctx["pool"])
    ctx["validator"] = SpecValidator(settings)
    ctx["heartbeats"] = HeartbeatThread(settings.database_url, ctx["worker_id"], settings.training_heartbeat_interval_s)
    ctx["heartbeats"].start()
    ctx["registry_channel"] = open_channel(settings, "registry", map_errors=True)
    ctx["registry"] = RegistryClient(
        ctx["registry_channel"], address=f"{settings.host}:{settings.registry_port}", retry_s=settings.training_registry_retry_s
    )
    ctx["connector_channel"] = open_channel(settings, "connector", map_errors=True)
    ctx["connector"] = ConnectorClient(ctx["connector_channel"])
    # Trainings run in children forked from a server that has the ML stack imported
    # already: a child then starts in milliseconds instead of seconds.
    from .ml_engine.child import start_fork_server

    await asyncio.to_thread(start_fork_server)


async def shutdown(ctx: dict[str, Any]) -> None:
    for key in ("registry_channel", "connector_channel"):
        if key in ctx:
            await ctx[key].close()
    if "validator" in ctx:
        await ctx["validator"].close()
    if "heartbeats" in ctx:
        await asyncio.to_thread(ctx["heartbeats"].stop)
    if "pool" in ctx:
        await ctx["pool"].close()


async def run_training_job(ctx: dict[str, Any], job_id: str, trace_context: dict[str, str] | None = None) -> str:
    # Imported on use so that `import workers.main` stays light for the orchestrator.
    from .training_job import run_training_job as run

    return await run(ctx, job_id, trace_context)


async def submit_training_job(ctx: dict[str, Any], spec: dict[str, Any], request_id: str | None = None) -> str:
    """Create a training job from Python by putting this on the queue (README: worker
    queue submission). The spec is validated and written as the job of record exactly as
    CreateTrainingJob does (the same servers.training.core.create_job, with the validator
    built once at startup), then queued for training; returns the job id."""
    from servers.training.core import create_job
    from servers.training.domain import JobSpec
    from servers.training.queue import JobQueue

    settings: Settings = ctx["settings"]
    job = await create_job(
        ctx["jobs"], JobQueue(ctx["redis"], queue_name(settings)), ctx["validator"], JobSpec.from_json(spec), request_id,
        max_attempts=settings.training_max_attempts,
    )
    return job.job_id


async def ping(ctx: dict[str, Any]) -> str:
    """A no-op job: lets operators and tests see the queue round-trip."""
    return "pong"


def worker_options(settings: Settings, worker_id: str = "") -> dict[str, Any]:
    """Keyword arguments of arq.Worker (a test checks each is a real parameter: arq
    silently ignores misspelled WorkerSettings attributes)."""
    return {
        "functions": [ping, run_training_job, submit_training_job],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings, "worker_id": worker_id or default_worker_id()},
        # Attempts are counted by the job of record (heartbeat + reaper), not by arq.
        "max_tries": 1000,
        "keep_result": 600,
        "queue_name": queue_name(settings),
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "max_jobs": settings.worker_max_jobs,
        "job_timeout": settings.worker_job_timeout_s,
        "health_check_key": f"{queue_name(settings)}:health-check",
        "health_check_interval": 10,
        # arq sleeps this long between looks at the queue: its default (0.5 s) is added,
        # on average half of it, to the start of every training job.
        "poll_delay": settings.worker_poll_delay_s,
        "handle_signals": False,
    }


async def run_worker(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT (exit status 0) or until the worker's loop fails (1, so
    that a supervisor restarting on failure brings it back; its jobs of record are
    re-queued by the orchestrator's reaper meanwhile)."""
    from .queue_depth import QueueDepth
    from .queue_worker import QueueWorker

    logs.configure("worker", settings.log_level)
    settings = for_service(settings, "worker")  # presents worker.crt (CHATDB_TLS_DIR)
    tracing.setup("worker", settings)
    health = GrpcServer(settings, [], port=settings.worker_port, ready=False)
    await health.start()
    metrics = start_metrics(settings.host, settings.metrics_port_of("worker"), "worker")
    depth = QueueDepth(settings) if metrics is not None else None
    worker = QueueWorker(
        **worker_options(settings),
        on_redis_state=health.set_serving,
        backoff_max_s=settings.worker_redis_backoff_max_s,
        socket_timeout_s=settings.worker_redis_timeout_s,
    )
    run = asyncio.create_task(worker.async_run())
    stop = asyncio.create_task(wait_for_signal())
    done, _ = await asyncio.wait({run, stop}, return_when=asyncio.FIRST_COMPLETED)
    failed = run in done  # the loop runs until cancelled: ending by itself is a failure
    if failed:
        log.error("worker loop ended", exc_info=run.exception())
    await health.set_serving(False)
    await worker.close()
    stop.cancel()
    await health.stop()
    if metrics is not None:
        metrics.close()
    if depth is not None:
        depth.close()
    tracing.shutdown()
    return 1 if failed else 0
