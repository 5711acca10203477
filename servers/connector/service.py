"""ConnectorServicer: translates ConnectorService calls to ConnectorCore and back.

Nothing else: every rule lives in the core, every mapping in convert, every error
becomes a status in the shared interceptor. The call's remaining deadline is handed to
the core as a plain number so that statements are timed out inside the database.
"""

from __future__ import annotations

import contextlib

import grpc
from chatdb.connector.v1 import connector_service_pb2 as pb
from chatdb.connector.v1 import connector_service_pb2_grpc as pb_grpc

from . import convert
from .core import ConnectorCore

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ConnectorService"].full_name


class ConnectorServicer(pb_grpc.ConnectorServiceServicer):
    def __init__(self, core: ConnectorCore) -> None:
        self._core = core

    async def CreateConnection(self, request: pb.CreateConnectionRequest, context: grpc.aio.ServicerContext) -> pb.CreateConnectionResponse:
        spec = convert.connection_spec(request.connection)
        created = await self._core.create_connection(request.connection_id, spec, request.request_id)
        if created.warnings:
            # No field in the response for them (yet): trailing metadata a client can read.
            context.set_trailing_metadata(tuple(
                ("chatdb-warning", w.encode("ascii", "backslashreplace").decode()) for w in created.warnings
            ))
        return pb.CreateConnectionResponse(connection=convert.connection_to_pb(created))

    async def GetConnection(self, request: pb.GetConnectionRequest, context: grpc.aio.ServicerContext) -> pb.GetConnectionResponse:
        connection = await self._core.get_connection(request.connection_id)
        return pb.GetConnectionResponse(connection=convert.connection_to_pb(connection))

    async def ListConnections(self, request: pb.ListConnectionsRequest, context: grpc.aio.ServicerContext) -> pb.ListConnectionsResponse:
        kind = convert.kind_from_pb(request.kind)
        result = await self._core.list_connections(request.page_size, request.page_token, kind)
        return convert.list_response(result)

    async def DeleteConnection(self, request: pb.DeleteConnectionRequest, context: grpc.aio.ServicerContext) -> pb.DeleteConnectionResponse:
        await self._core.delete_connection(request.connection_id, request.allow_missing)
        return pb.DeleteConnectionResponse()

    async def GetSchema(self, request: pb.GetSchemaRequest, context: grpc.aio.ServicerContext) -> pb.GetSchemaResponse:
        result = await self._core.get_schema(
            request.connection_id, refresh=request.refresh, schema_names=tuple(request.schema_names),
            tables=tuple(request.tables), deadline_s=context.time_remaining(),
        )
        return convert.schema_response(result)

    async def SetGlossary(self, request: pb.SetGlossaryRequest, context: grpc.aio.ServicerContext) -> pb.SetGlossaryResponse:
        stored = await self._core.set_glossary(
            request.connection_id, convert.glossary_from_pb(request.glossary), validate_only=request.validate_only,
            deadline_s=context.time_remaining(),
        )
        return pb.SetGlossaryResponse(glossary=convert.glossary_to_pb(stored))

    async def GetGlossary(self, request: pb.GetGlossaryRequest, context: grpc.aio.ServicerContext) -> pb.GetGlossaryResponse:
        stored = await self._core.get_glossary(request.connection_id)
        return pb.GetGlossaryResponse(glossary=convert.glossary_to_pb(stored))

    async def ExecuteQuery(self, request: pb.ExecuteQueryRequest, context: grpc.aio.ServicerContext) -> pb.ExecuteQueryResponse:
        page = await self._core.execute(convert.execute_request(request, context.time_remaining()))
        return convert.execute_response(page)

    async def StreamQuery(self, request: pb.StreamQueryRequest, context: grpc.aio.ServicerContext) -> None:
        encoder = convert.StreamEncoder()
        events = self._core.stream(convert.stream_request(request, context.time_remaining()))
        # context.write() rather than yield: a client that cancels cancels this task at
        # the write, so aclosing() closes the core's generator, which closes the driver's
        # cursor and transaction at once. A yielding servicer would instead be left
        # suspended until garbage collection, its transaction open on the database.
        async with contextlib.aclosing(events):
            async for event in events:
                await context.write(encoder.encode(event))
