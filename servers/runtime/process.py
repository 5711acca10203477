"""Run one service process: the composition root shared by every `chatdb serve`.

Builds (in an AsyncExitStack) whatever the service's factory opens, puts its bindings
on one GrpcServer, serves until SIGTERM/SIGINT, drains, then closes in reverse order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from . import logs, tracing
from .server import GrpcServer, ServiceBinding, wait_for_signal
from .settings import Settings
from .tls import for_service

log = logging.getLogger("chatdb.process")


async def serve(
    name: str,
    settings: Settings,
    factory: Callable[[Settings, AsyncExitStack], Awaitable[list[ServiceBinding]]],
    *,
    port: int | None = None,
) -> None:
    logs.configure(name, settings.log_level)
    # With CHATDB_TLS_DIR, this process presents <name>.crt on its port and its channels.
    settings = for_service(settings, name)
    tracing.setup(name, settings)
    async with AsyncExitStack() as stack:
        stack.callback(tracing.shutdown)  # closed last: what the shutdown did is exported too
        bindings = await factory(settings, stack)
        server = GrpcServer(settings, bindings, port=settings.port_of(name) if port is None else port)
        await server.start()
        received = await wait_for_signal()
        log.info("signal received", extra={"signal": received.name})
        await server.stop()
