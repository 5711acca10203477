"""`chatdb worker`: arq options are real Worker parameters, the health port answers,
and a job put on the queue runs."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from arq import Worker, create_pool
from arq.connections import RedisSettings
from arq.jobs import JobStatus

from workers.main import queue_name, worker_options

from .test_cli_serve import GRPCURL, free_port, wait_serving


def test_worker_options_are_real_arq_parameters(settings):
    # arq silently ignores unknown WorkerSettings attributes; this catches a typo.
    accepted = set(inspect.signature(Worker.__init__).parameters) - {"self"}
    assert set(worker_options(settings)) <= accepted


@pytest.fixture
def worker_process(settings):
    port = free_port()
    # This run's own platform database and Redis prefix: the machine's default `chatdb`
    # database exists only where `make up` has run.
    env = {**os.environ, "CHATDB_WORKER_PORT": str(port), "CHATDB_REDIS_PREFIX": settings.redis_prefix,
           "CHATDB_DATABASE_URL": settings.database_url, "CHATDB_REDIS_URL": settings.redis_url}
    chatdb = str(Path(sys.executable).parent / "chatdb")
    subprocess.run([chatdb, "migrate"], env=env, check=True, capture_output=True, timeout=120)  # as a user would
    proc = subprocess.Popen(
        [chatdb, "worker"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        wait_serving(f"127.0.0.1:{port}", proc)
        yield proc, port
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr


async def test_worker_serves_health_and_runs_queued_jobs(settings, worker_process):
    _, port = worker_process
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url), default_queue_name=queue_name(settings))
    try:
        job = await redis.enqueue_job("ping")
        assert await job.result(timeout=20) == "pong"
        assert await job.status() is JobStatus.complete
    finally:
        await redis.aclose()
    health = await asyncio.create_subprocess_exec(
        GRPCURL, "-plaintext", f"127.0.0.1:{port}", "grpc.health.v1.Health/Check", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await health.communicate()
    assert b'"SERVING"' in out
