"""The edge with the gateway's own ext_authz server (edge-keys: gateway/authz.py) and
real API keys: bootstrap an admin key, create a user key through the edge over REST,
refusals by role, revocation, a per-key quota."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import grpc
import pytest
from chatdb.connector.v1 import connector_service_pb2 as cpb
from chatdb.connector.v1 import connector_service_pb2_grpc
from chatdb.gateway.v1 import chat_service_pb2, chat_service_pb2_grpc

from .support import grpc_channel


@pytest.fixture(scope="module")
def real_edge(start_edge, edge_mesh):
    edge_mesh.services.run("apikeys", "bootstrap")
    admin = (edge_mesh.work / "home" / "admin-api-key").read_text().strip()
    port = int(edge_mesh.env["CHATDB_GATEWAY_AUTHZ_PORT"])
    edge = start_edge(authz_address=("127.0.0.1", port))
    # The gateway's key table learns a key written straight to the database (bootstrap)
    # on its next reload (gateway_authz_refresh_s): wait for it, or the first call races it.
    deadline = time.monotonic() + 5
    while edge.rest().call("GET", "/v1/status", key=admin).status != 200:
        assert time.monotonic() < deadline, "the bootstrapped admin key was never accepted"
        time.sleep(0.1)
    return edge, admin


@pytest.fixture(scope="module")
def real_edge_without_cache(start_edge, edge_mesh, real_edge):
    """The same mesh behind an Envoy that asks ext_authz on every request
    (edge_authz_cache_ms 0: Envoy's ext_authz filter instead of the Lua one)."""
    port = int(edge_mesh.env["CHATDB_GATEWAY_AUTHZ_PORT"])
    return start_edge(authz_address=("127.0.0.1", port), edge_authz_cache_ms=0), real_edge[1]


def test_real_keys_through_the_edge(real_edge):
    edge, admin = real_edge
    rest = edge.rest()
    assert rest.call("GET", "/v1/status", key=admin).status == 200
    assert rest.call("GET", "/v1/status", key=None).status == 401
    assert rest.call("GET", "/v1/status", key="ak_wrong").status == 401
    created = rest.call("POST", "/v1/apiKeys", {"apiKey": {"owner": "bob", "tenant": "t2", "role": "API_KEY_ROLE_USER"}}, key=admin)
    assert created.status == 200, created.body
    user, key_id = created.json()["secret"], created.json()["apiKey"]["keyId"]
    assert rest.call("GET", "/v1/status", key=user).status == 200
    denied = rest.call("POST", "/v1/connections", {"connectionId": "x", "connection": {"dsn": "postgresql://x"}}, key=user)
    assert denied.status == 403, denied.body
    assert denied.json()["code"] == 7
    with grpc_channel(edge.port, edge.pki) as channel:
        stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.DeleteConnection(cpb.DeleteConnectionRequest(connection_id="x"), metadata=[("x-api-key", user)], timeout=10)
        assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as err:
            stub.ListConnections(cpb.ListConnectionsRequest(), timeout=10)
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
    revoked = rest.call("POST", f"/v1/apiKeys/{key_id}:revoke", {}, key=admin)
    assert revoked.status == 200, revoked.body
    deadline = time.monotonic() + 3
    while (status := rest.call("GET", "/v1/status", key=user).status) != 401:
        assert time.monotonic() < deadline, status
        time.sleep(0.1)


def test_a_key_revoked_by_another_replica_is_refused_within_a_second_with_the_cache_on(real_edge, edge_mesh):
    """The worst case: the revoke is not seen by this gateway until its next reload
    (gateway_authz_refresh_s), then each Envoy worker's cached allow may live on for
    edge_authz_cache_ms."""
    edge, admin = real_edge
    assert edge.settings.edge_authz_cache_ms > 0
    rest = edge.rest()
    created = rest.call("POST", "/v1/apiKeys", {"apiKey": {"owner": "carol", "tenant": "t4", "role": "API_KEY_ROLE_VIEWER"}}, key=admin)
    assert created.status == 200, created.body
    key, key_id = created.json()["secret"], created.json()["apiKey"]["keyId"]

    async def revoke_elsewhere() -> None:  # as another gateway replica would: straight in the database
        conn = await asyncpg.connect(edge_mesh.env["CHATDB_DATABASE_URL"])
        try:
            await conn.execute("UPDATE gateway_api_keys SET revoked = true, revoke_time = now() WHERE key_id = $1", key_id)
        finally:
            await conn.close()

    with grpc_channel(edge.port, edge.pki) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)

        def status() -> grpc.StatusCode:
            try:
                stub.GetSystemStatus(chat_service_pb2.GetSystemStatusRequest(), metadata=[("x-api-key", key)], timeout=10)
                return grpc.StatusCode.OK
            except grpc.RpcError as err:
                return err.code()

        deadline = time.monotonic() + 5
        while status() is not grpc.StatusCode.OK:  # accepted once the key table has it
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for _ in range(20):
            assert status() is grpc.StatusCode.OK  # hot: served from the cache
        asyncio.run(revoke_elsewhere())
        revoked = time.monotonic()
        while (code := status()) is grpc.StatusCode.OK:
            assert time.monotonic() - revoked < 1.0, "a revoked key was still accepted a second later"
        assert code is grpc.StatusCode.UNAUTHENTICATED
        assert all(status() is grpc.StatusCode.UNAUTHENTICATED for _ in range(5))


