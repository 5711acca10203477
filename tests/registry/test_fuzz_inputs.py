"""Malformed ModelRegistryService requests from a fixed seed against a live registry:
none may come back INTERNAL, UNKNOWN or RESOURCE_EXHAUSTED, and good calls still work
afterwards. Uploads mix real tiny models, random bytes, bad metadata and raw messages
that do not decode. Plus the regressions of the hardening issue for the registry.

CHATDB_FUZZ_CASES (250) and CHATDB_FUZZ_SEED widen a local run."""

from __future__ import annotations

import hashlib
import os
import random

import grpc
from chatdb.registry.v1 import model_registry_service_pb2 as pb
from chatdb.registry.v1 import model_version_pb2

from servers.runtime.status import details_from_rpc_error

from ..fuzz_support import HUGE, garbage, judge, odd_string, outcome, raw_unary
from ..tiny_onnx import tiny_onnx
from .conftest import unique, upload

CASES = int(os.environ.get("CHATDB_FUZZ_CASES", "250"))
SERVICE = "/chatdb.registry.v1.ModelRegistryService/"
# What grpc.aio's client reports when a send fails locally (call.pyx set_internal_error).
CLIENT_LOST_STATUS = "Internal error from Core"


def _tensor(rng: random.Random) -> model_version_pb2.TensorSpec:
    return model_version_pb2.TensorSpec(
        name=odd_string(rng, "x"), datatype=odd_string(rng, "FP32"),
        shape=rng.choice([[-1, 1], [], [-5], [2**62]]))


def _metadata(rng: random.Random, data: bytes) -> pb.CreateModelVersionRequest.Metadata:
    version = model_version_pb2.ModelVersion(
        task=odd_string(rng, "classification"), description=odd_string(rng, "d"),
        dataset_fingerprint=odd_string(rng, ""), training_job_id=odd_string(rng, ""),
        inputs=[_tensor(rng) for _ in range(rng.randint(0, 2))],
        outputs=[_tensor(rng) for _ in range(rng.randint(0, 1))],
        artifact=model_version_pb2.Artifact(format=rng.choice(["", "onnx", "onnx", "bin", "ONNX", "x" * 40, "o\x00"])),
    )
    if rng.random() < 0.3:
        version.metrics[odd_string(rng, "accuracy")] = rng.choice([0.5, float("nan"), float("inf")])
        version.library_versions[odd_string(rng, "onnx")] = odd_string(rng, "1.17")
    digest = hashlib.sha256(data).hexdigest()
    return pb.CreateModelVersionRequest.Metadata(
        request_id=odd_string(rng, ""), expected_sha256=rng.choice([digest, digest, digest, "", "0" * 64, digest.upper()]),
        expected_size_bytes=rng.choice([0, 0, len(data), len(data) + 1, -1]),
        model_description=odd_string(rng, ""), model_version=version,
    )


def _upload_messages(rng: random.Random, model: str) -> list[bytes]:
    data = rng.choice([tiny_onnx(), tiny_onnx(), b"", b"not a model", rng.randbytes(rng.randint(1, 300)),
                       tiny_onnx()[:-3], tiny_onnx(op="Missing", domain="ai.x")])
    if rng.random() < 0.3:  # a good upload (of good or bad bytes)
        metadata = pb.CreateModelVersionRequest.Metadata(
            expected_sha256=hashlib.sha256(data).hexdigest(), model_version=model_version_pb2.ModelVersion(task="regression"))
        first = pb.CreateModelVersionRequest(model=model, metadata=metadata)
        return [first.SerializeToString(), pb.CreateModelVersionRequest(chunk=data).SerializeToString()]
    first = pb.CreateModelVersionRequest(model=odd_string(rng, model), metadata=_metadata(rng, data))
    messages = [first.SerializeToString()] if rng.random() < 0.95 else []
    step = rng.choice([len(data) or 1, 7, 50])
    for start in range(0, len(data), step):
        messages.append(pb.CreateModelVersionRequest(chunk=data[start : start + step]).SerializeToString())
    for _ in range(rng.choice([0, 0, 0, 1])):
        messages.insert(rng.randint(0, len(messages)), rng.choice([
            garbage(rng), first.SerializeToString(),
            pb.CreateModelVersionRequest(model="other-model", chunk=b"x").SerializeToString(),
        ]))
    return messages


