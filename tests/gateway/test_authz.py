"""The edge's ext_authz server, called over real HTTP as Envoy calls it
(/authz<gRPC path>, header-only, keep-alive), and the role policy table-driven."""

from __future__ import annotations

import asyncio
import http.client
import socket
from pathlib import Path

import pytest
from chatdb.gateway.v1 import api_key_service_pb2 as pb

from gateway import policy
from servers.runtime.identity import parse_quotas
from tests.gateway.api_keys_support import authz, authz_call, running_keys

ASK = "/chatdb.gateway.v1.ChatService/Ask"
CREATE_CONNECTION = "/chatdb.connector.v1.ConnectorService/CreateConnection"
LIST_CONNECTIONS = "/chatdb.connector.v1.ConnectorService/ListConnections"


@pytest.fixture(scope="module")
async def keys(settings):
    async with running_keys(settings) as server:
        yield server


@pytest.fixture(scope="module")
async def secrets_by_role(keys):
    return {role: (await keys.create(role, owner=f"{role}@example.com", tenant="acme", questions_per_minute=7,
                                     training_jobs_per_day=2)).secret
            for role in ("admin", "user", "viewer")}


async def test_missing_wrong_and_malformed_keys_are_401(keys, secrets_by_role):
    user = secrets_by_role["user"]
    cases = [
        {},
        {"x-api-key": "cdb_00000000_" + "A" * 43},  # well formed, unknown
        {"x-api-key": user[:-1] + ("B" if user[-1] != "B" else "C")},  # one character off
        {"x-api-key": "not a key"},
        {"authorization": "Basic " + user},
    ]
    for headers in cases:
        answer = await authz(keys.authz_port, ASK, headers)
        assert answer.status == 401, headers
        assert answer.body["code"] == 16 and answer.body["message"]
        assert not any(h.startswith("x-chatdb-") for h in answer.headers)


async def test_revoked_key_is_401(keys):
    created = await keys.create("admin")
    assert (await authz(keys.authz_port, ASK, {"x-api-key": created.secret})).status == 200
    await keys.stub.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=created.api_key.key_id))
    answer = await authz(keys.authz_port, ASK, {"x-api-key": created.secret})
    assert answer.status == 401 and answer.body["code"] == 16


async def test_roles_are_refused_with_403(keys, secrets_by_role):
    viewer = await authz(keys.authz_port, ASK, {"x-api-key": secrets_by_role["viewer"]})
    assert viewer.status == 403 and viewer.body["code"] == 7 and "viewer" in viewer.body["message"]
    user = await authz(keys.authz_port, CREATE_CONNECTION, {"x-api-key": secrets_by_role["user"]})
    assert user.status == 403 and user.body["code"] == 7
    assert (await authz(keys.authz_port, LIST_CONNECTIONS, {"x-api-key": secrets_by_role["viewer"]})).status == 200
    assert (await authz(keys.authz_port, ASK, {"x-api-key": secrets_by_role["user"]})).status == 200


async def test_admin_is_allowed_and_gets_the_identity_headers(keys, secrets_by_role):
    for path in (CREATE_CONNECTION, ASK, "/chatdb.gateway.v1.ApiKeyService/ListApiKeys"):
        answer = await authz(keys.authz_port, path, {"authorization": f"Bearer {secrets_by_role['admin']}"})
        assert answer.status == 200, path
    headers = answer.headers
    key_id = headers["x-chatdb-api-key-id"]
    assert key_id.startswith("ak_") and headers["x-chatdb-principal"] == f"key:{key_id}"
    assert headers["x-chatdb-tenant"] == "acme" and headers["x-chatdb-role"] == "admin"
    assert parse_quotas(headers["x-chatdb-quota"]) == {"questions_per_minute": 7, "training_jobs_per_day": 2}


async def test_health_and_reflection_need_no_key(keys):
    for path in ("/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch",
                 "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"):
        answer = await authz(keys.authz_port, path)
        assert answer.status == 200, path
        assert not any(h.startswith("x-chatdb-") for h in answer.headers)


async def test_one_connection_serves_many_checks(keys, secrets_by_role):
    def checks() -> list[int]:
        conn = http.client.HTTPConnection("127.0.0.1", keys.authz_port, timeout=5)
        try:
            return [authz_call(keys.authz_port, path, {"x-api-key": secrets_by_role["user"]}, connection=conn).status
                    for path in (ASK, CREATE_CONNECTION, ASK, "/grpc.health.v1.Health/Check")]
        finally:
            conn.close()

    assert await asyncio.to_thread(checks) == [200, 403, 200, 200]


