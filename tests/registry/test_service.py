"""ModelRegistryService on a real server through a stub: status codes, streams, events."""

from __future__ import annotations

import asyncio
import hashlib
import random

import grpc
import onnx
import pytest
from chatdb.registry.v1 import model_event_pb2, model_version_pb2
from chatdb.registry.v1 import model_registry_service_pb2 as pb
from onnx import helper

from servers.registry.core import Registry
from servers.runtime.status import details_from_rpc_error

from ..tiny_onnx import tiny_onnx
from .conftest import expect_quiet, read_events, spec, unique, upload, upload_requests, wait_until

CREATED = model_event_pb2.MODEL_EVENT_TYPE_VERSION_CREATED
MOVED = model_event_pb2.MODEL_EVENT_TYPE_ALIAS_MOVED


async def expect_error(awaitable, code: grpc.StatusCode) -> list[str]:
    """Await a call that must fail with `code`; returns the fields of its violations."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable
    assert info.value.code() == code, info.value.details()
    return [v.field for v in details_from_rpc_error(info.value).violations]


async def download(stub, **request) -> tuple[model_version_pb2.ModelVersion, bytes, list[int]]:
    messages = [m async for m in stub.DownloadModelVersion(pb.DownloadModelVersionRequest(**request))]
    assert messages[0].WhichOneof("payload") == "model_version"
    assert all(m.WhichOneof("payload") == "chunk" for m in messages[1:])
    return messages[0].model_version, b"".join(m.chunk for m in messages[1:]), [len(m.chunk) for m in messages[1:]]


def stored_files(settings) -> set[str]:
    return {p.name for p in settings.artifact_dir.rglob("*") if p.is_file()}


# --- upload / download -----------------------------------------------------------------------


async def test_upload_then_download_is_byte_identical(stub, settings):
    name = unique()
    data = tiny_onnx(1_500_000)
    digest = hashlib.sha256(data).hexdigest()
    created = await upload(stub, name, data, chunk_size=200_000)
    assert (created.model, created.version, created.state) == (name, 1, model_version_pb2.MODEL_VERSION_STATE_READY)
    assert created.artifact.sha256 == digest and created.artifact.size_bytes == len(data)
    assert created.artifact.format == "onnx" and created.artifact.uri.endswith(f"/sha256/{digest[:2]}/{digest[2:4]}/{digest}")
    for selector in ({"version": 1}, {"alias": "production"}, {}):
        meta, body, sizes = await download(stub, model=name, **selector)
        assert body == data
        assert meta.artifact.sha256 == digest and meta.version == 1
        assert len(sizes) == 6 and max(sizes) == 256 * 1024
    assert hashlib.sha256(body).hexdigest() == meta.artifact.sha256


async def test_lineage_is_stored_and_returned(stub):
    name = unique()
    lineage = model_version_pb2.ModelVersion(
        inputs=[model_version_pb2.TensorSpec(name="float_input", datatype="FP32", shape=[-1, 4])],
        outputs=[model_version_pb2.TensorSpec(name="label", datatype="INT64", shape=[-1]),
                 model_version_pb2.TensorSpec(name="probabilities")],
        metrics={"accuracy": 0.97, "macro_f1": 0.95},
        dataset_fingerprint="sha256:" + "c" * 64,
        library_versions={"scikit-learn": "1.6.1", "skl2onnx": "1.18.0", "onnx": "1.17.0"},
        training_job_id="job-123",
        task="classification",
        description="trained on iris",
        version=77,  # output only: ignored
    )
    created = await upload(stub, name, tiny_onnx(), model_version=lineage, model_description="iris model")
    got = (await stub.GetModelVersion(pb.GetModelVersionRequest(model=name, version=1))).model_version
    assert got == created
    for field in ("inputs", "outputs", "metrics", "dataset_fingerprint", "library_versions",
                  "training_job_id", "task", "description"):
        assert getattr(got, field) == getattr(lineage, field), field
    assert got.version == 1 and got.HasField("create_time")
    model = (await stub.GetModel(pb.GetModelRequest(model=name))).model
    assert model.description == "iris model"


async def test_wrong_sha256_stores_nothing(stub, registry: Registry, settings):
    name = unique()
    data = tiny_onnx(600_000)
    wrong = hashlib.sha256(b"not the data").hexdigest()
    before_files, before_seq = stored_files(settings), await registry.last_sequence()
    fields = await expect_error(upload(stub, name, data, sha256=wrong), grpc.StatusCode.INVALID_ARGUMENT)
    assert fields == ["metadata.expected_sha256"]
    fields = await expect_error(upload(stub, name, data, size=len(data) + 1), grpc.StatusCode.INVALID_ARGUMENT)
    assert fields == ["metadata.expected_size_bytes"]
    assert stored_files(settings) == before_files  # no artifact, no temp file
    assert hashlib.sha256(data).hexdigest() not in stored_files(settings)
    assert await registry.last_sequence() == before_seq  # no event
    await expect_error(stub.GetModel(pb.GetModelRequest(model=name)), grpc.StatusCode.NOT_FOUND)  # no row
    # A correct upload afterwards is version 1.
    assert (await upload(stub, name, data)).version == 1


async def test_bad_upload_framing(stub):
    name = unique()

    async def stream(*messages):
        for m in messages:
            yield m

    first, chunk = upload_requests(name, b"abc")
    assert await expect_error(stub.CreateModelVersion(stream(chunk)), grpc.StatusCode.INVALID_ARGUMENT) == ["metadata"]
    assert await expect_error(stub.CreateModelVersion(stream()), grpc.StatusCode.INVALID_ARGUMENT) == ["metadata"]
    assert await expect_error(stub.CreateModelVersion(stream(first, first)), grpc.StatusCode.INVALID_ARGUMENT) == ["metadata"]
    other = pb.CreateModelVersionRequest(model="other", chunk=b"abc")
    assert await expect_error(stub.CreateModelVersion(stream(first, other)), grpc.StatusCode.INVALID_ARGUMENT) == ["model"]
    big = pb.CreateModelVersionRequest(chunk=b"x" * (1024 * 1024 + 1))
    assert await expect_error(stub.CreateModelVersion(stream(first, big)), grpc.StatusCode.INVALID_ARGUMENT) == ["chunk"]
    fields = await expect_error(
        upload(stub, "Not A Name", b"abc", model_version=spec(task="clustering", inputs=[model_version_pb2.TensorSpec()])),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert set(fields) == {"model", "metadata.model_version.task", "metadata.model_version.inputs[0].name"}


async def test_versions_count_up_and_first_gets_production(stub):
    name = unique()
    numbers = [(await upload(stub, name, tiny_onnx(32))).version for _ in range(3)]
    assert numbers == [1, 2, 3]
    model = (await stub.GetModel(pb.GetModelRequest(model=name))).model
    assert model.latest_version == 3
    assert dict(model.aliases) == {"production": 1}
    meta, _, _ = await download(stub, model=name)  # latest
    assert meta.version == 3


async def test_five_concurrent_uploads_get_versions_one_to_five(stub):
    name = unique()
    results = await asyncio.gather(*(upload(stub, name, tiny_onnx(300_000)) for _ in range(5)))
    assert sorted(v.version for v in results) == [1, 2, 3, 4, 5]
    assert len({v.artifact.sha256 for v in results}) == 5


async def test_request_id_is_idempotent(stub):
    name = unique()
    data = tiny_onnx(1000)
    first = await upload(stub, name, data, request_id="job-7-upload")
    second = await upload(stub, name, data, request_id="job-7-upload")
    assert first == second
    other = await upload(stub, name, data, request_id="job-8-upload")
    assert other.version == 2
    assert (await stub.GetModel(pb.GetModelRequest(model=name))).model.latest_version == 2


# --- aliases -------------------------------------------------------------------------------------


async def test_set_alias_moves_and_emits_previous_version(stub, registry: Registry):
    name = unique()
    for _ in range(3):
        await upload(stub, name, tiny_onnx(16))
    since = await registry.last_sequence()
    watch = stub.WatchModelEvents(pb.WatchModelEventsRequest(since_sequence=since, model=name))
    response = await stub.SetAlias(pb.SetAliasRequest(model=name, alias="staging", version=2))
    assert response.previous_version == 0 and dict(response.model.aliases) == {"production": 1, "staging": 2}
    response = await stub.SetAlias(pb.SetAliasRequest(model=name, alias="production", version=3))
    assert response.previous_version == 1 and dict(response.model.aliases) == {"production": 3, "staging": 2}
    response = await stub.SetAlias(pb.SetAliasRequest(model=name, alias="canary-2", version=3))
    assert response.previous_version == 0
    events = await read_events(watch, 3)
    watch.cancel()
    assert [(e.type, e.alias, e.version, e.previous_version) for e in events] == [
        (MOVED, "staging", 2, 0), (MOVED, "production", 3, 1), (MOVED, "canary-2", 3, 0)
    ]
    assert [e.sequence for e in events] == [since + 1, since + 2, since + 3]
    meta, _, _ = await download(stub, model=name, alias="production")
    assert meta.version == 3


async def test_set_alias_is_atomic_under_concurrency(stub):
    """Many concurrent moves of one alias: each sees a distinct previous value, and the
    previous values chain into one history (no lost update)."""
    name = unique()
    for _ in range(10):
        await upload(stub, name, tiny_onnx(16))
    responses = await asyncio.gather(
        *(stub.SetAlias(pb.SetAliasRequest(model=name, alias="staging", version=v)) for v in range(1, 11))
    )
    previous = sorted(r.previous_version for r in responses)
    assert previous[0] == 0 and len(set(previous)) == 10  # each move saw the one before it


async def test_set_alias_errors(stub):
    name = unique()
    await upload(stub, name, tiny_onnx())
    await expect_error(stub.SetAlias(pb.SetAliasRequest(model=name, alias="staging", version=2)), grpc.StatusCode.NOT_FOUND)
    await expect_error(stub.SetAlias(pb.SetAliasRequest(model=unique(), alias="staging", version=1)), grpc.StatusCode.NOT_FOUND)
    for bad in ("Production", "1234", "", "-x", "a" * 64, "a_b"):
        fields = await expect_error(
            stub.SetAlias(pb.SetAliasRequest(model=name, alias=bad, version=1)), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert fields == ["alias"], bad
    fields = await expect_error(stub.SetAlias(pb.SetAliasRequest(model=name, alias="staging")), grpc.StatusCode.INVALID_ARGUMENT)
    assert fields == ["version"]


# --- reads and NOT_FOUND --------------------------------------------------------------------------


async def test_not_found(stub):
    name, missing = unique(), unique()
    await upload(stub, name, tiny_onnx())
    for call in (
        stub.GetModel(pb.GetModelRequest(model=missing)),
        stub.GetModelVersion(pb.GetModelVersionRequest(model=missing, version=1)),
        stub.GetModelVersion(pb.GetModelVersionRequest(model=name, version=2)),
        stub.ListModelVersions(pb.ListModelVersionsRequest(model=missing)),
    ):
        await expect_error(call, grpc.StatusCode.NOT_FOUND)
    for request in (
        {"model": missing},
        {"model": name, "version": 5},
        {"model": name, "alias": "staging"},
        {"model": missing, "alias": "production"},
    ):
        await expect_error(download(stub, **request), grpc.StatusCode.NOT_FOUND)
    assert await expect_error(stub.GetModel(pb.GetModelRequest(model="")), grpc.StatusCode.INVALID_ARGUMENT) == ["model"]


async def test_get_model_shows_aliases_and_latest_version(stub):
    name = unique()
    await upload(stub, name, tiny_onnx(), model_description="demo")
    await upload(stub, name, tiny_onnx())
    await stub.SetAlias(pb.SetAliasRequest(model=name, alias="staging", version=2))
    model = (await stub.GetModel(pb.GetModelRequest(model=name))).model
    assert (model.name, model.description, model.latest_version) == (name, "demo", 2)
    assert dict(model.aliases) == {"production": 1, "staging": 2}
    assert model.update_time.ToDatetime() >= model.create_time.ToDatetime()


async def test_paging_versions(stub):
    name = unique()
    for _ in range(25):
        await upload(stub, name, tiny_onnx(8))
    seen, token, sizes = [], "", []
    while True:
        page = await stub.ListModelVersions(pb.ListModelVersionsRequest(model=name, page_size=10, page_token=token))
        sizes.append(len(page.model_versions))
        seen += [v.version for v in page.model_versions]
        token = page.next_page_token
        if not token:
            break
    assert sizes == [10, 10, 5]
    assert seen == list(range(25, 0, -1))
    everything = await stub.ListModelVersions(pb.ListModelVersionsRequest(model=name))
    assert len(everything.model_versions) == 25 and everything.next_page_token == ""
    ready = await stub.ListModelVersions(
        pb.ListModelVersionsRequest(model=name, state=model_version_pb2.MODEL_VERSION_STATE_ARCHIVED)
    )
    assert len(ready.model_versions) == 0


async def test_paging_models(stub):
    prefix = unique("p")
    names = sorted(f"{prefix}-{i:02d}" for i in range(12))
    for n in names:
        await upload(stub, n, tiny_onnx())
    seen, token = [], ""
    while True:
        page = await stub.ListModels(pb.ListModelsRequest(page_size=5, page_token=token, name_prefix=prefix))
        seen += [m.name for m in page.models]
        token = page.next_page_token
        if not token:
            break
    assert seen == names
    assert all(m.latest_version == 1 for m in page.models)
    first = await stub.ListModels(pb.ListModelsRequest(page_size=5, name_prefix=prefix))
    fields = await expect_error(
        stub.ListModels(pb.ListModelsRequest(page_size=5, page_token=first.next_page_token, name_prefix=prefix + "-0")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert fields == ["page_token"]
    assert await expect_error(stub.ListModels(pb.ListModelsRequest(page_size=-5)), grpc.StatusCode.INVALID_ARGUMENT) == ["page_size"]


# --- events -----------------------------------------------------------------------------------------


async def test_watch_resumes_after_reconnect_without_loss_or_duplicates(stub, registry: Registry):
    name = unique()
    since = await registry.last_sequence()
    watch = stub.WatchModelEvents(pb.WatchModelEventsRequest(since_sequence=since, model=name))
    await upload(stub, name, tiny_onnx())
    live = await read_events(watch, 2)
    assert [(e.type, e.version, e.alias) for e in live] == [(CREATED, 1, ""), (MOVED, 1, "production")]
    last_seen = live[-1].sequence
    watch.cancel()
    await wait_until(lambda: registry.watchers == 0)

    # Meanwhile, with nobody watching:
    await upload(stub, name, tiny_onnx())
    await upload(stub, name, tiny_onnx())
    await stub.SetAlias(pb.SetAliasRequest(model=name, alias="staging", version=3))

    watch = stub.WatchModelEvents(pb.WatchModelEventsRequest(since_sequence=last_seen, model=name))
    missed = await read_events(watch, 3)
    assert [(e.type, e.version, e.alias) for e in missed] == [(CREATED, 2, ""), (CREATED, 3, ""), (MOVED, 3, "staging")]
    assert [e.sequence for e in missed] == [last_seen + 1, last_seen + 2, last_seen + 3]
    assert missed[-1].previous_version == 0
    # Nothing more (no duplicates), then live again.
    pending = await expect_quiet(watch, 0.5)
    await stub.SetAlias(pb.SetAliasRequest(model=name, alias="production", version=3))
    moved = (await asyncio.wait_for(pending, 10)).event
    assert (moved.type, moved.sequence, moved.previous_version) == (MOVED, last_seen + 4, 1)
    watch.cancel()
    await wait_until(lambda: registry.watchers == 0)


async def test_watch_without_since_sends_only_new_events(stub, registry: Registry):
    name = unique()
    await upload(stub, name, tiny_onnx())
    watch = stub.WatchModelEvents(pb.WatchModelEventsRequest(model=name))
    await wait_until(lambda: registry.watchers == 1)
    await asyncio.sleep(0.2)  # let it read its starting point
    await stub.SetAlias(pb.SetAliasRequest(model=name, alias="staging", version=1))
    (event,) = await read_events(watch, 1)
    assert (event.type, event.alias) == (MOVED, "staging")
    watch.cancel()
    await wait_until(lambda: registry.watchers == 0)
    # since_sequence = 0 replays everything retained, filtered by model.
    replay = stub.WatchModelEvents(pb.WatchModelEventsRequest(since_sequence=0, model=name))
    events = await read_events(replay, 3)
    assert [(e.type, e.alias) for e in events] == [(CREATED, ""), (MOVED, "production"), (MOVED, "staging")]
    replay.cancel()


async def test_concurrent_writers_are_delivered_in_order_without_gaps(stub, registry: Registry):
    models = [unique() for _ in range(4)]
    for m in models:
        await upload(stub, m, tiny_onnx(8))
    since = await registry.last_sequence()
    watch = stub.WatchModelEvents(pb.WatchModelEventsRequest(since_sequence=since))
    writes = [
        *(stub.SetAlias(pb.SetAliasRequest(model=models[i % 4], alias=f"a{i}", version=1)) for i in range(40)),
        *(upload(stub, models[i % 4], tiny_onnx(64)) for i in range(12)),
    ]
    await asyncio.gather(*writes)
    events = await read_events(watch, 52)
    assert [e.sequence for e in events] == list(range(since + 1, since + 53))
    assert sum(e.type == CREATED for e in events) == 12
    for m in models:
        created = [e.version for e in events if e.model == m and e.type == CREATED]
        assert created == [2, 3, 4]
    pending = await expect_quiet(watch, 0.3)
    watch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    # A late subscriber replays exactly the same sequence.
    late = stub.WatchModelEvents(pb.WatchModelEventsRequest(since_sequence=since))
    assert [e.sequence for e in await read_events(late, 52)] == [e.sequence for e in events]
    late.cancel()
    await wait_until(lambda: registry.watchers == 0)


async def test_watch_bad_arguments(stub):
    call = stub.WatchModelEvents(pb.WatchModelEventsRequest(since_sequence=-1))
    assert await expect_error(call.read(), grpc.StatusCode.INVALID_ARGUMENT) == ["since_sequence"]
    call = stub.WatchModelEvents(pb.WatchModelEventsRequest(model="Bad Name"))
    assert await expect_error(call.read(), grpc.StatusCode.INVALID_ARGUMENT) == ["model"]


async def test_download_cancel_mid_stream(stub):
    name = unique()
    data = tiny_onnx(2_000_000)
    await upload(stub, name, data)
    call = stub.DownloadModelVersion(pb.DownloadModelVersionRequest(model=name))
    first = await call.read()
    assert first.model_version.version == 1
    await call.read()
    call.cancel()
    # The server is still fine.
    _, body, _ = await download(stub, model=name)
    assert body == data


async def test_draining_ends_watch_streams_instead_of_waiting_out_the_grace_period(settings, channel_to):
    """A subscriber's stream ends cleanly when the server drains (it resumes from its
    last sequence elsewhere); shutdown does not sit out the whole grace period."""
    import time
    from contextlib import AsyncExitStack

    from chatdb.registry.v1 import model_registry_service_pb2_grpc as pb_grpc

    from servers.registry.app import open_registry
    from servers.registry.service import registry_binding
    from servers.runtime.server import GrpcServer

    async with AsyncExitStack() as stack:
        own = await open_registry(settings, stack)
        server = GrpcServer(settings, [registry_binding(own)], host="127.0.0.1", port=0)
        await server.start()
        call = pb_grpc.ModelRegistryServiceStub(channel_to(server.address)).WatchModelEvents(pb.WatchModelEventsRequest())
        await asyncio.sleep(0.3)  # the stream is open and idle
        started = time.monotonic()
        await server.stop(grace_s=30, drain_delay_s=0)
        assert time.monotonic() - started < 5
        assert [event async for event in call] == []
        assert await call.code() is grpc.StatusCode.OK


# --- artifacts that are not models ---------------------------------------------------------------


async def test_bytes_that_are_not_an_onnx_model_are_refused_and_nothing_is_stored(stub, registry: Registry, settings):
    """Before: CreateModelVersion stored any bytes as format onnx, even none at all; the
    prediction service found out at load time."""
    name = unique()
    empty_graph = helper.make_model(helper.make_graph([], "empty", [], []), opset_imports=[helper.make_opsetid("", 17)])
    no_opset = onnx.ModelProto(ir_version=8, graph=onnx.load_from_string(tiny_onnx()).graph)
    before_files, before_seq = stored_files(settings), await registry.last_sequence()
    for data, words in (
        (b"this is not an ONNX model", "do not parse"),
        (random.Random(7).randbytes(4096), ""),
        (b"", "no bytes"),
        (empty_graph.SerializeToString(), "no graph"),
        (no_opset.SerializeToString(), "onnx.checker"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await upload(stub, name, data)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
        assert words in info.value.details()
        details = details_from_rpc_error(info.value)
        assert [v.field for v in details.violations] == ["chunk"]
        assert details.reason in ("ARTIFACT_NOT_A_MODEL", "ARTIFACT_EMPTY")
    assert stored_files(settings) == before_files  # no artifact, no temp file
    assert await registry.last_sequence() == before_seq
    await expect_error(stub.GetModel(pb.GetModelRequest(model=name)), grpc.StatusCode.NOT_FOUND)
    # Another format is not parsed, but is not empty either.
    other = await upload(stub, name, b"\x00opaque", model_version=spec(artifact=model_version_pb2.Artifact(format="bin")))
    assert other.version == 1 and other.artifact.format == "bin"
    fields = await expect_error(upload(stub, name, b"", model_version=spec(artifact=model_version_pb2.Artifact(format="bin"))),
                                grpc.StatusCode.INVALID_ARGUMENT)
    assert fields == ["chunk"]
    assert (await upload(stub, name, tiny_onnx())).version == 2
