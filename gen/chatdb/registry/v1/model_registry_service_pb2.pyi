from chatdb.registry.v1 import model_pb2 as _model_pb2
from chatdb.registry.v1 import model_event_pb2 as _model_event_pb2
from chatdb.registry.v1 import model_version_pb2 as _model_version_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListModelsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "name_prefix")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAME_PREFIX_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    name_prefix: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., name_prefix: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[_model_pb2.Model]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[_model_pb2.Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class GetModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: _model_pb2.Model
    def __init__(self, model: _Optional[_Union[_model_pb2.Model, _Mapping]] = ...) -> None: ...

class ListModelVersionsRequest(_message.Message):
    __slots__ = ("model", "page_size", "page_token", "state")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    model: str
    page_size: int
    page_token: str
    state: _model_version_pb2.ModelVersionState
    def __init__(self, model: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[_model_version_pb2.ModelVersionState, str]] = ...) -> None: ...

class ListModelVersionsResponse(_message.Message):
    __slots__ = ("model_versions", "next_page_token")
    MODEL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    model_versions: _containers.RepeatedCompositeFieldContainer[_model_version_pb2.ModelVersion]
    next_page_token: str
    def __init__(self, model_versions: _Optional[_Iterable[_Union[_model_version_pb2.ModelVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetModelVersionRequest(_message.Message):
    __slots__ = ("model", "version")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetModelVersionResponse(_message.Message):
    __slots__ = ("model_version",)
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    model_version: _model_version_pb2.ModelVersion
    def __init__(self, model_version: _Optional[_Union[_model_version_pb2.ModelVersion, _Mapping]] = ...) -> None: ...

class CreateModelVersionRequest(_message.Message):
    __slots__ = ("model", "metadata", "chunk")
    class Metadata(_message.Message):
        __slots__ = ("request_id", "expected_sha256", "expected_size_bytes", "model_version", "model_description")
        REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
        EXPECTED_SHA256_FIELD_NUMBER: _ClassVar[int]
        EXPECTED_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
        MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
        MODEL_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
        request_id: str
        expected_sha256: str
        expected_size_bytes: int
        model_version: _model_version_pb2.ModelVersion
        model_description: str
        def __init__(self, request_id: _Optional[str] = ..., expected_sha256: _Optional[str] = ..., expected_size_bytes: _Optional[int] = ..., model_version: _Optional[_Union[_model_version_pb2.ModelVersion, _Mapping]] = ..., model_description: _Optional[str] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    model: str
    metadata: CreateModelVersionRequest.Metadata
    chunk: bytes
    def __init__(self, model: _Optional[str] = ..., metadata: _Optional[_Union[CreateModelVersionRequest.Metadata, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class CreateModelVersionResponse(_message.Message):
    __slots__ = ("model_version",)
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    model_version: _model_version_pb2.ModelVersion
    def __init__(self, model_version: _Optional[_Union[_model_version_pb2.ModelVersion, _Mapping]] = ...) -> None: ...

class SetAliasRequest(_message.Message):
    __slots__ = ("model", "alias", "version")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model: str
    alias: str
    version: int
    def __init__(self, model: _Optional[str] = ..., alias: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class SetAliasResponse(_message.Message):
    __slots__ = ("model", "previous_version")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    model: _model_pb2.Model
    previous_version: int
    def __init__(self, model: _Optional[_Union[_model_pb2.Model, _Mapping]] = ..., previous_version: _Optional[int] = ...) -> None: ...

class DownloadModelVersionRequest(_message.Message):
    __slots__ = ("model", "version", "alias")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    alias: str
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., alias: _Optional[str] = ...) -> None: ...

class DownloadModelVersionResponse(_message.Message):
    __slots__ = ("model_version", "chunk")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    model_version: _model_version_pb2.ModelVersion
    chunk: bytes
    def __init__(self, model_version: _Optional[_Union[_model_version_pb2.ModelVersion, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class WatchModelEventsRequest(_message.Message):
    __slots__ = ("since_sequence", "model")
    SINCE_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    since_sequence: int
    model: str
    def __init__(self, since_sequence: _Optional[int] = ..., model: _Optional[str] = ...) -> None: ...

class WatchModelEventsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _model_event_pb2.ModelEvent
    def __init__(self, event: _Optional[_Union[_model_event_pb2.ModelEvent, _Mapping]] = ...) -> None: ...
