"""The registry's artifacts in an S3-compatible bucket (AWS S3, MinIO, Ceph, moto).

Chosen by CHATDB_ARTIFACT_URL=s3://bucket/prefix, with CHATDB_S3_ENDPOINT_URL for a
store that is not AWS and credentials from boto3's usual chain (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, a profile, a web identity, an instance role). Objects sit where
the file store keeps its files: `<prefix>/sha256/<ab>/<cd>/<hex>` (artifacts.address).

An upload never leaves a visible partial object:

1. HEAD the address. When the object is already there the bytes are still received,
   hashed and checked (knowing a digest is not having the bytes), but not sent again.
2. Otherwise every full part (CHATDB_S3_PART_SIZE_BYTES, default 8 MiB) goes to a
   multipart upload of the final key as it arrives; S3 shows nothing of a multipart
   upload until it is completed.
3. At the end the size and the SHA-256 are checked and the format check (formats.py)
   runs on a local spool copy of the bytes; only then is the multipart upload completed,
   or, for an artifact smaller than one part, the one PUT made. On any failure (mismatch,
   refused model, client gone, S3 error) the multipart upload is aborted. Uploads a
   crashed registry left open are aborted by the next registry start once an hour old
   (a bucket lifecycle rule AbortIncompleteMultipartUpload does the same on the S3 side).

Replicas share the bucket: two uploads of the same bytes complete the same key with the
same content, and a version's row is written only after its object exists.

Why boto3 through asyncio.to_thread rather than aiobotocore: the registry makes few S3
calls and each moves up to a part (8 MiB) or a download chunk, so a thread per call
costs nothing measurable, while aiobotocore pins botocore to a narrow range that has to
move in step with it; boto3 is also what AWS, MinIO and Ceph document and test against.

Errors at this boundary become domain errors: S3 unreachable, timed out or failing (5xx)
→ Unavailable (ARTIFACT_STORE_UNAVAILABLE); missing bucket, missing or refused
credentials → FailedPrecondition (ARTIFACT_STORE_MISCONFIGURED); a missing object →
NotFound (ARTIFACT_NOT_FOUND).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from servers.runtime.errors import ChatDBError, FailedPrecondition, NotFound, Unavailable, clip

from .artifacts import (
    DEFAULT_READ_CHUNK_BYTES,
    ArtifactRef,
    ArtifactStore,
    Verify,
    address,
    check_digest,
    check_expected_size,
    check_received,
    too_large,
)

log = logging.getLogger("chatdb.registry.s3")

MIN_PART_SIZE_BYTES = 5 * 1024 * 1024  # S3's smallest part (all but the last)
MAX_PARTS = 10_000  # S3's most parts in one upload
UNAVAILABLE = "ARTIFACT_STORE_UNAVAILABLE"
MISCONFIGURED = "ARTIFACT_STORE_MISCONFIGURED"
_MISSING = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})
_REFUSED = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                      "InvalidToken", "AllAccessDisabled", "AccountProblem"})
_BUSY = frozenset({"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError", "RequestTimeTooSkewed"})


@dataclass(frozen=True)
class S3Location:
    """s3://bucket/prefix parsed: the bucket and the key prefix ("" or ending in "/")."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
        prefix = parts.path.strip("/")
        return cls(parts.netloc, f"{prefix}/" if prefix else "")

    def key(self, sha256: str) -> str:
        return self.prefix + address(sha256)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def s3_client(
    *, endpoint_url: str = "", region: str = "", timeout_s: float = 10.0, max_attempts: int = 3,
    max_connections: int = 16,
):
    """A boto3 S3 client: credentials from boto3's chain, bounded timeouts and retries so
    an unreachable store is UNAVAILABLE within seconds, not minutes. For a custom
    endpoint (MinIO, Ceph): path-style addressing (no bucket DNS names), and checksums
    only where the API requires them, since boto3's default CRC headers (1.36 on) are
    refused by some S3-compatible servers; the SHA-256 check is the registry's own."""
    import boto3  # heavy; only a registry with an s3:// store needs it
    from botocore.config import Config

    custom = {"s3": {"addressing_style": "path"}, "request_checksum_calculation": "when_required",
              "response_checksum_validation": "when_required"} if endpoint_url else {}
    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        max_pool_connections=max_connections,
        **custom,
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config
    )


