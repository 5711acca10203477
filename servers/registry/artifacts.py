"""Content-addressed artifact store of the model registry.

`ArtifactStore` is the small interface the registry needs. Two stores implement it,
chosen by CHATDB_ARTIFACT_URL (`open_artifact_store` in app.py):

    LocalArtifactStore   file:///path (default: CHATDB_ARTIFACT_DIR), one machine or a
                         shared mount; this module
    S3ArtifactStore      s3://bucket/prefix, any S3 API (AWS S3, MinIO, Ceph); s3.py

Both use one layout, so a file store copied into a bucket (`aws s3 sync`) is an S3 store:

    <root>/sha256/<ab>/<cd>/<64 hex digits>   the artifacts, named by their SHA-256
    <root>/tmp/<random>.partial               uploads in progress (file store only: the
                                              same file system, so os.replace is atomic)

An upload is written to a temp file while it is hashed, checked against the expected
digest and size, flushed to disk, and only then renamed to its address; on any failure
(mismatch, size limit, client gone) the temp file is removed and nothing is stored. The
S3 store keeps the same promise with a multipart upload it completes only then.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from servers.runtime.errors import InvalidArgument, NotFound, ResourceExhausted

log = logging.getLogger("chatdb.registry.artifacts")

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_READ_CHUNK_BYTES = 256 * 1024
# Chunks at least this big are hashed and written in a worker thread; smaller ones are
# cheaper to handle on the event loop than to hand over.
_THREAD_THRESHOLD_BYTES = 64 * 1024

FIELD_SHA256 = "metadata.expected_sha256"
FIELD_SIZE = "metadata.expected_size_bytes"

# Checks the complete, digest-checked upload (its temp file and size) before it is
# installed; raises to refuse it (see formats.check_artifact).
Verify = Callable[[Path, int], Awaitable[None]]


@dataclass(frozen=True)
class ArtifactRef:
    """A stored artifact: its address, size and where the store keeps it."""

    sha256: str
    size_bytes: int
    uri: str


class ArtifactStore(ABC):
    """Where artifact bytes live, addressed by their SHA-256."""

    @abstractmethod
    async def put(
        self,
        chunks: AsyncIterator[bytes],
        expected_sha256: str,
        expected_size: int | None,
        verify: Verify | None = None,
    ) -> ArtifactRef:
        """Store the bytes of `chunks` if they hash to `expected_sha256` (and, when given,
        add up to `expected_size`) and `verify` accepts them; otherwise store nothing and
        raise InvalidArgument naming the offending field. Storing content that is
        already there is a no-op."""

    @abstractmethod
    def open(self, sha256: str, chunk_size: int = DEFAULT_READ_CHUNK_BYTES) -> AsyncGenerator[bytes, None]:
        """The artifact's bytes in pieces of at most `chunk_size`; NotFound (on the first
        iteration) when absent. An async generator, so a reader can aclose() it early."""

    @abstractmethod
    async def exists(self, sha256: str) -> bool:
        """Whether the artifact is stored."""

    @abstractmethod
    async def delete(self, sha256: str) -> bool:
        """Remove the artifact; False when it was not there."""

    @abstractmethod
    def uri(self, sha256: str) -> str:
        """Where the artifact is (or would be) kept, e.g. file:///… or s3://…"""

    @abstractmethod
    async def prepare(self) -> None:
        """At the registry's start: check the store is usable (FailedPrecondition when it
        cannot be) and clean up what crashed uploads left."""


def check_expected_size(expected_size: int | None, max_bytes: int | None) -> None:
    """InvalidArgument (metadata.expected_size_bytes) for a size no upload may have."""
    if expected_size is None:
        return
    if expected_size < 0:
        raise InvalidArgument("must not be negative", field=FIELD_SIZE)
    if max_bytes is not None and expected_size > max_bytes:
        raise InvalidArgument(
            f"{expected_size} bytes is more than the largest artifact allowed ({max_bytes} bytes)",
            field=FIELD_SIZE,
        )


def too_large(max_bytes: int) -> ResourceExhausted:
    return ResourceExhausted(
        f"artifact is larger than the largest allowed ({max_bytes} bytes)",
        reason="ARTIFACT_TOO_LARGE",
        metadata={"max_bytes": str(max_bytes)},
    )


def check_received(size: int, actual_sha256: str, expected_sha256: str, expected_size: int | None) -> None:
    """InvalidArgument naming the field the received bytes contradict."""
    if expected_size is not None and size != expected_size:
        raise InvalidArgument(f"received {size} bytes but expected_size_bytes is {expected_size}", field=FIELD_SIZE)
    if actual_sha256 != expected_sha256:
        raise InvalidArgument(f"received bytes have sha256 {actual_sha256}, not {expected_sha256}", field=FIELD_SHA256)


