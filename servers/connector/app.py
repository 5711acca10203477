"""Composition root of the connector process: migrations → platform pool → store →
core → servicer. Everything opened here is closed by the caller's AsyncExitStack, in
reverse: first the user-database pools (core), then the platform pool."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

from chatdb.connector.v1 import connector_service_pb2_grpc

from servers.runtime.migrations import migrate_dsn
from servers.runtime.pg import open_platform_pool
from servers.runtime.server import ServiceBinding, bind
from servers.runtime.settings import Settings

from .core import ConnectorCore
from .domain import ConnectionConfig
from .drivers import Driver, open_driver
from .service import SERVICE_NAME, ConnectorServicer
from .store import ConnectionStore, SecretBox

MIGRATIONS = Path(__file__).parent / "migrations"


async def build_core(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    opener: Callable[[ConnectionConfig], Driver] = open_driver,
) -> ConnectorCore:
    """The core on a migrated platform database; `opener` makes drivers (tests swap in
    one that serves MongoDB from mongomock)."""
    await migrate_dsn(settings.database_url, "connector", MIGRATIONS)
    pool = await open_platform_pool(settings)
    stack.push_async_callback(pool.close)
    key = settings.connector_secrets_key
    store = ConnectionStore(pool, SecretBox(key.get_secret_value() if key else None))
    core = ConnectorCore(settings, store, opener=opener)
    stack.push_async_callback(core.aclose)
    return core


async def build(settings: Settings, stack: AsyncExitStack) -> list[ServiceBinding]:
    core = await build_core(settings, stack)
    servicer = ConnectorServicer(core)
    return [bind(SERVICE_NAME, connector_service_pb2_grpc.add_ConnectorServiceServicer_to_server, servicer)]
