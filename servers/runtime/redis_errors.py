"""Redis outages as the runtime's Unavailable.

redis-py's ConnectionError and TimeoutError derive from redis.exceptions.RedisError, not
from OSError: `except OSError` around a Redis call misses a refused or dropped
connection, which then reaches the client as INTERNAL. `redis_errors()` catches all of
them (a raw OSError from the socket too) and raises Unavailable.

A connection that dies while a pipeline WATCHes a key is reported by redis-py as a
WatchError ("A ConnectionError occurred on while watching one or more keys"), the error
that otherwise means "another client changed the key, retry". arq WATCHes in
enqueue_job and in the worker's start_jobs, so Redis stopping at that moment used to end
the worker and reach CreateTrainingJob's caller as INTERNAL. `lost_redis()` tells the
two apart by the ConnectionError that redis-py was handling when it raised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from .errors import Unavailable

# Everything that means "Redis is not answering"; redis-py's BusyLoadingError (Redis
# loading its dataset after a restart) is a ConnectionError too.
REDIS_DOWN: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)



def lost_redis(exc: BaseException) -> bool:
    """Whether `exc` means Redis is not answering: REDIS_DOWN, or a WatchError that
    redis-py raised because the watching connection died."""
    if isinstance(exc, REDIS_DOWN):
        return True
    return isinstance(exc, WatchError) and isinstance(exc.__context__, REDIS_DOWN)


@contextlib.contextmanager
def as_redis_down() -> Iterator[None]:
    """Re-raise a WatchError for a lost connection as the ConnectionError it stands for,
    so that `except REDIS_DOWN` sees it; a real watch conflict passes unchanged."""
    try:
        yield
    except WatchError as exc:
        if not lost_redis(exc):
            raise
        raise RedisConnectionError(f"connection lost while watching a key: {exc.__context__}") from exc


@contextlib.contextmanager
def redis_errors(what: str = "Redis", *, reason: str | None = None) -> Iterator[None]:
    """Redis unreachable, refusing, timing out or loading → Unavailable("<what> unavailable: …")."""
    try:
        with as_redis_down():
            yield
    except REDIS_DOWN as exc:
        raise Unavailable(f"{what} unavailable: {exc}", reason=reason) from exc