def check_digest(sha256: str) -> None:
    if not SHA256_HEX.match(sha256):
        raise InvalidArgument("must be 64 lowercase hex digits", field=FIELD_SHA256)


def address(sha256: str) -> str:
    """The artifact's place under a store's root: sha256/<ab>/<cd>/<hex>."""
    check_digest(sha256)
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class LocalArtifactStore(ArtifactStore):
    """Artifacts as files under `root` (a local disk or a shared mount)."""

    def __init__(self, root: Path | str, *, max_bytes: int | None = None) -> None:
        self.root = Path(root).absolute()
        self.max_bytes = max_bytes

    def path_of(self, sha256: str) -> Path:
        return self.root / address(sha256)

    @property
    def temp_dir(self) -> Path:
        return self.root / "tmp"

    def uri(self, sha256: str) -> str:
        return self.path_of(sha256).as_uri()

    async def prepare(self) -> None:
        await self.remove_stale_temp_files()

    async def put(
        self,
        chunks: AsyncIterator[bytes],
        expected_sha256: str,
        expected_size: int | None,
        verify: Verify | None = None,
    ) -> ArtifactRef:
        check_digest(expected_sha256)
        check_expected_size(expected_size, self.max_bytes)
        await asyncio.to_thread(self.temp_dir.mkdir, parents=True, exist_ok=True)
        temp = self.temp_dir / f"{uuid.uuid4().hex}.partial"
        digest = hashlib.sha256()
        size = 0
        file = await asyncio.to_thread(open, temp, "wb")
        try:
            try:
                async for chunk in chunks:
                    if not chunk:
                        continue
                    size += len(chunk)
                    if self.max_bytes is not None and size > self.max_bytes:
                        raise too_large(self.max_bytes)
                    if len(chunk) >= _THREAD_THRESHOLD_BYTES:
                        await asyncio.to_thread(_hash_and_write, digest, file, chunk)
                    else:
                        _hash_and_write(digest, file, chunk)
                await asyncio.to_thread(_flush, file)
            finally:
                await asyncio.to_thread(file.close)
            actual = digest.hexdigest()
            check_received(size, actual, expected_sha256, expected_size)
            if verify is not None:
                await verify(temp, size)
            final = self.path_of(actual)
            await asyncio.to_thread(_install, temp, final)
        except BaseException:
            # Mismatch, limit, storage error or the client went away: keep nothing.
            await asyncio.shield(asyncio.to_thread(_unlink, temp))
            raise
        return ArtifactRef(sha256=actual, size_bytes=size, uri=final.as_uri())

    async def open(self, sha256: str, chunk_size: int = DEFAULT_READ_CHUNK_BYTES) -> AsyncGenerator[bytes, None]:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        path = self.path_of(sha256)
        opening = asyncio.ensure_future(asyncio.to_thread(open, path, "rb"))
        try:
            file = await asyncio.shield(opening)
        except FileNotFoundError:
            raise NotFound(f"artifact {sha256} is not in the artifact store", reason="ARTIFACT_NOT_FOUND") from None
        except asyncio.CancelledError:
            # A download cancelled while the thread opens the file: close what it opens.
            opening.add_done_callback(_close_opened)
            raise
        try:
            while True:
                chunk = await asyncio.to_thread(file.read, chunk_size)
                if not chunk:
                    return
                yield chunk
        finally:
            file.close()

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self.path_of(sha256).is_file)

    async def delete(self, sha256: str) -> bool:
        return await asyncio.to_thread(_unlink, self.path_of(sha256))

    async def remove_stale_temp_files(self, older_than_s: float = 3600.0) -> int:
        """Delete temp files left by crashed uploads; returns how many. Only old ones, so
        uploads in progress in other processes sharing the directory are left alone."""
        return await asyncio.to_thread(_remove_stale, self.temp_dir, older_than_s)


def _hash_and_write(digest, file, chunk: bytes) -> None:
    digest.update(chunk)
    file.write(chunk)


def _flush(file) -> None:
    file.flush()
    os.fsync(file.fileno())


def _install(temp: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, final)  # atomic; identical content may already be there


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def _remove_stale(directory: Path, older_than_s: float) -> int:
    if not directory.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for path in directory.glob("*.partial"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    if removed:
        log.info("stale upload files removed", extra={"count": removed, "directory": str(directory)})
    return removed


def _close_opened(opening: asyncio.Future) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()
