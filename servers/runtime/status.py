"""Domain errors ⇄ gRPC status with google.rpc details (AIP-193), both directions."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from .errors import (
    ERROR_DOMAIN,
    ChatDBError,
    ErrorDetails,
    FieldViolation,
    InvalidArgument,
    QuotaExceeded,
    error_for,
)

STATUS_DETAILS_KEY = "grpc-status-details-bin"

# A status travels in trailing metadata (grpc-message, percent-encoded, and
# grpc-status-details-bin, base64): over the client's limit (8 KiB soft, 16 KiB hard by
# default) the client sees RESOURCE_EXHAUSTED instead of the real status. These bounds
# keep the worst case near 6 KiB whatever a message quotes; errors.quote() keeps the
# common case readable.
MAX_MESSAGE_BYTES = 800
MAX_METADATA_ENTRIES = 8
MAX_METADATA_KEY_BYTES = 64
MAX_METADATA_VALUE_BYTES = 128
MAX_VIOLATIONS = 10
MAX_FIELD_BYTES = 200
MAX_DESCRIPTION_BYTES = 300
MAX_DETAILS_BYTES = 3000


def bounded(text: str, max_bytes: int) -> str:
    """`text` cut in the middle to at most about `max_bytes` of UTF-8 (its start and end
    are what a person reads: "training job 'jjj…' not found")."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    keep = max(max_bytes - 40, 2)
    head = data[: keep * 2 // 3].decode(errors="ignore")
    tail = data[len(data) - keep // 3 :].decode(errors="ignore")
    return f"{head}…[{len(data) - keep} bytes cut]…{tail}"


def grpc_code(code: int) -> grpc.StatusCode:
    for status_code in grpc.StatusCode:
        if status_code.value[0] == int(code):
            return status_code
    return grpc.StatusCode.UNKNOWN


def to_status_proto(error: ChatDBError) -> status_pb2.Status:
    """The status of `error`, bounded in size (see MAX_*): values that quote caller input
    are cut, violations past the first few are dropped."""
    metadata = {
        bounded(k, MAX_METADATA_KEY_BYTES): bounded(v, MAX_METADATA_VALUE_BYTES)
        for k, v in list(error.metadata.items())[:MAX_METADATA_ENTRIES]
    }
    info = error_details_pb2.ErrorInfo(
        reason=bounded(error.reason, MAX_METADATA_KEY_BYTES), domain=ERROR_DOMAIN, metadata=metadata
    )
    packed = any_pb2.Any()
    packed.Pack(info)
    status = status_pb2.Status(
        code=int(error.code), message=bounded(error.message, MAX_MESSAGE_BYTES), details=[packed]
    )
    if isinstance(error, InvalidArgument) and error.violations:
        violations = [
            error_details_pb2.BadRequest.FieldViolation(
                field=bounded(v.field, MAX_FIELD_BYTES), description=bounded(v.description, MAX_DESCRIPTION_BYTES)
            )
            for v in error.violations[:MAX_VIOLATIONS]
        ]
        while True:
            packed = any_pb2.Any()
            packed.Pack(error_details_pb2.BadRequest(field_violations=violations))
            if len(violations) <= 1 or status.ByteSize() + packed.ByteSize() <= MAX_DETAILS_BYTES:
                break
            violations.pop()
        status.details.append(packed)
    if isinstance(error, QuotaExceeded):
        failure = error_details_pb2.QuotaFailure(violations=[
            error_details_pb2.QuotaFailure.Violation(
                subject=bounded(v.subject, MAX_FIELD_BYTES), description=bounded(v.description, MAX_DESCRIPTION_BYTES))
            for v in error.violations[:MAX_VIOLATIONS]
        ])
        packed = any_pb2.Any()
        packed.Pack(failure)
        status.details.append(packed)
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromNanoseconds(int(error.retry_after_s * 1e9))
        packed = any_pb2.Any()
        packed.Pack(retry)
        status.details.append(packed)
    return status


def to_grpc_status(error: ChatDBError) -> grpc.Status:
    return rpc_status.to_status(to_status_proto(error))


def internal_status(message: str) -> grpc.Status:
    return rpc_status.to_status(status_pb2.Status(code=code_pb2.INTERNAL, message=message))


def details_from_metadata(code: int, message: str, trailing_metadata) -> ErrorDetails:
    """Parse google.rpc details out of a failed call's trailing metadata."""
    result = ErrorDetails(code=code, message=message)
    for key, value in trailing_metadata or ():
        if key != STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                result.reason, result.domain, result.metadata = info.reason, info.domain, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                result.violations = [FieldViolation(v.field, v.description) for v in bad.field_violations]
    return result


def details_from_rpc_error(error: grpc.RpcError) -> ErrorDetails:
    """For clients (sync or aio) that want the reason and field violations of a failure."""
    code = error.code()  # type: ignore[attr-defined]
    return details_from_metadata(code.value[0], error.details() or "", error.trailing_metadata())  # type: ignore[attr-defined]


def error_from_rpc_error(error: grpc.RpcError) -> ChatDBError:
    """A failed call to another ChatDB service as the matching domain error."""
    return error_for(details_from_rpc_error(error))

