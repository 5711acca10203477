"""The one server interceptor: request id, one JSON log line per call, error mapping.

Every RPC kind is wrapped (unary and streaming, both directions), so no servicer needs a
decorator and none can forget one. Domain errors become their status code with
google.rpc details; anything else is logged with its traceback and answered INTERNAL with
a generic message that names the request id, so no internals reach the client.

Request deserializers are wrapped too (see screening.py): undecodable bytes, too deep
nesting and NUL characters in strings reach the call as a refusal that is raised inside
it, so they are INVALID_ARGUMENT with a request id and a log line like any other error,
in request streams as well (a malformed message in the middle of an upload).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from . import tracing
from .errors import ChatDBError
from .identity import (
    check_identity_headers,
    peer_spiffe_id,
    principal_from_metadata,
    reset_peer,
    reset_principal,
    set_peer,
    set_principal,
)
from .logs import request_id_var
from .metrics import observe_call
from .screening import Refused, input_error, screening_deserializer
from .status import grpc_code, internal_status, to_grpc_status

REQUEST_ID_KEY = "x-request-id"
log = logging.getLogger("chatdb.rpc")

# Calls polled by probes many times a second would drown the log; they log at DEBUG.
QUIET_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})


class _Call:
    """Book-keeping of one call: request id, caller, timing, final status, log line."""

    __slots__ = ("method", "metadata", "request_id", "start", "code", "peer", "peer_id", "principal", "mtls", "_tokens")

    def __init__(self, method: str, metadata, peer: str, mtls: bool) -> None:
        self.method = method
        self.metadata = metadata
        self.mtls = mtls
        self.principal = principal_from_metadata(metadata)
        # Read while the call is live: once a client has gone away, its generator may be
        # closed after grpc freed the call, and context.peer() then crashes the process
        # (a segfault in cygrpc, seen on a cancelled DownloadModelVersion).
        self.peer = peer
        self.peer_id: str | None = None  # the caller's SPIFFE id, with mTLS
        rid = None
        for key, value in metadata or ():
            if key == REQUEST_ID_KEY:
                rid = value
                break
        # Bound the echoed id: it is caller-controlled and ends up in logs.
        self.request_id = (rid[:128] if isinstance(rid, str) and rid else uuid.uuid4().hex)
        self.start = time.perf_counter()
        self.code = grpc.StatusCode.OK

    def trailing(self) -> tuple[tuple[str, str], ...]:
        return ((REQUEST_ID_KEY, self.request_id),)

    def enter(self, context: grpc.aio.ServicerContext) -> None:
        """The call's request id, principal and (with mTLS) peer become the context of
        the code that serves it."""
        if self.mtls:
            self.peer_id = peer_spiffe_id(context)
        self._tokens = (
            request_id_var.set(self.request_id),
            set_principal(self.principal),
            set_peer(self.peer_id) if self.mtls else None,
            # the SERVER span, continuing a traceparent in the metadata (tracing.py)
            tracing.start_server_span(self.method, self.metadata, self.request_id),
        )

    def check_identity(self) -> None:
        """With mTLS, identity headers are believed only from mesh peers (raises)."""
        if self.mtls:
            check_identity_headers(self.principal, self.peer_id, self.method)

    def leave(self) -> None:
        request_id, principal, peer, span = self._tokens
        tracing.end_server_span(span, self.code)
        if peer is not None:
            reset_peer(peer)
        reset_principal(principal)
        request_id_var.reset(request_id)
        tracing.leave_server_span(span)

    async def fail(self, context: grpc.aio.ServicerContext, exc: BaseException) -> None:
        """Abort the call with the status that `exc` stands for (always raises)."""
        if not isinstance(exc, ChatDBError) and (mapped := input_error(exc)) is not None:
            # Bad input that a check should have caught earlier: answer INVALID_ARGUMENT,
            # and log it so the check gets added where it belongs.
            log.warning(
                "malformed input reached a driver or library",
                exc_info=exc,
                extra={"method": self.method, "request_id": self.request_id},
            )
            exc = mapped
        if isinstance(exc, ChatDBError):
            status = to_grpc_status(exc)
        else:
            log.error(
                "unhandled error",
                exc_info=exc,
                extra={"method": self.method, "request_id": self.request_id},
            )
            status = internal_status(f"internal error (request id {self.request_id})")
        self.code = status.code
        await context.abort(status.code, status.details, tuple(status.trailing_metadata) + self.trailing())

    def finish(self, context: grpc.aio.ServicerContext) -> None:
        # A cancelled call's context may already be freed: it is not touched again.
        if self.code is grpc.StatusCode.OK:
            code = context.code()
            if code is not None:
                self.code = code if isinstance(code, grpc.StatusCode) else grpc_code(code)
        duration_s = time.perf_counter() - self.start
        observe_call(self.method, self.code, duration_s)  # Prometheus (metrics.py)
        level = logging.DEBUG if self.method in QUIET_METHODS and self.code is grpc.StatusCode.OK else logging.INFO
        if log.isEnabledFor(level):
            log.log(
                level,
                "rpc",
                extra={
                    "method": self.method,
                    "peer": self.peer,
                    **({"peer_id": self.peer_id} if self.peer_id else {}),
                    "status": self.code.name,
                    "duration_ms": round(duration_s * 1000, 3),
                },
            )


class ServerInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, unscreened_services: frozenset[str] = frozenset(), *, mtls: bool = False) -> None:
        # Services whose requests are not walked for NUL characters (a hot path).
        self.unscreened_services = unscreened_services
        # Every caller holds a certificate: its SPIFFE id is read for each call
        # (identity.current_peer) and decides whether identity headers are believed.
        self.mtls = mtls

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        metadata = details.invocation_metadata
        deserializer = handler.request_deserializer
        if deserializer is not None:
            service = method[1:].rpartition("/")[0]
            deserializer = screening_deserializer(deserializer, screen_strings=service not in self.unscreened_services)
        kwargs = dict(request_deserializer=deserializer, response_serializer=handler.response_serializer)
        mtls = self.mtls
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(_wrap_unary(handler.unary_unary, method, metadata, mtls), **kwargs)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _wrap_unary(_refusing_stream(handler.stream_unary), method, metadata, mtls), **kwargs
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(_wrap_stream(handler.unary_stream, method, metadata, mtls), **kwargs)
        return grpc.stream_stream_rpc_method_handler(
            _wrap_stream(_refusing_stream(handler.stream_stream), method, metadata, mtls), **kwargs
        )


def _refusing_stream(behavior: Callable[..., Any]) -> Callable[..., Any]:
    """A request-streaming behavior whose iterator raises the error of a refused message
    when the servicer reaches it (inside the call, so the interceptor maps it)."""

    def call(request_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
        return behavior(_refusing(request_iterator), context)

    return call


async def _refusing(request_iterator: Any) -> Any:
    async for request in request_iterator:
        if type(request) is Refused:
            raise request.error
        yield request


def _wrap_unary(behavior: Callable[..., Any], method: str, metadata, mtls: bool = False) -> Callable[..., Any]:
    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        call = _Call(method, metadata, context.peer(), mtls)
        call.enter(context)
        try:
            context.set_trailing_metadata(call.trailing())
            call.check_identity()
            if type(request) is Refused:
                raise request.error
            result = behavior(request, context)
            if inspect.isawaitable(result):
                result = await result
            return result
        except (grpc.aio.AbortError, asyncio.CancelledError) as exc:
            call.code = grpc.StatusCode.CANCELLED if isinstance(exc, asyncio.CancelledError) else call.code
            raise
        except BaseException as exc:  # noqa: BLE001 - every failure gets a status
            await call.fail(context, exc)
        finally:
            call.finish(context)
            call.leave()

    return unary


def _wrap_stream(behavior: Callable[..., Any], method: str, metadata, mtls: bool = False) -> Callable[..., Any]:
    async def stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
        call = _Call(method, metadata, context.peer(), mtls)
        call.enter(context)
        try:
            context.set_trailing_metadata(call.trailing())
            call.check_identity()
            if type(request) is Refused:
                raise request.error
            result = behavior(request, context)
            if hasattr(result, "__aiter__"):
                async for item in result:
                    yield item
            elif inspect.isawaitable(result):
                # A servicer that writes with context.write() and returns nothing.
                await result
            else:
                for item in result:
                    yield item
        except (grpc.aio.AbortError, asyncio.CancelledError) as exc:
            call.code = grpc.StatusCode.CANCELLED if isinstance(exc, asyncio.CancelledError) else call.code
            raise
        except GeneratorExit:
            call.code = grpc.StatusCode.CANCELLED
            raise
        except BaseException as exc:  # noqa: BLE001
            await call.fail(context, exc)
        finally:
            call.finish(context)
            # A client that goes away mid-stream gets its generator closed from another
            # context (by the garbage collector), where the token is not valid.
            with contextlib.suppress(ValueError):
                call.leave()

    return stream