class S3ArtifactStore(ArtifactStore):
    """Artifacts as objects of one bucket under a prefix; see the module docstring."""

    def __init__(
        self,
        client: Any,
        location: S3Location,
        *,
        max_bytes: int | None = None,
        part_size_bytes: int = 8 * 1024 * 1024,
        spool_dir: Path | str | None = None,
    ) -> None:
        if part_size_bytes < MIN_PART_SIZE_BYTES:
            raise ValueError(f"part_size_bytes must be at least {MIN_PART_SIZE_BYTES} (S3's smallest part)")
        self.client = client
        self.location = location
        self.max_bytes = max_bytes
        self.part_size_bytes = part_size_bytes
        self.spool_dir = Path(spool_dir) if spool_dir is not None else None
        self.endpoint = getattr(getattr(client, "meta", None), "endpoint_url", "") or "AWS S3"

    def uri(self, sha256: str) -> str:
        return f"s3://{self.location.bucket}/{self.location.key(sha256)}"

    # --- boundary: every S3 call goes through here ---------------------------------------

    async def _call(self, doing: str, fn: Callable[..., Any], /, **kwargs) -> Any:
        try:
            return await asyncio.to_thread(fn, **kwargs)
        except Exception as exc:  # noqa: BLE001 - translated below, or re-raised as is
            raise self._translate(exc, doing) from exc

    def _translate(self, exc: Exception, doing: str) -> Exception:
        from botocore import exceptions as boto

        where = f"{self.location} at {self.endpoint}"
        if isinstance(exc, ChatDBError):
            return exc
        if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
            return FailedPrecondition(
                f"the registry has no S3 credentials for {where} (AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or another source boto3 reads)",
                reason=MISCONFIGURED,
            )
        if isinstance(exc, boto.ConnectionError | boto.HTTPClientError | boto.IncompleteReadError):
            return Unavailable(
                f"the artifact store is unreachable: {doing} {where} failed ({clip(str(exc), 300)})",
                reason=UNAVAILABLE, metadata={"endpoint": self.endpoint},
            )
        if isinstance(exc, boto.ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if code == "NoSuchBucket":
                return FailedPrecondition(
                    f"the artifact store's bucket {self.location.bucket!r} does not exist at {self.endpoint}",
                    reason=MISCONFIGURED, metadata={"bucket": self.location.bucket},
                )
            if code in _REFUSED or status == 403:
                return FailedPrecondition(
                    f"{self.endpoint} refused the registry's S3 credentials for {where} ({code or status})",
                    reason=MISCONFIGURED, metadata={"bucket": self.location.bucket},
                )
            if status >= 500 or code in _BUSY:
                return Unavailable(
                    f"the artifact store is failing: {doing} {where} answered {code or status}",
                    reason=UNAVAILABLE, metadata={"endpoint": self.endpoint},
                )
        return exc  # anything else: the interceptor logs it and answers INTERNAL

    @staticmethod
    def _missing(exc: BaseException) -> bool:
        from botocore.exceptions import ClientError

        cause = exc.__cause__ if isinstance(exc, ChatDBError) else exc
        return isinstance(cause, ClientError) and str(cause.response.get("Error", {}).get("Code")) in _MISSING

    # --- reads ------------------------------------------------------------------------

    async def prepare(self) -> None:
        """The bucket must exist and take the registry's credentials; multipart uploads
        older than an hour under the prefix (left by a crashed registry) are aborted."""
        try:
            await self._call("checking the bucket of", self.client.head_bucket, Bucket=self.location.bucket)
        except FailedPrecondition:
            raise
        except Exception as exc:
            if self._missing(exc):
                raise FailedPrecondition(
                    f"the artifact store's bucket {self.location.bucket!r} does not exist at {self.endpoint} "
                    "(create it, or fix CHATDB_ARTIFACT_URL / CHATDB_S3_ENDPOINT_URL)",
                    reason=MISCONFIGURED, metadata={"bucket": self.location.bucket},
                ) from None
            raise
        try:
            await self.abort_stale_uploads()
        except ChatDBError as exc:  # a store without ListMultipartUploads still serves
            log.warning("stale multipart uploads not checked", extra={"error": exc.message})

    async def exists(self, sha256: str) -> bool:
        key = self.location.key(sha256)
        try:
            await self._call("reading", self.client.head_object, Bucket=self.location.bucket, Key=key)
        except Exception as exc:
            if self._missing(exc):
                return False
            raise
        return True

    async def open(self, sha256: str, chunk_size: int = DEFAULT_READ_CHUNK_BYTES) -> AsyncGenerator[bytes, None]:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        key = self.location.key(sha256)
        getting = asyncio.ensure_future(
            self._call("downloading from", self.client.get_object, Bucket=self.location.bucket, Key=key)
        )
        try:
            response = await asyncio.shield(getting)
        except asyncio.CancelledError:
            # A download cancelled while the thread asks S3: close the body it gets.
            getting.add_done_callback(_close_body)
            raise
        except Exception as exc:
            if self._missing(exc):
                raise NotFound(f"artifact {sha256} is not in the artifact store", reason="ARTIFACT_NOT_FOUND") from None
            raise
        body = response["Body"]
        try:
            while True:
                chunk = await self._call("downloading from", body.read, amt=chunk_size)
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    # --- writes -----------------------------------------------------------------------

    async def put(
        self,
        chunks: AsyncIterator[bytes],
        expected_sha256: str,
        expected_size: int | None,
        verify: Verify | None = None,
    ) -> ArtifactRef:
        check_digest(expected_sha256)
        check_expected_size(expected_size, self.max_bytes)
        largest = self.part_size_bytes * MAX_PARTS  # S3's limit at this part size
        if expected_size is not None and expected_size > largest:
            raise too_large(largest)
        key = self.location.key(expected_sha256)
        present = await self.exists(expected_sha256)
        upload = _MultipartUpload(self, key, expected_sha256)
        spool_fd, spool_name = await asyncio.to_thread(tempfile.mkstemp, suffix=".partial", dir=self.spool_dir)
        spool = Path(spool_name)
        digest = hashlib.sha256()
        buffer = bytearray()
        size = 0
        try:
            with os.fdopen(spool_fd, "wb") as file:
                async for chunk in chunks:
                    if not chunk:
                        continue
                    size += len(chunk)
                    if self.max_bytes is not None and size > self.max_bytes:
                        raise too_large(self.max_bytes)
                    if size > largest:
                        raise too_large(largest)
                    await asyncio.to_thread(_hash_and_write, digest, file, chunk)
                    if present:
                        continue
                    buffer += chunk
                    while len(buffer) >= self.part_size_bytes:
                        await upload.send(bytes(buffer[: self.part_size_bytes]))
                        del buffer[: self.part_size_bytes]
            actual = digest.hexdigest()
            check_received(size, actual, expected_sha256, expected_size)
            if verify is not None:
                await verify(spool, size)
            if not present:
                if upload.started:
                    if buffer:
                        await upload.send(bytes(buffer))
                    await upload.complete()
                else:
                    await self._call(
                        "uploading to", self.client.put_object, Bucket=self.location.bucket, Key=key,
                        Body=bytes(buffer), Metadata={"sha256": actual},
                    )
        except BaseException:
            # Mismatch, refused model, limit, S3 error or the client went away: the
            # multipart upload never becomes an object.
            if upload.started and not upload.completed:
                await asyncio.shield(upload.abort())
            raise
        finally:
            await asyncio.shield(asyncio.to_thread(spool.unlink, missing_ok=True))
        return ArtifactRef(sha256=actual, size_bytes=size, uri=self.uri(actual))

    async def delete(self, sha256: str) -> bool:
        if not await self.exists(sha256):
            return False
        await self._call("deleting from", self.client.delete_object, Bucket=self.location.bucket,
                         Key=self.location.key(sha256))
        return True

    async def abort_stale_uploads(self, older_than_s: float = 3600.0) -> int:
        """Abort multipart uploads under the prefix started longer ago than `older_than_s`
        (left by a registry that crashed mid-upload); returns how many. Younger ones may
        be in progress on another replica and are left alone."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        aborted = 0
        params: dict[str, Any] = {"Bucket": self.location.bucket, "Prefix": self.location.prefix + "sha256/"}
        while True:
            page = await self._call("listing uploads in", self.client.list_multipart_uploads, **params)
            for item in page.get("Uploads", []):
                if item["Initiated"] < cutoff:
                    await self._call("aborting an upload in", self.client.abort_multipart_upload,
                                     Bucket=self.location.bucket, Key=item["Key"], UploadId=item["UploadId"])
                    aborted += 1
            if not page.get("IsTruncated"):
                break
            params.update(KeyMarker=page.get("NextKeyMarker", ""), UploadIdMarker=page.get("NextUploadIdMarker", ""))
        if aborted:
            log.info("stale multipart uploads aborted", extra={"count": aborted, "location": str(self.location)})
        return aborted


class _MultipartUpload:
    """One multipart upload of `key`, started by its first part."""

    def __init__(self, store: S3ArtifactStore, key: str, sha256: str) -> None:
        self._store = store
        self._key = key
        self._sha256 = sha256
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.completed = False

    @property
    def started(self) -> bool:
        return self._upload_id is not None

    async def send(self, part: bytes) -> None:
        store, bucket = self._store, self._store.location.bucket
        if self._upload_id is None:
            created = await store._call("starting an upload to", store.client.create_multipart_upload,
                                        Bucket=bucket, Key=self._key, Metadata={"sha256": self._sha256})
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        sent = await store._call("uploading to", store.client.upload_part, Bucket=bucket, Key=self._key,
                                 UploadId=self._upload_id, PartNumber=number, Body=part)
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    async def complete(self) -> None:
        store = self._store
        await store._call("completing an upload to", store.client.complete_multipart_upload,
                          Bucket=store.location.bucket, Key=self._key, UploadId=self._upload_id,
                          MultipartUpload={"Parts": self._parts})
        self.completed = True

    async def abort(self) -> None:
        store = self._store
        try:
            await store._call("aborting an upload to", store.client.abort_multipart_upload,
                              Bucket=store.location.bucket, Key=self._key, UploadId=self._upload_id)
        except Exception as exc:  # noqa: BLE001 - the stale-upload sweep retries it later
            log.warning("multipart upload not aborted", extra={"key": self._key, "error": str(exc)})


def _hash_and_write(digest, file, chunk: bytes) -> None:
    digest.update(chunk)
    file.write(chunk)


def _close_body(getting: asyncio.Future) -> None:
    if not getting.cancelled() and getting.exception() is None:
        getting.result()["Body"].close()
