"""Composition root of the model registry: migrations, pool, stores, core, servicer.

Everything opened here is registered on the caller's AsyncExitStack, which closes it in
reverse order at shutdown (after the server has stopped taking calls).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from servers.runtime.migrations import migrate_dsn
from servers.runtime.paging import page_tokens
from servers.runtime.pg import open_platform_pool
from servers.runtime.server import ServiceBinding
from servers.runtime.settings import Settings

from .artifacts import LocalArtifactStore
from .core import Registry
from .service import registry_binding
from .store import EventNotifier, RegistryStore

MIGRATIONS = Path(__file__).parent / "migrations"


async def open_registry(settings: Settings, stack: AsyncExitStack) -> Registry:
    """Migrate the platform database and build the registry core on `stack`."""
    await migrate_dsn(settings.database_url, "registry", MIGRATIONS)
    pool = await open_platform_pool(settings)
    stack.push_async_callback(pool.close)

    notifier = EventNotifier(settings.database_url)
    await notifier.start()
    stack.push_async_callback(notifier.close)

    artifacts = LocalArtifactStore(settings.artifact_dir, max_bytes=settings.registry_max_artifact_bytes)
    await artifacts.remove_stale_temp_files()
    return Registry(
        RegistryStore(pool),
        artifacts,
        notifier,
        download_chunk_bytes=settings.registry_download_chunk_bytes,
        watch_poll_s=settings.registry_watch_poll_s,
        page_tokens=page_tokens(settings),
    )


async def build(settings: Settings, stack: AsyncExitStack) -> list[ServiceBinding]:
    """`chatdb serve registry`: the ModelRegistryService binding."""
    return [registry_binding(await open_registry(settings, stack))]