def test_a_keys_question_quota_is_429_over_rest_and_resource_exhausted_over_grpc(real_edge):
    edge, admin = real_edge
    rest = edge.rest()
    created = rest.call("POST", "/v1/apiKeys", {"apiKey": {"owner": "quota", "tenant": "t3", "role": "API_KEY_ROLE_USER",
                                                            "quotas": {"questionsPerMinute": 1}}}, key=admin)
    assert created.status == 200, created.body
    key = created.json()["secret"]
    # A system question needs no connection; it still counts as a question. Two asks
    # inside one minute could straddle its boundary, so the first may be granted twice.
    statuses = [rest.call("POST", "/v1/ask", {"question": "is the system healthy?"}, key=key).status for _ in range(3)]
    assert statuses[0] == 200 and statuses[-1] == 429, statuses
    refused = rest.call("POST", "/v1/ask", {"question": "is the system healthy?"}, key=key)
    assert refused.status == 429
    body = refused.json()
    assert body["code"] == 8 and "questions_per_minute" in body["message"] and "resets at" in body["message"]
    with grpc_channel(edge.port, edge.pki) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.Ask(chat_service_pb2.AskRequest(question="is the system healthy?"), metadata=[("x-api-key", key)], timeout=10)
        assert err.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.parametrize("which", ["lua_with_cache", "ext_authz"])
def test_a_refused_post_over_http2_is_a_clean_401(which, request):
    # curl speaks HTTP/2 and sends its body after the headers. A refusal decided before
    # the body arrived reset the stream after the 401, which curl 7.88 reports as "(92)
    # Stream error in the HTTP/2 framing layer" instead of the status: a fifth of the
    # requests of six parallel clients on this machine. The edge now reads a unary
    # request's body before deciding, with either filter.
    import shutil
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    edge, _ = request.getfixturevalue("real_edge" if which == "lua_with_cache" else "real_edge_without_cache")
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("needs curl")
    d = edge.pki.directory
    body = '{"question": "how many customers are there", "connection_id": "x"}'

    def refused(_):
        done = subprocess.run(
            [curl, "-sS", "--http2", "--cacert", str(d / "ca.crt"), "--cert", str(d / "alice.crt"),
             "--key", str(d / "alice.key"), "-H", "content-type: application/json", "-d", body,
             "-o", "/dev/null", "-w", "%{http_code}", f"https://localhost:{edge.port}/v1/ask"],
            capture_output=True, text=True, timeout=30)
        return done.stdout, done.stderr.strip()

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(refused, range(120)))
    assert all(status == ("401", "") for status in statuses), [s for s in statuses if s != ("401", "")]


def test_keys_and_a_client_stream_through_ext_authz_without_cache(real_edge_without_cache):
    """ext_authz reads a unary body before asking, but not a client stream's (exempt per
    route): uploading a model version, whose chunks CreateModelVersion streams, works with
    a key and is refused without one."""
    import hashlib
    import uuid

    from chatdb.registry.v1 import model_registry_service_pb2 as rpb
    from chatdb.registry.v1 import model_registry_service_pb2_grpc, model_version_pb2

    from tests.tiny_onnx import tiny_onnx

    edge, admin = real_edge_without_cache
    rest = edge.rest()
    assert rest.call("GET", "/v1/status", key=admin).status == 200
    assert rest.call("GET", "/v1/status", key=None).status == 401
    data = tiny_onnx()
    model = f"ext-authz-upload-{uuid.uuid4().hex[:6]}"

    def upload():
        yield rpb.CreateModelVersionRequest(model=model, metadata=rpb.CreateModelVersionRequest.Metadata(
            expected_sha256=hashlib.sha256(data).hexdigest(), expected_size_bytes=len(data),
            model_version=model_version_pb2.ModelVersion(task="regression")))
        for start in range(0, len(data), 64):
            yield rpb.CreateModelVersionRequest(chunk=data[start:start + 64])

    with grpc_channel(edge.port, edge.pki) as channel:
        registry = model_registry_service_pb2_grpc.ModelRegistryServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            registry.CreateModelVersion(upload(), timeout=30)
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
        version = registry.CreateModelVersion(upload(), metadata=[("x-api-key", admin)], timeout=30).model_version
    assert version.version == 1 and version.artifact.size_bytes == len(data)
