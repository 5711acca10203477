"""Helpers of the gateway tests (not a test module): the real connector, the real parser
and the real gateway, each a GrpcServer on 127.0.0.1:<ephemeral>, the gateway calling the
other two over gRPC, on this session's platform database and Redis prefix. Nothing
listens on the prediction port unless a test says otherwise: the parser answers on its
rule path."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from chatdb.gateway.v1 import chat_service_pb2 as pb
from chatdb.gateway.v1 import chat_service_pb2_grpc

from gateway.app import open_gateway
from gateway.core import Gateway
from gateway.service import chat_binding
from servers.contracts.cells import cell_to_value
from servers.runtime.server import GrpcServer
from servers.runtime.settings import Settings
from tests.connector.service_support import free_port
from tests.parser.service_support import Mesh, running_parser


@dataclass
class GatewayMesh:
    parsing: Mesh  # connector + parser
    core: Gateway
    server: GrpcServer
    stub: chat_service_pb2_grpc.ChatServiceStub
    settings: Settings

    @property
    def connector(self):
        return self.parsing.connector

    async def ask(self, question: str, connection_id: str = "", **fields) -> pb.AskResponse:
        return await self.stub.Ask(pb.AskRequest(question=question, connection_id=connection_id, **fields))


def rows_of(response) -> list[tuple]:
    return [tuple(cell_to_value(c) for c in row.cells) for row in response.rows]


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings, *, opener=None, gateway_updates: dict | None = None,
                          **updates) -> AsyncIterator[GatewayMesh]:
    updates.setdefault("prediction_port", free_port())
    # The connector reads its settings from `settings` itself (running_parser applies
    # `updates` to the parser only): every process here gets the updates.
    settings = settings.model_copy(update=updates)
    async with running_parser(settings, opener=opener) as parsing, contextlib.AsyncExitStack() as stack:
        gateway_settings = parsing.settings.model_copy(update={
            "parser_port": parsing.parser_port, "gateway_versions_ttl_s": 0.0, **(gateway_updates or {})})
        opened = await open_gateway(gateway_settings, stack)
        server = GrpcServer(gateway_settings, [chat_binding(opened.core)], host="127.0.0.1", port=0)
        await server.start()
        stack.push_async_callback(server.stop, 0, 0)
        channel = grpc.aio.insecure_channel(server.address)
        stack.push_async_callback(channel.close)
        yield GatewayMesh(parsing, opened.core, server, chat_service_pb2_grpc.ChatServiceStub(channel),
                          gateway_settings)


async def forget(connector, *connection_ids: str) -> None:
    """Delete connections a module registered: their databases go with the module, and a
    connection left behind is a database "down" for later tests that check every one."""
    from chatdb.connector.v1 import connector_service_pb2 as cpb

    for connection_id in connection_ids:
        await connector.stub.DeleteConnection(
            cpb.DeleteConnectionRequest(connection_id=connection_id, allow_missing=True))
