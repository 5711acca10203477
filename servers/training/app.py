"""Composition root of the training orchestrator (`chatdb serve training`)."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack
from pathlib import Path

from arq import create_pool
from arq.connections import RedisSettings
from chatdb.training.v1 import training_service_pb2, training_service_pb2_grpc

from servers.contracts.queue import queue_name
from servers.contracts.quotas import Quotas
from servers.runtime.migrations import migrate_dsn
from servers.runtime.paging import page_tokens
from servers.runtime.pg import open_platform_pool
from servers.runtime.redis_errors import redis_errors
from servers.runtime.server import ServiceBinding, bind
from servers.runtime.settings import Settings

from .core import CoreOptions, TrainingCore
from .events import JobEvents
from .queue import JobQueue
from .service import TrainingServicer
from .store import JobStore
from .validation import SpecValidator

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = training_service_pb2.DESCRIPTOR.services_by_name["TrainingService"].full_name


async def open_core(settings: Settings, stack: AsyncExitStack) -> TrainingCore:
    await migrate_dsn(settings.database_url, "training", MIGRATIONS)
    pool = await open_platform_pool(settings)
    stack.push_async_callback(pool.close)
    with redis_errors("job queue"):
        redis = await create_pool(RedisSettings.from_dsn(settings.redis_url), default_queue_name=queue_name(settings))
    stack.push_async_callback(redis.aclose)
    events = JobEvents(settings.database_url)
    await events.start()
    stack.push_async_callback(events.close)
    validator = SpecValidator(settings)
    stack.push_async_callback(validator.close)
    return TrainingCore(
        JobStore(pool),
        JobQueue(redis, queue_name(settings)),
        events,
        validator,
        CoreOptions(
            max_attempts=settings.training_max_attempts,
            heartbeat_stale_s=settings.training_heartbeat_stale_s,
            lost_queue_after_s=settings.training_lost_queue_after_s,
        ),
        page_tokens=page_tokens(settings),
        # arq's pool is a redis.asyncio client: the quota counters share it.
        quotas=Quotas(redis, settings.redis_prefix, retry_after_s=settings.quota_redis_retry_s),
    )


async def build(settings: Settings, stack: AsyncExitStack) -> list[ServiceBinding]:
    core = await open_core(settings, stack)
    reaper = asyncio.create_task(core.run_reaper(settings.training_reaper_interval_s), name="training-reaper")

    async def stop_reaper() -> None:
        reaper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reaper

    stack.push_async_callback(stop_reaper)
    return [
        bind(
            SERVICE_NAME,
            training_service_pb2_grpc.add_TrainingServiceServicer_to_server,
            TrainingServicer(core),
            on_drain=core.end_watches,
        )
    ]
