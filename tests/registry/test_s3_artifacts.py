"""The registry's artifact stores against real servers: the S3 store on moto's S3 server
(and on MinIO with CHATDB_TEST_S3_URL), the file store beside it where the promise is the
same. Content addressing, multipart uploads, dedupe, nothing visible after a failed
upload, UNAVAILABLE when S3 is gone, a clear error at start when the bucket is missing,
and two registry replicas sharing one database and one bucket."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest
from chatdb.registry.v1 import model_registry_service_pb2 as pb
from chatdb.registry.v1 import model_registry_service_pb2_grpc as pb_grpc
from inference import grpc_service_pb2 as kserve
from inference import grpc_service_pb2_grpc as kserve_grpc

from servers.prediction.app import open_prediction
from servers.registry.app import open_registry
from servers.registry.artifacts import ArtifactStore, LocalArtifactStore
from servers.registry.s3 import S3ArtifactStore, S3Location
from servers.registry.service import registry_binding
from servers.runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from servers.runtime.server import GrpcServer
from servers.runtime.settings import Settings

from ..conftest import drop_pg_database, pg_dsn_for
from ..tiny_onnx import tiny_onnx
from .conftest import unique, upload, wait_until
from .s3_servers import MotoServer, S3Target, objects, open_uploads, target_from_env

MiB = 1024 * 1024
PART = 5 * MiB  # S3's smallest part: a 12 MiB upload sends two parts before its end
ROOT = Path(__file__).resolve().parents[2]


async def chunks_of(data: bytes, size: int = MiB):
    for i in range(0, len(data), size):
        await asyncio.sleep(0)
        yield data[i : i + size]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Backend:
    """A store under test and what it holds: stored artifacts, and for S3 also open
    multipart uploads ('upload:<key>'); for files also temp files."""

    name: str
    make: Callable[..., ArtifactStore]
    leftovers: Callable[[], list[str]]


@pytest.fixture(params=["file", "s3-moto", "s3-minio"])
def backend(request, tmp_path, moto_server: MotoServer) -> Backend:
    if request.param == "file":
        return Backend("file", lambda **kw: LocalArtifactStore(tmp_path, **kw),
                       lambda: sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()))
    target = moto_server.target() if request.param == "s3-moto" else target_from_env()
    if target is None:
        pytest.skip("no MinIO: set CHATDB_TEST_S3_URL=http://ACCESS_KEY:SECRET_KEY@host:port/bucket")
    target = target.under(os.urandom(4).hex())
    return Backend(request.param, lambda **kw: target.store(part_size_bytes=PART, **kw),
                   lambda: sorted(objects(target) + [f"upload:{k}" for k in open_uploads(target)]))


# --- the promise of both stores ----------------------------------------------------------------


async def test_round_trip_is_byte_identical_and_content_addressed(backend):
    store = backend.make()
    data = os.urandom(700_000)
    digest = sha(data)
    ref = await store.put(chunks_of(data, 100_000), digest, len(data))
    assert (ref.sha256, ref.size_bytes) == (digest, len(data))
    assert ref.uri.endswith(f"/sha256/{digest[:2]}/{digest[2:4]}/{digest}")
    assert ref.uri.startswith("file:///" if backend.name == "file" else "s3://")
    (stored,) = backend.leftovers()
    assert stored.endswith(f"sha256/{digest[:2]}/{digest[2:4]}/{digest}")
    pieces = [c async for c in store.open(digest, chunk_size=256 * 1024)]
    assert b"".join(pieces) == data
    assert [len(p) for p in pieces] == [262144, 262144, 700_000 - 2 * 262144]
    assert await store.exists(digest)


async def test_identical_content_is_stored_once_and_the_digest_alone_proves_nothing(backend):
    store = backend.make()
    data = os.urandom(6 * MiB)  # a multipart upload the first time (S3)
    digest = sha(data)
    await store.put(chunks_of(data), digest, len(data))
    again = await store.put(chunks_of(data), digest, None)
    assert again.sha256 == digest and len(backend.leftovers()) == 1
    # Claiming a stored digest with other bytes is refused, and the stored bytes stay.
    with pytest.raises(InvalidArgument) as info:
        await store.put(chunks_of(os.urandom(1000)), digest, None)
    assert [v.field for v in info.value.violations] == ["metadata.expected_sha256"]
    assert b"".join([c async for c in store.open(digest)]) == data
    assert len(backend.leftovers()) == 1


async def test_a_wrong_digest_or_size_leaves_nothing_visible(backend):
    store = backend.make()
    data = os.urandom(12 * MiB)  # two 5 MiB parts reach S3 before the digest is known
    with pytest.raises(InvalidArgument) as info:
        await store.put(chunks_of(data), sha(b"other bytes"), len(data))
    assert [v.field for v in info.value.violations] == ["metadata.expected_sha256"]
    with pytest.raises(InvalidArgument) as info:
        await store.put(chunks_of(data), sha(data), len(data) - 1)
    assert [v.field for v in info.value.violations] == ["metadata.expected_size_bytes"]
    assert backend.leftovers() == []
    assert not await store.exists(sha(data))


async def test_a_refused_model_leaves_nothing_visible(backend):
    store = backend.make()
    data = os.urandom(11 * MiB)
    seen = []

    async def refuse(path, size):
        seen.append(await asyncio.to_thread(Path(path).read_bytes) == data and size == len(data))
        raise InvalidArgument("not a model", field="chunk")

    with pytest.raises(InvalidArgument):
        await store.put(chunks_of(data), sha(data), len(data), verify=refuse)
    assert seen == [True]  # the check saw every byte, from a local file
    assert backend.leftovers() == []


async def test_an_upload_cancelled_after_parts_were_sent_leaves_nothing(backend):
    store = backend.make()
    parts_sent = asyncio.Event()

    async def slow():
        yield os.urandom(6 * MiB)
        parts_sent.set()  # the store asked for more: the first part is stored
        await asyncio.sleep(60)
        yield b"never"

    task = asyncio.create_task(store.put(slow(), "0" * 64, None))
    await parts_sent.wait()
    if backend.name != "file":
        assert len(backend.leftovers()) == 1 and backend.leftovers()[0].startswith("upload:")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert backend.leftovers() == []


async def test_a_missing_artifact(backend):
    store = backend.make()
    digest = sha(b"never stored")
    assert not await store.exists(digest)
    with pytest.raises(NotFound):
        async for _ in store.open(digest):
            pass
    assert await store.delete(digest) is False
    await store.put(chunks_of(b"hello"), sha(b"hello"), 5)
    assert await store.delete(sha(b"hello")) is True and backend.leftovers() == []


async def test_the_size_limit_leaves_nothing(backend):
    store = backend.make(max_bytes=1000)
    data = os.urandom(1500)
    with pytest.raises(InvalidArgument) as info:
        await store.put(chunks_of(data), sha(data), 1500)
    assert info.value.violations[0].field == "metadata.expected_size_bytes"
    with pytest.raises(ResourceExhausted):
        await store.put(chunks_of(data, 200), sha(data), None)
    assert backend.leftovers() == []


def test_artifact_url_must_be_a_file_or_s3_url():
    assert Settings(artifact_url="s3://bucket/models").artifact_url == "s3://bucket/models"
    for bad in ("http://minio:9000/bucket", "s3://", "file://relative/path", "/var/lib/chatdb"):
        with pytest.raises(ValueError, match="file:///absolute/path or s3://bucket/prefix"):
            Settings(artifact_url=bad)


# --- S3 only ------------------------------------------------------------------------------------


async def test_a_large_model_goes_up_in_parts_and_comes_down_in_chunks(s3: S3Target):
    store = s3.store(part_size_bytes=PART)
    data = os.urandom(20 * MiB)
    digest = sha(data)
    ref = await store.put(chunks_of(data, 1 * MiB), digest, len(data))
    head = s3.client().head_object(Bucket=s3.bucket, Key=f"{s3.prefix}/sha256/{digest[:2]}/{digest[2:4]}/{digest}")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-4")  # completed from four 5 MiB parts
    assert head["Metadata"] == {"sha256": digest}
    assert ref.uri == f"s3://{s3.bucket}/{s3.prefix}/sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    sizes, body = [], hashlib.sha256()
    async for chunk in store.open(digest, chunk_size=MiB):
        sizes.append(len(chunk))
        body.update(chunk)
    assert body.hexdigest() == digest and sizes == [MiB] * 20
    # A small one is one PUT: no multipart ETag.
    small = os.urandom(1000)
    await store.put(chunks_of(small), sha(small), None)
    head = s3.client().head_object(Bucket=s3.bucket, Key=s3.prefix + "/" + "sha256/" + "/".join(
        [sha(small)[:2], sha(small)[2:4], sha(small)]))
    assert "-" not in head["ETag"]


async def test_a_missing_bucket_is_a_clear_error_at_start(s3: S3Target):
    store = S3ArtifactStore(s3.client(), S3Location.parse("s3://chatdb-no-such-bucket/models"))
    with pytest.raises(FailedPrecondition, match="chatdb-no-such-bucket.*does not exist"):
        await store.prepare()


def test_chatdb_serve_registry_refuses_to_start_without_its_bucket(s3: S3Target, settings: Settings):
    env = {**os.environ, **s3.env(), "CHATDB_DATABASE_URL": settings.database_url,
           "CHATDB_ARTIFACT_URL": "s3://chatdb-no-such-bucket/models", "CHATDB_S3_ENDPOINT_URL": s3.endpoint_url,
           "CHATDB_REGISTRY_PORT": str(_free_port()), "CHATDB_HOME": str(settings.home)}
    done = subprocess.run([sys.executable, "-m", "servers.cli", "serve", "registry"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(
        "error: FAILED_PRECONDITION: the artifact store's bucket 'chatdb-no-such-bucket' does not exist"), done.stderr


async def test_uploads_a_crashed_registry_left_open_are_aborted_when_old(s3: S3Target):
    """prepare() (at the registry's start) aborts open uploads older than an hour; younger
    ones may be another replica's upload in progress. (moto dates every upload 2010, so
    the ages here are chosen around that.)"""
    store = s3.store(part_size_bytes=PART)
    key = f"{s3.prefix}/sha256/00/00/{'0' * 64}"
    s3.client().create_multipart_upload(Bucket=s3.bucket, Key=key)
    assert await store.abort_stale_uploads(older_than_s=100 * 365 * 86400) == 0
    assert open_uploads(s3) == [key]
    assert await store.abort_stale_uploads(older_than_s=0) == 1
    assert open_uploads(s3) == []


def test_only_the_registry_talks_to_s3():
    """The worker uploads through the registry's CreateModelVersion, so only the registry
    needs S3 credentials: no other module imports boto3 or botocore."""
    importers = set()
    for top in ("servers", "workers", "gateway", "edge", "deploy"):
        for path in (ROOT / top).rglob("*.py"):
            text = path.read_text()
            if "boto" not in text:
                continue
            for node in ast.walk(ast.parse(text)):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                if any(n.split(".")[0] in ("boto3", "botocore", "aiobotocore") for n in names):
                    importers.add(str(path.relative_to(ROOT)))
    assert importers == {"servers/registry/s3.py"}


# --- through the service ----------------------------------------------------------------------


def _free_port() -> int:
    from .s3_servers import free_port

    return free_port()


def registry_settings(settings: Settings, database_url: str, target: S3Target | None, artifact_dir: Path,
                      **overrides) -> Settings:
    update = {"database_url": database_url, "artifact_dir": artifact_dir, "registry_watch_poll_s": 0.2, **overrides}
    if target is not None:
        update |= {"artifact_url": target.url, "s3_endpoint_url": target.endpoint_url,
                   "s3_region": target.region, "s3_part_size_bytes": PART}
    return settings.model_copy(update=update)


async def start_registry(own: Settings, stack: AsyncExitStack, monkeypatch, target: S3Target | None) -> str:
    if target is not None:
        for key, value in target.env().items():
            monkeypatch.setenv(key, value)
    core = await open_registry(own, stack)
    server = GrpcServer(own, [registry_binding(core)], host="127.0.0.1", port=0)
    await server.start()
    stack.push_async_callback(server.stop, 0)
    return server.address


@pytest.fixture
async def own_database(run_id: str):
    """A platform database of this test's own, so a prediction server preloads only its
    models."""
    name = f"chatdb_test_{run_id}_s3_{os.urandom(3).hex()}"
    await drop_pg_database(name)
    yield pg_dsn_for(name)
    await drop_pg_database(name)


@pytest.mark.parametrize("kind", ["file", "s3-moto", "s3-minio"])
async def test_two_registry_replicas_share_the_database_and_the_store(
    kind, settings: Settings, own_database: str, moto_server: MotoServer, tmp_path, monkeypatch, channel_to,
):
    """Upload through one registry, describe and download through the other (byte for
    byte), and serve predictions from a prediction service that loads from the second."""
    target = None
    if kind != "file":
        base = moto_server.target() if kind == "s3-moto" else target_from_env()
        if base is None:
            pytest.skip("no MinIO: set CHATDB_TEST_S3_URL=http://ACCESS_KEY:SECRET_KEY@host:port/bucket")
        target = base.under(os.urandom(4).hex())
    shared_dir = tmp_path / "shared-artifacts"  # the file store: a mount both replicas see
    async with AsyncExitStack() as stack:
        own = registry_settings(settings, own_database, target, shared_dir)
        first = pb_grpc.ModelRegistryServiceStub(channel_to(await start_registry(own, stack, monkeypatch, target)))
        second_address = await start_registry(own, stack, monkeypatch, target)
        second = pb_grpc.ModelRegistryServiceStub(channel_to(second_address))

        name = unique("s3")
        data = tiny_onnx(12 * MiB)  # in parts on S3
        created = await upload(first, name, data, chunk_size=MiB)
        assert created.artifact.uri.startswith("s3://" if target else "file://")
        described = (await second.GetModelVersion(pb.GetModelVersionRequest(model=name, version=1))).model_version
        assert described == created
        messages = [m async for m in second.DownloadModelVersion(pb.DownloadModelVersionRequest(model=name))]
        assert b"".join(m.chunk for m in messages[1:]) == data
        # The same bytes as another model through the second replica: one stored artifact.
        other = await upload(second, unique("s3"), data, chunk_size=MiB)
        assert other.artifact.sha256 == created.artifact.sha256
        if target is not None:
            assert objects(target) == [f"{target.prefix}/sha256/{created.artifact.sha256[:2]}/"
                                       f"{created.artifact.sha256[2:4]}/{created.artifact.sha256}"]
            assert open_uploads(target) == []

        # A prediction service whose registry is the second replica loads and serves it.
        port = int(second_address.rsplit(":", 1)[1])
        prediction_settings = own.model_copy(update={"registry_port": port, "grace_period_s": 0})
        app = await open_prediction(prediction_settings, stack)
        server = GrpcServer(prediction_settings, app.bindings, host="127.0.0.1", port=0, ready=False)
        await server.start()
        stack.push_async_callback(server.stop, 0)
        await app.start(server)
        await wait_until(lambda: app.core.ready, timeout_s=30)  # the preload of production aliases
        infer = kserve_grpc.GRPCInferenceServiceStub(channel_to(server.address))
        request = kserve.ModelInferRequest(model_name=name, model_version="production")
        request.inputs.add(name="x", datatype="FP32", shape=[2, 1]).contents.fp32_contents.extend([1.5, -2.0])
        reply = await asyncio.wait_for(infer.ModelInfer(request), 30)
        (output,) = reply.outputs
        values = output.contents.fp32_contents or np.frombuffer(reply.raw_output_contents[0], "<f4").tolist()
        assert list(values) == [1.5, -2.0]  # the Identity model, loaded from the second replica


async def test_s3_gone_during_a_call_is_unavailable_with_a_clear_message(
    settings: Settings, own_database: str, tmp_path, monkeypatch, channel_to,
):
    moto = MotoServer().start()
    try:
        target = moto.target()
        async with AsyncExitStack() as stack:
            own = registry_settings(settings, own_database, target, tmp_path, s3_timeout_s=2.0, s3_max_attempts=1)
            stub = pb_grpc.ModelRegistryServiceStub(channel_to(await start_registry(own, stack, monkeypatch, target)))
            name = unique("s3")
            data = tiny_onnx(100_000)
            await upload(stub, name, data)
            moto.stop()
            with pytest.raises(grpc.aio.AioRpcError) as info:
                _ = [m async for m in stub.DownloadModelVersion(pb.DownloadModelVersionRequest(model=name))]
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "artifact store is unreachable" in info.value.details()
            assert target.endpoint_url in info.value.details()
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await upload(stub, name, tiny_onnx(100_000))
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            # What the database alone answers still works.
            got = await stub.GetModelVersion(pb.GetModelVersionRequest(model=name, version=1))
            assert got.model_version.artifact.uri.startswith(f"s3://{target.bucket}/")
    finally:
        moto.stop()


async def test_the_store_alone_reports_unavailable_not_internal():
    moto = MotoServer().start()
    try:
        target = moto.target()
        moto.stop()
        client = target.client(timeout_s=2.0, max_attempts=1)
        store = S3ArtifactStore(client, S3Location.parse(target.url), part_size_bytes=PART)
        with pytest.raises(Unavailable, match="unreachable"):
            await store.exists(sha(b"x"))
        with pytest.raises(Unavailable):
            await store.put(chunks_of(b"abc"), sha(b"abc"), 3)
        with pytest.raises(Unavailable):
            await store.prepare()
    finally:
        moto.stop()
