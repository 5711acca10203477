"""Real S3 API servers for the registry's S3 artifact store tests (not a test module).

moto's server mode (`python -m moto.server`, from the dev extra) runs as a subprocess on
a free port: a real HTTP S3 API that boto3 talks to over the network, which the tests can
also stop. A MinIO (or any S3 store) is used too when CHATDB_TEST_S3_URL names it:

    CHATDB_TEST_S3_URL=http://ACCESS_KEY:SECRET_KEY@127.0.0.1:9000/BUCKET

(the bucket is created when missing; every test session writes under a prefix of its own).
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from servers.registry.s3 import S3ArtifactStore, S3Location, s3_client

TEST_S3_URL = "CHATDB_TEST_S3_URL"


@dataclass(frozen=True)
class S3Target:
    """Where a test's S3 store lives: endpoint, credentials, bucket and its own prefix."""

    name: str
    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    prefix: str
    region: str = "us-east-1"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def env(self) -> dict[str, str]:
        """boto3's credential chain reads these (the registry gets no CHATDB_ credentials)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": self.region}

    def client(self, timeout_s: float = 10.0, max_attempts: int = 3):
        """A client with this target's credentials (one per target and options: making a
        boto3 client costs a good part of a second)."""
        return _client(self, timeout_s, max_attempts)

    def store(self, *, prefix: str | None = None, **kwargs) -> S3ArtifactStore:
        location = S3Location.parse(f"s3://{self.bucket}/{prefix or self.prefix}")
        return S3ArtifactStore(self.client(), location, **kwargs)

    def under(self, suffix: str) -> S3Target:
        """The same bucket, a prefix of its own (a test's objects are then its alone)."""
        return S3Target(self.name, self.endpoint_url, self.access_key, self.secret_key, self.bucket,
                        f"{self.prefix}/{suffix}", self.region)


@functools.cache
def _client(target: S3Target, timeout_s: float, max_attempts: int):
    saved = {k: os.environ.get(k) for k in target.env()}
    os.environ.update(target.env())  # boto3 resolves credentials when it makes the client
    try:
        return s3_client(endpoint_url=target.endpoint_url, region=target.region, timeout_s=timeout_s,
                         max_attempts=max_attempts)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """`python -m moto.server` on 127.0.0.1:<free port>, a process of its own."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> MotoServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def target(self, bucket: str | None = None) -> S3Target:
        """A bucket of this server (created) with a fresh prefix."""
        target = S3Target("moto", self.endpoint_url, "testing", "testing",
                          bucket or f"chatdb-{uuid.uuid4().hex[:12]}", f"run-{uuid.uuid4().hex[:8]}")
        target.client().create_bucket(Bucket=target.bucket)
        return target


def target_from_env() -> S3Target | None:
    """The S3 store CHATDB_TEST_S3_URL names (bucket created when missing), or None."""
    url = os.environ.get(TEST_S3_URL, "")
    if not url:
        return None
    parts = urlsplit(url)
    bucket = parts.path.strip("/").split("/")[0]
    if not (parts.scheme in ("http", "https") and parts.hostname and parts.username and bucket):
        raise ValueError(f"{TEST_S3_URL} must look like http://ACCESS_KEY:SECRET_KEY@host:port/bucket")
    endpoint = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    target = S3Target("minio", endpoint, unquote(parts.username), unquote(parts.password or ""), bucket,
                      f"chatdb-test-{uuid.uuid4().hex[:8]}")
    client = target.client()
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)
    return target


def objects(target: S3Target) -> list[str]:
    """Every object key under the target's prefix."""
    client = target.client()
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=target.bucket, Prefix=target.prefix + "/"):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def open_uploads(target: S3Target) -> list[str]:
    """Keys of multipart uploads under the target's prefix still open (neither completed
    nor aborted)."""
    page = target.client().list_multipart_uploads(Bucket=target.bucket, Prefix=target.prefix + "/")
    return [item["Key"] for item in page.get("Uploads", [])]
