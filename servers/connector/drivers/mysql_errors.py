"""aiomysql / PyMySQL / MySQL / MariaDB errors -> the domain error tree.

Server errors carry a number (1000-1999, 3000+, MariaDB 4000+); client errors are
2000-2999 (can't connect, lost connection). Unknown server errors are taken to be the
statement's fault.
"""

from __future__ import annotations

import asyncio
import socket

import pymysql

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

SYNTAX = {1064, 1149}
PERMISSION = {1044, 1142, 1143, 1227, 1370, 1211, 1410, 1095}
READ_ONLY = {1792, 1290, 1836}  # read-only transaction; server --read-only; read-only mode
TIMEOUT = {1969, 3024}  # MariaDB max_statement_time; MySQL max_execution_time
CANNOT_CONNECT = {1045, 1049, 1698, 1251, 1130, 1131, 1862}  # access denied, unknown database…
UNAVAILABLE = {
    1040,
    1203,
    1053,
    1077,
    1078,
    1079,
    1080,
    1081,
    1152,
    1153,
    1158,
    1159,
    1160,
    1161,
    1184,
    1226,
    1927,
    1317,
    4031,
}  # too many connections, shutdown, killed, net
CONFLICT = {1205, 1213, 1180, 1181}  # lock wait timeout, deadlock, commit/rollback failed
CONSTRAINT = {1022, 1048, 1062, 1216, 1217, 1451, 1452, 1557, 1586, 3819, 4025}
RESOURCES = {1021, 1037, 1038, 1041, 1114, 1135, 3170}


def errno(exc: BaseException) -> int:
    if isinstance(exc, pymysql.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return 0


def message(exc: BaseException) -> str:
    if isinstance(exc, pymysql.MySQLError) and len(exc.args) > 1:
        return str(exc.args[1])
    return str(exc) or type(exc).__name__


def is_server_error(exc: BaseException) -> bool:
    """The server answered with an error packet: the connection is still in step."""
    code = errno(exc)
    return code >= 1000 and not 2000 <= code < 3000 and code not in (1927, 1053, 4031)


def is_connection_lost(exc: BaseException) -> bool:
    code = errno(exc)
    if code in (2006, 2013, 2055, 1927, 1053, 4031):  # gone away, lost, killed, shutdown
        return True
    if isinstance(exc, pymysql.InterfaceError):
        return True  # "(0, '')": the connection is already closed
    return isinstance(exc, ConnectionError | BrokenPipeError | asyncio.IncompleteReadError)


def cannot_connect(exc: BaseException) -> str:
    """The driver's reason for not connecting, said so that a person can fix it."""
    code = errno(exc)
    text = message(exc)
    if code == 2003 or isinstance(exc, OSError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, socket.gaierror) or "Name or service not known" in text:
            return f"unknown host ({text})"
        if isinstance(cause, ConnectionRefusedError) or "refused" in text.lower():
            return f"connection refused ({text})"
        if isinstance(cause, TimeoutError) or "timed out" in text.lower():
            return f"timed out while connecting ({text})"
        return text
    if code in (1045, 1698, 1251):
        return f"access denied, check the user and password ({text})"
    if code == 1049:
        return f"no such database ({text})"
    if code == 1044:
        return f"no access to the database ({text})"
    return text


def map_error(exc: BaseException, *, timeout_s: float | None = None) -> ChatDBError:
    if isinstance(exc, ChatDBError):
        return exc
    code = errno(exc)
    text = message(exc)
    meta = {"errno": str(code)} if code else {}
    if code in SYNTAX:
        return InvalidArgument(
            f"syntax error: {text}", field=SQL_FIELD, reason="SQL_SYNTAX_ERROR", metadata=meta
        )
    if code in TIMEOUT:
        return deadline_error(timeout_s) if timeout_s else DeadlineExceeded(text)
    if code in READ_ONLY:
        return PermissionDenied(
            f"refused on a read-only connection: {text}",
            reason="READ_ONLY_VIOLATION",
            metadata=meta,
        )
    if code in PERMISSION:
        return PermissionDenied(
            f"permission denied by the database: {text}",
            reason="DATABASE_PERMISSION_DENIED",
            metadata=meta,
        )
    if code in CANNOT_CONNECT:
        return FailedPrecondition(
            f"cannot connect: {cannot_connect(exc)}", reason="CANNOT_CONNECT", metadata=meta
        )
    if code in UNAVAILABLE or is_connection_lost(exc) or 2000 <= code < 3000:
        return Unavailable(
            f"database unavailable: {text}", reason="DATABASE_UNAVAILABLE", metadata=meta
        )
    if isinstance(exc, asyncio.TimeoutError | TimeoutError | OSError):
        return Unavailable(
            f"database unavailable: {cannot_connect(exc)}", reason="DATABASE_UNAVAILABLE"
        )
    if code in CONFLICT:
        return Aborted(f"transaction aborted by the database: {text}", metadata=meta)
    if code in CONSTRAINT:
        return FailedPrecondition(f"constraint violated: {text}", metadata=meta)
    if code in RESOURCES:
        return ResourceExhausted(f"database resources exhausted: {text}", metadata=meta)
    if isinstance(exc, TypeError | ValueError | KeyError) and not code:
        # PyMySQL could not interpolate the parameters (count or placeholder mismatch).
        return InvalidArgument(
            f"parameters do not match the statement's %s placeholders: {exc}",
            field=PARAMS_FIELD,
        )
    if code:
        return InvalidArgument(text, field=SQL_FIELD, reason="SQL_ERROR", metadata=meta)
    return Internal(f"database driver error: {type(exc).__name__}: {exc}")
