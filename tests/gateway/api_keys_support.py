"""Helpers of the API key, authz and quota tests (not a test module): the gateway's
ApiKeyService and its ext_authz HTTP server on ephemeral ports over this session's
platform database, and a plain HTTP/1.1 client for the authz server."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from chatdb.gateway.v1 import api_key_pb2
from chatdb.gateway.v1 import api_key_service_pb2 as pb
from chatdb.gateway.v1 import api_key_service_pb2_grpc as pb_grpc

from gateway.api_key_service import api_key_binding
from gateway.app import MIGRATIONS, OpenedKeys, open_api_keys
from servers.runtime.migrations import migrate_dsn
from servers.runtime.pg import open_platform_pool
from servers.runtime.server import GrpcServer
from servers.runtime.settings import Settings

ROLES = {"admin": api_key_pb2.API_KEY_ROLE_ADMIN, "user": api_key_pb2.API_KEY_ROLE_USER,
         "viewer": api_key_pb2.API_KEY_ROLE_VIEWER}


@dataclass
class KeysServer:
    keys: OpenedKeys
    server: GrpcServer
    stub: pb_grpc.ApiKeyServiceStub
    pool: object
    settings: Settings

    @property
    def authz_port(self) -> int:
        return self.keys.authz.port

    async def create(self, role: str = "user", *, owner: str = "ada@example.com", tenant: str = "acme",
                     request_id: str = "", **quotas: int) -> pb.CreateApiKeyResponse:
        key = api_key_pb2.ApiKey(owner=owner, tenant=tenant, role=ROLES[role],
                                 quotas=api_key_pb2.ApiKeyQuotas(**quotas))
        return await self.stub.CreateApiKey(pb.CreateApiKeyRequest(api_key=key, request_id=request_id))


@contextlib.asynccontextmanager
async def running_keys(settings: Settings, **updates) -> AsyncIterator[KeysServer]:
    settings = settings.model_copy(update=updates)
    async with contextlib.AsyncExitStack() as stack:
        await migrate_dsn(settings.database_url, "gateway", MIGRATIONS)
        pool = await open_platform_pool(settings)
        stack.push_async_callback(pool.close)
        keys = await open_api_keys(settings, stack, pool, authz_port=0)
        server = GrpcServer(settings, [api_key_binding(keys.api_keys)], host="127.0.0.1", port=0)
        await server.start()
        stack.push_async_callback(server.stop, 0, 0)
        channel = grpc.aio.insecure_channel(server.address)
        stack.push_async_callback(channel.close)
        yield KeysServer(keys, server, pb_grpc.ApiKeyServiceStub(channel), pool, settings)


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: dict | None


def authz_call(port: int, path: str, headers: dict[str, str] | None = None, *,
               connection: http.client.HTTPConnection | None = None, method: str = "POST") -> HttpAnswer:
    """One check the way Envoy's ext_authz makes it: /authz<gRPC path>, no body."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, "/authz" + path, headers={"content-length": "0", **(headers or {})})
        response = conn.getresponse()
        raw = response.read()
        return HttpAnswer(response.status, {k.lower(): v for k, v in response.getheaders()},
                          json.loads(raw) if raw else None)
    finally:
        if connection is None:
            conn.close()


async def authz(port: int, path: str, headers: dict[str, str] | None = None) -> HttpAnswer:
    return await asyncio.to_thread(authz_call, port, path, headers)
