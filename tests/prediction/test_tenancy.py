"""Tenancy on the prediction service through real registry and prediction servers: a
model serves its own tenant and, when shared, everyone; Predict, BatchPredict and
ModelInfer of another tenant's model are NOT_FOUND with the message of a missing model.
The service loads as an internal caller, so a load that another tenant's call started
serves the owner afterwards."""

from __future__ import annotations

import hashlib

import grpc
import numpy as np
import pytest
from chatdb.registry.v1 import model_registry_service_pb2 as reg
from chatdb.registry.v1 import model_version_pb2
from inference import grpc_service_pb2_grpc as kserve_grpc

from servers.runtime.identity import Principal

from .conftest import batch_request, predict_request, unique
from .test_kserve import _typed_request

A = Principal("key:a", tenant="tenant-a", role="user").metadata()
B = Principal("key:b", tenant="tenant-b", role="user").metadata()


async def upload(registry, name: str, data: bytes, metadata=None) -> int:
    async def stream():
        yield reg.CreateModelVersionRequest(model=name, metadata=reg.CreateModelVersionRequest.Metadata(
            expected_sha256=hashlib.sha256(data).hexdigest(), expected_size_bytes=len(data),
            model_version=model_version_pb2.ModelVersion(task="classification")))
        for start in range(0, len(data), 256 * 1024):
            yield reg.CreateModelVersionRequest(chunk=data[start : start + 256 * 1024])

    reply = await registry.stub.CreateModelVersion(stream(), metadata=metadata, timeout=30)
    return reply.model_version.version


async def code_of(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value.code(), info.value.details()


async def test_a_tenants_model_answers_that_tenant_only(models, registry, start_prediction):
    lr = models["lr"]
    own, shared, late = unique("ten-a"), unique("ten-shared"), unique("ten-late")
    await upload(registry, own, lr.onnx, A)
    await upload(registry, shared, lr.onnx)
    prediction = await start_prediction()  # preloads both (as the platform)
    stub, kserve = prediction.stub, kserve_grpc.GRPCInferenceServiceStub(prediction.channel)
    record = lr.records[0]
    rows = np.array([[r[f"f{i}"] for i in range(20)] for r in lr.records[:3]], dtype=np.float32)

    for metadata in (A, None):
        reply = await stub.Predict(predict_request(own, record), metadata=metadata, timeout=10)
        assert reply.model == own and len(reply.predictions) == 1
    for metadata in (A, B, None):
        await stub.Predict(predict_request(shared, record), metadata=metadata, timeout=10)
        await kserve.ModelInfer(_typed_request(shared, rows), metadata=metadata, timeout=10)

    nope = unique("nope")
    _, missing = await code_of(stub.Predict(predict_request(nope, record), metadata=B))
    for call in (
        stub.Predict(predict_request(own, record), metadata=B),
        stub.Predict(predict_request(own, *lr.records[:5]), metadata=B),
        stub.Predict(predict_request(own, record, version=1), metadata=B),
        stub.BatchPredict(batch_request(own, lr.records[:50]), metadata=B),
        kserve.ModelInfer(_typed_request(own, rows), metadata=B),
    ):
        code, details = await code_of(call)
        assert code is grpc.StatusCode.NOT_FOUND, details
        assert details == missing.replace(nope, own)  # as for a missing model
    await kserve.ModelInfer(_typed_request(own, rows), metadata=A, timeout=10)

    # Not yet loaded: B's call starts the load (as the platform) and is refused; the
    # loaded version then serves A.
    await upload(registry, late, lr.onnx, A)
    code, _ = await code_of(stub.Predict(predict_request(late, record), metadata=B))
    assert code is grpc.StatusCode.NOT_FOUND
    reply = await stub.Predict(predict_request(late, record), metadata=A, timeout=10)
    assert reply.model == late
    code, _ = await code_of(stub.Predict(predict_request(late, record), metadata=B))
    assert code is grpc.StatusCode.NOT_FOUND
