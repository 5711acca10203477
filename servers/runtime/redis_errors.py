"""Redis outages as the runtime's Unavailable.

redis-py's ConnectionError and TimeoutError derive from redis.exceptions.RedisError, not
from OSError: `except OSError` around a Redis call misses a refused or dropped
connection, which then reaches the client as INTERNAL. `redis_errors()` catches all of
them (a raw OSError from the socket too) and raises Unavailable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .errors import Unavailable

# Everything that means "Redis is not answering"; redis-py's BusyLoadingError (Redis
# loading its dataset after a restart) is a ConnectionError too.
REDIS_DOWN: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)


@contextlib.contextmanager
def redis_errors(what: str = "Redis", *, reason: str | None = None) -> Iterator[None]:
    """Redis unreachable, refusing, timing out or loading → Unavailable("<what> unavailable: …")."""
    try:
        yield
    except REDIS_DOWN as exc:
        raise Unavailable(f"{what} unavailable: {exc}", reason=reason) from exc
