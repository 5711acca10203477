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
    error_for,
)

STATUS_DETAILS_KEY = "grpc-status-details-bin"


def grpc_code(code: int) -> grpc.StatusCode:
    for status_code in grpc.StatusCode:
        if status_code.value[0] == int(code):
            return status_code
    return grpc.StatusCode.UNKNOWN


def to_status_proto(error: ChatDBError) -> status_pb2.Status:
    details: list[any_pb2.Any] = []
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata)
    packed = any_pb2.Any()
    packed.Pack(info)
    details.append(packed)
    if isinstance(error, InvalidArgument) and error.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in error.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        details.append(packed)
    return status_pb2.Status(code=int(error.code), message=error.message, details=details)


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

