"""Composition root of the model registry: migrations, pool, stores, core, servicer.

Everything opened here is registered on the caller's AsyncExitStack, which closes it in
reverse order at shutdown (after the server has stopped taking calls).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from urllib.parse import unquote, urlsplit

from servers.runtime.migrations import migrate_dsn
from servers.runtime.paging import page_tokens
from servers.runtime.pg import open_platform_pool
from servers.runtime.server import ServiceBinding
from servers.runtime.settings import Settings

from .artifacts import ArtifactStore, LocalArtifactStore
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

    artifacts = open_artifact_store(settings, stack)
    await artifacts.prepare()
    return Registry(
        RegistryStore(pool),
        artifacts,
        notifier,
        download_chunk_bytes=settings.registry_download_chunk_bytes,
        watch_poll_s=settings.registry_watch_poll_s,
        page_tokens=page_tokens(settings),
    )


def open_artifact_store(settings: Settings, stack: AsyncExitStack) -> ArtifactStore:
    """The store CHATDB_ARTIFACT_URL names: s3://bucket/prefix, file:///path, or (empty)
    files in CHATDB_ARTIFACT_DIR."""
    url = settings.artifact_url
    if url.startswith("s3://"):
        from .s3 import S3ArtifactStore, S3Location, s3_client

        client = s3_client(endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
                           timeout_s=settings.s3_timeout_s, max_attempts=settings.s3_max_attempts)
        stack.callback(client.close)
        return S3ArtifactStore(client, S3Location.parse(url), max_bytes=settings.registry_max_artifact_bytes,
                               part_size_bytes=settings.s3_part_size_bytes)
    root = Path(unquote(urlsplit(url).path)) if url else settings.artifact_dir
    return LocalArtifactStore(root, max_bytes=settings.registry_max_artifact_bytes)


async def build(settings: Settings, stack: AsyncExitStack) -> list[ServiceBinding]:
    """`chatdb serve registry`: the ModelRegistryService binding."""
    return [registry_binding(await open_registry(settings, stack))]
