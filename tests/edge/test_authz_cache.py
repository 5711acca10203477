"""The edge's short cache of *allowed* API-key decisions (edge_authz_cache_ms, a Lua
filter asking the authz server in place of ext_authz): an allow is reused only for the
same key, client certificate and gRPC method, never longer than the setting, so a key
the authz server stops accepting is refused within a second; refusals are never cached.

The deployed edge (the `edge` fixture) runs with the default setting; the test authz
server (support.AuthzServer) answers from support.KEYS at once, so taking a key out of
KEYS is a revocation the authz server sees immediately: what is left is the cache."""

from __future__ import annotations

import time

import grpc
import pytest
from chatdb.connector.v1 import connector_service_pb2 as cpb
from chatdb.connector.v1 import connector_service_pb2_grpc
from chatdb.gateway.v1 import chat_service_pb2 as gpb
from chatdb.gateway.v1 import chat_service_pb2_grpc
from chatdb.training.v1 import training_service_pb2 as tpb
from chatdb.training.v1 import training_service_pb2_grpc

from . import support
from .support import grpc_channel

STATUS = "/authz/chatdb.gateway.v1.ChatService/GetSystemStatus"


def _checks(edge_mesh, path: str = STATUS) -> list[dict[str, str]]:
    return [headers for seen, headers in list(edge_mesh.authz.seen) if seen == path]


def test_the_deployed_edge_caches_allowed_decisions(edge, edge_mesh):
    assert 0 < edge.settings.edge_authz_cache_ms <= 250
    with grpc_channel(edge.port, edge.pki) as channel:  # one connection: one Envoy worker
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        edge_mesh.authz.seen.clear()
        for _ in range(10):
            stub.GetSystemStatus(gpb.GetSystemStatusRequest(), metadata=[("x-api-key", "viewer")], timeout=10)
        assert 1 <= len(_checks(edge_mesh)) < 10, "ten calls in a row on one connection: the allow is reused"
        time.sleep(edge.settings.edge_authz_cache_ms / 1000 + 0.05)
        edge_mesh.authz.seen.clear()
        stub.GetSystemStatus(gpb.GetSystemStatusRequest(), metadata=[("x-api-key", "viewer")], timeout=10)
        assert len(_checks(edge_mesh)) == 1, "past edge_authz_cache_ms the authz server is asked again"


def test_a_cached_allow_never_serves_another_key(edge, edge_mesh):
    calls = edge_mesh.training.calls
    with grpc_channel(edge.port, edge.pki) as channel:
        training = training_service_pb2_grpc.TrainingServiceStub(channel)
        connector = connector_service_pb2_grpc.ConnectorServiceStub(channel)
        # interleaved inside one cache period, each key gets its own identity
        for key, principal, role in [("good", "key:ak_good", "admin"), ("user", "key:ak_user", "user"),
                                     ("viewer", "key:ak_viewer", "viewer"), ("good", "key:ak_good", "admin"),
                                     ("user", "key:ak_user", "user")]:
            forged = [("x-chatdb-principal", "key:ak_good"), ("x-chatdb-role", "admin"), ("x-chatdb-quota", "")]
            training.GetTrainingJob(tpb.GetTrainingJobRequest(job_id="c1"), metadata=[("x-api-key", key), *forged], timeout=10)
            assert (calls[-1]["x-chatdb-principal"], calls[-1]["x-chatdb-role"]) == (principal, role)
            assert calls[-1]["x-chatdb-quota"] == "questions_per_minute=60"  # quotas pass on a cached allow too
        # x-api-key and authorization are distinct parts of the cache key
        training.GetTrainingJob(tpb.GetTrainingJobRequest(job_id="c2"), metadata=[("authorization", "Bearer user")], timeout=10)
        assert calls[-1]["x-chatdb-principal"] == "key:ak_user"
        # an admin key's allow on an admin-only method right before does not let others through
        with pytest.raises(grpc.RpcError) as err:
            connector.DeleteConnection(cpb.DeleteConnectionRequest(connection_id="nope"), metadata=[("x-api-key", "good")], timeout=10)
        assert err.value.code() is not grpc.StatusCode.PERMISSION_DENIED  # allowed; the connection is missing
        for metadata, code in [([("x-api-key", "user")], grpc.StatusCode.PERMISSION_DENIED),
                               ([("x-api-key", "goo")], grpc.StatusCode.UNAUTHENTICATED),
                               ([("x-api-key", "good-")], grpc.StatusCode.UNAUTHENTICATED),
                               ([], grpc.StatusCode.UNAUTHENTICATED)]:
            with pytest.raises(grpc.RpcError) as err:
                connector.DeleteConnection(cpb.DeleteConnectionRequest(connection_id="nope"), metadata=metadata, timeout=10)
            assert err.value.code() is code, (metadata, err.value)
        # ... nor the same key on another method
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        stub.GetSystemStatus(gpb.GetSystemStatusRequest(), metadata=[("x-api-key", "viewer")], timeout=10)
        with pytest.raises(grpc.RpcError) as err:
            stub.Ask(gpb.AskRequest(question="hi"), metadata=[("x-api-key", "viewer")], timeout=10)
        assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_a_cached_allow_never_serves_another_client_certificate(edge, edge_mesh):
    assert edge.rest("alice").call("GET", "/v1/status", key="viewer").status == 200
    edge_mesh.authz.seen.clear()
    assert edge.rest("cli").call("GET", "/v1/status", key="viewer").status == 200
    (headers,) = _checks(edge_mesh)
    assert "URI=spiffe://chatdb/client/cli" in headers["x-forwarded-client-cert"]


def test_a_revoked_key_is_refused_within_a_second_and_refusals_are_not_cached(edge, edge_mesh, monkeypatch):
    monkeypatch.setitem(support.KEYS, "late", ("key:ak_late", "t1", "user"))
    with grpc_channel(edge.port, edge.pki) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)

        def status() -> grpc.StatusCode:
            try:
                stub.GetSystemStatus(gpb.GetSystemStatusRequest(), metadata=[("x-api-key", "late")], timeout=10)
                return grpc.StatusCode.OK
            except grpc.RpcError as err:
                return err.code()

        for _ in range(20):  # a hot key: allowed from the cache
            assert status() is grpc.StatusCode.OK
        del support.KEYS["late"]  # revoked: the authz server refuses it from now on
        revoked = time.monotonic()
        while (code := status()) is grpc.StatusCode.OK:
            assert time.monotonic() - revoked < 1.0, "still allowed a second after the authz server refused it"
        refused_after = time.monotonic() - revoked
        assert code is grpc.StatusCode.UNAUTHENTICATED
        assert refused_after <= edge.settings.edge_authz_cache_ms / 1000 + 0.2, refused_after
        assert all(status() is grpc.StatusCode.UNAUTHENTICATED for _ in range(5))
        # refusals are not cached: accepted again at once
        support.KEYS["late"] = ("key:ak_late", "t1", "user")
        assert status() is grpc.StatusCode.OK
