"""The driver contract: one object per connection, owning one lazily created pool.

Drivers raise only the domain errors of `servers.runtime.errors`; no exception of
asyncpg, aiomysql or pymongo leaves this package.
"""

from __future__ import annotations

import asyncio
import math
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from servers.runtime.errors import (
    ChatDBError,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
)
from servers.runtime.metrics import PoolUse

from ..domain import (
    ConnectionConfig,
    ConnectionKind,
    Page,
    Query,
    ResultColumn,
    SchemaInfo,
)

T = TypeVar("T")

# Field names used in InvalidArgument violations, as the request carries them.
SQL_FIELD = "statement.sql"
PARAMS_FIELD = "statement.params"

# The database enforces the timeout; the asyncio timeout is a backstop a little later,
# for a database that does not answer at all (network gone, server frozen).
BACKSTOP_MARGIN_S = 0.5
BACKSTOP_FACTOR = 1.1


class Driver(ABC):
    kind: ConnectionKind
    dialect: str  # "postgres" | "mysql" | "mongodb" (sqlglot dialect names for SQL)

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config

    @abstractmethod
    async def check(self) -> None:
        """Connect now and run a trivial query; FailedPrecondition("cannot connect: …")."""

    @abstractmethod
    async def introspect(self) -> SchemaInfo: ...

    @abstractmethod
    async def fetch_page(self, query: Query, *, offset: int, limit: int, timeout_s: float) -> Page:
        """Rows [offset, offset+limit) of the result; has_more when another row exists."""

    @abstractmethod
    def stream(
        self, query: Query, *, batch_size: int, timeout_s: float, max_rows: int
    ) -> AsyncIterator[tuple[ResultColumn, ...] | list[tuple]]:
        """Async generator: the columns tuple first, then lists of up to batch_size rows
        read through a server-side cursor; stops after max_rows rows."""

    async def privilege_warnings(self) -> list[str]:
        """What the connection's database user may do beyond reading, in words a person
        can act on ("user postgres is a superuser"); empty when nothing stands out.
        Called once when a connection is created."""
        return []

    def pool_use(self) -> PoolUse | None:
        """What the driver's pool holds now, for the connector's gauges (read from the
        metrics endpoint's thread, so it only reads); None when the driver cannot tell."""
        return None

    @abstractmethod
    async def close(self) -> None: ...


def check_paging(offset: int, limit: int) -> None:
    if offset < 0:
        raise InvalidArgument(f"offset must be >= 0, got {offset}", field="offset")
    if limit < 1:
        raise InvalidArgument(f"limit must be >= 1, got {limit}", field="limit")


def check_stream_args(batch_size: int, max_rows: int) -> None:
    if batch_size < 1:
        raise InvalidArgument(f"batch_size must be >= 1, got {batch_size}", field="batch_size")
    if max_rows < 0:
        raise InvalidArgument(f"max_rows must be >= 0, got {max_rows}", field="max_rows")


def timeout_ms(timeout_s: float) -> int:
    """The database-side timeout in whole milliseconds; never 0, which means "none"."""
    if not math.isfinite(timeout_s) or timeout_s <= 0:
        raise InvalidArgument(f"timeout must be a positive number of seconds, got {timeout_s}")
    return max(1, math.ceil(timeout_s * 1000))


def backstop_s(timeout_s: float) -> float:
    return timeout_s * BACKSTOP_FACTOR + BACKSTOP_MARGIN_S


def deadline_error(timeout_s: float) -> DeadlineExceeded:
    return DeadlineExceeded(
        f"query exceeded its {timeout_s:g} s timeout",
        reason="QUERY_TIMEOUT",
        metadata={"timeout_s": f"{timeout_s:g}"},
    )


async def within(aw: Awaitable[T], timeout_s: float) -> T:
    """Await `aw` under the backstop deadline of a `timeout_s` query."""
    deadline = asyncio.timeout(backstop_s(timeout_s))
    try:
        async with deadline:
            return await aw
    except TimeoutError:
        if deadline.expired():
            raise deadline_error(timeout_s) from None
        raise  # a driver's own timeout (connecting, say): its error mapper decides


def connect_failure(exc: BaseException, timeout_s: float, describe: Callable[[Exception], str]) -> FailedPrecondition:
    """What `check()` raises when it cannot connect: FAILED_PRECONDITION with the reason
    (a timeout, a domain error from the driver layer, or the driver's own exception as
    `describe` words it)."""
    if isinstance(exc, FailedPrecondition):
        return exc
    if isinstance(exc, DeadlineExceeded):
        message = f"timed out after {timeout_s:g} s"
    elif isinstance(exc, ChatDBError):
        message = exc.message
    else:
        message = describe(exc)  # type: ignore[arg-type]
    return FailedPrecondition(f"cannot connect: {message}", reason="CANNOT_CONNECT")

