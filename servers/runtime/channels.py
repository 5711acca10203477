"""Client channels from one ChatDB service (or CLI) to another, built once.

`open_channel()` reads the address, the TLS settings (tls.channel_credentials: TLS, or
mTLS with a client certificate) and the message size limits from Settings, and caps
gRPC's reconnect backoff (its default grows to 120 s: a service back after 30 s would
wait for the channel's next try; capped, a retry finds it within seconds).

With `map_errors=True` the channel carries error_mapping_interceptors(): a failed call raises
the runtime's domain error (errors.NotFound, errors.Unavailable, … with the reason,
metadata and field violations the other service sent) instead of grpc.aio.AioRpcError,
so a server calling a server passes on what it was told with the same code. CLIs keep
plain channels: they print the AioRpcError's status themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc

from . import tracing
from .errors import ChatDBError
from .identity import forwarded_metadata
from .settings import Settings
from .status import error_from_rpc_error
from .tls import channel_credentials

RECONNECT_BACKOFF_MS = 500
MAX_RECONNECT_BACKOFF_MS = 5000


def address_of(settings: Settings, service: str) -> str:
    """CHATDB_<SERVICE>_ADDRESS when set (services on other hosts, e.g. Kubernetes
    Services), else CHATDB_HOST and the service's port."""
    return settings.address_override(service) or f"{settings.host}:{settings.port_of(service)}"


def channel_options(settings: Settings) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", settings.max_receive_message_bytes),
        ("grpc.max_send_message_length", settings.max_send_message_bytes),
        ("grpc.initial_reconnect_backoff_ms", RECONNECT_BACKOFF_MS),
        ("grpc.min_reconnect_backoff_ms", RECONNECT_BACKOFF_MS),
        ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
    ]


def open_channel(
    settings: Settings,
    service: str | None = None,
    *,
    address: str | None = None,
    map_errors: bool = False,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """A channel to `service` (its configured port on settings.host) or to `address`;
    `options` override the defaults of channel_options by name."""
    if address is None:
        if service is None:
            raise ValueError("open_channel needs a service or an address")
        address = address_of(settings, service)
    creds = channel_credentials(settings)
    # A peer reached by a Service name (parser.chatdb.svc) is verified under that name:
    # `chatdb certs --dns-suffix chatdb.svc` issues certificates that carry it.
    options = list({**dict(channel_options(settings)), **dict(options)}.items())
    interceptors: list[grpc.aio.ClientInterceptor] = identity_forwarding_interceptors()
    if map_errors:
        interceptors += error_mapping_interceptors()
    if creds is not None:
        return grpc.aio.secure_channel(address, creds, options, interceptors=interceptors)
    return grpc.aio.insecure_channel(address, options, interceptors=interceptors)


def as_domain_error(exc: BaseException) -> ChatDBError:
    """A failed call as a domain error, whether or not its channel mapped it already."""
    if isinstance(exc, ChatDBError):
        return exc
    if isinstance(exc, grpc.RpcError):
        return error_from_rpc_error(exc)
    raise TypeError(f"not a call failure: {exc!r}")


async def _mapped(responses: AsyncIterator[Any]) -> AsyncIterator[Any]:
    try:
        async for message in responses:
            yield message
    except grpc.aio.AioRpcError as exc:
        raise error_from_rpc_error(exc) from None


class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):
        call = await continuation(client_call_details, request)
        try:
            return await call
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc_error(exc) from None


