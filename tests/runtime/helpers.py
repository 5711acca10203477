"""A tiny raw-bytes test service for runtime tests: no proto needed, so the runtime is
tested apart from any ChatDB service."""

from __future__ import annotations

import asyncio

import grpc

from servers.runtime.errors import FieldViolation, InvalidArgument, NotFound
from servers.runtime.server import ServiceBinding

SERVICE = "chatdb.test.v1.TestService"


async def _echo(request: bytes, context) -> bytes:
    return request


async def _slow(request: bytes, context) -> bytes:
    await asyncio.sleep(float(request.decode() or "1"))
    return b"done"


async def _invalid(request: bytes, context) -> bytes:
    raise InvalidArgument.from_violations(
        [FieldViolation("connection.kind", "must be one of POSTGRES, MYSQL, MONGODB"),
         FieldViolation("page_size", "must be between 0 and 1000")]
    )


async def _crash(request: bytes, context) -> bytes:
    raise RuntimeError("secret internal detail: password=hunter2")


async def _stream_then_fail(request: bytes, context):
    yield b"one"
    yield b"two"
    raise NotFound("model 'x' not found", reason="MODEL_NOT_FOUND", metadata={"model": "x"})


def raw_binding() -> ServiceBinding:
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
        "Slow": grpc.unary_unary_rpc_method_handler(_slow),
        "Invalid": grpc.unary_unary_rpc_method_handler(_invalid),
        "Crash": grpc.unary_unary_rpc_method_handler(_crash),
        "StreamThenFail": grpc.unary_stream_rpc_method_handler(_stream_then_fail),
    }
    generic = grpc.method_handlers_generic_handler(SERVICE, handlers)
    return ServiceBinding(SERVICE, lambda server: server.add_generic_rpc_handlers((generic,)))


def method(channel: grpc.aio.Channel, name: str, *, stream: bool = False):
    path = f"/{SERVICE}/{name}"
    return channel.unary_stream(path) if stream else channel.unary_unary(path)
