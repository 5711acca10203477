"""The queue's depth for the worker's /metrics: the arq queue's length, read from Redis
when Prometheus scrapes (chatdb_queue_depth{queue}), not kept up to date on the way.

The scrape runs in the metrics endpoint's thread, so Redis is asked with a synchronous
client of its own, with a short timeout: a Redis that does not answer leaves the sample
out of that scrape (and logs it) rather than holding the scrape.
"""

from __future__ import annotations

import redis

from servers.contracts.queue import queue_name
from servers.runtime.metrics import QUEUE_DEPTH, Samples
from servers.runtime.settings import Settings

TIMEOUT_S = 1.0


class QueueDepth:
    def __init__(self, settings: Settings) -> None:
        self.queue = queue_name(settings)
        self._redis = redis.Redis.from_url(settings.redis_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
        self._stop = QUEUE_DEPTH.add(QueueDepth.samples, self)

    def samples(self) -> Samples:
        # arq's queue is a sorted set of job ids by the time they may run.
        return [((self.queue,), float(self._redis.zcard(self.queue)))]

    def close(self) -> None:
        self._stop()
        self._redis.close()
