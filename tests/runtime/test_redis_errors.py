"""Redis outages become Unavailable (redis-py's ConnectionError is not an OSError)."""

from __future__ import annotations

import pytest
from arq.connections import ArqRedis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from servers.runtime.errors import Unavailable
from servers.runtime.redis_errors import redis_errors
from servers.training.queue import JobQueue


def test_redis_connection_error_is_not_an_os_error():
    assert not issubclass(RedisConnectionError, OSError)  # why the helper exists


async def test_unreachable_redis_is_unavailable():
    redis = ArqRedis(host="127.0.0.1", port=1, socket_connect_timeout=2)  # nothing listens on port 1
    try:
        with pytest.raises(Unavailable) as err, redis_errors("job queue", reason="QUEUE_DOWN"):
            await redis.ping()
        assert err.value.message.startswith("job queue unavailable: ")
        assert err.value.reason == "QUEUE_DOWN"
        queue = JobQueue(redis, "chatdb-test-queue")
        with pytest.raises(Unavailable):
            await queue.enqueue("job-1", 1)
        with pytest.raises(Unavailable):
            await queue.present("job-1", 1)
    finally:
        await redis.aclose()


def test_other_redis_errors_pass_unchanged():
    with pytest.raises(ResponseError), redis_errors():
        raise ResponseError("WRONGTYPE")