async def test_pipelined_and_malformed_requests(keys, secrets_by_role):
    reader, writer = await asyncio.open_connection("127.0.0.1", keys.authz_port)
    request = (f"POST /authz{ASK} HTTP/1.1\r\nhost: x\r\nx-api-key: {secrets_by_role['user']}\r\n"
               "content-length: 3\r\n\r\nabc").encode()
    writer.write(request * 2)  # two requests in one segment, each with a body to skip
    await writer.drain()
    first = await reader.readuntil(b"\r\n\r\n")
    second = await reader.readuntil(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200")
    writer.write(b"garbage\r\n\r\n")
    await writer.drain()
    bad = await asyncio.wait_for(reader.read(), 5)  # answered, then closed
    assert bad.startswith(b"HTTP/1.1 400")
    writer.close()

    # A head that never ends is cut off, not buffered forever.
    def endless_head() -> bytes:
        with socket.create_connection(("127.0.0.1", keys.authz_port), timeout=5) as sock:
            sock.sendall(b"GET /authz/x HTTP/1.1\r\n" + b"x-filler: " + b"a" * 70_000)
            return sock.recv(100)

    assert (await asyncio.to_thread(endless_head)).startswith(b"HTTP/1.1 431")


# ------------------------------------------------------------------ the policy, table-driven

POLICY = [
    # path, admin, user, viewer
    ("/chatdb.gateway.v1.ChatService/Ask", True, True, False),
    ("/chatdb.gateway.v1.ChatService/GetQuery", True, True, True),
    ("/chatdb.gateway.v1.ChatService/ListQueries", True, True, True),
    ("/chatdb.gateway.v1.ChatService/GetSystemStatus", True, True, True),
    ("/chatdb.gateway.v1.ChatService/SubmitFeedback", True, True, False),
    ("/chatdb.gateway.v1.ApiKeyService/CreateApiKey", True, False, False),
    ("/chatdb.gateway.v1.ApiKeyService/ListApiKeys", True, False, False),
    ("/chatdb.gateway.v1.ApiKeyService/RevokeApiKey", True, False, False),
    ("/chatdb.connector.v1.ConnectorService/CreateConnection", True, False, False),
    ("/chatdb.connector.v1.ConnectorService/DeleteConnection", True, False, False),
    ("/chatdb.connector.v1.ConnectorService/SetGlossary", True, False, False),
    ("/chatdb.connector.v1.ConnectorService/GetGlossary", True, True, True),
    ("/chatdb.connector.v1.ConnectorService/GetConnection", True, True, True),
    ("/chatdb.connector.v1.ConnectorService/ListConnections", True, True, True),
    ("/chatdb.connector.v1.ConnectorService/GetSchema", True, True, True),
    ("/chatdb.connector.v1.ConnectorService/ExecuteQuery", True, True, False),
    ("/chatdb.connector.v1.ConnectorService/StreamQuery", True, True, False),
    ("/chatdb.parser.v1.QueryParserService/ParseQuery", True, True, True),
    ("/chatdb.training.v1.TrainingService/CreateTrainingJob", True, True, False),
    ("/chatdb.training.v1.TrainingService/CancelTrainingJob", True, True, False),
    ("/chatdb.training.v1.TrainingService/GetTrainingJob", True, True, True),
    ("/chatdb.training.v1.TrainingService/ListTrainingJobs", True, True, True),
    ("/chatdb.training.v1.TrainingService/WatchTrainingJob", True, True, True),
    ("/chatdb.registry.v1.ModelRegistryService/SetAlias", True, False, False),
    ("/chatdb.registry.v1.ModelRegistryService/CreateModelVersion", True, False, False),
    ("/chatdb.registry.v1.ModelRegistryService/ListModels", True, True, True),
    ("/chatdb.registry.v1.ModelRegistryService/GetModel", True, True, True),
    ("/chatdb.registry.v1.ModelRegistryService/ListModelVersions", True, True, True),
    ("/chatdb.registry.v1.ModelRegistryService/GetModelVersion", True, True, True),
    ("/chatdb.registry.v1.ModelRegistryService/DownloadModelVersion", True, True, False),
    ("/chatdb.registry.v1.ModelRegistryService/WatchModelEvents", True, True, True),
    ("/chatdb.prediction.v1.PredictionService/Predict", True, True, False),
    ("/chatdb.prediction.v1.PredictionService/BatchPredict", True, True, False),
    ("/inference.GRPCInferenceService/ModelInfer", True, True, False),
    ("/inference.GRPCInferenceService/ServerReady", True, True, True),
    ("/inference.GRPCInferenceService/ServerLive", True, True, True),
    ("/inference.GRPCInferenceService/ModelReady", True, True, True),
    ("/inference.GRPCInferenceService/ServerMetadata", True, True, True),
    ("/inference.GRPCInferenceService/ModelMetadata", True, True, True),
    ("not-a-grpc-path", True, False, False),
    ("/only-a-service", True, False, False),
]


@pytest.mark.parametrize(("path", "admin", "user", "viewer"), POLICY)
def test_policy(path, admin, user, viewer):
    assert policy.allowed("admin", path) is admin
    assert policy.allowed("user", path) is user
    assert policy.allowed("viewer", path) is viewer
    assert policy.allowed("nobody", path) is False


def test_every_method_of_the_contract_has_a_decision():
    """Every RPC in the descriptor set Envoy loads is in the table above, so a new one
    gets a deliberate decision."""
    from google.protobuf import descriptor_pb2

    root = Path(__file__).resolve().parents[2]
    files = descriptor_pb2.FileDescriptorSet.FromString((root / "gen" / "chatdb_descriptor.binpb").read_bytes())
    paths = {f"/{f.package}.{s.name}/{m.name}" for f in files.file if f.package.startswith(("chatdb.", "inference"))
             for s in f.service for m in s.method}
    assert paths and paths - {row[0] for row in POLICY} == set()


async def test_a_key_without_limits_sends_no_quota_header(keys):
    created = await keys.create("user")
    answer = await authz(keys.authz_port, ASK, {"x-api-key": created.secret})
    assert answer.status == 200 and "x-chatdb-quota" not in answer.headers
    assert answer.headers["x-chatdb-role"] == "user"
