"""Which gRPC services each `chatdb serve <service>` process puts on its port.

Each entry is an async factory `(settings, stack) -> bindings`: it opens what the
service needs (pools, clients) on the AsyncExitStack, which closes them in reverse at
shutdown, and returns the service bindings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

from .runtime.server import ServiceBinding
from .runtime.settings import Settings

# What Envoy transcodes and the gateway's reflection describes (`make gen` writes it).
DESCRIPTOR_SET = Path(__file__).resolve().parent.parent / "gen" / "chatdb_descriptor.binpb"

Factory = Callable[[Settings, AsyncExitStack], Awaitable[list[ServiceBinding]]]


async def _connector(settings: Settings, stack: AsyncExitStack) -> list[ServiceBinding]:
    # Imported on use: the connector's drivers (asyncpg, aiomysql, motor) load only in
    # the process that serves it.
    from .connector.app import build

    return await build(settings, stack)


async def _registry(settings: Settings, stack: AsyncExitStack) -> list[ServiceBinding]:
    from .registry.app import build

    return await build(settings, stack)


async def _training(settings: Settings, stack: AsyncExitStack) -> list[ServiceBinding]:
    from .training.app import build

    return await build(settings, stack)


async def _parser(settings: Settings, stack: AsyncExitStack) -> list[ServiceBinding]:
    # lemminflect, rapidfuzz and the word embeddings load only in the parser's process.
    from .parser.app import build

    return await build(settings, stack)


async def _prediction(settings: Settings, stack: AsyncExitStack) -> list[ServiceBinding]:
    # onnxruntime loads only in the process that serves predictions.
    from .prediction.app import build

    return await build(settings, stack)


async def _gateway(settings: Settings, stack: AsyncExitStack) -> list[ServiceBinding]:
    # The gateway is a service-layer package of its own (gateway/), composed like the
    # others through its app module.
    from gateway.app import build

    bindings = await build(settings, stack)
    # The gateway answers reflection for the whole Envoy edge (which routes reflection to
    # it): it lists and describes every service of the descriptor set Envoy transcodes.
    if bindings and DESCRIPTOR_SET.is_file():  # noqa: ASYNC240 - once at start
        bindings[0] = dataclasses.replace(bindings[0], reflects=DESCRIPTOR_SET)
    return bindings


SERVICES: dict[str, Factory] = {
    "gateway": _gateway,
    "connector": _connector,
    "parser": _parser,
    "training": _training,
    "registry": _registry,
    "prediction": _prediction,
}