async def test_no_malformed_registry_request_becomes_an_internal_error(stub, channel_to, start_server, registry):
    model = unique("fuzz")
    await upload(stub, model, tiny_onnx())
    # A raw channel of its own to the same kind of server, for bytes that do not decode.
    from servers.registry.service import registry_binding

    server = await start_server([registry_binding(registry)])
    channel = channel_to(server.address)
    raw_upload = channel.stream_unary(SERVICE + "CreateModelVersion", request_serializer=None, response_deserializer=None)
    rng = random.Random(int(os.environ.get("CHATDB_FUZZ_SEED", "20261203")))
    seen: dict[str, set[str]] = {}
    failures: list = []
    for case in range(CASES):
        kind = rng.choice(["list_models", "get_model", "list_versions", "get_version", "create", "create",
                           "set_alias", "download", "watch", "raw"])
        stream = False
        if kind == "list_models":
            call = stub.ListModels(pb.ListModelsRequest(page_size=rng.choice([0, 2, -1, 2**31 - 1]),
                                                        page_token=odd_string(rng, ""), name_prefix=odd_string(rng, "fuzz")), timeout=10)
        elif kind == "get_model":
            call = stub.GetModel(pb.GetModelRequest(model=odd_string(rng, model)), timeout=10)
        elif kind == "list_versions":
            call = stub.ListModelVersions(pb.ListModelVersionsRequest(
                model=odd_string(rng, model), page_size=rng.choice([0, 1, -3]), page_token=odd_string(rng, ""),
                state=rng.choice([0, 1, 2, 77])), timeout=10)
        elif kind == "get_version":
            call = stub.GetModelVersion(pb.GetModelVersionRequest(
                model=odd_string(rng, model), version=rng.choice([1, 0, -1, 2**62])), timeout=10)
        elif kind == "create":
            messages = _upload_messages(rng, model)

            async def requests(messages=messages):
                for message in messages:
                    yield message

            call = raw_upload(requests(), timeout=30)
        elif kind == "set_alias":
            call = stub.SetAlias(pb.SetAliasRequest(model=odd_string(rng, model), alias=odd_string(rng, "staging"),
                                                    version=rng.choice([1, 0, -1, 99])), timeout=10)
        elif kind == "download":
            request = pb.DownloadModelVersionRequest(model=odd_string(rng, model))
            pick = rng.random()
            if pick < 0.3:
                request.version = rng.choice([1, 0, -2, 2**62])
            elif pick < 0.6:
                request.alias = odd_string(rng, "production")
            call, stream = stub.DownloadModelVersion(request, timeout=10), True
        elif kind == "watch":
            request = pb.WatchModelEventsRequest(model=odd_string(rng, model))
            if rng.random() < 0.5:
                request.since_sequence = rng.choice([0, -1, 2**62])
            call, stream = stub.WatchModelEvents(request, timeout=10), True
        else:
            method = rng.choice(["ListModels", "GetModel", "ListModelVersions", "GetModelVersion", "SetAlias"])
            call = raw_unary(channel, SERVICE + method)(garbage(rng), timeout=10)
        code, details = await outcome(call, stream=stream, first_only_s=0.3 if kind == "watch" else None)
        for _ in range(3):
            if not (kind == "create" and (code, details) == (grpc.StatusCode.INTERNAL, CLIENT_LOST_STATUS)):
                break
            # grpc's client, not the server: when the server answers while the client is
            # still writing the request stream, grpc.aio may report this instead of the
            # server's status. The same messages again get the server's (deterministic) answer.
            code, details = await outcome(raw_upload(requests(), timeout=30))
        seen.setdefault(kind, set()).add(code.name)
        judge(failures, case, kind, code, details)
    assert not failures, failures[:10]
    assert all(len(codes) >= 2 for kind, codes in seen.items() if kind != "raw"), seen
    got = await stub.GetModel(pb.GetModelRequest(model=model), timeout=10)
    assert got.model.name == model


# --- regressions of the hardening issue (each failed before the fix) --------------------------


async def test_a_malformed_message_inside_an_upload_is_invalid_argument(stub, start_server, registry, channel_to):
    """Before: INTERNAL (the DecodeError surfaced inside the servicer's stream)."""
    from servers.registry.service import registry_binding

    server = await start_server([registry_binding(registry)])
    raw_upload = channel_to(server.address).stream_unary(
        SERVICE + "CreateModelVersion", request_serializer=None, response_deserializer=None)
    data = tiny_onnx()
    first = pb.CreateModelVersionRequest(model=unique(), metadata=pb.CreateModelVersionRequest.Metadata(
        expected_sha256=hashlib.sha256(data).hexdigest(), model_version=model_version_pb2.ModelVersion(task="regression")))

    async def requests():
        yield first.SerializeToString()
        yield b"\xff\xff\xff"  # not a CreateModelVersionRequest

    try:
        await raw_upload(requests(), timeout=10)
        raise AssertionError("the upload succeeded")
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
        assert "chatdb.registry.v1.CreateModelVersionRequest" in exc.details()


async def test_a_huge_model_name_gets_its_real_status_with_a_short_quote(stub):
    """Before: RESOURCE_EXHAUSTED "received metadata size exceeds hard limit" (the whole
    20 KB name was quoted in the message and the ErrorInfo)."""
    for call in (stub.GetModel(pb.GetModelRequest(model="m" * HUGE), timeout=10),
                 stub.GetModelVersion(pb.GetModelVersionRequest(model="ä" * HUGE, version=1), timeout=10)):
        try:
            await call
            raise AssertionError("the call succeeded")
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
            assert len(exc.details()) < 600 and f"({HUGE} characters)" in exc.details()
            assert [v.field for v in details_from_rpc_error(exc).violations] == ["model"]


async def test_nul_in_registry_strings_is_invalid_argument(stub):
    """Before: NUL in fields the registry stores without a pattern (request_id,
    descriptions, metric names) reached PostgreSQL: INTERNAL."""
    data = tiny_onnx()
    try:
        await upload(stub, unique(), data, request_id="req\x00", model_description="a\x00b")
        raise AssertionError("the upload succeeded")
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
        assert {v.field for v in details_from_rpc_error(exc).violations} == {
            "metadata.request_id", "metadata.model_description"}
