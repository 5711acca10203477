"""asyncpg / PostgreSQL errors -> the domain error tree.

The SQLSTATE class says whose fault it is: 42 (syntax or access) and 22 (data) are the
user's statement, 08/57P/53300 the database being away, 25006 the read-only wall.
"""

from __future__ import annotations

import asyncio
import socket

import asyncpg

from servers.runtime.errors import (
    Aborted,
    ChatDBError,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)

from .base import PARAMS_FIELD, SQL_FIELD, deadline_error

# Errors after which the connection is gone: retrying on a fresh one may succeed.
CONNECTION_LOST = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    # The server's FATAL "terminating connection" can reach an idle pooled connection
    # just before we use it; asyncpg then finds its protocol in an impossible state.
    asyncpg.InternalClientError,
    ConnectionError,
    OSError,
)

_UNAVAILABLE_STATES = {"53300", "57P01", "57P02", "57P03", "58000", "58030"}
_CONNECT_STATES = {"3D000"}  # database does not exist (also raised when it was dropped)


def is_connection_lost(exc: BaseException) -> bool:
    if isinstance(exc, CONNECTION_LOST):
        return True
    if isinstance(exc, asyncpg.InterfaceError) and (
        "closed" in str(exc) or "released back to the pool" in str(exc)
    ):
        # "connection is closed"; a proxy detached because its connection closed under it
        return True
    return isinstance(exc, asyncpg.PostgresError) and (
        exc.sqlstate.startswith("08") or exc.sqlstate in ("57P01", "57P02", "57P03")
    )


def _position_suffix(exc: asyncpg.PostgresError) -> tuple[str, dict[str, str]]:
    position = getattr(exc, "position", None)
    if position:
        return f" at position {position}", {"position": str(position)}
    return "", {}


def _details(exc: asyncpg.PostgresError) -> str:
    extra = []
    if getattr(exc, "detail", None):
        extra.append(exc.detail)
    if getattr(exc, "hint", None):
        extra.append(f"hint: {exc.hint}")
    return f" ({'; '.join(extra)})" if extra else ""


def cannot_connect(exc: BaseException) -> str:
    """The driver's reason for not connecting, said so that a person can fix it."""
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused ({exc.strerror or exc})"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "timed out while connecting"
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return f"wrong password: {exc.message}"
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return f"not allowed to log in: {exc.message}"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"no such database: {exc.message}"
    if isinstance(exc, asyncpg.PostgresError):
        return exc.message
    return str(exc) or type(exc).__name__


def map_error(exc: BaseException, *, timeout_s: float | None = None) -> ChatDBError:
    """The domain error for an exception raised while talking to PostgreSQL."""
    if isinstance(exc, ChatDBError):
        return exc
    if isinstance(exc, asyncpg.PostgresError):
        return _map_postgres(exc, timeout_s)
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return Unavailable(
            "database unavailable: timed out connecting", reason="DATABASE_UNAVAILABLE"
        )
    if is_connection_lost(exc):
        return Unavailable(
            f"database unavailable: {cannot_connect(exc)}", reason="DATABASE_UNAVAILABLE"
        )
    if isinstance(exc, asyncpg.InterfaceError):
        # Client-side misuse caught before the server: wrong parameter count and alike.
        return InvalidArgument(str(exc).split("\n")[0], field=PARAMS_FIELD)
    return Internal(f"database driver error: {type(exc).__name__}: {exc}")


def _map_postgres(exc: asyncpg.PostgresError, timeout_s: float | None) -> ChatDBError:
    state = exc.sqlstate or ""
    message = exc.message or str(exc)
    meta = {"sqlstate": state}
    if state == "22000" and message.startswith("invalid input for query argument"):
        # asyncpg could not encode a parameter for the type the server inferred.
        return InvalidArgument(message, field=PARAMS_FIELD, metadata=meta)
    if state == "42501":
        return PermissionDenied(
            f"permission denied by the database: {message}",
            reason="DATABASE_PERMISSION_DENIED",
            metadata=meta,
        )
    if state == "25006":
        return PermissionDenied(
            f"refused on a read-only connection: {message}",
            reason="READ_ONLY_VIOLATION",
            metadata=meta,
        )
    if state == "57014":
        if "statement timeout" in message:
            return deadline_error(timeout_s) if timeout_s else DeadlineExceeded(message)
        return Unavailable(f"query was cancelled by the database: {message}", metadata=meta)
    if state in _CONNECT_STATES or state.startswith("28"):
        return FailedPrecondition(
            f"cannot connect: {cannot_connect(exc)}", reason="CANNOT_CONNECT", metadata=meta
        )
    if state in _UNAVAILABLE_STATES or state.startswith("08"):
        return Unavailable(
            f"database unavailable: {message}", reason="DATABASE_UNAVAILABLE", metadata=meta
        )
    if state.startswith("53") or state.startswith("54"):
        return ResourceExhausted(f"database resources exhausted: {message}", metadata=meta)
    if state.startswith("40") or state == "55P03":
        return Aborted(f"transaction aborted by the database: {message}", metadata=meta)
    if state.startswith("23"):
        return FailedPrecondition(f"constraint violated: {message}", metadata=meta)
    if state.startswith("XX") or state.startswith("58"):
        return Internal(f"database internal error: {message}", metadata=meta)
    # Syntax errors, undefined tables/columns/functions, type mismatches, bad data,
    # unsupported features, errors raised by functions: the statement is at fault.
    suffix, pos = _position_suffix(exc)
    reason = "SQL_SYNTAX_ERROR" if state == "42601" else "SQL_ERROR"
    return InvalidArgument(
        f"{message}{suffix}{_details(exc)}",
        field=SQL_FIELD,
        reason=reason,
        metadata={**meta, **pos},
    )
