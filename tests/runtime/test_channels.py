"""runtime/channels.py against a real in-process server: options from Settings, and the
client interceptor turning AioRpcError into the domain error tree."""

from __future__ import annotations

import asyncio
import socket

import grpc
import pytest

from servers.runtime.channels import as_domain_error, channel_options, open_channel
from servers.runtime.errors import Internal, InvalidArgument, NotFound, Unavailable
from servers.runtime.server import ServiceBinding
from servers.runtime.settings import Settings

from .helpers import SERVICE, method, raw_binding

SUM_SERVICE = "chatdb.test.v1.SumService"


async def _sum(requests, context) -> bytes:
    total = 0
    async for request in requests:
        if request == b"bad":
            raise NotFound("nothing called 'bad'", reason="BAD_NOT_FOUND")
        total += int(request.decode())
    return str(total).encode()


async def _echo_each(requests, context):
    async for request in requests:
        yield request


def _sum_binding() -> ServiceBinding:
    generic = grpc.method_handlers_generic_handler(SUM_SERVICE, {
        "Sum": grpc.stream_unary_rpc_method_handler(_sum),
        "EchoEach": grpc.stream_stream_rpc_method_handler(_echo_each),
    })
    return ServiceBinding(SUM_SERVICE, lambda server: server.add_generic_rpc_handlers((generic,)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_options_carry_message_limits_and_a_capped_reconnect_backoff(settings: Settings):
    options = dict(channel_options(settings))
    assert options["grpc.max_receive_message_length"] == settings.max_receive_message_bytes
    assert options["grpc.max_send_message_length"] == settings.max_send_message_bytes
    assert options["grpc.max_reconnect_backoff_ms"] <= 5000


async def test_mapped_unary_calls_raise_domain_errors(start_server, settings: Settings):
    server = await start_server([raw_binding()])
    async with open_channel(settings, address=server.address, map_errors=True) as channel:
        assert await method(channel, "Echo")(b"hi", timeout=5) == b"hi"
        with pytest.raises(InvalidArgument) as err:
            await method(channel, "Invalid")(b"", timeout=5)
        assert [v.field for v in err.value.violations] == ["connection.kind", "page_size"]
        with pytest.raises(Internal):
            await method(channel, "Crash")(b"", timeout=5)


async def test_mapped_stream_keeps_messages_then_raises_the_domain_error(start_server, settings: Settings):
    server = await start_server([raw_binding()])
    async with open_channel(settings, address=server.address, map_errors=True) as channel:
        received = []
        with pytest.raises(NotFound) as err:
            async for item in method(channel, "StreamThenFail", stream=True)(b"", timeout=5):
                received.append(item)
        assert received == [b"one", b"two"]
        assert (err.value.reason, err.value.metadata) == ("MODEL_NOT_FOUND", {"model": "x"})


async def test_mapped_client_streams(start_server, settings: Settings):
    server = await start_server([_sum_binding()])

    async def numbers(*items: bytes):
        for item in items:
            yield item

    async with open_channel(settings, address=server.address, map_errors=True) as channel:
        total = channel.stream_unary(f"/{SUM_SERVICE}/Sum")
        assert await total(numbers(b"1", b"2", b"3"), timeout=5) == b"6"
        with pytest.raises(NotFound) as err:
            await total(numbers(b"1", b"bad"), timeout=5)
        assert err.value.reason == "BAD_NOT_FOUND"
        each = channel.stream_stream(f"/{SUM_SERVICE}/EchoEach")
        assert [m async for m in each(numbers(b"a", b"b"), timeout=5)] == [b"a", b"b"]


async def test_a_mapped_stream_can_still_be_cancelled(start_server, settings: Settings):
    server = await start_server([raw_binding()])
    async with open_channel(settings, address=server.address, map_errors=True) as channel:
        call = method(channel, "StreamThenFail", stream=True)(b"", timeout=5)
        async for _ in call:
            break
        assert call.cancel()
        await asyncio.sleep(0.05)
        assert call.cancelled()


async def test_no_server_is_unavailable(settings: Settings):
    address = f"127.0.0.1:{_free_port()}"
    async with open_channel(settings, address=address, map_errors=True) as channel:
        with pytest.raises(Unavailable):
            await method(channel, "Echo")(b"", timeout=5)


async def test_plain_channels_keep_aio_rpc_errors(start_server, settings: Settings):
    server = await start_server([raw_binding()])
    async with open_channel(settings, address=server.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await method(channel, "Invalid")(b"", timeout=5)
    mapped = as_domain_error(err.value)
    assert isinstance(mapped, InvalidArgument)
    assert as_domain_error(mapped) is mapped


def test_a_service_name_resolves_to_its_port(settings: Settings):
    assert SERVICE  # the raw test service has no port of its own; the registry has
    with pytest.raises(ValueError):
        open_channel(settings)


def test_address_of_uses_a_per_service_address_when_set():
    from servers.runtime.channels import address_of

    assert address_of(Settings(host="10.0.0.1"), "parser") == "10.0.0.1:8082"
    settings = Settings(host="0.0.0.0", parser_address="parser.chatdb.svc:8082")
    assert address_of(settings, "parser") == "parser.chatdb.svc:8082"
    assert address_of(settings, "registry") == "0.0.0.0:8081"


def test_address_of_reads_the_env_var(monkeypatch):
    from servers.runtime.channels import address_of

    monkeypatch.setenv("CHATDB_PREDICTION_ADDRESS", "prediction.ns.svc:9000")
    assert address_of(Settings(), "prediction") == "prediction.ns.svc:9000"
