"""Health reports NOT_SERVING (and ServerReady false) until the production versions are
preloaded; a registry that cannot be reached delays readiness only for
prediction_registry_wait_s, after which requests get UNAVAILABLE until it is back."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from inference import grpc_service_pb2 as kserve
from inference import grpc_service_pb2_grpc as kserve_grpc

from servers.prediction.source import RegistrySource

from ..runtime.test_cli_serve import free_port
from .conftest import eventually, predict_request, unique


class GatedSource(RegistrySource):
    """The registry, but the preload's listing waits for a gate."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        super().__init__(channel)
        self.gate = asyncio.Event()

    async def alias_targets(self, alias: str) -> list[tuple[str, int]]:
        await self.gate.wait()
        return await super().alias_targets(alias)


async def _health(channel: grpc.aio.Channel, service: str = "") -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service))
    return reply.status


async def test_not_serving_until_the_preload_is_done(models, registry, start_prediction):
    name = unique("ready")
    await registry.upload(name, models["lr"])
    async with grpc.aio.insecure_channel(registry.address) as registry_channel:
        source = GatedSource(registry_channel)
        prediction = await start_prediction(wait=False, source=source)
        channel = prediction.channel
        kserve_stub = kserve_grpc.GRPCInferenceServiceStub(channel)
        await asyncio.sleep(0.2)
        for service in ("", "chatdb.prediction.v1.PredictionService", "inference.GRPCInferenceService"):
            assert await _health(channel, service) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert not (await kserve_stub.ServerReady(kserve.ServerReadyRequest())).ready
        assert (await kserve_stub.ServerLive(kserve.ServerLiveRequest())).live
        assert (name, 1) not in prediction.manager.loaded_keys

        source.gate.set()
        deadline = asyncio.get_running_loop().time() + 10
        while await _health(channel) != health_pb2.HealthCheckResponse.SERVING:
            assert asyncio.get_running_loop().time() < deadline, "never SERVING"
            await asyncio.sleep(0.02)
        assert (name, 1) in prediction.manager.loaded_keys  # loaded before SERVING
        assert await _health(channel, "chatdb.prediction.v1.PredictionService") == health_pb2.HealthCheckResponse.SERVING
        assert (await kserve_stub.ServerReady(kserve.ServerReadyRequest())).ready
        loads = prediction.manager.loads
        reply = await prediction.stub.Predict(predict_request(name, models["lr"].records[0]))
        assert reply.version == 1 and prediction.manager.loads == loads  # no load on the request path


async def test_unreachable_registry_delays_readiness_only_briefly(models, start_prediction):
    prediction = await start_prediction(wait=False, registry_port=free_port(), prediction_registry_wait_s=0.5)
    started = asyncio.get_running_loop().time()
    await eventually(lambda: prediction.app.core.ready, timeout_s=10)
    assert asyncio.get_running_loop().time() - started >= 0.4
    assert await _health(prediction.channel) == health_pb2.HealthCheckResponse.SERVING
    try:
        await prediction.stub.Predict(predict_request("anything", models["lr"].records[0]))
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.UNAVAILABLE
    else:
        raise AssertionError("a prediction without a registry must fail")


def test_chatdb_serve_prediction_is_not_serving_until_preload_is_done(settings):
    """The real process: the port answers at once, NOT_SERVING while the preload waits
    for the (here unreachable) registry, then SERVING."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from ..runtime.test_cli_serve import free_port, grpcurl

    port = free_port()
    env = {**os.environ, "CHATDB_DATABASE_URL": settings.database_url, "CHATDB_REGISTRY_PORT": str(free_port()),
           "CHATDB_PREDICTION_REGISTRY_WAIT_S": "3", "CHATDB_GRACE_PERIOD_S": "1"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "chatdb"), "serve", "prediction", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    seen = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "SERVING" not in seen:
            out = grpcurl("-max-time", "1", f"127.0.0.1:{port}", "grpc.health.v1.Health/Check").stdout
            if '"NOT_SERVING"' in out:
                seen.append("NOT_SERVING")
            elif '"SERVING"' in out:
                seen.append("SERVING")
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert seen and seen[0] == "NOT_SERVING" and seen[-1] == "SERVING", seen
