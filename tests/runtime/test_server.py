"""The shared server runtime: health, drain, error mapping, request ids."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from servers.runtime.status import details_from_rpc_error

from .helpers import SERVICE, method, raw_binding

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def check(channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return (await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)).status


async def test_health_reports_each_service_and_follows_set_serving(start_server, channel_to):
    server = await start_server([raw_binding()])
    channel = channel_to(server.address)
    assert await check(channel) == SERVING
    assert await check(channel, SERVICE) == SERVING
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await check(channel, "chatdb.nope.v1.Nothing")
    assert err.value.code() is grpc.StatusCode.NOT_FOUND

    await server.set_serving(False, SERVICE)
    assert await check(channel, SERVICE) == NOT_SERVING
    assert await check(channel) == SERVING  # the rest of the server is unaffected
    await server.set_serving(True, SERVICE)
    assert await check(channel, SERVICE) == SERVING


async def test_server_can_start_not_ready(start_server, channel_to):
    server = await start_server([raw_binding()], ready=False)
    assert await check(channel_to(server.address), SERVICE) == NOT_SERVING


async def test_drain_reports_not_serving_and_finishes_in_flight_calls(start_server, channel_to):
    server = await start_server([raw_binding()])
    channel = channel_to(server.address)
    in_flight = asyncio.ensure_future(method(channel, "Slow")(b"1.5", timeout=10))
    await asyncio.sleep(0.3)  # the call is running on the server

    stopping = asyncio.create_task(server.stop(grace_s=5, drain_delay_s=0.6))
    await asyncio.sleep(0.2)
    # Draining: health says NOT_SERVING while calls are still answered.
    assert await check(channel) == NOT_SERVING
    assert await check(channel, SERVICE) == NOT_SERVING
    assert await method(channel, "Echo")(b"still here", timeout=5) == b"still here"

    assert await in_flight == b"done"  # the in-flight call completed, not cut off
    await stopping
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await method(channel, "Echo")(b"late", timeout=2)
    assert err.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_grace_period_cancels_calls_that_outlive_it(start_server, channel_to):
    server = await start_server([raw_binding()])
    channel = channel_to(server.address)
    in_flight = asyncio.ensure_future(method(channel, "Slow")(b"30", timeout=60))
    await asyncio.sleep(0.3)
    await asyncio.wait_for(server.stop(grace_s=0.5, drain_delay_s=0), timeout=10)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await in_flight
    assert err.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)


async def test_invalid_argument_carries_field_violations_and_reason(start_server, channel_to):
    server = await start_server([raw_binding()])
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await method(channel_to(server.address), "Invalid")(b"", timeout=5)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    details = details_from_rpc_error(err.value)
    assert details.reason == "INVALID_ARGUMENT"
    assert details.domain == "chatdb.dev"
    assert [(v.field, v.description) for v in details.violations] == [
        ("connection.kind", "must be one of POSTGRES, MYSQL, MONGODB"),
        ("page_size", "must be between 0 and 1000"),
    ]
    assert "connection.kind" in err.value.details()


async def test_unknown_errors_become_internal_without_leaking(start_server, channel_to):
    server = await start_server([raw_binding()])
    call = method(channel_to(server.address), "Crash")(b"", timeout=5, metadata=(("x-request-id", "req-42"),))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() is grpc.StatusCode.INTERNAL
    assert err.value.details() == "internal error (request id req-42)"
    assert "hunter2" not in str(err.value.debug_error_string())
    assert ("x-request-id", "req-42") in tuple(err.value.trailing_metadata())


async def test_stream_error_after_messages_keeps_code_and_details(start_server, channel_to):
    server = await start_server([raw_binding()])
    call = method(channel_to(server.address), "StreamThenFail", stream=True)(b"", timeout=5)
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for item in call:
            received.append(item)
    assert received == [b"one", b"two"]
    assert err.value.code() is grpc.StatusCode.NOT_FOUND
    details = details_from_rpc_error(err.value)
    assert (details.reason, details.metadata) == ("MODEL_NOT_FOUND", {"model": "x"})


async def test_request_id_is_echoed_or_generated(start_server, channel_to):
    server = await start_server([raw_binding()])
    echo = method(channel_to(server.address), "Echo")
    call = echo(b"x", timeout=5, metadata=(("x-request-id", "abc-123"),))
    await call
    assert ("x-request-id", "abc-123") in tuple(await call.trailing_metadata())
    call = echo(b"x", timeout=5)
    await call
    generated = dict(await call.trailing_metadata())["x-request-id"]
    assert len(generated) == 32


async def test_message_size_limit_is_enforced(start_server, channel_to, settings):
    small = settings.model_copy(update={"max_receive_message_bytes": 1024})
    server = await start_server([raw_binding()], settings=small)
    echo = method(channel_to(server.address), "Echo")
    assert await echo(b"a" * 512, timeout=5) == b"a" * 512
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await echo(b"a" * 4096, timeout=5)
    assert err.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