class _MappedStreamUnaryCall(grpc.aio.StreamUnaryCall):
    """A client-streaming call whose answer, awaited, raises domain errors (a stream-unary
    interceptor must return a call, not the answer)."""

    def __init__(self, call: grpc.aio.StreamUnaryCall) -> None:
        self._call = call

    def __await__(self):
        try:
            return (yield from self._call.__await__())
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc_error(exc) from None

    async def write(self, request: Any) -> None:
        await self._call.write(request)

    async def done_writing(self) -> None:
        await self._call.done_writing()

    def cancel(self) -> bool:
        return self._call.cancel()

    def cancelled(self) -> bool:
        return self._call.cancelled()

    def done(self) -> bool:
        return self._call.done()

    def add_done_callback(self, callback) -> None:
        self._call.add_done_callback(lambda _call: callback(self))

    def time_remaining(self) -> float | None:
        return self._call.time_remaining()

    async def initial_metadata(self):
        return await self._call.initial_metadata()

    async def trailing_metadata(self):
        return await self._call.trailing_metadata()

    async def code(self) -> grpc.StatusCode:
        return await self._call.code()

    async def details(self) -> str:
        return await self._call.details()

    async def wait_for_connection(self) -> None:
        await self._call.wait_for_connection()


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return _MappedStreamUnaryCall(await continuation(client_call_details, request_iterator))


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return _mapped(await continuation(client_call_details, request))


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return _mapped(await continuation(client_call_details, request_iterator))


def error_mapping_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """AioRpcError → the runtime's error tree (status.error_from_rpc_error), one
    interceptor per kind of call (a channel files each interceptor under one kind only).
    Streamed answers keep call.cancel(): it reaches the real call."""
    return [_UnaryUnary(), _UnaryStream(), _StreamUnary(), _StreamStream()]


def _with_identity(details: grpc.aio.ClientCallDetails, extra: tuple[tuple[str, str], ...] = ()) -> grpc.aio.ClientCallDetails:
    metadata = forwarded_metadata(details.metadata)
    if extra:
        metadata = tuple(metadata or ()) + extra
    if metadata is details.metadata:
        return details
    return grpc.aio.ClientCallDetails(
        details.method, details.timeout, grpc.aio.Metadata(*metadata), details.credentials, details.wait_for_ready
    )


# Each forwarding interceptor also makes the call's CLIENT span (tracing.py) and sends
# its context on as `traceparent`. It is the outermost interceptor, so it sees the
# domain error a mapped channel raises as well as a plain channel's status.


def _end_when_done(span, call) -> None:
    """End a streaming call's CLIENT span with its status, once the call is over."""

    def done(_call) -> None:
        status = asyncio.ensure_future(call.code())
        status.add_done_callback(
            lambda f: tracing.end_client_span(span, None if f.cancelled() or f.exception() else f.result(),
                                              error=asyncio.CancelledError() if f.cancelled() else f.exception()))

    call.add_done_callback(done)


class _ForwardUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):
        traced = tracing.start_client_span(client_call_details.method)
        if traced is None:
            return await continuation(_with_identity(client_call_details), request)
        span, extra = traced
        try:
            call = await continuation(_with_identity(client_call_details, extra), request)
            code = await call.code()  # the call's end; a failure stays for its caller to await
        except BaseException as exc:
            tracing.end_client_span(span, error=exc)
            raise
        tracing.end_client_span(span, code)
        return call


async def _forward_streaming(continuation, client_call_details, request):
    """A streaming call (either direction) with identity and trace context; its CLIENT
    span ends when the call does."""
    traced = tracing.start_client_span(client_call_details.method)
    if traced is None:
        return await continuation(_with_identity(client_call_details), request)
    span, extra = traced
    try:
        call = await continuation(_with_identity(client_call_details, extra), request)
    except BaseException as exc:
        tracing.end_client_span(span, error=exc)
        raise
    _end_when_done(span, call)
    return call


class _ForwardUnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return await _forward_streaming(continuation, client_call_details, request)


class _ForwardStreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return await _forward_streaming(continuation, client_call_details, request_iterator)


class _ForwardStreamStream(grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return await _forward_streaming(continuation, client_call_details, request_iterator)


def identity_forwarding_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """Calls made while serving a call carry its principal (identity.forwarded_metadata),
    so a tenant's question stays that tenant's down the mesh, and its trace context
    (tracing.start_client_span: a CLIENT span whose context goes as `traceparent`)."""
    return [_ForwardUnaryUnary(), _ForwardUnaryStream(), _ForwardStreamUnary(), _ForwardStreamStream()]
