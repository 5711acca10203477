"""JobStore: the training jobs of record in PostgreSQL.

Every state change is one conditional UPDATE, so two actors (a worker finishing, a
reaper re-queuing, a user cancelling) can never both win: whoever's WHERE clause still
matches does the change, the other sees no row and backs off.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from servers.runtime.errors import FailedPrecondition, NotFound
from servers.runtime.pg import platform_errors

from .domain import Job, JobSpec, JobState

_COLUMNS = """job_id, request_id, spec, state, fraction, stage, message, metrics, attempts,
    max_attempts, model_version, error_code, error_message, worker_id, create_time,
    update_time, start_time, end_time, tenant"""


# The platform database going away is UNAVAILABLE to callers, not INTERNAL.
_database_errors = platform_errors


def _job(row: asyncpg.Record) -> Job:
    return Job(
        job_id=row["job_id"],
        request_id=row["request_id"],
        spec=JobSpec.from_json(json.loads(row["spec"])),
        state=JobState(row["state"]),
        fraction=row["fraction"],
        stage=row["stage"],
        message=row["message"],
        metrics=json.loads(row["metrics"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        model_version=row["model_version"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        worker_id=row["worker_id"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        tenant=row["tenant"],
    )


class JobStore:
    def __init__(self, pool: asyncpg.Pool | asyncpg.Connection) -> None:
        # A pool, or one connection (the worker's heartbeat thread owns one of its own).
        self.pool = pool

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        with _database_errors():
            return await self.pool.fetchrow(sql, *args)

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        with _database_errors():
            return await self.pool.fetch(sql, *args)

    async def create(self, job_id: str, request_id: str | None, spec: JobSpec, max_attempts: int,
                     tenant: str = "") -> tuple[Job, bool]:
        """Insert a QUEUED job; with a request_id seen before, return that job instead.
        Returns (job, created)."""
        row = await self._fetchrow(
            f"""INSERT INTO training_jobs (job_id, request_id, model_name, spec, state, max_attempts, tenant)
                VALUES ($1, $2, $3, $4, 'QUEUED', $5, $6)
                ON CONFLICT (request_id) DO NOTHING
                RETURNING {_COLUMNS}""",
            job_id, request_id, spec.model_name, json.dumps(spec.to_json()), max_attempts, tenant,
        )
        if row is not None:
            return _job(row), True
        existing = await self._fetchrow(f"SELECT {_COLUMNS} FROM training_jobs WHERE request_id = $1", request_id)
        assert existing is not None
        return _job(existing), False

    async def get(self, job_id: str) -> Job:
        row = await self._fetchrow(f"SELECT {_COLUMNS} FROM training_jobs WHERE job_id = $1", job_id)
        if row is None:
            raise NotFound(f"training job {job_id!r} not found", reason="TRAINING_JOB_NOT_FOUND", metadata={"job_id": job_id})
        return _job(row)

    async def list(
        self, *, limit: int, after: tuple[str, str] | None, state: JobState | None, model_name: str | None,
        tenant: str | None = None,
    ) -> list[Job]:
        """Newest first; `after` is the (create_time iso, job_id) of the last row seen;
        with `tenant`, only that tenant's jobs and shared ones."""
        rows = await self._fetch(
            f"""SELECT {_COLUMNS} FROM training_jobs
                WHERE ($1::text IS NULL OR state = $1)
                  AND ($2::text IS NULL OR model_name = $2)
                  AND ($3::timestamptz IS NULL OR (create_time, job_id) < ($3::timestamptz, $4::text))
                  AND ($6::text IS NULL OR tenant = '' OR tenant = $6)
                ORDER BY create_time DESC, job_id DESC
                LIMIT $5""",
            state.value if state else None,
            model_name,
            None if after is None else datetime.fromisoformat(after[0]),
            None if after is None else after[1],
            limit,
            tenant,
        )
        return [_job(r) for r in rows]

    async def cancel(self, job_id: str) -> Job:
        """QUEUED → CANCELLED at once (it will never start); RUNNING → CANCELLING (the
        worker stops it); already cancelling/cancelled → unchanged; finished → error."""
        row = await self._fetchrow(
            f"""UPDATE training_jobs SET
                    state = CASE state WHEN 'QUEUED' THEN 'CANCELLED' ELSE 'CANCELLING' END,
                    end_time = CASE state WHEN 'QUEUED' THEN now() ELSE end_time END,
                    update_time = now()
                WHERE job_id = $1 AND state IN ('QUEUED', 'RUNNING')
                RETURNING {_COLUMNS}""",
            job_id,
        )
        if row is not None:
            return _job(row)
        job = await self.get(job_id)
        if job.state in (JobState.SUCCEEDED, JobState.FAILED):
            raise FailedPrecondition(
                f"training job {job_id!r} already ended {job.state.value}; nothing to cancel",
                reason="TRAINING_JOB_ENDED",
            )
        return job

    # --- worker side ----------------------------------------------------------------

    async def claim(self, job_id: str, worker_id: str) -> Job | None:
        """Start an attempt: QUEUED → RUNNING owned by `worker_id`. None when the job is
        not QUEUED (cancelled, finished, or taken by another worker)."""
        row = await self._fetchrow(
            f"""UPDATE training_jobs SET state = 'RUNNING', attempts = attempts + 1,
                    worker_id = $2, heartbeat_at = now(), fraction = 0, stage = 'starting',
                    message = '', start_time = coalesce(start_time, now()), update_time = now()
                WHERE job_id = $1 AND state = 'QUEUED'
                RETURNING {_COLUMNS}""",
            job_id, worker_id,
        )
        return _job(row) if row else None

    async def heartbeat(self, job_id: str, worker_id: str) -> JobState | None:
        """Record that `worker_id` is alive on the job; return the job's state (CANCELLING
        tells the worker to stop), or None when the worker no longer owns it."""
        row = await self._fetchrow(
            """UPDATE training_jobs SET heartbeat_at = now()
               WHERE job_id = $1 AND worker_id = $2 AND state IN ('RUNNING', 'CANCELLING')
               RETURNING state""",
            job_id, worker_id,
        )
        return JobState(row["state"]) if row else None

    async def heartbeat_many(self, job_ids: list[str], worker_id: str, timeout_s: float | None = None) -> dict[str, JobState]:
        """One heartbeat for every job `worker_id` runs, in one statement. Returns the
        state of each job the worker still owns; a job missing from the answer is lost.
        heartbeat_at is PostgreSQL's clock, the same clock the reaper judges it by, so a
        slow worker clock or event loop never makes a live job look stale."""
        with _database_errors():
            rows = await self.pool.fetch(
                """UPDATE training_jobs SET heartbeat_at = now()
                   WHERE job_id = ANY($1::text[]) AND worker_id = $2 AND state IN ('RUNNING', 'CANCELLING')
                   RETURNING job_id, state""",
                job_ids, worker_id, timeout=timeout_s,
            )
        return {r["job_id"]: JobState(r["state"]) for r in rows}

    async def progress(self, job_id: str, worker_id: str, fraction: float, stage: str, message: str = "") -> None:
        await self._fetchrow(
            """UPDATE training_jobs SET fraction = $3, stage = $4, message = $5,
                   heartbeat_at = now(), update_time = now()
               WHERE job_id = $1 AND worker_id = $2 AND state IN ('RUNNING', 'CANCELLING')""",
            job_id, worker_id, fraction, stage, message,
        )

    async def finish(
        self,
        job_id: str,
        worker_id: str,
        state: JobState,
        *,
        metrics: dict[str, float] | None = None,
        model_version: int | None = None,
        error_code: int | None = None,
        error_message: str | None = None,
    ) -> Job | None:
        """End the attempt, only if `worker_id` still owns it (a reaped worker that wakes
        up late must not overwrite the attempt that replaced it)."""
        row = await self._fetchrow(
            f"""UPDATE training_jobs SET state = $3, metrics = coalesce($4::jsonb, metrics),
                    model_version = coalesce($5, model_version), error_code = $6,
                    error_message = $7, end_time = now(), update_time = now(),
                    fraction = CASE WHEN $3 = 'SUCCEEDED' THEN 1 ELSE fraction END,
                    stage = CASE WHEN $3 = 'SUCCEEDED' THEN 'done' ELSE stage END
                WHERE job_id = $1 AND worker_id = $2 AND state IN ('RUNNING', 'CANCELLING')
                RETURNING {_COLUMNS}""",
            job_id, worker_id, state.value, json.dumps(metrics) if metrics is not None else None,
            model_version, error_code, error_message,
        )
        return _job(row) if row else None

    async def release(self, job_id: str, worker_id: str) -> None:
        """Hand an attempt back untried (the worker is shutting down): it goes back to
        QUEUED without using up an attempt, or to CANCELLED when a cancel was pending."""
        await self._fetchrow(
            """UPDATE training_jobs SET
                   state = CASE state WHEN 'CANCELLING' THEN 'CANCELLED' ELSE 'QUEUED' END,
                   attempts = CASE state WHEN 'CANCELLING' THEN attempts ELSE attempts - 1 END,
                   end_time = CASE state WHEN 'CANCELLING' THEN now() END,
                   worker_id = NULL, stage = '', message = 'worker shut down; re-queued',
                   update_time = now()
               WHERE job_id = $1 AND worker_id = $2 AND state IN ('RUNNING', 'CANCELLING')""",
            job_id, worker_id,
        )

    # --- reaper side ----------------------------------------------------------------

    async def reap(self, stale_after_s: float) -> list[Job]:
        """Jobs whose worker stopped heartbeating: CANCELLING → CANCELLED; out of attempts
        → FAILED with the reason; otherwise back to QUEUED for another worker. Returns the
        jobs that went back to QUEUED (the caller re-enqueues them)."""
        rows = await self._fetch(
            f"""WITH stale AS (
                    SELECT job_id FROM training_jobs
                    WHERE state IN ('RUNNING', 'CANCELLING')
                      AND heartbeat_at < now() - make_interval(secs => $1)
                    FOR UPDATE SKIP LOCKED)
                UPDATE training_jobs j SET
                    state = CASE WHEN j.state = 'CANCELLING' THEN 'CANCELLED'
                                 WHEN j.attempts >= j.max_attempts THEN 'FAILED'
                                 ELSE 'QUEUED' END,
                    error_code = CASE WHEN j.state <> 'CANCELLING' AND j.attempts >= j.max_attempts THEN 14 END,
                    error_message = CASE WHEN j.state <> 'CANCELLING' AND j.attempts >= j.max_attempts
                        THEN format('worker %s stopped heartbeating during attempt %s of %s; no attempts left',
                                    j.worker_id, j.attempts, j.max_attempts) END,
                    message = CASE WHEN j.state = 'RUNNING' AND j.attempts < j.max_attempts
                        THEN format('worker %s stopped heartbeating during attempt %s; re-queued',
                                    j.worker_id, j.attempts) ELSE j.message END,
                    end_time = CASE WHEN j.state = 'CANCELLING' OR j.attempts >= j.max_attempts THEN now() END,
                    worker_id = NULL,
                    update_time = now()
                FROM stale WHERE j.job_id = stale.job_id
                RETURNING {', '.join('j.' + c.strip() for c in _COLUMNS.split(','))}""",
            stale_after_s,
        )
        return [job for job in map(_job, rows) if job.state is JobState.QUEUED]

    async def queued_before(self, older_than_s: float) -> list[str]:
        """QUEUED jobs older than the threshold: candidates whose queue entry may be lost."""
        rows = await self._fetch(
            """SELECT job_id FROM training_jobs
               WHERE state = 'QUEUED' AND update_time < now() - make_interval(secs => $1)""",
            older_than_s,
        )
        return [r["job_id"] for r in rows]
