"""Pure proto ⇄ domain converters of the model registry (no I/O, no policy)."""

from __future__ import annotations

from datetime import UTC, datetime

from chatdb.registry.v1 import (
    model_event_pb2,
    model_pb2,
    model_registry_service_pb2,
    model_version_pb2,
)
from google.protobuf import timestamp_pb2

from .domain import (
    Artifact,
    EventType,
    Model,
    ModelEvent,
    ModelVersion,
    Selector,
    TensorSpec,
    UploadMetadata,
    VersionSpec,
    VersionState,
)

_STATE_TO_PROTO = {
    VersionState.READY: model_version_pb2.MODEL_VERSION_STATE_READY,
    VersionState.ARCHIVED: model_version_pb2.MODEL_VERSION_STATE_ARCHIVED,
}
_STATE_FROM_PROTO = {v: k for k, v in _STATE_TO_PROTO.items()}

_EVENT_TO_PROTO = {
    EventType.VERSION_CREATED: model_event_pb2.MODEL_EVENT_TYPE_VERSION_CREATED,
    EventType.ALIAS_MOVED: model_event_pb2.MODEL_EVENT_TYPE_ALIAS_MOVED,
    EventType.VERSION_ARCHIVED: model_event_pb2.MODEL_EVENT_TYPE_VERSION_ARCHIVED,
}
_EVENT_FROM_PROTO = {v: k for k, v in _EVENT_TO_PROTO.items()}


# --- time --------------------------------------------------------------------------------


