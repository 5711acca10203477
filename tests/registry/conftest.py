"""Fixtures of the registry tests: one registry core per session on the session's
platform database and artifact directory, a real server and stub per test, and an
upload helper. Tests use their own model names, so they never see each other's data.
The S3 artifact store's tests get a moto S3 server per session (s3_servers.py) and, with
CHATDB_TEST_S3_URL, a MinIO: the `s3` fixture is a fresh prefix on each."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack

import grpc
import pytest
from chatdb.registry.v1 import model_registry_service_pb2 as pb
from chatdb.registry.v1 import model_registry_service_pb2_grpc as pb_grpc
from chatdb.registry.v1 import model_version_pb2

from servers.registry.app import open_registry
from servers.registry.core import Registry
from servers.registry.service import registry_binding
from servers.runtime.settings import Settings

from .s3_servers import TEST_S3_URL, MotoServer, S3Target, target_from_env


def unique(prefix: str = "m") -> str:
    """A fresh model name."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
async def registry(settings: Settings) -> AsyncIterator[Registry]:
    async with AsyncExitStack() as stack:
        yield await open_registry(settings, stack)


@pytest.fixture
async def stub(registry: Registry, start_server, channel_to) -> pb_grpc.ModelRegistryServiceStub:
    server = await start_server([registry_binding(registry)])
    return pb_grpc.ModelRegistryServiceStub(channel_to(server.address))


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["moto", "minio"])
def s3_bucket(request, moto_server: MotoServer) -> S3Target:
    """A bucket on moto's S3 server, and on the MinIO CHATDB_TEST_S3_URL names."""
    if request.param == "moto":
        return moto_server.target()
    target = target_from_env()
    if target is None:
        pytest.skip(f"no MinIO: set {TEST_S3_URL}=http://ACCESS_KEY:SECRET_KEY@host:port/bucket")
    return target


@pytest.fixture
def s3(s3_bucket: S3Target) -> S3Target:
    """A prefix of this test's own in the bucket."""
    return s3_bucket.under(uuid.uuid4().hex[:8])


def spec(**fields) -> model_version_pb2.ModelVersion:
    return model_version_pb2.ModelVersion(**{"task": "classification", **fields})


def upload_requests(
    model: str,
    data: bytes,
    *,
    chunk_size: int = 256 * 1024,
    sha256: str | None = None,
    size: int | None = None,
    request_id: str = "",
    model_version: model_version_pb2.ModelVersion | None = None,
    model_description: str = "",
) -> list[pb.CreateModelVersionRequest]:
    first = pb.CreateModelVersionRequest(
        model=model,
        metadata=pb.CreateModelVersionRequest.Metadata(
            request_id=request_id,
            expected_sha256=hashlib.sha256(data).hexdigest() if sha256 is None else sha256,
            expected_size_bytes=len(data) if size is None else size,
            model_version=model_version or spec(),
            model_description=model_description,
        ),
    )
    chunks = [pb.CreateModelVersionRequest(chunk=data[i : i + chunk_size]) for i in range(0, len(data), chunk_size)]
    return [first, *chunks]


async def upload(stub: pb_grpc.ModelRegistryServiceStub, model: str, data: bytes, **kwargs) -> model_version_pb2.ModelVersion:
    requests = upload_requests(model, data, **kwargs)

    async def stream():
        for request in requests:
            yield request

    response = await stub.CreateModelVersion(stream())
    return response.model_version


async def read_events(call, count: int, timeout_s: float = 10.0) -> list:
    """The next `count` events of a WatchModelEvents call."""
    events = []
    for _ in range(count):
        message = await asyncio.wait_for(call.read(), timeout_s)
        assert message is not grpc.aio.EOF, "watch stream ended"
        events.append(message.event)
    return events


async def expect_quiet(call, seconds: float) -> asyncio.Task:
    """Assert the watch sends nothing for `seconds`; returns the still-pending read, which
    resolves to the next message (cancelling a read would cancel the whole call)."""
    pending = asyncio.ensure_future(call.read())
    done, _ = await asyncio.wait({pending}, timeout=seconds)
    assert not done, f"unexpected message: {pending.result()}"
    return pending


async def wait_until(predicate, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
