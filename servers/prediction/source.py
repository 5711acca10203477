"""The registry as the prediction service's ModelSource: downloads (DownloadModelVersion,
checked against the announced sha256 and size), alias targets (GetModel, ListModels), a
model's versions (ListModelVersions) and the event stream (WatchModelEvents). gRPC
errors become domain errors here, at the boundary, so sessions.py and the core never see
grpc."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import grpc
from chatdb.registry.v1 import model_event_pb2, model_version_pb2
from chatdb.registry.v1 import model_registry_service_pb2 as reg
from chatdb.registry.v1 import model_registry_service_pb2_grpc as reg_grpc

from servers.runtime.channels import open_channel
from servers.runtime.errors import NotFound, Unavailable
from servers.runtime.settings import Settings

from .domain import Artifact, EventType, ModelEvent

_EVENTS = {
    model_event_pb2.MODEL_EVENT_TYPE_VERSION_CREATED: EventType.VERSION_CREATED,
    model_event_pb2.MODEL_EVENT_TYPE_ALIAS_MOVED: EventType.ALIAS_MOVED,
    model_event_pb2.MODEL_EVENT_TYPE_VERSION_ARCHIVED: EventType.VERSION_ARCHIVED,
}


def open_registry_channel(settings: Settings) -> grpc.aio.Channel:
    return open_channel(settings, "registry", map_errors=True)


def event_from_proto(message: model_event_pb2.ModelEvent) -> ModelEvent | None:
    kind = _EVENTS.get(message.type)
    if kind is None:
        return None
    return ModelEvent(message.sequence, kind, message.model, message.version, message.alias, message.previous_version)


class RegistrySource:
    """The registry as prediction's ModelSource. Its channel maps failed calls to the
    error tree (open_registry_channel: open_channel(..., map_errors=True))."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float = 60.0) -> None:
        self.stub = reg_grpc.ModelRegistryServiceStub(channel)
        self.timeout_s = timeout_s

    async def download(self, model: str, version: int) -> Artifact:
        call = self.stub.DownloadModelVersion(
            reg.DownloadModelVersionRequest(model=model, version=version), timeout=self.timeout_s)
        meta = None
        chunks: list[bytes] = []
        async for message in call:
            if message.WhichOneof("payload") == "model_version":
                meta = message.model_version
            else:
                chunks.append(message.chunk)
        data = b"".join(chunks)
        if meta is None:
            raise Unavailable(f"the registry sent no metadata for {model!r} version {version}")
        if meta.artifact.size_bytes and len(data) != meta.artifact.size_bytes or (
            meta.artifact.sha256 and hashlib.sha256(data).hexdigest() != meta.artifact.sha256
        ):
            raise Unavailable(f"the download of {model!r} version {version} was corrupted (size or sha256 differ)")
        return Artifact(
            model=model, version=meta.version or version, data=data,
            archived=meta.state == model_version_pb2.MODEL_VERSION_STATE_ARCHIVED, task=meta.task,
            tenant=meta.tenant,
        )

    async def alias_target(self, model: str, alias: str) -> int:
        reply = await self.stub.GetModel(reg.GetModelRequest(model=model), timeout=self.timeout_s)
        version = reply.model.aliases.get(alias)
        if not version:
            raise NotFound(f"model {model!r} has no alias {alias!r}", reason="ALIAS_NOT_FOUND",
                           metadata={"model": model, "alias": alias})
        return version

    async def alias_targets(self, alias: str) -> list[tuple[str, int]]:
        targets: list[tuple[str, int]] = []
        token = ""
        while True:
            reply = await self.stub.ListModels(
                reg.ListModelsRequest(page_size=1000, page_token=token), timeout=self.timeout_s)
            targets += [(m.name, m.aliases[alias]) for m in reply.models if alias in m.aliases]
            token = reply.next_page_token
            if not token:
                return targets

    async def versions(self, model: str) -> list[int]:
        versions: list[int] = []
        token = ""
        while True:
            reply = await self.stub.ListModelVersions(
                reg.ListModelVersionsRequest(model=model, page_size=1000, page_token=token), timeout=self.timeout_s)
            versions += [v.version for v in reply.model_versions
                         if v.state != model_version_pb2.MODEL_VERSION_STATE_ARCHIVED]
            token = reply.next_page_token
            if not token:
                return sorted(versions)

    async def events(self, since_sequence: int | None) -> AsyncIterator[ModelEvent]:
        request = reg.WatchModelEventsRequest()
        if since_sequence is not None:
            request.since_sequence = since_sequence
        call = self.stub.WatchModelEvents(request)
        try:
            async for message in call:
                event = event_from_proto(message.event)
                if event is not None:
                    yield event
        finally:
            call.cancel()
        raise Unavailable("the registry ended the event stream")
