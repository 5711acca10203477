"""Redis going away while arq WATCHes a key is an outage like any other.

redis-py reports a connection that dies inside a WATCH as a WatchError, not as a
ConnectionError. arq WATCHes the in-progress key each time the worker looks at a queued
job (and a running job stays queued until it ends), and the job key in enqueue_job. CI
saw a worker exit in the middle of a Redis outage this way: the WatchError passed the
worker's `except REDIS_DOWN` and ended its loop. A proxy in front of the real Redis cuts
the connection exactly there, every time.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from arq.connections import ArqRedis, RedisSettings
from arq.jobs import Job
from redis.exceptions import WatchError

from servers.runtime.errors import Unavailable
from servers.runtime.redis_errors import redis_errors
from servers.training.queue import JobQueue
from tests.conftest import REDIS_URL
from tests.gateway.mesh_support import TcpForwarder
from workers.main import ping
from workers.queue_worker import QueueWorker

REDIS = urlparse(REDIS_URL)


class RedisCutAfterWatch(TcpForwarder):
    """127.0.0.1:<port> → the real Redis. While armed, the first command a connection
    sends after a WATCH drops that connection, and from then on every connection is
    dropped at once (Redis is "down") until heal()."""

    def __init__(self) -> None:
        super().__init__(REDIS.hostname or "127.0.0.1", REDIS.port or 6379)
        self.armed = False
        self.down = False
        self.cuts = 0

    def heal(self) -> None:
        self.armed = self.down = False

    def _cut(self) -> None:
        self.cuts += 1
        self.down = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        await super()._handle(reader, writer)

    def _client_check(self):
        watching = False  # this connection has sent a WATCH

        def passes(data: bytes) -> bool:
            nonlocal watching
            if self.armed and watching:
                self._cut()
                return False
            watching = watching or b"\r\nWATCH\r\n" in data.upper()
            return True

        return passes


@pytest.fixture
async def proxy():
    proxy = await RedisCutAfterWatch().start()
    yield proxy
    await proxy.cut()


def test_a_real_watch_conflict_is_not_taken_for_an_outage():
    with pytest.raises(WatchError), redis_errors("job queue"):
        raise WatchError("Watched variable changed.")


async def test_enqueue_while_redis_goes_away_inside_its_watch_is_unavailable(proxy, redis_prefix):
    redis = ArqRedis(host="127.0.0.1", port=proxy.port, db=int(REDIS.path.strip("/") or 0))
    try:
        proxy.armed = True
        with pytest.raises(Unavailable) as err:
            await JobQueue(redis, f"{redis_prefix}:watch-enqueue").enqueue("job-1", 1)
        assert proxy.cuts == 1  # cut where the test meant, inside enqueue_job's WATCH
        assert err.value.message.startswith("job queue unavailable: ")
    finally:
        await redis.aclose()


@pytest.mark.timeout(60)
async def test_worker_waits_out_redis_going_away_inside_its_watch_and_then_runs_the_job(proxy, redis_prefix):
    queue = f"{redis_prefix}:watch-worker"
    direct = ArqRedis.from_url(REDIS_URL)
    job = await direct.enqueue_job("ping", _queue_name=queue)
    assert job is not None
    states: list[bool] = []
    went_down = asyncio.Event()

    async def on_redis_state(up: bool) -> None:
        states.append(up)
        if not up:
            went_down.set()

    worker = QueueWorker(
        functions=[ping], queue_name=queue, handle_signals=False, poll_delay=0.05, keep_result=60,
        redis_settings=RedisSettings(host="127.0.0.1", port=proxy.port, database=int(REDIS.path.strip("/") or 0)),
        on_redis_state=on_redis_state, backoff_max_s=0.3,
    )
    proxy.armed = True
    run = asyncio.create_task(worker.async_run())
    try:
        down = asyncio.create_task(went_down.wait())
        await asyncio.wait({run, down}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        down.cancel()
        assert not run.done(), f"the worker's loop ended: {run.exception()!r}"
        assert proxy.cuts == 1 and states == [True, False]  # NOT_SERVING, still running

        proxy.heal()
        assert await Job(job.job_id, direct, _queue_name=queue).result(timeout=15) == "pong"
        assert states == [True, False, True] and not run.done()
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await worker.close()
        await direct.delete(queue)
        await direct.aclose()


def test_a_worker_whose_loop_fails_exits_with_status_1(tmp_path):
    """A supervisor that restarts on failure (systemd's Restart=on-failure) must see a
    worker whose loop ended as failed; here its platform database is unreachable."""
    chatdb = str(Path(sys.executable).parent / "chatdb")
    env = {**{k: v for k, v in os.environ.items() if k != "CHATDB_TLS_DIR"}, "CHATDB_HOME": str(tmp_path), "CHATDB_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none",
           "CHATDB_REDIS_URL": REDIS_URL, "CHATDB_WORKER_PORT": "0", "CHATDB_WORKER_METRICS_PORT": "0",
           "CHATDB_TRACE_EXPORTER": "none"}
    done = subprocess.run([chatdb, "worker"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "worker loop ended" in done.stdout + done.stderr
