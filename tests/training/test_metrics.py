"""The worker's /metrics, scraped from a real `chatdb worker` process after a real
training job: training_job_duration per task, algorithm and outcome, and the queue's
depth read from Redis when scraped. The depth's value is checked on a queue of its
own, in this process, against the real Redis."""

from __future__ import annotations

import redis.asyncio as aioredis
from chatdb.training.v1 import job_state_pb2 as states
from chatdb.training.v1 import training_job_pb2 as job_pb

from servers.contracts.queue import queue_name
from servers.runtime.metrics import TRAINING_BUCKETS, MetricsServer
from tests.metrics.support import ascrape
from workers.queue_depth import QueueDepth

from ..runtime.test_cli_serve import free_port
from .test_service import TERMINAL, create, spec, wait_for


async def test_a_training_job_is_timed_by_task_and_algorithm(mesh):
    port = free_port()
    mesh.start_worker(CHATDB_WORKER_METRICS_PORT=str(port))
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        before = await ascrape(url)
        job = await create(mesh, spec("metrics-churn", algorithm="random_forest",
                                      dataset=job_pb.Dataset(csv_path="churn.csv"), target="label",
                                      hyperparameters={"n_estimators": 10}))
        done = await wait_for(mesh, job.job_id, TERMINAL)
        assert done.state == states.JOB_STATE_SUCCEEDED, done.error
        after = await ascrape(url)
    finally:
        mesh.stop_workers()

    # In a whole run the session's platform database may hold jobs other modules left
    # QUEUED, which the reaper puts on this queue too: this worker may train those as well.
    labels = {"task": "classification", "algorithm": "random_forest", "outcome": "succeeded"}
    assert before.value("chatdb_training_job_duration_seconds_count", **labels) == 0  # a fresh process
    assert after.value("chatdb_training_job_duration_seconds_count", **labels) >= 1
    assert after.value("chatdb_training_job_duration_seconds_sum", **labels) > 0
    buckets = after.matching("chatdb_training_job_duration_seconds_bucket", **labels)
    assert sorted(float(s.labels["le"]) for s in buckets) == [*TRAINING_BUCKETS, float("inf")]
    # The queue this worker consumes (its value: the next test).
    assert after.matching("chatdb_queue_depth", queue=queue_name(mesh.settings))


async def test_queue_depth_is_the_queue_length_in_redis(settings):
    own = settings.model_copy(update={"redis_prefix": f"{settings.redis_prefix}-depth"})
    queue = queue_name(own)
    client = aioredis.from_url(own.redis_url)
    depth = QueueDepth(own)
    server = MetricsServer("127.0.0.1", 0)
    try:
        assert (await ascrape(server.url)).value("chatdb_queue_depth", queue=queue) == 0
        await client.zadd(queue, {"job-a": 1, "job-b": 2, "job-c": 3})  # arq's queue: a sorted set
        assert (await ascrape(server.url)).value("chatdb_queue_depth", queue=queue) == 3
        depth.close()
        assert not (await ascrape(server.url)).matching("chatdb_queue_depth", queue=queue)
    finally:
        server.close()
        await client.delete(queue)
        await client.aclose()
