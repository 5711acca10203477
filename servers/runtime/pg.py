"""The platform database (PostgreSQL, CHATDB_DATABASE_URL), opened and translated once
for every service.

`open_platform_pool()` opens the asyncpg pool a service keeps for its own tables;
`platform_errors()` is the boundary of a store: the platform database going away (a
refused or dropped socket, a server shutting down or refusing connections, a dead pool
connection) becomes one Unavailable with one reason, PLATFORM_DATABASE_UNAVAILABLE,
whichever service noticed it. Other driver errors pass unchanged: a store translates
what is its own (a conflict, a duplicate key) around this.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import asyncpg

from .errors import Unavailable
from .settings import Settings

log = logging.getLogger("chatdb.runtime.pg")

PLATFORM_DATABASE_UNAVAILABLE = "PLATFORM_DATABASE_UNAVAILABLE"
UNAVAILABLE_MESSAGE = "the platform database is unavailable; retry later"

# OSError includes TimeoutError (asyncio.TimeoutError since 3.11): a connect or a query
# that timed out on the socket. PostgresConnectionError includes ConnectionDoesNotExist.
# OperatorInterventionError is class 57 (admin shutdown, crash shutdown, cannot connect
# now, database dropped) — except QueryCanceledError (57014), a statement timeout, which
# is the query's fault and not an outage.
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InterfaceError,
)


def platform_unavailable() -> Unavailable:
    """The one error a client sees while the platform database is down."""
    return Unavailable(UNAVAILABLE_MESSAGE, reason=PLATFORM_DATABASE_UNAVAILABLE)


def is_connection_lost(exc: BaseException) -> bool:
    return isinstance(exc, CONNECTION_LOST) and not isinstance(exc, asyncpg.QueryCanceledError)


@contextlib.contextmanager
def platform_errors() -> Iterator[None]:
    """Connection loss on the platform database → Unavailable(PLATFORM_DATABASE_UNAVAILABLE)."""
    try:
        yield
    except CONNECTION_LOST as exc:
        if isinstance(exc, asyncpg.QueryCanceledError):
            raise
        log.warning("platform database unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})
        raise platform_unavailable() from exc


async def open_platform_pool(
    settings: Settings, *, min_size: int | None = None, max_size: int | None = None
) -> asyncpg.Pool:
    """The platform pool, sized by CHATDB_DATABASE_POOL_MIN/MAX unless given. Any failure
    to open it (unreachable, refused, bad credentials) is Unavailable."""
    try:
        return await asyncpg.create_pool(
            settings.database_url,
            min_size=settings.database_pool_min if min_size is None else min_size,
            max_size=settings.database_pool_max if max_size is None else max_size,
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("platform database unreachable", extra={"error": f"{type(exc).__name__}: {exc}"})
        raise Unavailable(
            f"platform database unreachable: {exc}", reason=PLATFORM_DATABASE_UNAVAILABLE
        ) from exc
