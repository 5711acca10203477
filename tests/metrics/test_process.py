"""`chatdb serve registry` as a process, as `chatdb up` and Kubernetes start it: its
/metrics port (CHATDB_REGISTRY_METRICS_PORT) serves the calls it answered, a failed one
under its status; 0 turns the endpoint off; it stops with the process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import urllib.error

import grpc
import pytest
from chatdb.registry.v1 import model_registry_service_pb2 as reg
from chatdb.registry.v1 import model_registry_service_pb2_grpc as reg_grpc

from tests.runtime.test_cli_serve import BIN, free_port, wait_serving

from .support import scrape

REGISTRY = "chatdb.registry.v1.ModelRegistryService"


def serve_registry(settings, tmp_path, metrics_port: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "CHATDB_DATABASE_URL": settings.database_url,
        "CHATDB_REDIS_PREFIX": settings.redis_prefix,
        "CHATDB_ARTIFACT_DIR": str(tmp_path / "artifacts"),
        "CHATDB_GRACE_PERIOD_S": "1",
        "CHATDB_REGISTRY_PORT": str(port),
        "CHATDB_REGISTRY_METRICS_PORT": str(metrics_port),
    }
    proc = subprocess.Popen([str(BIN / "chatdb"), "serve", "registry"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env)
    wait_serving(f"127.0.0.1:{port}", proc)
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr


def test_a_served_process_exposes_its_calls(settings, tmp_path):
    metrics_port = free_port()
    proc, port = serve_registry(settings, tmp_path, metrics_port)
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = reg_grpc.ModelRegistryServiceStub(channel)
            stub.ListModels(reg.ListModelsRequest(), timeout=10)
            with pytest.raises(grpc.RpcError) as missing:
                stub.GetModel(reg.GetModelRequest(model="no-such-model"), timeout=10)
            assert missing.value.code() is grpc.StatusCode.NOT_FOUND
        got = scrape(url)
    finally:
        stop(proc)
    assert got.value("chatdb_request_count_total", service=REGISTRY, method="ListModels", status="OK") == 1
    assert got.value("chatdb_request_count_total", service=REGISTRY, method="GetModel", status="NOT_FOUND") == 1
    assert got.value("chatdb_request_latency_seconds_count", service=REGISTRY, method="GetModel",
                     status="NOT_FOUND") == 1
    assert got.value("process_cpu_seconds_total") > 0  # prometheus_client's own process metrics
    with pytest.raises(urllib.error.URLError):
        scrape(url, timeout_s=2)  # gone with the process


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to list the process's ports")
def test_port_zero_means_no_endpoint(settings, tmp_path):
    proc, _ = serve_registry(settings, tmp_path, 0)
    try:
        listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
        ports = [line.split()[3].rsplit(":", 1)[1] for line in listening.splitlines() if f"pid={proc.pid}," in line]
    finally:
        stop(proc)
    assert len(ports) == 1  # the gRPC port alone
