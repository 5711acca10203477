"""LocalArtifactStore: content addressing, verification, nothing kept on failure."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time

import pytest

from servers.registry.artifacts import LocalArtifactStore
from servers.runtime.errors import InvalidArgument, NotFound, ResourceExhausted


async def chunks_of(data: bytes, size: int = 100_000):
    for i in range(0, len(data), size):
        await asyncio.sleep(0)
        yield data[i : i + size]


def all_files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_put_then_open_is_byte_identical_and_content_addressed(tmp_path):
    store = LocalArtifactStore(tmp_path)
    data = os.urandom(700_000)
    digest = hashlib.sha256(data).hexdigest()
    ref = await store.put(chunks_of(data), digest, len(data))
    assert ref.sha256 == digest and ref.size_bytes == len(data)
    path = tmp_path / "sha256" / digest[:2] / digest[2:4] / digest
    assert ref.uri == path.as_uri() and path.read_bytes() == data
    assert all_files(tmp_path) == [str(path.relative_to(tmp_path))]
    pieces = [c async for c in store.open(digest, chunk_size=256 * 1024)]
    assert b"".join(pieces) == data
    assert [len(p) for p in pieces] == [262144, 262144, 700_000 - 2 * 262144]
    assert await store.exists(digest)


async def test_same_content_twice_is_one_file(tmp_path):
    store = LocalArtifactStore(tmp_path)
    data = b"abc" * 1000
    digest = hashlib.sha256(data).hexdigest()
    await store.put(chunks_of(data), digest, None)
    await store.put(chunks_of(data), digest, len(data))
    assert len(all_files(tmp_path)) == 1


async def test_wrong_digest_stores_nothing(tmp_path):
    store = LocalArtifactStore(tmp_path)
    data = os.urandom(300_000)
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(InvalidArgument) as info:
        await store.put(chunks_of(data), wrong, len(data))
    assert [v.field for v in info.value.violations] == ["metadata.expected_sha256"]
    assert all_files(tmp_path) == []


async def test_wrong_size_stores_nothing(tmp_path):
    store = LocalArtifactStore(tmp_path)
    data = os.urandom(1000)
    with pytest.raises(InvalidArgument) as info:
        await store.put(chunks_of(data), hashlib.sha256(data).hexdigest(), 999)
    assert [v.field for v in info.value.violations] == ["metadata.expected_size_bytes"]
    assert all_files(tmp_path) == []


async def test_size_limit(tmp_path):
    store = LocalArtifactStore(tmp_path, max_bytes=1000)
    data = os.urandom(1500)
    digest = hashlib.sha256(data).hexdigest()
    with pytest.raises(InvalidArgument) as info:
        await store.put(chunks_of(data), digest, 1500)
    assert info.value.violations[0].field == "metadata.expected_size_bytes"
    with pytest.raises(ResourceExhausted):
        await store.put(chunks_of(data, 200), digest, None)
    assert all_files(tmp_path) == []


async def test_bad_digest_is_invalid(tmp_path):
    store = LocalArtifactStore(tmp_path)
    with pytest.raises(InvalidArgument):
        await store.put(chunks_of(b"x"), "ABC", None)
    with pytest.raises(InvalidArgument):
        await store.exists("../../etc/passwd")


async def test_failing_source_removes_the_temp_file(tmp_path):
    store = LocalArtifactStore(tmp_path)

    async def broken():
        yield b"x" * 100_000
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        await store.put(broken(), "0" * 64, None)
    assert all_files(tmp_path) == []


async def test_cancelled_upload_removes_the_temp_file(tmp_path):
    store = LocalArtifactStore(tmp_path)
    started = asyncio.Event()

    async def slow():
        yield b"x" * 100_000
        started.set()
        await asyncio.sleep(30)
        yield b"y"

    task = asyncio.create_task(store.put(slow(), "0" * 64, None))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all_files(tmp_path) == []


async def test_open_missing_delete_and_exists(tmp_path):
    store = LocalArtifactStore(tmp_path)
    digest = hashlib.sha256(b"hello").hexdigest()
    with pytest.raises(NotFound):
        async for _ in store.open(digest):
            pass
    assert not await store.exists(digest)
    await store.put(chunks_of(b"hello"), digest, 5)
    assert await store.delete(digest) is True
    assert await store.delete(digest) is False
    assert not await store.exists(digest)


async def test_stale_temp_files_are_removed_fresh_ones_kept(tmp_path):
    store = LocalArtifactStore(tmp_path)
    store.temp_dir.mkdir(parents=True)
    old, fresh = store.temp_dir / "old.partial", store.temp_dir / "fresh.partial"
    old.write_bytes(b"1")
    fresh.write_bytes(b"2")
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert await store.remove_stale_temp_files(older_than_s=3600) == 1
    assert not old.exists() and fresh.exists()
