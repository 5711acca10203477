"""Composition root of the prediction service (`chatdb serve prediction`): the registry
channel, the model manager, the core, both servicers, the preload and the event watcher.

Readiness: `production` versions are preloaded before the service reports SERVING.
`build` hands the server PredictionApp.start as its on_started hook: the server listens
and answers health checks NOT_SERVING during the preload, and turns SERVING when it is
done.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from importlib import metadata

from servers.runtime.server import GrpcServer, ServiceBinding
from servers.runtime.settings import Settings

from .core import Limits, PredictionCore, ServerInfo
from .loaded import BatchOptions, SessionOptions
from .service import inference_binding, prediction_binding
from .sessions import ModelManager, ModelSource
from .source import RegistrySource, open_registry_channel

log = logging.getLogger("chatdb.prediction")


def _version() -> str:
    try:
        return metadata.version("chatdb")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def preload_aliases(settings: Settings) -> list[str]:
    return [a.strip() for a in settings.prediction_preload_aliases.split(",") if a.strip()]


@dataclass
class PredictionApp:
    settings: Settings
    manager: ModelManager
    core: PredictionCore
    bindings: list[ServiceBinding]
    _tasks: list[asyncio.Task] = field(default_factory=list)

    async def preload(self) -> None:
        """Load every preloaded alias's version, then mark the core ready."""
        await self.manager.preload(
            preload_aliases(self.settings), registry_wait_s=self.settings.prediction_registry_wait_s)
        self.core.set_ready(True)
        log.info("preload done", extra={"models": [f"{m}@{v}" for m, v in self.manager.loaded_keys]})

    def watch(self) -> None:
        """Follow the registry's events in the background."""
        self._tasks.append(asyncio.create_task(
            self.manager.watch(resync_interval_s=self.settings.prediction_resync_interval_s),
            name="prediction-watch"))

    async def start(self, server: GrpcServer) -> None:
        """For a started GrpcServer(ready=False): preload in the background, then SERVING."""

        async def run() -> None:
            await self.preload()
            await server.set_serving(True)

        self._tasks.append(asyncio.create_task(run(), name="prediction-preload"))
        self.watch()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.manager.close()


async def open_prediction(
    settings: Settings, stack: AsyncExitStack, *, source: ModelSource | None = None
) -> PredictionApp:
    """Build the service on `stack` (closed in reverse at shutdown); nothing is loaded yet."""
    if source is None:
        channel = open_registry_channel(settings)
        stack.push_async_callback(channel.close)
        source = RegistrySource(channel)
    manager = ModelManager(
        source,
        max_models=settings.prediction_max_models,
        max_bytes=settings.prediction_max_model_bytes,
        sessions=SessionOptions(settings.prediction_intra_op_threads, settings.prediction_inter_op_threads),
        batching=BatchOptions(settings.prediction_batch_max_size, settings.prediction_batch_max_delay_ms / 1000),
        follow_aliases=preload_aliases(settings),
        failed_retry_s=settings.prediction_failed_retry_s,
    )
    core = PredictionCore(
        manager,
        Limits(
            max_predict_rows=settings.prediction_max_predict_rows,
            max_batch_rows=settings.prediction_max_batch_rows,
            default_batch_size=settings.prediction_batch_rows,
            max_batch_size=max(settings.prediction_batch_rows, Limits.max_batch_size),
        ),
        ServerInfo("chatdb-prediction", _version()),
    )
    app = PredictionApp(settings, manager, core, [prediction_binding(core), inference_binding(core)])
    stack.push_async_callback(app.close)
    return app


async def build(settings: Settings, stack: AsyncExitStack) -> list[ServiceBinding]:
    """`chatdb serve prediction`: the server starts NOT_SERVING, preloads the followed
    aliases' versions in the background, then reports SERVING and follows the registry."""
    app = await open_prediction(settings, stack)
    first, *rest = app.bindings
    return [dataclasses.replace(first, on_started=app.start), *rest]
