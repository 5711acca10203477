"""Converters: proto ⇄ domain round trips and the request helpers."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from chatdb.registry.v1 import model_event_pb2, model_version_pb2
from chatdb.registry.v1 import model_registry_service_pb2 as pb

from servers.registry import convert
from servers.registry.domain import (
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

WHEN = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)

SPEC = VersionSpec(
    inputs=(TensorSpec("float_input", "FP32", (-1, 4)), TensorSpec("text", "BYTES", (-1, 1))),
    outputs=(TensorSpec("label", "INT64", (-1,)), TensorSpec("probabilities")),
    metrics={"accuracy": 0.93, "macro_f1": 0.9},
    dataset_fingerprint="sha256:abc",
    library_versions={"scikit-learn": "1.6.1", "skl2onnx": "1.18.0"},
    training_job_id="job-42",
    task="text_classification",
    description="first try",
    format="onnx",
)


def test_model_version_round_trip():
    version = ModelVersion(
        model="intent",
        version=3,
        state=VersionState.ARCHIVED,
        artifact=Artifact("a" * 64, 1234, "onnx", "file:///x/sha256/aa/aa/" + "a" * 64),
        spec=SPEC,
        create_time=WHEN,
    )
    message = convert.model_version_to_proto(version)
    assert message.state == model_version_pb2.MODEL_VERSION_STATE_ARCHIVED
    assert message.artifact.sha256 == "a" * 64 and message.artifact.size_bytes == 1234
    assert list(message.inputs[0].shape) == [-1, 4]
    assert convert.model_version_from_proto(message) == version
    # Wire round trip too.
    again = model_version_pb2.ModelVersion.FromString(message.SerializeToString())
    assert convert.model_version_from_proto(again) == version


def test_version_spec_ignores_output_only_fields_and_defaults_format():
    message = convert.version_spec_to_proto(SPEC)
    message.version = 99
    message.artifact.sha256 = "f" * 64
    message.artifact.format = ""
    spec = convert.version_spec_from_proto(message)
    assert spec.format == "onnx"
    assert spec == SPEC


def test_nan_metric_survives():
    message = convert.version_spec_to_proto(VersionSpec(metrics={"roc_auc": math.nan}))
    assert math.isnan(convert.version_spec_from_proto(message).metrics["roc_auc"])


def test_model_round_trip_and_unset_times():
    model = Model("intent", "classifies intents", 4, {"production": 3, "staging": 4}, WHEN, WHEN)
    assert convert.model_from_proto(convert.model_to_proto(model)) == model
    bare = Model("x")
    message = convert.model_to_proto(bare)
    assert not message.HasField("create_time")
    assert convert.model_from_proto(message) == bare


def test_event_round_trip():
    for event_type, proto_type in [
        (EventType.VERSION_CREATED, model_event_pb2.MODEL_EVENT_TYPE_VERSION_CREATED),
        (EventType.ALIAS_MOVED, model_event_pb2.MODEL_EVENT_TYPE_ALIAS_MOVED),
        (EventType.VERSION_ARCHIVED, model_event_pb2.MODEL_EVENT_TYPE_VERSION_ARCHIVED),
    ]:
        event = ModelEvent(7, event_type, "intent", 2, "staging", 1, WHEN)
        message = convert.event_to_proto(event)
        assert message.type == proto_type
        assert convert.event_from_proto(message) == event


def test_upload_metadata_round_trip():
    meta = UploadMetadata(
        model="intent",
        expected_sha256="b" * 64,
        spec=SPEC,
        expected_size_bytes=10,
        request_id="req-1",
        model_description="intent classifier",
    )
    first = convert.upload_metadata_to_proto(meta)
    assert first.WhichOneof("payload") == "metadata"
    assert convert.upload_metadata_from_proto(first.model, first.metadata) == meta
    # 0 means "size not given".
    first.metadata.expected_size_bytes = 0
    assert convert.upload_metadata_from_proto(first.model, first.metadata).expected_size_bytes is None


def test_selector_and_since_sequence():
    assert convert.selector_from_proto(pb.DownloadModelVersionRequest(model="m")) == Selector()
    assert convert.selector_from_proto(pb.DownloadModelVersionRequest(model="m", version=0)) == Selector(version=0)
    assert convert.selector_from_proto(pb.DownloadModelVersionRequest(model="m", alias="staging")) == Selector(alias="staging")
    assert convert.since_sequence_from_proto(pb.WatchModelEventsRequest()) is None
    assert convert.since_sequence_from_proto(pb.WatchModelEventsRequest(since_sequence=0)) == 0
    assert convert.since_sequence_from_proto(pb.WatchModelEventsRequest(since_sequence=12)) == 12


def test_state_filter():
    assert convert.state_from_proto(model_version_pb2.MODEL_VERSION_STATE_UNSPECIFIED) is None
    assert convert.state_from_proto(model_version_pb2.MODEL_VERSION_STATE_READY) is VersionState.READY
    assert convert.state_to_proto(VersionState.ARCHIVED) == model_version_pb2.MODEL_VERSION_STATE_ARCHIVED
