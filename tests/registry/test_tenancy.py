"""Tenancy on ModelRegistryService through a real server: a model belongs to the tenant
that created its first version ("" = shared when created internally); a tenant sees its
own models and the shared ones, another tenant's model is NOT_FOUND on every read, its
name is PERMISSION_DENIED for new versions, and events of hidden models are not sent."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from chatdb.registry.v1 import model_registry_service_pb2 as pb

from servers.runtime.identity import Principal

from ..tiny_onnx import tiny_onnx
from .conftest import read_events, unique, upload_requests

A = Principal("key:a", tenant="tenant-a", role="user").metadata()
A_ADMIN = Principal("key:a-admin", tenant="tenant-a", role="admin").metadata()
B = Principal("key:b", tenant="tenant-b", role="user").metadata()


async def upload(stub, model: str, metadata=None):
    requests = upload_requests(model, tiny_onnx())

    async def stream():
        for request in requests:
            yield request

    return (await stub.CreateModelVersion(stream(), metadata=metadata)).model_version


async def code_of(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        if hasattr(call, "__aiter__"):  # a server stream
            async for _ in call:
                pass
        else:
            await call
    return info.value.code(), info.value.details()


async def names(stub, metadata) -> set[str]:
    out, token = set(), ""
    while True:
        r = await stub.ListModels(pb.ListModelsRequest(page_size=1000, page_token=token), metadata=metadata)
        out.update(m.name for m in r.models)
        token = r.next_page_token
        if not token:
            return out


async def test_models_are_their_tenants(stub):
    a, b, shared = unique("ta"), unique("tb"), unique("ts")
    va = await upload(stub, a, A)
    await upload(stub, b, B)
    await upload(stub, shared)  # internal caller: shared
    assert va.tenant == "tenant-a"

    model = (await stub.GetModel(pb.GetModelRequest(model=a), metadata=A)).model
    assert model.tenant == "tenant-a"
    assert (await stub.GetModel(pb.GetModelRequest(model=shared), metadata=B)).model.tenant == ""
    assert (await stub.GetModel(pb.GetModelRequest(model=a))).model.tenant == "tenant-a"  # internal: all

    seen_a, seen_b, seen_all = await names(stub, A), await names(stub, B), await names(stub, None)
    assert a in seen_a and shared in seen_a and b not in seen_a
    assert b in seen_b and shared in seen_b and a not in seen_b
    assert {a, b, shared} <= seen_all

    missing_name = unique("missing")
    _, missing = await code_of(stub.GetModel(pb.GetModelRequest(model=missing_name), metadata=B))
    for call in (
        stub.GetModel(pb.GetModelRequest(model=a), metadata=B),
        stub.ListModelVersions(pb.ListModelVersionsRequest(model=a), metadata=B),
        stub.GetModelVersion(pb.GetModelVersionRequest(model=a, version=1), metadata=B),
        stub.SetAlias(pb.SetAliasRequest(model=a, alias="staging", version=1), metadata=B),
    ):
        code, details = await code_of(call)
        assert code is grpc.StatusCode.NOT_FOUND
        assert details == missing.replace(missing_name, a)  # the same message as a missing model
    for selector in ({"version": 1}, {"alias": "production"}, {}):
        code, _ = await code_of(stub.DownloadModelVersion(
            pb.DownloadModelVersionRequest(model=a, **selector), metadata=B))
        assert code is grpc.StatusCode.NOT_FOUND

    # Names are global: another tenant's name takes no versions from B.
    code, details = await code_of(upload(stub, a, B))
    assert code is grpc.StatusCode.PERMISSION_DENIED and "another tenant" in details
    # Shared models: read by all, changed by admins (and internal callers) only.
    await stub.GetModelVersion(pb.GetModelVersionRequest(model=shared, version=1), metadata=A)
    code, _ = await code_of(upload(stub, shared, A))
    assert code is grpc.StatusCode.PERMISSION_DENIED
    code, _ = await code_of(stub.SetAlias(pb.SetAliasRequest(model=shared, alias="staging", version=1), metadata=A))
    assert code is grpc.StatusCode.PERMISSION_DENIED
    await stub.SetAlias(pb.SetAliasRequest(model=shared, alias="staging", version=1), metadata=A_ADMIN)

    # The owner works as before.
    v2 = await upload(stub, a, A)
    assert (v2.version, v2.tenant) == (2, "tenant-a")
    await stub.SetAlias(pb.SetAliasRequest(model=a, alias="staging", version=2), metadata=A)
    messages = [m async for m in stub.DownloadModelVersion(
        pb.DownloadModelVersionRequest(model=a, alias="staging"), metadata=A)]
    assert messages[0].model_version.tenant == "tenant-a"


async def test_watch_sends_only_events_of_visible_models(stub, registry):
    a, b, shared = unique("wa"), unique("wb"), unique("ws")
    since = await registry.last_sequence()
    watch = stub.WatchModelEvents(pb.WatchModelEventsRequest(since_sequence=since), metadata=B)
    await upload(stub, a, A)
    await upload(stub, shared)
    await upload(stub, b, B)
    events = await read_events(watch, 4)  # created + production, for shared then b
    assert [e.model for e in events] == [shared, shared, b, b]
    watch.cancel()
    # Watching one hidden model by name sends nothing of it.
    hidden = stub.WatchModelEvents(pb.WatchModelEventsRequest(since_sequence=since, model=a), metadata=B)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(read_events(hidden, 1), 1.5)
    hidden.cancel()
