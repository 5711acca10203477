"""ModelRegistryService servicer: translate proto ⇄ domain and call the core.

Errors are domain errors raised by the core (or by `_read_upload` for the framing of
the upload stream); the shared interceptor maps them to status codes, streams included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from chatdb.registry.v1 import model_registry_service_pb2 as pb
from chatdb.registry.v1 import model_registry_service_pb2_grpc as pb_grpc

from servers.runtime.errors import InvalidArgument, quote
from servers.runtime.server import ServiceBinding, bind

from . import convert
from .core import MAX_CHUNK_BYTES, Registry, UploadMetadata

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ModelRegistryService"].full_name


class ModelRegistryServicer(pb_grpc.ModelRegistryServiceServicer):
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def ListModels(self, request: pb.ListModelsRequest, context) -> pb.ListModelsResponse:
        page = await self.registry.list_models(request.page_size, request.page_token, request.name_prefix)
        return pb.ListModelsResponse(
            models=[convert.model_to_proto(m) for m in page.items], next_page_token=page.next_page_token
        )

    async def GetModel(self, request: pb.GetModelRequest, context) -> pb.GetModelResponse:
        return pb.GetModelResponse(model=convert.model_to_proto(await self.registry.get_model(request.model)))

    async def ListModelVersions(self, request: pb.ListModelVersionsRequest, context) -> pb.ListModelVersionsResponse:
        page = await self.registry.list_versions(
            request.model, request.page_size, request.page_token, convert.state_from_proto(request.state)
        )
        return pb.ListModelVersionsResponse(
            model_versions=[convert.model_version_to_proto(v) for v in page.items],
            next_page_token=page.next_page_token,
        )

    async def GetModelVersion(self, request: pb.GetModelVersionRequest, context) -> pb.GetModelVersionResponse:
        version = await self.registry.get_version(request.model, request.version)
        return pb.GetModelVersionResponse(model_version=convert.model_version_to_proto(version))

    async def CreateModelVersion(self, request_iterator, context) -> pb.CreateModelVersionResponse:
        stream = aiter(request_iterator)
        meta = await _read_metadata(stream)
        version = await self.registry.create_version(meta, _read_chunks(stream, meta.model))
        return pb.CreateModelVersionResponse(model_version=convert.model_version_to_proto(version))

    async def SetAlias(self, request: pb.SetAliasRequest, context) -> pb.SetAliasResponse:
        change = await self.registry.set_alias(request.model, request.alias, request.version)
        return pb.SetAliasResponse(model=convert.model_to_proto(change.model), previous_version=change.previous_version)

    async def DownloadModelVersion(
        self, request: pb.DownloadModelVersionRequest, context
    ) -> AsyncIterator[pb.DownloadModelVersionResponse]:
        version, chunks = await self.registry.open_download(request.model, convert.selector_from_proto(request))
        try:
            yield pb.DownloadModelVersionResponse(model_version=convert.model_version_to_proto(version))
            async for chunk in chunks:
                yield pb.DownloadModelVersionResponse(chunk=chunk)
        finally:
            await chunks.aclose()  # close the file now if the client went away

    async def WatchModelEvents(
        self, request: pb.WatchModelEventsRequest, context
    ) -> AsyncIterator[pb.WatchModelEventsResponse]:
        events = self.registry.watch(convert.since_sequence_from_proto(request), request.model or None)
        try:
            async for event in events:
                yield pb.WatchModelEventsResponse(event=convert.event_to_proto(event))
        finally:
            await events.aclose()  # release the subscription now, not at garbage collection


async def _read_metadata(stream: AsyncIterator[pb.CreateModelVersionRequest]) -> UploadMetadata:
    """The first message of an upload: `model` and `metadata`."""
    first = await anext(stream, None)
    if first is None or first.WhichOneof("payload") != "metadata":
        raise InvalidArgument("the first message of the upload must carry metadata", field="metadata")
    return convert.upload_metadata_from_proto(first.model, first.metadata)


async def _read_chunks(stream: AsyncIterator[pb.CreateModelVersionRequest], model: str) -> AsyncIterator[bytes]:
    """The file's bytes from every later message, checking the stream's framing."""
    async for message in stream:
        if message.model and message.model != model:
            raise InvalidArgument(f"must be empty or {quote(model)} in every message of the upload", field="model")
        if message.WhichOneof("payload") == "metadata":
            raise InvalidArgument("only the first message of the upload may carry metadata", field="metadata")
        if len(message.chunk) > MAX_CHUNK_BYTES:
            raise InvalidArgument(f"chunks must be at most {MAX_CHUNK_BYTES} bytes", field="chunk")
        yield message.chunk


def registry_binding(registry: Registry) -> ServiceBinding:
    return bind(
        SERVICE_NAME,
        pb_grpc.add_ModelRegistryServiceServicer_to_server,
        ModelRegistryServicer(registry),
        on_drain=registry.end_watches,
    )
