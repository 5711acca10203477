"""Every service starts with `chatdb serve`, reports SERVING for the server and each of
its services, lists its services over reflection (seen by the real grpcurl), logs one
JSON line per call with the caller's request id, and exits cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
GRPCURL = shutil.which("grpcurl", path=str(BIN)) or "grpcurl"

# service -> the services it must list
EXPECTED = {
    "gateway": ["chatdb.gateway.v1.ChatService", "chatdb.gateway.v1.ApiKeyService"],
    "parser": ["chatdb.parser.v1.QueryParserService"],
    "training": ["chatdb.training.v1.TrainingService"],
    "registry": ["chatdb.registry.v1.ModelRegistryService"],
    "prediction": ["chatdb.prediction.v1.PredictionService", "inference.GRPCInferenceService"],
    "connector": ["chatdb.connector.v1.ConnectorService"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def grpcurl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([GRPCURL, "-plaintext", *args], capture_output=True, text=True, timeout=20)


def wait_serving(address: str, proc: subprocess.Popen, timeout_s: float = 30, *, status: str = "SERVING") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stderr.read() if proc.stderr else "(see its log)"
            raise AssertionError(f"server exited with {proc.returncode}: {output}")
        out = grpcurl("-max-time", "2", address, "grpc.health.v1.Health/Check")
        if f'"{status}"' in out.stdout:
            return
        time.sleep(0.2)
    raise AssertionError(f"{address} never reported {status}")


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_chatdb_serve_answers_health_and_reflection_and_logs_each_call(service, settings):
    port = free_port()
    env = {
        **os.environ,
        "CHATDB_DATABASE_URL": settings.database_url,
        "CHATDB_REDIS_PREFIX": settings.redis_prefix,
        "CHATDB_GRACE_PERIOD_S": "2",
        "CHATDB_GATEWAY_AUTHZ_PORT": str(free_port()),  # the gateway's ext_authz server
    }
    proc = subprocess.Popen(
        [str(BIN / "chatdb"), "serve", service, "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    address = f"127.0.0.1:{port}"
    try:
        names = EXPECTED[service]
        wait_serving(address, proc)
        for name in names:
            out = grpcurl("-d", json.dumps({"service": name}), address, "grpc.health.v1.Health/Check")
            assert '"SERVING"' in out.stdout, out
        listed = grpcurl(address, "list").stdout.split()
        own = [*names, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"]
        if service == "gateway":  # it answers reflection for the whole edge: every service
            assert set(own) | {"chatdb.connector.v1.ConnectorService", "inference.GRPCInferenceService"} <= set(listed)
        else:
            assert sorted(listed) == sorted(own)
        described = grpcurl("-reflect-header", "x-request-id: cli-test-1", address, "describe", names[0])
        assert described.returncode == 0 and "rpc " in described.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(e["event"] == "server started" for e in events)
    assert events[-1]["event"] == "server stopped"
    [call] = [e for e in events if e.get("request_id") == "cli-test-1"]
    assert call["method"] == "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
    assert call["status"] == "OK"
    assert call["peer"].startswith("ipv4:127.0.0.1:")
    assert call["duration_ms"] >= 0
