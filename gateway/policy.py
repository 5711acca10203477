"""Which role may call which gRPC method: the edge's authorization policy.

The ext_authz server (authz.py) sees the gRPC path of every request (Envoy's ext_authz
filter sits after the gRPC-JSON transcoder, so REST calls arrive as their gRPC path
too), so gRPC, REST and grpcurl are refused alike:

- admin: everything;
- user: everything except the admin-only methods (API keys; creating and deleting
  connections, glossaries; model versions and aliases);
- viewer: reads only — Get*, List*, Watch* (GetSystemStatus, GetSchema, GetGlossary
  included), ParseQuery and the inference protocol's health and metadata reads; no Ask,
  ExecuteQuery, StreamQuery, Predict, BatchPredict, ModelInfer, training or feedback.

Health and reflection need no API key at all (open_path): a valid client certificate at
the edge is enough for operators.
"""

from __future__ import annotations

ADMIN, USER, VIEWER = "admin", "user", "viewer"

# Services every method of which is admin-only.
ADMIN_ONLY_SERVICES = frozenset({"chatdb.gateway.v1.ApiKeyService"})
ADMIN_ONLY_METHODS = frozenset({
    "/chatdb.connector.v1.ConnectorService/CreateConnection",
    "/chatdb.connector.v1.ConnectorService/DeleteConnection",
    "/chatdb.connector.v1.ConnectorService/SetGlossary",
    "/chatdb.registry.v1.ModelRegistryService/SetAlias",
    "/chatdb.registry.v1.ModelRegistryService/CreateModelVersion",
})
READ_PREFIXES = ("Get", "List", "Watch")
# Reads whose names do not start with a read prefix.
READ_METHODS = frozenset({
    "/chatdb.parser.v1.QueryParserService/ParseQuery",
    "/inference.GRPCInferenceService/ServerLive",
    "/inference.GRPCInferenceService/ServerReady",
    "/inference.GRPCInferenceService/ModelReady",
    "/inference.GRPCInferenceService/ServerMetadata",
    "/inference.GRPCInferenceService/ModelMetadata",
})
OPEN_SERVICES = frozenset({
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
})


def split(path: str) -> tuple[str, str] | None:
    """("pkg.Service", "Method") of a gRPC path "/pkg.Service/Method", else None."""
    if not path.startswith("/"):
        return None
    service, sep, method = path[1:].partition("/")
    if not sep or not service or not method or "/" in method:
        return None
    return service, method


def open_path(path: str) -> bool:
    """Whether `path` is served without an API key (health, reflection)."""
    parts = split(path)
    return parts is not None and parts[0] in OPEN_SERVICES


def admin_only(path: str) -> bool:
    parts = split(path)
    return parts is not None and (parts[0] in ADMIN_ONLY_SERVICES or path in ADMIN_ONLY_METHODS)


def is_read(path: str) -> bool:
    parts = split(path)
    return parts is not None and (parts[1].startswith(READ_PREFIXES) or path in READ_METHODS)


def allowed(role: str, path: str) -> bool:
    """Whether a key with `role` may call the gRPC method at `path`. A path that is not a
    gRPC method path is refused to everyone but admins."""
    if role == ADMIN:
        return True
    if split(path) is None:
        return False
    if role == USER:
        return not admin_only(path)
    if role == VIEWER:
        return is_read(path) and not admin_only(path)
    return False
