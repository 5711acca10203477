"""gRPC clients the worker uses: the registry (upload a version, move an alias) and the
connector (stream a query's rows for a dataset)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
from chatdb.connector.v1 import connector_service_pb2, connector_service_pb2_grpc, statement_pb2
from chatdb.registry.v1 import model_registry_service_pb2 as reg_pb
from chatdb.registry.v1 import model_registry_service_pb2_grpc, model_version_pb2

from servers.connector.convert import cell_to_value
from servers.runtime.settings import Settings
from servers.runtime.status import error_from_rpc_error
from servers.runtime.tls import channel_credentials

CHUNK_BYTES = 256 * 1024


def open_channel(settings: Settings, service: str) -> grpc.aio.Channel:
    address = f"{settings.host}:{settings.port_of(service)}"
    creds = channel_credentials(settings)
    options = [
        ("grpc.max_receive_message_length", settings.max_receive_message_bytes),
        ("grpc.max_send_message_length", settings.max_send_message_bytes),
    ]
    return grpc.aio.secure_channel(address, creds, options) if creds else grpc.aio.insecure_channel(address, options)


class RegistryClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.stub = model_registry_service_pb2_grpc.ModelRegistryServiceStub(channel)

    async def upload(
        self, model: str, artifact: bytes, version: model_version_pb2.ModelVersion, *, request_id: str, description: str = ""
    ) -> int:
        """Upload a model version in chunks; the registry verifies the sha256. Returns the
        version number (the same one again for a repeated request_id)."""

        def messages():
            yield reg_pb.CreateModelVersionRequest(
                model=model,
                metadata=reg_pb.CreateModelVersionRequest.Metadata(
                    request_id=request_id,
                    expected_sha256=hashlib.sha256(artifact).hexdigest(),
                    expected_size_bytes=len(artifact),
                    model_version=version,
                    model_description=description,
                ),
            )
            for start in range(0, len(artifact), CHUNK_BYTES):
                yield reg_pb.CreateModelVersionRequest(model=model, chunk=artifact[start : start + CHUNK_BYTES])

        try:
            response = await self.stub.CreateModelVersion(messages(), timeout=300)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc_error(exc) from None
        return response.model_version.version

    async def set_alias(self, model: str, alias: str, version: int) -> None:
        try:
            await self.stub.SetAlias(reg_pb.SetAliasRequest(model=model, alias=alias, version=version), timeout=30)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc_error(exc) from None


class ConnectorClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)

    async def rows(self, connection_id: str, sql: str) -> tuple[Sequence[str], AsyncIterator[tuple[Any, ...]]]:
        """Column names and an iterator of rows of the query, read through StreamQuery."""
        call = self.stub.StreamQuery(
            connector_service_pb2.StreamQueryRequest(
                connection_id=connection_id, statement=statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql=sql))
            )
        )
        columns: list[str] = []
        try:
            async for message in call:
                kind = message.WhichOneof("payload")
                if kind == "header":
                    columns = [c.name for c in message.header.columns]
                    break
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc_error(exc) from None

        async def rest() -> AsyncIterator[tuple[Any, ...]]:
            try:
                async for message in call:
                    if message.WhichOneof("payload") == "batch":
                        for row in message.batch.rows:
                            yield tuple(cell_to_value(c) for c in row.cells)
            except grpc.aio.AioRpcError as exc:
                raise error_from_rpc_error(exc) from None
            finally:
                call.cancel()  # a reader that stops early stops the query too

        return columns, rest()
