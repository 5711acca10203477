"""JobEvents: wakes WatchTrainingJob streams when their job's row changes.

One LISTEN connection per process fans PostgreSQL notifications (sent by a trigger on
training_jobs, so changes made by any replica or worker count) out to per-watcher
queues. Watchers also re-read on a timer, so a notification lost while the listener
reconnects delays an update by at most one poll interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import asyncpg

log = logging.getLogger("chatdb.training.events")
CHANNEL = "chatdb_training_jobs"


class JobEvents:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._watchers: dict[str, set[asyncio.Event]] = defaultdict(set)

    async def start(self) -> None:
        try:
            self._conn = await asyncpg.connect(self.dsn)
            await self._conn.add_listener(CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError) as exc:
            # Watchers still work from their poll timer.
            log.warning("job listener unavailable", extra={"error": str(exc)})
            self._conn = None

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    def _notified(self, connection, pid, channel: str, job_id: str) -> None:
        for event in self._watchers.get(job_id, ()):
            event.set()

    def subscribe(self, job_id: str) -> asyncio.Event:
        event = asyncio.Event()
        self._watchers[job_id].add(event)
        return event

    def unsubscribe(self, job_id: str, event: asyncio.Event) -> None:
        watchers = self._watchers.get(job_id)
        if watchers is not None:
            watchers.discard(event)
            if not watchers:
                del self._watchers[job_id]
