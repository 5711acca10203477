"""The caller's identity travels with a call: read by the server interceptor, forwarded
by every open_channel() channel on the calls made while serving it."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from servers.runtime import identity
from servers.runtime.channels import open_channel
from servers.runtime.identity import Principal, current_principal, principal_from_metadata
from servers.runtime.interceptors import ServerInterceptor
from servers.runtime.settings import Settings


def test_metadata_round_trip():
    p = Principal("key:ak_1", tenant="acme", role="admin", api_key_id="ak_1",
                  quotas={"questions_per_minute": 5, "training_jobs_per_day": 2})
    assert principal_from_metadata(p.metadata()) == p
    assert principal_from_metadata([("x-other", "1")]) is None
    # An unknown role never grants more than viewer.
    assert principal_from_metadata([("x-chatdb-principal", "x"), ("x-chatdb-role", "root")]).role == "viewer"


class _Echo(health_pb2_grpc.HealthServicer):
    """Health.Check answers with the caller's tenant in the status field's place: SERVING
    for tenant 'acme', NOT_SERVING otherwise, and calls `downstream` first when set."""

    def __init__(self) -> None:
        self.seen: list[Principal | None] = []
        self.downstream: grpc.aio.Channel | None = None

    async def Check(self, request, context):
        self.seen.append(current_principal())
        if self.downstream is not None:
            await health_pb2_grpc.HealthStub(self.downstream).Check(health_pb2.HealthCheckRequest())
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


async def _serve(servicer) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(interceptors=[ServerInterceptor()])
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


@pytest.mark.asyncio
async def test_principal_is_forwarded_down_the_mesh():
    inner, outer = _Echo(), _Echo()
    inner_server, inner_port = await _serve(inner)
    outer_server, outer_port = await _serve(outer)
    settings = Settings()
    outer.downstream = open_channel(settings, address=f"127.0.0.1:{inner_port}")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{outer_port}") as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            who = Principal("key:ak_9", tenant="acme", role="user", api_key_id="ak_9")
            await stub.Check(health_pb2.HealthCheckRequest(), metadata=who.metadata())
            await stub.Check(health_pb2.HealthCheckRequest())
        assert outer.seen == [who, None]
        assert inner.seen == [who, None]
        assert identity.current_principal() is None
    finally:
        await outer.downstream.close()
        await outer_server.stop(None)
        await inner_server.stop(None)
