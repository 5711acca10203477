"""JobQueue: puts training job ids on the ML engine's arq queue.

The arq job id is derived from the job id and the attempt number, so enqueuing the same
attempt twice is a no-op (arq refuses a duplicate id) while a re-queued attempt gets a
fresh id that the dead attempt's leftovers in Redis cannot block.
"""

from __future__ import annotations

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix

from servers.runtime import tracing
from servers.runtime.redis_errors import redis_errors

TRAIN_FUNCTION = "run_training_job"


def arq_job_id(job_id: str, attempt: int) -> str:
    return f"{job_id}:attempt-{attempt}"


class JobQueue:
    def __init__(self, redis: ArqRedis, queue_name: str) -> None:
        self.redis = redis
        self.queue_name = queue_name

    async def enqueue(self, job_id: str, attempt: int) -> None:
        # The trace of the call that queued it (CreateTrainingJob, or none for the reaper)
        # goes with the job: the worker's attempt span continues it (tracing.py).
        trace_context = tracing.carrier()
        with redis_errors("job queue"):
            await self.redis.enqueue_job(
                TRAIN_FUNCTION, job_id, _job_id=arq_job_id(job_id, attempt), _queue_name=self.queue_name,
                **({"trace_context": trace_context} if trace_context else {}),
            )

    async def present(self, job_id: str, attempt: int) -> bool:
        """Whether the attempt is still waiting in, or running from, the queue."""
        arq_id = arq_job_id(job_id, attempt)
        with redis_errors("job queue"):
            return bool(await self.redis.exists(job_key_prefix + arq_id, in_progress_key_prefix + arq_id))
