"""What every `chatdb` command shares to behave for people: an error is one line on
stderr (never a traceback, never twice), a port that is taken is said so before anything
starts, and a command printed for the user to run works as printed."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import grpc


class CliError(Exception):
    """A mistake or a condition the user can act on; `chatdb` prints it as one line."""


def rpc_error_lines(exc: grpc.aio.AioRpcError) -> list[str]:
    """`error: CODE: message`, then each field violation the message does not already say."""
    from servers.runtime.status import details_from_rpc_error

    details = details_from_rpc_error(exc)
    message = details.message or exc.details() or ""
    lines = [f"error: {exc.code().name}: {message}"]
    for violation in details.violations:
        text = f"{violation.field}: {violation.description}"
        if text not in message and violation.description not in message:
            lines.append(f"  {text}")
    return lines


def print_rpc_error(exc: grpc.aio.AioRpcError) -> int:
    for line in rpc_error_lines(exc):
        print(line, file=sys.stderr)
    return 1


def ensure_port_free(host: str, port: int, setting: str) -> None:
    """CliError when `host:port` cannot be listened on (before a server starts, so the
    user sees one line instead of gRPC's bind failure and a traceback)."""
    if not port:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == 98:  # EADDRINUSE
                raise CliError(f"port {port} is already in use: {exc.strerror} on {host}:{port} "
                               f"(stop what listens there, e.g. `make down`, or set {setting})") from None
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror} (set {setting} or CHATDB_HOST)") from None


def chatdb_command() -> str:
    """How the user can type `chatdb` here: plain `chatdb` when it is on PATH and is this
    installation's, else the path of this installation's script (relative when shorter)."""
    script = Path(sys.executable).parent / "chatdb"
    on_path = shutil.which("chatdb")
    if on_path and script.exists() and Path(on_path).resolve() == script.resolve():
        return "chatdb"
    if not script.exists():
        return f"{sys.executable} -m servers.cli"
    absolute = script.absolute()
    try:
        relative = os.path.relpath(absolute)
    except ValueError:
        return str(absolute)
    return relative if not relative.startswith("..") else str(absolute)
