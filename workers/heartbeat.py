"""Heartbeats of the jobs a worker runs, written from a thread of their own.

    beats = HeartbeatThread(dsn, worker_id, interval_s); beats.start()
    handle = beats.watch(job_id, on_state)   # on_state(JobState | None) runs on the caller's loop
    ...
    beats.unwatch(handle); beats.stop()

The orchestrator's reaper re-queues a RUNNING job whose heartbeat_at is older than
training_heartbeat_stale_s. A heartbeat written by a task on the worker's event loop
stops whenever that loop is busy (unpickling a large result, a slow pool, a starved
process on a loaded machine), and a live worker's job was then run twice. This thread
has its own event loop and its own database connection, so neither a blocked loop nor
an exhausted pool delays it; one UPDATE per interval covers every job of the worker.
Every failure is retried on the next beat (the thread never dies of one), and its
state changes are logged once each.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import asyncpg

from servers.training.domain import JobState
from servers.training.store import JobStore

log = logging.getLogger("chatdb.worker.heartbeat")

OnState = Callable[[JobState | None], None]


class HeartbeatThread:
    def __init__(self, dsn: str, worker_id: str, interval_s: float) -> None:
        self.dsn = dsn
        self.worker_id = worker_id
        self.interval_s = interval_s
        # One entry per attempt being run: a worker may run a second attempt of a job
        # whose first one it still winds down, and each must keep its own watch.
        self._watches: dict[object, tuple[str, asyncio.AbstractEventLoop, OnState]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chatdb-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def watch(self, job_id: str, on_state: OnState) -> object:
        """Heartbeat `job_id` from now on; after each beat `on_state` gets the job's state
        (CANCELLING: stop it) or None (this worker no longer owns it), on the caller's
        loop. Returns the handle to unwatch."""
        handle = object()
        loop = asyncio.get_running_loop()
        with self._lock:
            self._watches[handle] = (job_id, loop, on_state)
        return handle

    def unwatch(self, handle: object) -> None:
        with self._lock:
            self._watches.pop(handle, None)

    # --- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.run(self._beat_until_stopped())

    async def _beat_until_stopped(self) -> None:
        conn: asyncpg.Connection | None = None
        failing = False
        timeout_s = max(self.interval_s, 2.0)
        try:
            while not self._stopping.is_set():
                started = time.monotonic()
                with self._lock:
                    watches = list(self._watches.values())
                jobs = sorted({job_id for job_id, _, _ in watches})
                try:
                    # Connected before the first job, and kept: opening a connection is the
                    # slow part on a loaded machine.
                    if conn is None or conn.is_closed():
                        conn = await asyncpg.connect(self.dsn, timeout=timeout_s)
                    states = await JobStore(conn).heartbeat_many(jobs, self.worker_id, timeout_s=timeout_s) if jobs else {}
                except Exception as exc:  # noqa: BLE001 - the next beat tries again
                    if jobs and not failing:
                        log.warning("heartbeat failed; retrying every beat", extra={"error": repr(exc), "jobs": len(jobs)})
                        failing = True
                    if conn is not None and (conn.is_closed() or not _timed_out(exc)):
                        conn = await _discard(conn)  # a query that timed out was cancelled: the connection is fine
                else:
                    if failing:
                        log.info("heartbeat recovered", extra={"jobs": len(jobs)})
                        failing = False
                    for job_id, loop, on_state in watches:
                        _deliver(loop, on_state, states.get(job_id))
                # Sleep in short steps so stop() returns quickly.
                while not self._stopping.is_set():
                    left = self.interval_s - (time.monotonic() - started)
                    if left <= 0:
                        break
                    await asyncio.sleep(min(left, 0.1))
        finally:
            await _discard(conn)


def _timed_out(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or isinstance(exc.__cause__, TimeoutError)


def _deliver(loop: asyncio.AbstractEventLoop, on_state: OnState, state: JobState | None) -> None:
    try:
        loop.call_soon_threadsafe(on_state, state)
    except RuntimeError:
        pass  # that loop is closed: the job ended with it


async def _discard(conn: asyncpg.Connection | None) -> None:
    if conn is not None:
        try:
            await asyncio.wait_for(conn.close(), 2.0)
        except Exception:  # noqa: BLE001 - a broken connection may fail to close politely
            conn.terminate()
    return None
