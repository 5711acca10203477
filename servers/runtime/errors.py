"""The one domain error tree of ChatDB. Cores raise these; one interceptor maps them to
gRPC status codes with google.rpc details. Cores never import grpc.

    ChatDBError                 (carries a canonical code, never an HTTP number)
    ├── InvalidArgument         INVALID_ARGUMENT   + google.rpc.BadRequest field violations
    ├── NotFound                NOT_FOUND
    ├── AlreadyExists           ALREADY_EXISTS
    ├── FailedPrecondition      FAILED_PRECONDITION
    ├── PermissionDenied        PERMISSION_DENIED
    ├── Unauthenticated         UNAUTHENTICATED
    ├── ResourceExhausted       RESOURCE_EXHAUSTED
    │   └── QuotaExceeded       RESOURCE_EXHAUSTED + google.rpc.QuotaFailure, RetryInfo
    ├── Aborted                 ABORTED
    ├── Unavailable             UNAVAILABLE
    ├── DeadlineExceeded        DEADLINE_EXCEEDED
    ├── Unimplemented           UNIMPLEMENTED
    └── Internal                INTERNAL

Every error also carries a google.rpc.ErrorInfo: `reason` (UPPER_SNAKE, stable, for
machines), the `domain` "chatdb.dev" and string `metadata`.

A message that quotes what the caller sent quotes it through `quote()`, which keeps at
most MAX_QUOTE_CHARS of it: the whole status travels in response headers, and a 20 KB
name quoted in full would turn the answer into RESOURCE_EXHAUSTED ("metadata size
exceeds hard limit"). status.py bounds the rest (message, metadata, violations) as a
safety net for messages that do not use it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Code(enum.IntEnum):
    """Canonical codes (google.rpc.Code numbering), so the core needs no grpc import."""

    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    UNAUTHENTICATED = 16


ERROR_DOMAIN = "chatdb.dev"
MAX_QUOTE_CHARS = 200


def clip(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    """`text` if it has at most `limit` characters, else its start and how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def quote(value: object, limit: int = MAX_QUOTE_CHARS) -> str:
    """repr() of caller input for an error message, cut to `limit` characters of input."""
    if isinstance(value, str | bytes) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value)} {'characters' if isinstance(value, str) else 'bytes'})"
    return clip(repr(value), limit + 2)


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class ChatDBError(Exception):
    code: Code = Code.INTERNAL
    default_reason: str = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})


class InvalidArgument(ChatDBError):
    code = Code.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        *,
        violations: list[FieldViolation] | None = None,
        field: str | None = None,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations: list[FieldViolation] = list(violations or [])
        if field is not None:
            self.violations.append(FieldViolation(field, message))

    @classmethod
    def from_violations(cls, violations: list[FieldViolation]) -> InvalidArgument:
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations)
        return cls(f"invalid request: {summary}", violations=violations)


class NotFound(ChatDBError):
    code = Code.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(ChatDBError):
    code = Code.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(ChatDBError):
    code = Code.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class PermissionDenied(ChatDBError):
    code = Code.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class Unauthenticated(ChatDBError):
    code = Code.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class ResourceExhausted(ChatDBError):
    code = Code.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"


@dataclass(frozen=True)
class QuotaViolation:
    subject: str  # whose quota: "api_key:ak_…"
    description: str  # which quota and when it resets


class QuotaExceeded(ResourceExhausted):
    """A per-key quota ran out: RESOURCE_EXHAUSTED with google.rpc.QuotaFailure (which
    quota) and RetryInfo (when its window resets)."""

    default_reason = "QUOTA_EXCEEDED"

    def __init__(
        self,
        message: str,
        *,
        violations: list[QuotaViolation],
        retry_after_s: float,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations = list(violations)
        self.retry_after_s = max(0.0, float(retry_after_s))


class Aborted(ChatDBError):
    code = Code.ABORTED
    default_reason = "ABORTED"


class Unavailable(ChatDBError):
    code = Code.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class DeadlineExceeded(ChatDBError):
    code = Code.DEADLINE_EXCEEDED
    default_reason = "DEADLINE_EXCEEDED"


class Unimplemented(ChatDBError):
    code = Code.UNIMPLEMENTED
    default_reason = "UNIMPLEMENTED"


class Internal(ChatDBError):
    code = Code.INTERNAL
    default_reason = "INTERNAL"


@dataclass
class ErrorDetails:
    """What a client recovers from a failed call's google.rpc.Status."""

    code: int
    message: str
    reason: str | None = None
    domain: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[FieldViolation] = field(default_factory=list)


def error_for(details: ErrorDetails) -> ChatDBError:
    """The domain error a failed downstream call stands for, so a caller (the worker, the
    gateway) can pass on what the other service said with the same code."""
    for cls in ChatDBError.__subclasses__():
        if int(cls.code) == details.code:
            if cls is InvalidArgument:
                return InvalidArgument(details.message, violations=details.violations, reason=details.reason)
            return cls(details.message, reason=details.reason, metadata=details.metadata)
    return Internal(details.message, reason=details.reason)

