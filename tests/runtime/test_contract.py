"""The public contract: every REST path of ARCHITECTURE.md is an http rule in the
descriptor set Envoy loads, on the RPC the table names."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

DESCRIPTOR_SET = Path(__file__).resolve().parents[2] / "gen" / "chatdb_descriptor.binpb"

CONTRACT = [
    ("chatdb.gateway.v1.ChatService", "Ask", "post", "/v1/ask"),
    ("chatdb.gateway.v1.ChatService", "GetQuery", "get", "/v1/queries/{query_id}"),
    ("chatdb.gateway.v1.ChatService", "ListQueries", "get", "/v1/queries"),
    ("chatdb.gateway.v1.ChatService", "GetSystemStatus", "get", "/v1/status"),
    ("chatdb.gateway.v1.ApiKeyService", "CreateApiKey", "post", "/v1/apiKeys"),
    ("chatdb.gateway.v1.ApiKeyService", "ListApiKeys", "get", "/v1/apiKeys"),
    ("chatdb.gateway.v1.ApiKeyService", "RevokeApiKey", "post", "/v1/apiKeys/{key_id}:revoke"),
    ("chatdb.connector.v1.ConnectorService", "CreateConnection", "post", "/v1/connections"),
    ("chatdb.connector.v1.ConnectorService", "GetConnection", "get", "/v1/connections/{connection_id}"),
    ("chatdb.connector.v1.ConnectorService", "ListConnections", "get", "/v1/connections"),
    ("chatdb.connector.v1.ConnectorService", "DeleteConnection", "delete", "/v1/connections/{connection_id}"),
    ("chatdb.connector.v1.ConnectorService", "GetSchema", "get", "/v1/connections/{connection_id}/schema"),
    ("chatdb.connector.v1.ConnectorService", "ExecuteQuery", "post", "/v1/connections/{connection_id}:execute"),
    ("chatdb.connector.v1.ConnectorService", "StreamQuery", "post", "/v1/connections/{connection_id}:stream"),
    ("chatdb.connector.v1.ConnectorService", "SetGlossary", "put", "/v1/connections/{connection_id}/glossary"),
    ("chatdb.connector.v1.ConnectorService", "GetGlossary", "get", "/v1/connections/{connection_id}/glossary"),
    ("chatdb.parser.v1.QueryParserService", "ParseQuery", "post", "/v1/parse"),
    ("chatdb.training.v1.TrainingService", "CreateTrainingJob", "post", "/v1/trainingJobs"),
    ("chatdb.training.v1.TrainingService", "GetTrainingJob", "get", "/v1/trainingJobs/{job_id}"),
    ("chatdb.training.v1.TrainingService", "ListTrainingJobs", "get", "/v1/trainingJobs"),
    ("chatdb.training.v1.TrainingService", "CancelTrainingJob", "post", "/v1/trainingJobs/{job_id}:cancel"),
    ("chatdb.training.v1.TrainingService", "WatchTrainingJob", "get", "/v1/trainingJobs/{job_id}:watch"),
    ("chatdb.registry.v1.ModelRegistryService", "ListModels", "get", "/v1/models"),
    ("chatdb.registry.v1.ModelRegistryService", "GetModel", "get", "/v1/models/{model}"),
    ("chatdb.registry.v1.ModelRegistryService", "ListModelVersions", "get", "/v1/models/{model}/versions"),
    ("chatdb.registry.v1.ModelRegistryService", "GetModelVersion", "get", "/v1/models/{model}/versions/{version}"),
    ("chatdb.registry.v1.ModelRegistryService", "CreateModelVersion", "post", "/v1/models/{model}/versions"),
    ("chatdb.registry.v1.ModelRegistryService", "SetAlias", "post", "/v1/models/{model}/aliases/{alias}"),
    ("chatdb.registry.v1.ModelRegistryService", "WatchModelEvents", "get", "/v1/modelEvents"),
    ("chatdb.prediction.v1.PredictionService", "Predict", "post", "/v1/models/{model}:predict"),
    ("chatdb.prediction.v1.PredictionService", "BatchPredict", "post", "/v1/models/{model}:batchPredict"),
]
GRPC_ONLY = [
    ("chatdb.registry.v1.ModelRegistryService", "DownloadModelVersion"),
    *[("inference.GRPCInferenceService", m) for m in
      ("ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer")],
]


@pytest.fixture(scope="module")
def methods() -> dict[tuple[str, str], descriptor_pb2.MethodDescriptorProto]:
    fds = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes())
    found = {}
    for file in fds.file:
        for service in file.service:
            for method in service.method:
                found[(f"{file.package}.{service.name}", method.name)] = method
    return found


@pytest.mark.parametrize(("service", "rpc", "verb", "path"), CONTRACT, ids=[f"{c[1]}" for c in CONTRACT])
def test_rest_path_is_an_http_rule(methods, service, rpc, verb, path):
    rule: http_pb2.HttpRule = methods[(service, rpc)].options.Extensions[annotations_pb2.http]
    assert getattr(rule, verb) == path


@pytest.mark.parametrize(("service", "rpc"), GRPC_ONLY)
def test_grpc_only_rpcs_exist(methods, service, rpc):
    assert (service, rpc) in methods


def test_descriptor_set_carries_error_details_for_envoy():
    fds = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes())
    names = {f.name for f in fds.file}
    assert {"google/rpc/status.proto", "google/rpc/error_details.proto", "google/api/annotations.proto"} <= names
