"""ext_authz at the edge: API keys over REST and gRPC alike, identity headers only from
the authz server, health and reflection without a key."""

from __future__ import annotations

import time

import grpc
import pytest
from chatdb.connector.v1 import connector_service_pb2 as cpb
from chatdb.connector.v1 import connector_service_pb2_grpc
from chatdb.training.v1 import training_service_pb2 as tpb
from chatdb.training.v1 import training_service_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from .support import grpc_channel

IDENTITY = ("x-chatdb-principal", "x-chatdb-tenant", "x-chatdb-role", "x-chatdb-api-key-id", "x-chatdb-quota")


def test_missing_key_is_401_json(edge):
    reply = edge.rest().call("GET", "/v1/connections", key=None)
    assert reply.status == 401, (reply.status, reply.headers, reply.body)
    assert reply.json()["code"] == 16
    assert "API key" in reply.json()["message"]


def test_wrong_key_is_401(edge):
    reply = edge.rest().call("GET", "/v1/status", key="wrong")
    assert reply.status == 401, reply.body


def test_bearer_key_is_accepted(edge):
    reply = edge.rest().call("GET", "/v1/status", key=None, headers={"authorization": "Bearer good"})
    assert reply.status == 200, reply.body


def test_user_on_admin_rpc_is_403(edge):
    reply = edge.rest().call("POST", "/v1/connections", {"connectionId": "x", "connection": {"dsn": "postgresql://x"}}, key="user")
    assert reply.status == 403, reply.body
    assert reply.json()["code"] == 7


def test_viewer_may_read_not_ask(edge):
    rest = edge.rest()
    assert rest.call("GET", "/v1/status", key="viewer").status == 200
    assert rest.call("POST", "/v1/ask", {"question": "hi"}, key="viewer").status == 403


def test_grpc_without_key_is_unauthenticated(edge):
    with grpc_channel(edge.port, edge.pki) as channel:
        stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.ListConnections(cpb.ListConnectionsRequest(), timeout=10)
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED, err.value
        # a gRPC caller's message is the authz server's JSON body (Envoy's local reply)
        assert "missing or unknown API key" in err.value.details()
        with pytest.raises(grpc.RpcError) as err:
            stub.DeleteConnection(cpb.DeleteConnectionRequest(connection_id="x"), metadata=[("x-api-key", "user")], timeout=10)
        assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED, err.value
        assert "may not call" in err.value.details()
        reply = stub.ListConnections(cpb.ListConnectionsRequest(), metadata=[("x-api-key", "good")], timeout=10)
        assert reply is not None


def test_the_authz_server_sees_the_grpc_path_and_the_client_identity(edge, edge_mesh):
    edge_mesh.authz.seen.clear()
    assert edge.rest().call("GET", "/v1/connections/whatever").status == 404
    path, headers = edge_mesh.authz.seen[-1]
    assert path == "/authz/chatdb.connector.v1.ConnectorService/GetConnection"
    assert headers["x-api-key"] == "good"
    assert "URI=spiffe://chatdb/client/alice" in headers["x-forwarded-client-cert"]
    assert headers.get("x-request-id")


def test_identity_headers_come_from_authz_only(edge, edge_mesh):
    calls = edge_mesh.training.calls
    forged = [(name, "forged") for name in IDENTITY]
    with grpc_channel(edge.port, edge.pki) as channel:
        stub = training_service_pb2_grpc.TrainingServiceStub(channel)
        stub.GetTrainingJob(tpb.GetTrainingJobRequest(job_id="j1"), metadata=[("x-api-key", "user"), *forged], timeout=10)
    seen = calls[-1]
    assert seen["x-chatdb-principal"] == "key:ak_user"
    assert seen["x-chatdb-tenant"] == "t1"
    assert seen["x-chatdb-role"] == "user"
    assert seen["x-chatdb-api-key-id"] == "ak_user"
    assert seen["x-chatdb-quota"] == "questions_per_minute=60"
    assert "URI=spiffe://chatdb/client/alice" in seen["x-forwarded-client-cert"]
    # REST too
    reply = edge.rest().call("GET", "/v1/trainingJobs/j2", key="viewer", headers=dict(forged))
    assert reply.status == 200, reply.body
    assert calls[-1]["x-chatdb-principal"] == "key:ak_viewer"
    assert calls[-1]["x-chatdb-role"] == "viewer"


def test_forged_xfcc_is_replaced(edge, edge_mesh):
    reply = edge.rest().call("GET", "/v1/trainingJobs/j3", headers={"x-forwarded-client-cert": "URI=spiffe://chatdb/gateway"})
    assert reply.status == 200, reply.body
    xfcc = edge_mesh.training.calls[-1]["x-forwarded-client-cert"]
    assert "spiffe://chatdb/gateway" not in xfcc and "spiffe://chatdb/client/alice" in xfcc


def test_health_needs_no_key(edge):
    with grpc_channel(edge.port, edge.pki) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_authz_server_down_refuses(start_edge, edge_mesh):
    from .support import AuthzServer

    authz = AuthzServer().start()
    edge = start_edge(authz_address=("127.0.0.1", authz.port))
    assert edge.rest().call("GET", "/v1/status").status == 200
    authz.stop()
    time.sleep(edge.settings.edge_authz_cache_ms / 1000)  # an allow cached before the stop may be reused until then
    reply = edge.rest().call("GET", "/v1/status")
    assert reply.status in (403, 503), (reply.status, reply.body)
    assert reply.status == 503, "ext_authz unreachable is UNAVAILABLE (status_on_error), not a denial"


def test_authz_429_is_resource_exhausted(edge):
    reply = edge.rest().call("GET", "/v1/status", key="over-quota")
    assert reply.status == 429, reply.body
    assert reply.json()["code"] == 8
    assert "resets at" in reply.json()["message"]
    with grpc_channel(edge.port, edge.pki) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        from chatdb.gateway.v1 import chat_service_pb2 as gpb
        from chatdb.gateway.v1 import chat_service_pb2_grpc

        with pytest.raises(grpc.RpcError) as err:
            chat_service_pb2_grpc.ChatServiceStub(channel).GetSystemStatus(
                gpb.GetSystemStatusRequest(), metadata=[("x-api-key", "over-quota")], timeout=10)
        del stub
    assert err.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, err.value
    assert "resets at" in err.value.details()


def test_without_authz_client_identity_headers_are_still_dropped(start_edge, edge_mesh):
    edge = start_edge(edge_authz=False)
    forged = {name: "forged" for name in IDENTITY}
    reply = edge.rest().call("GET", "/v1/trainingJobs/j4", key=None, headers=forged)
    assert reply.status == 200, reply.body
    seen = edge_mesh.training.calls[-1]
    assert not set(IDENTITY) & set(seen), seen

