"""The model registry's domain types: plain dataclasses, shared by the core (rules) and the
store (SQL), so that neither imports the other for them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


# --- domain types ------------------------------------------------------------------------


class VersionState(enum.Enum):
    READY = "ready"
    ARCHIVED = "archived"


class EventType(enum.Enum):
    VERSION_CREATED = "version_created"
    ALIAS_MOVED = "alias_moved"
    VERSION_ARCHIVED = "version_archived"


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str = ""
    shape: tuple[int, ...] = ()


@dataclass(frozen=True)
class Artifact:
    sha256: str
    size_bytes: int
    format: str = "onnx"
    uri: str = ""


@dataclass(frozen=True)
class VersionSpec:
    """What an uploader says about a version (its lineage and interface)."""

    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    dataset_fingerprint: str = ""
    library_versions: dict[str, str] = field(default_factory=dict)
    training_job_id: str = ""
    task: str = ""
    description: str = ""
    format: str = "onnx"


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: int
    state: VersionState
    artifact: Artifact
    spec: VersionSpec
    create_time: datetime | None = None
    # The model's tenant; "" = shared (runtime/tenancy.py).
    tenant: str = ""


@dataclass(frozen=True)
class Model:
    name: str
    description: str = ""
    latest_version: int = 0
    aliases: dict[str, int] = field(default_factory=dict)
    create_time: datetime | None = None
    update_time: datetime | None = None
    # The owning tenant; "" = shared (runtime/tenancy.py).
    tenant: str = ""


@dataclass(frozen=True)
class ModelEvent:
    sequence: int
    type: EventType
    model: str
    version: int
    alias: str = ""
    previous_version: int = 0
    event_time: datetime | None = None


@dataclass(frozen=True)
class NewEvent:
    """An event to append; the store gives it its sequence number and time."""

    type: EventType
    model: str
    version: int
    alias: str = ""
    previous_version: int = 0


@dataclass(frozen=True)
class UploadMetadata:
    """The first message of an upload."""

    model: str
    expected_sha256: str
    spec: VersionSpec
    expected_size_bytes: int | None = None
    request_id: str = ""
    model_description: str = ""


@dataclass(frozen=True)
class Selector:
    """Which version to download: a number, an alias, or (neither) the latest READY one."""

    version: int | None = None
    alias: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str = ""


@dataclass(frozen=True)
class AliasChange:
    model: Model
    previous_version: int
