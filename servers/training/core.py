"""TrainingCore: create, read, cancel and watch training jobs; re-queue lost ones.

Plain async logic over JobStore (the record), JobQueue (arq) and JobEvents (wake-ups).
A job is written QUEUED before it is put on the queue, so an accepted job can never be
lost: if enqueuing fails, or Redis loses the queue, `repair` puts it back.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from servers.contracts.quotas import TRAINING_JOBS, Quotas
from servers.runtime.paging import PageTokens, invalid_token, key_from, page_size

from .domain import Job, JobSpec, JobState
from .events import JobEvents
from .queue import JobQueue
from .store import JobStore

log = logging.getLogger("chatdb.training")

Validator = Callable[[JobSpec], Awaitable[None]]


async def create_job(
    store: JobStore, queue: JobQueue, validate: Validator, spec: JobSpec, request_id: str | None, *, max_attempts: int
) -> Job:
    """Validate the spec, write the job of record (once per request id), then queue it.

    The one way a job is created: CreateTrainingJob (TrainingCore.create) and the worker's
    queue submission (workers.main.submit_training_job) both call this.
    """
    await validate(spec)
    job, created = await store.create(f"job-{uuid.uuid4().hex[:16]}", request_id or None, spec, max_attempts)
    if created:
        try:
            await queue.enqueue(job.job_id, 1)
        except Exception:  # noqa: BLE001 - the job of record exists; repair() enqueues it later
            log.warning("enqueue failed; the reaper will re-enqueue", exc_info=True, extra={"job_id": job.job_id})
    return job


@dataclass(frozen=True)
class CoreOptions:
    max_attempts: int = 3
    heartbeat_stale_s: float = 30.0
    lost_queue_after_s: float = 30.0
    watch_poll_s: float = 1.0


class TrainingCore:
    def __init__(
        self, store: JobStore, queue: JobQueue, events: JobEvents, validate: Validator, options: CoreOptions,
        *, page_tokens: PageTokens | None = None, quotas: Quotas | None = None,
    ) -> None:
        self.page_tokens = page_tokens or PageTokens(key_from(None))
        self.quotas = quotas
        self.store = store
        self.queue = queue
        self.events = events
        self.validate = validate
        self.options = options
        self._drain = asyncio.Event()

    def end_watches(self) -> None:
        """Let watch streams finish within one poll interval: the server is draining."""
        # Only the streams open now end: a core can outlive one server (tests), and
        # watches opened after this are unaffected.
        self._drain.set()
        self._drain = asyncio.Event()

    async def create(self, spec: JobSpec, request_id: str | None) -> Job:
        if self.quotas is None:
            return await create_job(self.store, self.queue, self.validate, spec, request_id,
                                    max_attempts=self.options.max_attempts)
        # The caller's training_jobs_per_day (a principal the edge authenticated, forwarded
        # by the gateway when a question trains a model; none = internal): charged first,
        # given back when the job is not created (an invalid spec).
        await self.quotas.charge(TRAINING_JOBS)
        try:
            return await create_job(self.store, self.queue, self.validate, spec, request_id,
                                    max_attempts=self.options.max_attempts)
        except Exception:
            await self.quotas.refund(TRAINING_JOBS)
            raise

    async def get(self, job_id: str) -> Job:
        return await self.store.get(job_id)

    async def list(
        self, *, requested_page_size: int, page_token: str, state: JobState | None, model_name: str | None
    ) -> tuple[list[Job], str]:
        limit = page_size(requested_page_size)
        bound = {"state": state.value if state else None, "model": model_name}
        token = self.page_tokens.open_optional(page_token, "training-jobs", bound_to=bound)
        after = (token.get("t"), token.get("id")) if token else None
        if after is not None and not all(isinstance(part, str) for part in after):
            raise invalid_token()
        jobs = await self.store.list(limit=limit + 1, after=after, state=state, model_name=model_name)
        next_token = ""
        if len(jobs) > limit:
            jobs = jobs[:limit]
            last = jobs[-1]
            next_token = self.page_tokens.issue("training-jobs", {**bound, "t": last.create_time.isoformat(), "id": last.job_id})
        return jobs, next_token

    async def cancel(self, job_id: str) -> Job:
        return await self.store.cancel(job_id)

    async def watch(self, job_id: str) -> AsyncIterator[Job]:
        """Every change of the job (state, progress, attempts) until a terminal state."""
        drain = self._drain
        woken = self.events.subscribe(job_id)
        try:
            job = await self.store.get(job_id)
            yield job
            while not job.state.terminal and not drain.is_set():
                try:
                    await asyncio.wait_for(woken.wait(), self.options.watch_poll_s)
                except TimeoutError:
                    pass
                woken.clear()
                current = await self.store.get(job_id)
                if current.update_time != job.update_time or current.state != job.state:
                    job = current
                    yield job
        finally:
            self.events.unsubscribe(job_id, woken)

    async def repair(self) -> None:
        """One reaper pass: re-queue jobs whose worker died, and jobs whose queue entry
        is gone (Redis restarted, enqueue failed)."""
        for job in await self.store.reap(self.options.heartbeat_stale_s):
            log.warning("worker lost; job re-queued", extra={"job_id": job.job_id, "attempts": job.attempts})
            await self.queue.enqueue(job.job_id, job.attempts + 1)
        for job_id in await self.store.queued_before(self.options.lost_queue_after_s):
            job = await self.store.get(job_id)
            if job.state is JobState.QUEUED and not await self.queue.present(job_id, job.attempts + 1):
                log.warning("queue entry lost; job re-enqueued", extra={"job_id": job_id})
                await self.queue.enqueue(job_id, job.attempts + 1)

    async def run_reaper(self, interval_s: float) -> None:
        while True:
            try:
                await self.repair()
            except Exception:  # noqa: BLE001 - a failed pass is retried on the next tick
                log.exception("reaper pass failed")
            await asyncio.sleep(interval_s)
