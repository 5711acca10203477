"""QueueWorker: arq's Worker, kept alive through Redis outages.

arq's Worker.main() lets the first redis ConnectionError end the worker: a Redis restart
used to stop every worker, and queued jobs waited until someone restarted them. Here:

    connect (retrying) → on_startup → poll the queue ─┐
                          ▲                             │ Redis unreachable
                          └── release orphans ◀── ping with backoff (NOT_SERVING)

- While Redis is unreachable the worker reports NOT_SERVING (`on_redis_state(False)`),
  pings it with jittered exponential backoff up to `backoff_max_s`, and resumes polling
  when it answers (`on_redis_state(True)`). One log line per state change.
- Running jobs carry on: a training job's record lives in PostgreSQL, not in Redis.
- A job whose start or end arq could not record in Redis leaves its in-progress key
  behind, which would hide the job from every worker until it expires (job timeout +
  10 s). Such keys are deleted once Redis is back, so the job runs again; arq jobs may
  run more than once anyway, and run_training_job does nothing for a job whose record
  is no longer QUEUED. Jobs whose queue entry Redis lost (a restart without
  persistence) are put back by the orchestrator's reaper from the job of record.
- Redis commands time out after `socket_timeout_s`, so a Redis that hangs (rather than
  refusing connections) counts as unreachable too.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from arq import Worker
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix

from servers.runtime.redis_errors import REDIS_DOWN, as_redis_down

log = logging.getLogger("chatdb.worker.queue")

# REDIS_DOWN: what "Redis is unreachable" looks like from redis-py (runtime.redis_errors).
FIRST_BACKOFF_S = 0.2

OnRedisState = Callable[[bool], Awaitable[None]]


class QueueWorker(Worker):
    def __init__(
        self,
        *args: Any,
        on_redis_state: OnRedisState | None = None,
        backoff_max_s: float = 5.0,
        socket_timeout_s: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.on_redis_state = on_redis_state
        self.backoff_max_s = backoff_max_s
        self.socket_timeout_s = socket_timeout_s
        self.redis_up = False
        self._orphans: set[str] = set()

    def _new_pool(self) -> ArqRedis:
        s = self.redis_settings
        assert s is not None and not s.sentinel, "QueueWorker builds its own pool from redis_settings"
        tls = {"ssl_keyfile": s.ssl_keyfile, "ssl_certfile": s.ssl_certfile, "ssl_cert_reqs": s.ssl_cert_reqs,
               "ssl_ca_certs": s.ssl_ca_certs, "ssl_ca_data": s.ssl_ca_data,
               "ssl_check_hostname": s.ssl_check_hostname} if s.ssl else {}
        return ArqRedis(
            host=s.host, port=s.port, unix_socket_path=s.unix_socket_path, db=s.database, username=s.username,
            password=s.password, ssl=s.ssl, **tls, socket_connect_timeout=s.conn_timeout,
            socket_timeout=self.socket_timeout_s, max_connections=s.max_connections, encoding="utf8",
            job_serializer=self.job_serializer, job_deserializer=self.job_deserializer,
            default_queue_name=self.queue_name, expires_extra_ms=self.expires_extra_ms,
        )

    async def main(self) -> None:
        if self._pool is None:
            self._pool = self._new_pool()
        try:
            await self.pool.ping()
        except REDIS_DOWN as exc:
            await self._wait_for_redis(exc)
        log.info("worker started", extra={"queue": self.queue_name, "functions": sorted(self.functions)})
        self.ctx["redis"] = self.pool
        if self.on_startup:
            await self.on_startup(self.ctx)
        await self._redis_state(True)
        while True:
            try:
                with as_redis_down():
                    # First, so that Redis going away again right after it came back
                    # is one more outage to wait out, not the end of the worker.
                    await self._release_orphans()
                    await self._poll_iteration()
            except REDIS_DOWN as exc:
                await self._wait_for_redis(exc)
                await self._redis_state(True)
                continue
            await asyncio.sleep(self.poll_delay_s)

    async def _redis_state(self, up: bool) -> None:
        self.redis_up = up
        if self.on_redis_state is not None:
            await self.on_redis_state(up)

    async def _wait_for_redis(self, exc: BaseException) -> None:
        """Until Redis answers a PING: NOT_SERVING, backoff doubling to backoff_max_s."""
        await self._redis_state(False)
        down_since = time.monotonic()
        log.warning("redis unreachable; not taking jobs until it is back", extra={
            "queue": self.queue_name, "error": repr(exc), "running_jobs": sum(not t.done() for t in self.tasks.values())})
        backoff, tries = FIRST_BACKOFF_S, 0
        while True:
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self.backoff_max_s)
            tries += 1
            try:
                await self.pool.ping()
            except REDIS_DOWN:
                continue
            log.info("redis reachable again; taking jobs", extra={
                "queue": self.queue_name, "down_s": round(time.monotonic() - down_since, 1), "pings": tries})
            return

    async def run_job(self, job_id: str, score: int) -> None:
        try:
            with as_redis_down():
                await super().run_job(job_id, score)
        except REDIS_DOWN as exc:
            self._orphans.add(job_id)
            log.warning("could not record a job in redis; it is released when redis is back",
                        extra={"arq_job_id": job_id, "error": repr(exc)})

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        # arq counts a job as started (job_counter, semaphore) before it claims it in
        # Redis; if that claim fails the count would never come back, and after a few
        # outages the worker would take no jobs at all.
        for job_id in job_ids:
            if self.job_counter >= self.max_jobs:
                return
            try:
                with as_redis_down():  # arq WATCHes the in-progress key (redis_errors.py)
                    await super().start_jobs([job_id])
            except REDIS_DOWN:
                self.job_counter -= 1
                self.sem.release()
                raise

    async def _release_orphans(self) -> None:
        if not self._orphans:
            return
        orphans, self._orphans = sorted(self._orphans), set()
        try:
            await self.pool.delete(*(in_progress_key_prefix + job_id for job_id in orphans))
        except REDIS_DOWN:
            self._orphans.update(orphans)  # next time
            raise
        log.info("released jobs whose state redis missed", extra={"arq_job_ids": orphans})

    async def close(self) -> None:
        """arq's close, minus its failure when Redis is gone at shutdown."""
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        try:
            await self.pool.delete(self.health_check_key)
        except REDIS_DOWN:
            pass
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.close(close_connection_pool=True)
        self._pool = None
