"""Model lifecycle: hot reload under load with zero failed requests, loading what the
registry announces, archiving, resuming the event stream after a registry restart, and
the LRU bounded by count and bytes (with reload of what it evicted)."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from servers.registry.service import registry_binding
from servers.runtime.server import GrpcServer

from ..runtime.test_cli_serve import free_port
from ..tiny_onnx import unloadable_onnx
from .conftest import eventually, predict_request, unique


async def test_hot_reload_under_load_has_no_failed_requests(models, registry, start_prediction):
    name = unique("swap")
    v1 = await registry.upload(name, models["lr"])
    prediction = await start_prediction()
    request = predict_request(name, models["lr"].records[0])
    stop = asyncio.Event()
    answered: list[list[int]] = [[] for _ in range(4)]
    failures: list[BaseException] = []

    async def client(i: int) -> None:
        while not stop.is_set():
            try:
                reply = await prediction.stub.Predict(request, timeout=10)
                answered[i].append(reply.version)
            except grpc.aio.AioRpcError as exc:
                failures.append(exc)

    tasks = [asyncio.create_task(client(i)) for i in range(4)]
    try:
        await eventually(lambda: all(len(a) >= 20 for a in answered))
        v2 = await registry.upload(name, models["rf"])  # same inputs and classes, other answers
        await registry.set_alias(name, v2)
        await eventually(lambda: all(a[-1] == v2 for a in answered), timeout_s=15)
        mark = [len(a) for a in answered]
        await eventually(lambda: all(len(a) >= m + 20 for a, m in zip(answered, mark, strict=True)))
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert not failures
    for versions in answered:
        assert versions[0] == v1 and versions[-1] == v2
        switched = versions.index(v2)
        assert set(versions[switched:]) == {v2}, "a request went back to the old version after the swap"
    reply = await prediction.stub.Predict(request)
    assert reply.predictions[0].label.string_value == models["rf"].expected_labels[0]


async def test_new_versions_load_in_the_background_and_archived_ones_go(models, registry, start_prediction):
    name = unique("events")
    await registry.upload(name, models["lr"])
    prediction = await start_prediction()
    manager = prediction.manager
    assert (name, 1) in manager.loaded_keys
    v2 = await registry.upload(name, models["rf"])
    await eventually(lambda: (name, v2) in manager.loaded_keys)
    assert manager.alias(name, "production") == 1  # appearing is not promoting
    await registry.core.archive_version(name, v2)
    await eventually(lambda: (name, v2) not in manager.loaded_keys)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await prediction.stub.Predict(predict_request(name, models["lr"].records[0], version=v2))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "archived" in info.value.details()


async def test_event_stream_resumes_after_a_registry_restart(models, registry, settings, start_prediction):
    port = free_port()
    own = GrpcServer(settings, [registry_binding(registry.core)], host="127.0.0.1", port=port)
    await own.start()
    name = unique("resume")
    try:
        prediction = await start_prediction(registry_port=port)
        manager = prediction.manager
        await registry.upload(name, models["lr"])  # seen live: production -> 1
        await eventually(lambda: manager.alias(name, "production") == 1 and manager.last_sequence)
        await own.stop(grace_s=0)
        v2 = await registry.upload(name, models["rf"])  # while the stream is down
        await registry.set_alias(name, v2)
        own = GrpcServer(settings, [registry_binding(registry.core)], host="127.0.0.1", port=port)
        await own.start()
        await eventually(lambda: manager.alias(name, "production") == v2, timeout_s=20)
        reply = await prediction.stub.Predict(predict_request(name, models["rf"].records[0]))
        assert reply.version == v2
    finally:
        await own.stop(grace_s=0)


async def test_lru_evicts_by_count_and_reloads(models, registry, start_prediction):
    names = [unique("lru") for _ in range(3)]
    for name in names:
        await registry.upload(name, models["lr"])
    prediction = await start_prediction(prediction_max_models=2, prediction_preload_aliases="")
    manager = prediction.manager
    record = models["lr"].records[0]
    expected = models["lr"].expected_labels[0]

    async def ask(name: str) -> None:
        reply = await prediction.stub.Predict(predict_request(name, record))
        assert reply.predictions[0].label.string_value == expected

    await ask(names[0])
    await ask(names[1])
    await ask(names[0])  # names[1] is now the least recently used
    await ask(names[2])
    assert manager.loaded_keys == [(names[0], 1), (names[2], 1)]
    assert manager.evictions == 1
    loads = manager.loads
    await ask(names[1])  # evicted: loaded again, evicting names[0]
    assert manager.loads == loads + 1
    assert manager.loaded_keys == [(names[2], 1), (names[1], 1)]


async def test_lru_evicts_by_bytes_and_refuses_what_never_fits(models, registry, start_prediction):
    big, small = unique("big"), unique("small")
    await registry.upload(big, models["rf"])
    await registry.upload(small, models["lr"])
    room = len(models["rf"].onnx) + len(models["lr"].onnx) // 2
    prediction = await start_prediction(prediction_max_model_bytes=room, prediction_preload_aliases="")
    manager = prediction.manager
    await prediction.stub.Predict(predict_request(big, models["rf"].records[0]))
    await prediction.stub.Predict(predict_request(small, models["lr"].records[0]))
    assert manager.loaded_keys == [(small, 1)]
    assert manager.loaded_bytes <= room

    tight = await start_prediction(prediction_max_model_bytes=len(models["rf"].onnx) - 1, prediction_preload_aliases="")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await tight.stub.Predict(predict_request(big, models["rf"].records[0]))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "more than the whole cache" in info.value.details()


async def test_alias_targets_are_evicted_last(models, registry, start_prediction):
    a, b = unique("pin"), unique("pin")
    await registry.upload(a, models["lr"])
    await registry.upload(a, models["rf"])  # version 2, not production
    await registry.upload(b, models["lr"])
    prediction = await start_prediction(prediction_max_models=2, prediction_preload_aliases="production")
    manager = prediction.manager
    record = models["lr"].records[0]
    await prediction.stub.Predict(predict_request(a, record))
    await prediction.stub.Predict(predict_request(a, record, version=2))
    await prediction.stub.Predict(predict_request(b, record))
    # a@1 was the least recently used, but production points at it: a@2 went instead.
    assert (a, 1) in manager.loaded_keys and (b, 1) in manager.loaded_keys
    assert (a, 2) not in manager.loaded_keys


async def test_an_alias_moved_to_a_broken_version_keeps_serving_the_previous_one(models, registry, start_prediction):
    name = unique("keep")
    await registry.upload(name, models["lr"])
    prediction = await start_prediction()
    broken = await registry.upload(name, unloadable_onnx())
    await registry.set_alias(name, broken)
    request = predict_request(name, models["lr"].records[0])
    await eventually(lambda: prediction.manager.failure(name, broken) is not None)
    reply = await prediction.stub.Predict(request)
    assert reply.version == 1  # still the previous target
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await prediction.stub.Predict(predict_request(name, models["lr"].records[0], version=broken))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
