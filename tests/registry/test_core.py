"""The registry core without a transport, on the session's real PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from contextlib import AsyncExitStack

import asyncpg
import pytest

from servers.registry.app import open_registry
from servers.registry.core import Registry
from servers.registry.domain import (
    EventType,
    NewEvent,
    Selector,
    TensorSpec,
    UploadMetadata,
    VersionSpec,
    VersionState,
)
from servers.runtime.errors import FailedPrecondition, InvalidArgument, NotFound

from ..tiny_onnx import tiny_onnx
from .conftest import unique


async def one(data: bytes):
    yield data


def meta(model: str, data: bytes, **kwargs) -> UploadMetadata:
    return UploadMetadata(
        model=model,
        expected_sha256=hashlib.sha256(data).hexdigest(),
        expected_size_bytes=len(data),
        spec=kwargs.pop("spec", VersionSpec(task="regression")),
        **kwargs,
    )


async def create(registry: Registry, model: str, data: bytes | None = None, **kwargs):
    data = tiny_onnx() if data is None else data
    return await registry.create_version(meta(model, data, **kwargs), one(data))


async def test_numbering_description_and_first_production(registry: Registry):
    name = unique()
    v1 = await create(registry, name, model_description="first")
    v2 = await create(registry, name)
    v3 = await create(registry, name, model_description="second")
    assert [v1.version, v2.version, v3.version] == [1, 2, 3]
    model = await registry.get_model(name)
    assert model.latest_version == 3
    assert model.aliases == {"production": 1}
    assert model.description == "second"


async def test_concurrent_creates_get_distinct_consecutive_numbers(registry: Registry):
    name = unique()
    versions = await asyncio.gather(*(create(registry, name) for _ in range(8)))
    assert sorted(v.version for v in versions) == list(range(1, 9))
    assert (await registry.get_model(name)).latest_version == 8


async def test_idempotent_request_id_even_when_concurrent(registry: Registry):
    name = unique()
    data = tiny_onnx(100)
    results = await asyncio.gather(*(create(registry, name, data, request_id="req-1") for _ in range(4)))
    assert {v.version for v in results} == {1}
    again = await create(registry, name, data, request_id="req-1")
    assert again.version == 1
    with pytest.raises(InvalidArgument) as info:
        await create(registry, name, tiny_onnx(100), request_id="req-1")
    assert info.value.violations[0].field == "metadata.request_id"
    assert (await registry.get_model(name)).latest_version == 1


async def test_metadata_validation_lists_every_bad_field(registry: Registry):
    bad = UploadMetadata(
        model="Bad_Name",
        expected_sha256="xyz",
        expected_size_bytes=-1,
        spec=VersionSpec(
            inputs=(TensorSpec(""), TensorSpec("a", "FLOAT")),
            outputs=(TensorSpec("y"), TensorSpec("y")),
            task="clustering",
            format="ONNX!",
        ),
    )
    with pytest.raises(InvalidArgument) as info:
        await registry.create_version(bad, one(b""))
    assert {v.field for v in info.value.violations} == {
        "model",
        "metadata.expected_sha256",
        "metadata.expected_size_bytes",
        "metadata.model_version.inputs[0].name",
        "metadata.model_version.inputs[1].datatype",
        "metadata.model_version.outputs[1].name",
        "metadata.model_version.task",
        "metadata.model_version.artifact.format",
    }


async def test_archive(registry: Registry):
    name = unique()
    await create(registry, name)
    await create(registry, name)
    before = await registry.last_sequence()
    with pytest.raises(FailedPrecondition):  # production points to 1
        await registry.archive_version(name, 1)
    archived = await registry.archive_version(name, 2)
    assert archived.state is VersionState.ARCHIVED
    assert (await registry.archive_version(name, 2)).state is VersionState.ARCHIVED  # no-op
    events = [e async for e in _take(registry.watch(before, name), 1)]
    assert [(e.type, e.version) for e in events] == [(EventType.VERSION_ARCHIVED, 2)]
    assert await registry.last_sequence() == before + 1
    with pytest.raises(FailedPrecondition):
        await registry.set_alias(name, "staging", 2)
    # latest READY skips the archived one; by number it is still there for lineage.
    assert (await registry.resolve(name, Selector())).version == 1
    assert (await registry.resolve(name, Selector(version=2))).state is VersionState.ARCHIVED
    ready = await registry.list_versions(name, state=VersionState.READY)
    assert [v.version for v in ready.items] == [1]
    with pytest.raises(NotFound):
        await registry.archive_version(name, 9)


async def test_set_alias_to_same_version_emits_nothing(registry: Registry):
    name = unique()
    await create(registry, name)
    before = await registry.last_sequence()
    change = await registry.set_alias(name, "production", 1)
    assert change.previous_version == 1
    assert await registry.last_sequence() == before


async def test_page_tokens(registry: Registry):
    name = unique()
    for _ in range(3):
        await create(registry, name)
    page = await registry.list_versions(name, page_size=2)
    assert [v.version for v in page.items] == [3, 2] and page.next_page_token
    with pytest.raises(InvalidArgument) as info:
        await registry.list_versions(name, page_size=2, page_token=page.next_page_token, state=VersionState.READY)
    assert info.value.violations[0].field == "page_token"
    with pytest.raises(InvalidArgument):
        await registry.list_versions(name, page_token="not-a-token")
    with pytest.raises(InvalidArgument):
        await registry.list_models(page_token=page.next_page_token)  # a versions token
    with pytest.raises(InvalidArgument) as info:
        await registry.list_models(page_size=-1)
    assert info.value.violations[0].field == "page_size"
    rest = await registry.list_versions(name, page_size=2, page_token=page.next_page_token)
    assert [v.version for v in rest.items] == [1] and rest.next_page_token == ""


async def _take(iterator, count: int, timeout_s: float = 10.0):
    try:
        for _ in range(count):
            yield await asyncio.wait_for(anext(iterator), timeout_s)
    finally:
        await iterator.aclose()


async def test_watch_releases_its_subscription(registry: Registry):
    base = registry.watchers
    events = registry.watch(None, unique())
    task = asyncio.create_task(anext(events))
    await asyncio.sleep(0.1)
    assert registry.watchers == base + 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert registry.watchers == base


async def test_a_rolled_back_transaction_leaves_no_gap(registry: Registry):
    name = unique()
    await create(registry, name)
    before = await registry.last_sequence()
    with pytest.raises(NotFound):
        await registry.set_alias(name, "staging", 5)
    await registry.set_alias(name, "staging", 1)
    events = [e async for e in _take(registry.watch(before), 1)]
    assert events[0].sequence == before + 1


async def test_event_visibility_is_in_sequence_order(registry: Registry, settings):
    """While transaction A holds sequence N uncommitted, B cannot take N+1: it waits for A,
    so no reader can ever see N+1 without N."""
    name = unique()
    await create(registry, name)
    await create(registry, name)
    a_has_number, release_a = asyncio.Event(), asyncio.Event()

    async def slow_writer():
        async with registry._store.transaction() as tx:
            await tx.lock_model(name)
            await tx.append_event(NewEvent(EventType.VERSION_CREATED, "other-" + name[:20], 1))
            a_has_number.set()
            await release_a.wait()

    before = await registry.last_sequence()
    writer = asyncio.create_task(slow_writer())
    await a_has_number.wait()
    other = unique()
    b = asyncio.create_task(create(registry, other))  # needs the counter after A
    await asyncio.sleep(0.3)
    assert not b.done()
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM registry_events WHERE sequence > $1", before) == 0
    finally:
        await conn.close()
    release_a.set()
    await writer
    await b
    events = [e async for e in _take(registry.watch(before), 3)]
    assert [e.sequence for e in events] == [before + 1, before + 2, before + 3]
    assert events[0].model.startswith("other-")


async def test_notify_reaches_another_replica(settings, registry: Registry):
    """Two registry processes share only PostgreSQL; a watcher on one sees a change made
    on the other live, long before its poll backstop (set to 60 s here)."""
    async with AsyncExitStack() as stack:
        replica = await open_registry(settings.model_copy(update={"registry_watch_poll_s": 60.0}), stack)
        name = unique()
        await create(registry, name)
        events = replica.watch(None, name)
        first = asyncio.create_task(anext(events))
        await asyncio.sleep(0.3)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await registry.set_alias(name, "staging", 1)
        event = await asyncio.wait_for(first, 10)
        assert loop.time() - started < 5
        assert (event.type, event.alias, event.version) == (EventType.ALIAS_MOVED, "staging", 1)
        await events.aclose()
