"""`chatdb worker`: the arq ML-engine worker, with a grpc.health.v1 server of its own.

The worker consumes its own queue (`<redis_prefix>:ml-engine`). Its health port
(CHATDB_WORKER_PORT) reports SERVING while the arq loop runs, so the same probes work
for workers as for services.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq import Worker
from arq.connections import RedisSettings

from servers.runtime import logs
from servers.runtime.server import GrpcServer, wait_for_signal
from servers.runtime.settings import Settings

log = logging.getLogger("chatdb.worker")


def queue_name(settings: Settings) -> str:
    return f"{settings.redis_prefix}:ml-engine"


async def ping(ctx: dict[str, Any]) -> str:
    """A no-op job: lets operators and tests see the queue round-trip."""
    return "pong"


def worker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of arq.Worker (a test checks each is a real parameter: arq
    silently ignores misspelled WorkerSettings attributes)."""
    return {
        "functions": [ping],
        "queue_name": queue_name(settings),
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "max_jobs": settings.worker_max_jobs,
        "job_timeout": settings.worker_job_timeout_s,
        "health_check_key": f"{queue_name(settings)}:health-check",
        "health_check_interval": 10,
        "handle_signals": False,
    }


async def run_worker(settings: Settings) -> None:
    logs.configure("worker", settings.log_level)
    health = GrpcServer(settings, [], port=settings.worker_port)
    await health.start()
    worker = Worker(**worker_options(settings))
    run = asyncio.create_task(worker.async_run())
    stop = asyncio.create_task(wait_for_signal())
    done, _ = await asyncio.wait({run, stop}, return_when=asyncio.FIRST_COMPLETED)
    if run in done and run.exception() is not None:
        log.error("worker loop ended", exc_info=run.exception())
    await health.set_serving(False)
    await worker.close()
    stop.cancel()
    await health.stop()