def timestamp_to_proto(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return ts


def timestamp_from_proto(message: object, field: str) -> datetime | None:
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    return getattr(message, field).ToDatetime(tzinfo=UTC)


# --- tensors, states -----------------------------------------------------------------------


def tensor_spec_to_proto(spec: TensorSpec) -> model_version_pb2.TensorSpec:
    return model_version_pb2.TensorSpec(name=spec.name, datatype=spec.datatype, shape=list(spec.shape))


def tensor_spec_from_proto(message: model_version_pb2.TensorSpec) -> TensorSpec:
    return TensorSpec(name=message.name, datatype=message.datatype, shape=tuple(message.shape))


def state_to_proto(state: VersionState) -> int:
    return _STATE_TO_PROTO[state]


def state_from_proto(value: int) -> VersionState | None:
    """UNSPECIFIED (and values this build does not know) → None: no state filter."""
    return _STATE_FROM_PROTO.get(value)


# --- versions ------------------------------------------------------------------------------


def version_spec_from_proto(message: model_version_pb2.ModelVersion) -> VersionSpec:
    """The Optional fields of a ModelVersion an uploader sets; Output only ones are ignored."""
    return VersionSpec(
        inputs=tuple(tensor_spec_from_proto(t) for t in message.inputs),
        outputs=tuple(tensor_spec_from_proto(t) for t in message.outputs),
        metrics=dict(message.metrics),
        dataset_fingerprint=message.dataset_fingerprint,
        library_versions=dict(message.library_versions),
        training_job_id=message.training_job_id,
        task=message.task,
        description=message.description,
        format=message.artifact.format or "onnx",
    )


def version_spec_to_proto(spec: VersionSpec) -> model_version_pb2.ModelVersion:
    """A ModelVersion carrying only what an uploader sets (for clients building uploads)."""
    return model_version_pb2.ModelVersion(
        artifact=model_version_pb2.Artifact(format=spec.format),
        inputs=[tensor_spec_to_proto(t) for t in spec.inputs],
        outputs=[tensor_spec_to_proto(t) for t in spec.outputs],
        metrics=spec.metrics,
        dataset_fingerprint=spec.dataset_fingerprint,
        library_versions=spec.library_versions,
        training_job_id=spec.training_job_id,
        task=spec.task,
        description=spec.description,
    )


def model_version_to_proto(version: ModelVersion) -> model_version_pb2.ModelVersion:
    message = version_spec_to_proto(version.spec)
    message.model = version.model
    message.version = version.version
    message.state = state_to_proto(version.state)
    message.tenant = version.tenant
    message.artifact.CopyFrom(
        model_version_pb2.Artifact(
            sha256=version.artifact.sha256,
            size_bytes=version.artifact.size_bytes,
            format=version.artifact.format,
            uri=version.artifact.uri,
        )
    )
    created = timestamp_to_proto(version.create_time)
    if created is not None:
        message.create_time.CopyFrom(created)
    return message


def model_version_from_proto(message: model_version_pb2.ModelVersion) -> ModelVersion:
    return ModelVersion(
        model=message.model,
        version=message.version,
        state=state_from_proto(message.state) or VersionState.READY,
        artifact=Artifact(
            sha256=message.artifact.sha256,
            size_bytes=message.artifact.size_bytes,
            format=message.artifact.format or "onnx",
            uri=message.artifact.uri,
        ),
        spec=version_spec_from_proto(message),
        create_time=timestamp_from_proto(message, "create_time"),
        tenant=message.tenant,
    )


# --- models, events --------------------------------------------------------------------------


def model_to_proto(model: Model) -> model_pb2.Model:
    return model_pb2.Model(
        name=model.name,
        description=model.description,
        latest_version=model.latest_version,
        aliases=model.aliases,
        create_time=timestamp_to_proto(model.create_time),
        update_time=timestamp_to_proto(model.update_time),
        tenant=model.tenant,
    )


def model_from_proto(message: model_pb2.Model) -> Model:
    return Model(
        name=message.name,
        description=message.description,
        latest_version=message.latest_version,
        aliases=dict(message.aliases),
        create_time=timestamp_from_proto(message, "create_time"),
        update_time=timestamp_from_proto(message, "update_time"),
        tenant=message.tenant,
    )


def event_to_proto(event: ModelEvent) -> model_event_pb2.ModelEvent:
    return model_event_pb2.ModelEvent(
        sequence=event.sequence,
        type=_EVENT_TO_PROTO[event.type],
        model=event.model,
        version=event.version,
        alias=event.alias,
        previous_version=event.previous_version,
        event_time=timestamp_to_proto(event.event_time),
    )


def event_from_proto(message: model_event_pb2.ModelEvent) -> ModelEvent:
    return ModelEvent(
        sequence=message.sequence,
        type=_EVENT_FROM_PROTO[message.type],
        model=message.model,
        version=message.version,
        alias=message.alias,
        previous_version=message.previous_version,
        event_time=timestamp_from_proto(message, "event_time"),
    )


# --- requests --------------------------------------------------------------------------------


def upload_metadata_from_proto(
    model: str, metadata: model_registry_service_pb2.CreateModelVersionRequest.Metadata
) -> UploadMetadata:
    return UploadMetadata(
        model=model,
        expected_sha256=metadata.expected_sha256,
        expected_size_bytes=metadata.expected_size_bytes or None,
        request_id=metadata.request_id,
        model_description=metadata.model_description,
        spec=version_spec_from_proto(metadata.model_version),
    )


def upload_metadata_to_proto(
    meta: UploadMetadata,
) -> model_registry_service_pb2.CreateModelVersionRequest:
    """The first message of an upload stream (for clients such as the worker)."""
    return model_registry_service_pb2.CreateModelVersionRequest(
        model=meta.model,
        metadata=model_registry_service_pb2.CreateModelVersionRequest.Metadata(
            request_id=meta.request_id,
            expected_sha256=meta.expected_sha256,
            expected_size_bytes=meta.expected_size_bytes or 0,
            model_version=version_spec_to_proto(meta.spec),
            model_description=meta.model_description,
        ),
    )


def selector_from_proto(request: model_registry_service_pb2.DownloadModelVersionRequest) -> Selector:
    which = request.WhichOneof("selector")
    if which == "version":
        return Selector(version=request.version)
    if which == "alias":
        return Selector(alias=request.alias)
    return Selector()


def since_sequence_from_proto(request: model_registry_service_pb2.WatchModelEventsRequest) -> int | None:
    return request.since_sequence if request.HasField("since_sequence") else None
