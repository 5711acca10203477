"""gRPC through the edge: generated stubs and grpcurl over mTLS; who is refused at the
TLS handshake (no certificate, another CA, a SAN outside spiffe://chatdb/, expired)."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from chatdb.gateway.v1 import chat_service_pb2 as gpb
from chatdb.gateway.v1 import chat_service_pb2_grpc

from .support import grpc_channel

GRPCURL = str(Path(sys.executable).parent / "grpcurl")


def grpcurl(edge, *args: str, client: str = "alice", key: str | None = "good", data: str | None = None) -> subprocess.CompletedProcess:
    """grpcurl [TLS] [-H x-api-key] [-d DATA] localhost:<edge> ARGS..."""
    d = edge.pki.directory
    tls = ["-cacert", str(d / "ca.crt"), "-cert", str(d / f"{client}.crt"), "-key", str(d / f"{client}.key")]
    headers = ["-H", f"x-api-key: {key}"] if key else []
    body = ["-d", data] if data is not None else []
    return subprocess.run([GRPCURL, *tls, *headers, *body, "-max-time", "15", f"localhost:{edge.port}", *args],
                          capture_output=True, text=True, timeout=60)


def test_generated_stub_over_mtls(edge):
    with grpc_channel(edge.port, edge.pki) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        reply = stub.GetSystemStatus(gpb.GetSystemStatusRequest(), metadata=[("x-api-key", "good")], timeout=10)
    assert reply.status.level in range(5)


def test_grpcurl_list_describe_and_call(edge):
    listed = grpcurl(edge, "list", key=None)
    assert listed.returncode == 0, listed.stderr
    services = set(listed.stdout.split())
    # the gateway answers reflection for the whole edge: every service Envoy routes
    assert {
        "chatdb.gateway.v1.ChatService", "chatdb.gateway.v1.ApiKeyService", "chatdb.connector.v1.ConnectorService",
        "chatdb.parser.v1.QueryParserService", "chatdb.training.v1.TrainingService",
        "chatdb.registry.v1.ModelRegistryService", "chatdb.prediction.v1.PredictionService",
        "inference.GRPCInferenceService", "grpc.health.v1.Health",
    } <= services, services
    described = grpcurl(edge, "describe", "chatdb.gateway.v1.ChatService", key=None)
    assert described.returncode == 0, described.stderr
    assert "rpc Ask" in described.stdout
    described = grpcurl(edge, "describe", "chatdb.connector.v1.ExecuteQueryRequest", key=None)
    assert described.returncode == 0, described.stderr
    assert "connection_id" in described.stdout
    listed = grpcurl(edge, "chatdb.connector.v1.ConnectorService/ListConnections", data="{}")
    assert listed.returncode == 0, listed.stderr
    called = grpcurl(edge, "chatdb.gateway.v1.ChatService/GetSystemStatus", data="{}")
    assert called.returncode == 0, called.stderr
    assert "level" in json.loads(called.stdout)["status"]


def test_grpcurl_without_key_is_unauthenticated(edge):
    called = grpcurl(edge, "chatdb.gateway.v1.ChatService/GetSystemStatus", data="{}", key=None)
    assert called.returncode != 0
    assert "Unauthenticated" in called.stderr


def _handshake(edge, client: str | None) -> None:
    d = edge.pki.directory
    ctx = ssl.create_default_context(cafile=str(d / "ca.crt"))
    if client:
        ctx.load_cert_chain(str(d / f"{client}.crt"), str(d / f"{client}.key"))
    import http.client

    conn = http.client.HTTPSConnection("localhost", edge.port, context=ctx, timeout=10)
    try:
        conn.request("GET", "/v1/status", headers={"x-api-key": "good"})
        conn.getresponse().read()
    finally:
        conn.close()


@pytest.mark.parametrize("client", [None, "other-ca", "wrong-san", "no-san", "expired"])
def test_bad_client_certificates_are_refused(edge, client):
    _handshake(edge, "alice")  # the good one passes
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        _handshake(edge, client)
    with grpc_channel(edge.port, edge.pki, client) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.GetSystemStatus(gpb.GetSystemStatusRequest(), metadata=[("x-api-key", "good")], timeout=5)
        assert err.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def test_refusals_show_in_envoys_stats(edge):
    for client in ("wrong-san", "other-ca", "expired"):
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            _handshake(edge, client)
    stats = edge.envoy.stats("ssl")
    assert sum(v for k, v in stats.items() if k.startswith("listener.") and "fail_verify" in k) >= 3, stats


def test_a_service_with_another_services_certificate_is_refused(start_edge, edge_mesh):
    """The parser's cluster pointed at the connector: the handshake fails on the SAN
    (spiffe://chatdb/connector is not spiffe://chatdb/parser), so the cluster never
    turns healthy and calls through it fail."""
    edge = start_edge(parser_port=edge_mesh.ports["connector"], wait_clusters=["chatdb.connector.v1.ConnectorService"])
    import time

    deadline = time.monotonic() + 15
    while not (failed := edge.envoy.stats("cluster.chatdb.parser.v1.QueryParserService.ssl.fail_verify_san")).get(
            "cluster.chatdb.parser.v1.QueryParserService.ssl.fail_verify_san"):
        assert time.monotonic() < deadline, failed
        time.sleep(0.2)
    assert edge.envoy.unhealthy(["chatdb.parser.v1.QueryParserService"])
    reply = edge.rest().call("POST", "/v1/parse", {"question": "how many customers", "connectionId": "x"})
    assert reply.status == 503, reply.body


def test_ask_over_grpc(edge):
    with grpc_channel(edge.port, edge.pki) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        reply = stub.Ask(gpb.AskRequest(question="is the system healthy?"), metadata=[("x-api-key", "user")], timeout=30)
    assert reply.query_id
