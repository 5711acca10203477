"""The edge under trouble: the local rate limit, a killed service, rotated certificates.

Runs after the other edge modules' tests in file order does not matter: every test here
leaves the mesh as it found it (the killed service is restarted and healthy again)."""

from __future__ import annotations

import time

import grpc
import pytest
from chatdb.connector.v1 import connector_service_pb2 as cpb
from chatdb.connector.v1 import connector_service_pb2_grpc
from chatdb.gateway.v1 import chat_service_pb2 as gpb
from chatdb.gateway.v1 import chat_service_pb2_grpc

from .support import SPIFFE, grpc_channel, server_serial

CONNECTOR = "chatdb.connector.v1.ConnectorService"


def test_local_rate_limit_is_429_and_resource_exhausted(start_edge):
    edge = start_edge(edge_rate_limit_per_s=1, edge_rate_limit_burst=3)
    rest = edge.rest()
    statuses = [rest.call("GET", "/v1/status").status for _ in range(6)]
    assert 429 in statuses and statuses[0] == 200, statuses
    with grpc_channel(edge.port, edge.pki) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        codes = []
        for _ in range(4):
            try:
                stub.GetSystemStatus(gpb.GetSystemStatusRequest(), metadata=[("x-api-key", "good")], timeout=10)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as exc:
                codes.append(exc.code())
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes, codes
    time.sleep(3.2)  # the bucket refills
    assert rest.call("GET", "/v1/status").status == 200
    assert edge.envoy.stats("edge_rate_limit").get("edge_rate_limit.http_local_rate_limit.rate_limited", 0) > 0


def test_a_killed_service_turns_unhealthy_and_recovers(edge, edge_mesh):
    rest = edge.rest()
    assert rest.call("GET", "/v1/connections").status == 200
    edge_mesh.services.kill("connector")
    killed = time.monotonic()
    try:
        edge.envoy.wait_health(CONNECTOR, healthy=False, timeout_s=15)
        print(f"unhealthy at the edge {time.monotonic() - killed:.1f} s after the kill")
        reply = rest.call("GET", "/v1/connections")
        assert reply.status == 503, reply.body
        with grpc_channel(edge.port, edge.pki) as channel:
            stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.ListConnections(cpb.ListConnectionsRequest(), metadata=[("x-api-key", "good")], timeout=10)
        assert err.value.code() is grpc.StatusCode.UNAVAILABLE
        # the rest of the edge still answers
        assert rest.call("GET", "/v1/status").status == 200
    finally:
        edge_mesh.services.start("connector")
        edge_mesh.services.wait_serving("connector")
    started = time.monotonic()
    edge.envoy.wait_health(CONNECTOR, healthy=True, timeout_s=20)
    recovered_s = time.monotonic() - started
    print(f"healthy at the edge {recovered_s:.1f} s after the service reported SERVING")
    deadline = time.monotonic() + 15
    while (status := rest.call("GET", "/v1/connections").status) != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status == 200
    assert recovered_s < 10


def test_a_reissued_envoy_certificate_is_used_without_restart(edge, edge_mesh):
    pki = edge_mesh.pki
    client = (pki.directory / "alice.crt", pki.directory / "alice.key")
    before = server_serial(edge.port, pki.directory / "ca.crt", client)
    pid = edge.envoy.proc.pid
    new_serial = before + 1 if before < 2**150 else 12345
    pki.write("envoy", f"{SPIFFE}envoy", serial=new_serial)
    deadline = time.monotonic() + 20
    while (now := server_serial(edge.port, pki.directory / "ca.crt", client)) != new_serial:
        assert time.monotonic() < deadline, f"still serving serial {now:x}, not {new_serial:x}"
        time.sleep(0.2)
    assert edge.envoy.proc.pid == pid and edge.envoy.running
    # upstream hops use the new certificate too, and calls go on
    assert edge.rest().call("GET", "/v1/connections").status == 200
    edge.envoy.wait_ready(10, clusters=[CONNECTOR, "gateway"])


def test_reads_are_retried_on_unavailable_writes_are_not(edge, edge_mesh):
    attempts = edge_mesh.training.attempts
    rest = edge.rest()
    # ListTrainingJobs is a read: two UNAVAILABLE answers are retried away
    reply = rest.call("GET", "/v1/trainingJobs?pageToken=flaky-2-a")
    assert reply.status == 200, reply.body
    assert attempts["flaky-2-a"] == 3
    # three are one too many (num_retries 2): the client sees 503 / UNAVAILABLE
    assert rest.call("GET", "/v1/trainingJobs?pageToken=flaky-3-b").status == 503
    assert attempts["flaky-3-b"] == 3
    # CancelTrainingJob is not a read: one attempt, the error goes back as is
    reply = rest.call("POST", "/v1/trainingJobs/flaky-1-c:cancel", {})
    assert reply.status == 503, reply.body
    assert attempts["flaky-1-c"] == 1
