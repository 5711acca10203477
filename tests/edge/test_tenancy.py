"""Tenancy through the running edge with real API keys (the gateway's ext_authz turns a
key into its tenant): a tenant's connection and model are NOT_FOUND to another tenant's
key — over REST (404) and gRPC — with the message a missing one gets, also when reached
through Ask (the gateway's and the parser's calls carry the asking tenant), while the
owning tenant's keys work. Skipped until the edge tests and gateway.authz are there."""

from __future__ import annotations

import hashlib
import uuid

import grpc
import pytest

support = pytest.importorskip("tests.edge.support")  # the edge's own test support (tests/edge)
pytest.importorskip("gateway.authz")

from chatdb.prediction.v1 import prediction_service_pb2 as ppb  # noqa: E402
from chatdb.prediction.v1 import prediction_service_pb2_grpc  # noqa: E402
from chatdb.registry.v1 import model_registry_service_pb2 as rpb  # noqa: E402
from chatdb.registry.v1 import model_registry_service_pb2_grpc, model_version_pb2  # noqa: E402
from google.protobuf import struct_pb2  # noqa: E402

from tests.tiny_onnx import tiny_onnx  # noqa: E402


@pytest.fixture(scope="module")
def tenants(start_edge, edge_mesh):
    edge_mesh.services.run("apikeys", "bootstrap")
    admin = (edge_mesh.work / "home" / "admin-api-key").read_text().strip()
    port = int(edge_mesh.env["CHATDB_GATEWAY_AUTHZ_PORT"])
    edge = start_edge(authz_address=("127.0.0.1", port))
    rest = edge.rest()
    tag = uuid.uuid4().hex[:6]
    keys = {}
    for name, tenant, role in (("owner-admin", f"ten-x-{tag}", "ADMIN"), ("owner", f"ten-x-{tag}", "USER"),
                               ("other", f"ten-y-{tag}", "USER")):
        created = rest.call("POST", "/v1/apiKeys", {"apiKey": {
            "owner": name, "tenant": tenant, "role": f"API_KEY_ROLE_{role}"}}, key=admin)
        assert created.status == 200, created.body
        keys[name] = created.json()["secret"]
    return edge, keys, tag


def test_another_tenants_connection_is_not_found_through_the_edge(tenants, edge_mesh):
    edge, keys, tag = tenants
    rest = edge.rest()
    cid, missing = f"ten-edge-{tag}", f"ten-edge-none-{tag}"
    created = rest.call("POST", "/v1/connections", {"connectionId": cid, "connection": {
        "kind": "CONNECTION_KIND_POSTGRES", "dsn": edge_mesh.env["CHATDB_DATABASE_URL"]}}, key=keys["owner-admin"])
    assert created.status == 200, created.body
    try:
        assert created.json()["connection"]["tenant"] == f"ten-x-{tag}"
        assert rest.call("GET", f"/v1/connections/{cid}", key=keys["owner"]).status == 200
        hidden = rest.call("GET", f"/v1/connections/{cid}", key=keys["other"])
        absent = rest.call("GET", f"/v1/connections/{missing}", key=keys["other"])
        assert (hidden.status, absent.status) == (404, 404), hidden.body
        assert hidden.json()["message"] == absent.json()["message"].replace(missing, cid)

        def listed(key) -> set[str]:
            reply = rest.call("GET", "/v1/connections?pageSize=1000", key=key)
            assert reply.status == 200, reply.body
            return {c["connectionId"] for c in reply.json().get("connections", [])}

        assert cid in listed(keys["owner"]) and cid not in listed(keys["other"])
        for method, path, body in (("GET", f"/v1/connections/{cid}/schema", None),
                                   ("POST", f"/v1/connections/{cid}:execute", {"statement": {"sql": {"sql": "SELECT 1"}}}),
                                   ("POST", "/v1/ask", {"question": "how many rows are there", "connectionId": cid})):
            reply = rest.call(method, path, body, key=keys["other"])
            assert reply.status == 404, (path, reply.status, reply.body)
        from chatdb.connector.v1 import connector_service_pb2 as cpb
        from chatdb.connector.v1 import connector_service_pb2_grpc

        with support.grpc_channel(edge.port, edge.pki) as channel:
            stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.GetConnection(cpb.GetConnectionRequest(connection_id=cid), metadata=[("x-api-key", keys["other"])],
                                   timeout=10)
            assert err.value.code() is grpc.StatusCode.NOT_FOUND
            stub.GetConnection(cpb.GetConnectionRequest(connection_id=cid), metadata=[("x-api-key", keys["owner"])],
                               timeout=10)
    finally:
        rest.call("DELETE", f"/v1/connections/{cid}", key=keys["owner-admin"])


def test_another_tenants_model_is_not_found_through_the_edge(tenants):
    edge, keys, tag = tenants
    rest = edge.rest()
    model = f"ten-model-{tag}"
    data = tiny_onnx()
    with support.grpc_channel(edge.port, edge.pki) as channel:
        registry = model_registry_service_pb2_grpc.ModelRegistryServiceStub(channel)
        requests = [
            rpb.CreateModelVersionRequest(model=model, metadata=rpb.CreateModelVersionRequest.Metadata(
                expected_sha256=hashlib.sha256(data).hexdigest(), expected_size_bytes=len(data),
                model_version=model_version_pb2.ModelVersion(task="regression"))),
            rpb.CreateModelVersionRequest(chunk=data),
        ]
        version = registry.CreateModelVersion(iter(requests), metadata=[("x-api-key", keys["owner-admin"])],
                                              timeout=30).model_version
        assert version.tenant == f"ten-x-{tag}"
        prediction = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            record = struct_pb2.Struct()
            record.update({"x": 1.0})
            prediction.Predict(ppb.PredictRequest(model=model, records=[record]), metadata=[("x-api-key", keys["other"])],
                               timeout=10)
        assert err.value.code() is grpc.StatusCode.NOT_FOUND
    assert rest.call("GET", f"/v1/models/{model}", key=keys["owner"]).json()["model"]["tenant"] == f"ten-x-{tag}"
    hidden = rest.call("GET", f"/v1/models/{model}", key=keys["other"])
    assert hidden.status == 404, hidden.body
    assert rest.call("GET", f"/v1/models/{model}/versions/1", key=keys["other"]).status == 404
