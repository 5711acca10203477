"""Tracing: OpenTelemetry spans across the mesh, W3C trace context over gRPC metadata.

One trace follows a request from Envoy through every process it reaches:

    Envoy (its OpenTelemetry tracer, when an OTLP endpoint is set; edge/config.py)
      → gateway SERVER span (chatdb.gateway.v1.ChatService/Ask)
        → CLIENT span (ParserService/Parse) → parser SERVER span
            → CLIENT span → connector SERVER span (GetSchema, ExecuteQuery …) → db span
        → CLIENT span (ExecuteQuery) → connector SERVER span → db span
    CreateTrainingJob SERVER span → (trace context in the arq job) → worker attempt span
      → CLIENT span → registry SERVER span (CreateModelVersion, SetAlias)

Where the pieces live: the server interceptor (interceptors.py, `_Call.enter/leave`)
calls start_server_span / end_server_span, which continue a `traceparent` (and
`tracestate`) found in the call's metadata; the channels of open_channel()
(channels.py) call start_client_span / end_client_span and send the CLIENT span's
context on as `traceparent`; the connector opens a db span per statement (db_span);
the training queue carries `carrier()` in the arq job and the worker continues it
(`extract`). Health checks and reflection get no span.

Per process, setup() builds the exporter from Settings once: CHATDB_TRACE_EXPORTER
`file` (default: one JSON object per span and line in CHATDB_TRACE_DIR/<service>.jsonl),
`console` (the same lines on stdout), `otlp` (OTLP/gRPC to
CHATDB_OTEL_EXPORTER_OTLP_ENDPOINT, else the standard OTEL_EXPORTER_OTLP_ENDPOINT) or
`none`; spans are handed to the exporter by a BatchSpanProcessor (a background thread;
the OTEL_BSP_* variables tune it). Sampling is parent-based: a call that arrives with a
sampled traceparent is recorded, a new trace is recorded with probability
CHATDB_TRACE_SAMPLE_RATIO. A span that is not sampled still has a trace id, which is
propagated (and which Ask returns), so ids never depend on sampling.

Every span carries the resource attribute service.name = the ChatDB service it was made
for. A process normally serves one service; tests run several in one process, so there
is one TracerProvider per service name, all sharing the process's span processors: a
server span's service comes from its method's package (chatdb.<service>.v1), a client
or db span's from the span it is made under.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import (
    ReadableSpan,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
    TracerProvider,
)
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .settings import Settings

log = logging.getLogger("chatdb.tracing")

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
EXPORTERS = ("file", "console", "otlp", "none")
# Probes call these many times a second; a span each would be noise and cost.
UNTRACED_METHODS = frozenset({
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
})
# Packages not named chatdb.<service>.vN, and the service that serves them.
FOREIGN_PACKAGES = {"inference": "prediction"}
MAX_STATEMENT_CHARS = 4096
# Server-side codes that make a SERVER span an error (OpenTelemetry's gRPC conventions:
# the others, such as NOT_FOUND or INVALID_ARGUMENT, are the caller's doing).
_SERVER_ERRORS = frozenset({2, 4, 12, 13, 14, 15})  # UNKNOWN DEADLINE_EXCEEDED UNIMPLEMENTED INTERNAL UNAVAILABLE DATA_LOSS

_propagator = TraceContextTextMapPropagator()


# --- the process's providers -----------------------------------------------------------


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.processors = SynchronousMultiSpanProcessor()
        self.sampler: Sampler = ParentBased(TraceIdRatioBased(1.0))
        self.default_service = "chatdb"
        self.configured = False
        self.tracers: dict[str, trace.Tracer] = {}

    def tracer(self, service: str) -> trace.Tracer:
        tracer = self.tracers.get(service)
        if tracer is None:
            with self.lock:
                tracer = self.tracers.get(service)
                if tracer is None:
                    provider = TracerProvider(
                        sampler=self.sampler, resource=Resource.create({SERVICE_NAME: service}),
                        active_span_processor=self.processors, shutdown_on_exit=False,
                    )
                    tracer = self.tracers[service] = provider.get_tracer("chatdb")
        return tracer


_state = _State()


def sampler_of(settings: Settings) -> Sampler:
    if settings.trace_exporter == "none":
        return ALWAYS_OFF
    return ParentBased(TraceIdRatioBased(min(max(settings.trace_sample_ratio, 0.0), 1.0)))


def otlp_endpoint(settings: Settings) -> str:
    """CHATDB_OTEL_EXPORTER_OTLP_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT ("" for none)."""
    return settings.otel_exporter_otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")


def exporter_for(settings: Settings, service: str) -> SpanExporter | None:
    kind = settings.trace_exporter
    if kind == "file":
        return JsonLinesExporter(Path(settings.trace_dir) / f"{service}.jsonl", settings.trace_file_max_bytes)
    if kind == "console":
        return ConsoleSpanExporter(out=sys.stdout, formatter=lambda span: span_line(span) + "\n")
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint(settings)
        return OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    if kind == "none":
        return None
    raise ValueError(f"CHATDB_TRACE_EXPORTER must be one of {', '.join(EXPORTERS)}, not {kind!r}")


def setup(service: str, settings: Settings) -> None:
    """Trace this process as `service` with the exporter and sampling of `settings`
    (once per process; later calls change nothing). Composition roots call it."""
    with _state.lock:
        if _state.configured:
            return
        _state.configured = True
        _state.default_service = service
        _state.sampler = sampler_of(settings)
        _state.tracers.clear()
    exporter = exporter_for(settings, service)
    if exporter is not None:
        _state.processors.add_span_processor(BatchSpanProcessor(exporter))
    atexit.register(shutdown)
    log.info("tracing", extra={"exporter": settings.trace_exporter, "sample_ratio": settings.trace_sample_ratio,
                               **({"endpoint": otlp_endpoint(settings)} if settings.trace_exporter == "otlp" else {})})


def add_span_processor(processor: SpanProcessor) -> None:
    """Hand every span of this process to `processor` too (tests: an in-memory exporter)."""
    _state.processors.add_span_processor(processor)


def force_flush(timeout_ms: int = 5000) -> bool:
    return _state.processors.force_flush(timeout_ms)


def shutdown() -> None:
    """Export what is pending and stop the exporters (end of the process)."""
    _state.processors.shutdown()


def tracer(service: str | None = None) -> trace.Tracer:
    return _state.tracer(service or _state.default_service)


@functools.lru_cache(maxsize=512)
def service_of(method: str) -> str:
    """The ChatDB service a gRPC method belongs to: /chatdb.parser.v1.ParserService/Parse
    → parser; a method of no ChatDB package → the process's own service."""
    package = method[1:].rpartition("/")[0].rpartition(".")[0]
    parts = package.split(".")
    if len(parts) >= 2 and parts[0] == "chatdb":
        return parts[1]
    return FOREIGN_PACKAGES.get(package, _state.default_service)


def _service_of_current() -> str:
    resource = getattr(trace.get_current_span(), "resource", None)
    if resource is not None:
        name = resource.attributes.get(SERVICE_NAME)
        if isinstance(name, str):
            return name
    return _state.default_service


# --- propagation -------------------------------------------------------------------------


def extract(carrier: Mapping[str, str] | None) -> otel_context.Context | None:
    """The context a traceparent/tracestate carrier continues (None: a new trace)."""
    if not carrier or TRACEPARENT not in carrier:
        return None
    return _propagator.extract(carrier)


def carrier(span: trace.Span | None = None) -> dict[str, str]:
    """The current span's (or `span`'s) context as W3C headers, {} when there is none."""
    out: dict[str, str] = {}
    ctx = trace.set_span_in_context(span) if span is not None else None
    _propagator.inject(out, context=ctx)
    return out


def _metadata_carrier(metadata: Sequence[tuple[str, Any]] | None) -> dict[str, str] | None:
    found = None
    for key, value in metadata or ():
        if (key == TRACEPARENT or key == TRACESTATE) and isinstance(value, str):
            if found is None:
                found = {}
            found.setdefault(key, value)
    return found


def current_trace_id() -> str:
    """The current trace's id as 32 hex digits ("" outside any span)."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def _grpc_code_number(code: Any) -> int:
    value = getattr(code, "value", code)
    if isinstance(value, tuple):  # grpc.StatusCode: (number, name)
        value = value[0]
    return int(value)


def _code_name(code: Any) -> str:
    return getattr(code, "name", str(code))


# --- server and client spans of gRPC calls ----------------------------------------------


def start_server_span(method: str, metadata: Sequence[tuple[str, Any]] | None, request_id: str) -> tuple | None:
    """Start the SERVER span of a call and make it current; (span, token) for
    end_server_span, None for a method that is not traced."""
    if method in UNTRACED_METHODS:
        return None
    parent = extract(_metadata_carrier(metadata))
    service, _, name = method[1:].rpartition("/")
    span = tracer(service_of(method)).start_span(
        method[1:], context=parent, kind=SpanKind.SERVER,
        attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name, "chatdb.request_id": request_id},
    )
    return span, otel_context.attach(trace.set_span_in_context(span, parent))


def end_server_span(state: tuple | None, code: Any) -> None:
    """End a call's SERVER span with its status code (its context stays current until
    leave_server_span)."""
    if state is None:
        return
    span = state[0]
    if span.is_recording():
        number = _grpc_code_number(code)
        span.set_attribute("rpc.grpc.status_code", number)
        if number in _SERVER_ERRORS:
            span.set_status(Status(StatusCode.ERROR, _code_name(code)))
    span.end()


def leave_server_span(state: tuple | None) -> None:
    """Make the context before the call current again (the interceptor does it last:
    a stream closed from another context fails on its own tokens before this one)."""
    if state is not None:
        otel_context.detach(state[1])


def start_client_span(method: str | bytes) -> tuple[trace.Span, tuple[tuple[str, str], ...]] | None:
    """A CLIENT span for an outgoing call and the metadata that carries it on; None
    outside any trace (a CLI's call, a background task's: the callee starts its own)."""
    current = trace.get_current_span()
    if not current.get_span_context().is_valid:
        return None
    if isinstance(method, bytes):
        method = method.decode()
    if method in UNTRACED_METHODS:
        return None
    service, _, name = method[1:].rpartition("/")
    span = tracer(_service_of_current()).start_span(
        method[1:], kind=SpanKind.CLIENT,
        attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
    )
    return span, tuple(carrier(span).items())


def end_client_span(span: trace.Span, code: Any = None, error: BaseException | None = None) -> None:
    """End a CLIENT span: `code` is the call's status (grpc.StatusCode or a number), or
    `error` the exception the call raised (a mapped domain error, a cancel)."""
    if span.is_recording():
        if code is None and error is not None:
            code = getattr(error, "code", None)
            if callable(code):  # grpc.aio.AioRpcError.code()
                code = code()
            if code is None:
                code = 1  # CANCELLED: the caller went away
        if code is not None:
            number = _grpc_code_number(code)
            span.set_attribute("rpc.grpc.status_code", number)
            if number != 0:
                span.set_status(Status(StatusCode.ERROR, _code_name(code)))
    span.end()


# --- spans of the connector's statements --------------------------------------------------


@contextlib.contextmanager
def db_span(system: str, database: str, statement: str, operation: str, **attributes: Any) -> Iterator[trace.Span]:
    """A CLIENT span around one statement run on a user database: db.system
    (postgresql, mysql, mongodb), db.name, db.operation and db.statement (the statement
    as run, read-only, cut at MAX_STATEMENT_CHARS). Not made current: nothing inside
    makes spans, and an async generator's context would not hold it."""
    span = tracer(_service_of_current()).start_span(
        f"{operation} {database}".strip(), kind=SpanKind.CLIENT,
        attributes={"db.system": system, "db.name": database, "db.operation": operation,
                    "db.statement": statement[:MAX_STATEMENT_CHARS], **attributes},
    )
    try:
        yield span
    except Exception as exc:  # not a cancel or a closed stream: those are no fault
        if span.is_recording():
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:500]))
        raise
    finally:
        span.end()


# --- the file (and console) exporter -----------------------------------------------------


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """One span as a plain JSON object (hex ids as W3C writes them, times in ns)."""
    ctx = span.context
    parent = span.parent
    return {
        "name": span.name,
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_span_id": format(parent.span_id, "016x") if parent is not None else "",
        "kind": span.kind.name,
        "service": span.resource.attributes.get(SERVICE_NAME, ""),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "duration_ms": round(((span.end_time or 0) - (span.start_time or 0)) / 1e6, 3),
        "status": span.status.status_code.name,
        **({"status_message": span.status.description} if span.status.description else {}),
        "attributes": dict(span.attributes or {}),
        **({"events": [{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events]}
           if span.events else {}),
    }


def span_line(span: ReadableSpan) -> str:
    return json.dumps(span_record(span), default=str, separators=(",", ":"))


class JsonLinesExporter(SpanExporter):
    """Appends one JSON object per span and line to a file (CHATDB_TRACE_EXPORTER=file).
    Past `max_bytes` the file becomes `<name>.1` (replacing the previous one) and a new
    one starts, so a busy service keeps at most twice that on disk."""

    def __init__(self, path: Path, max_bytes: int = 0) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._file = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        text = "".join(span_line(s) + "\n" for s in spans)
        try:
            with self._lock:
                if self._file is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
                self._file.write(text)
                self._file.flush()
                if self.max_bytes and self._file.tell() >= self.max_bytes:
                    self._file.close()
                    self._file = None
                    self.path.replace(self.path.with_name(self.path.name + ".1"))
        except OSError:
            log.warning("could not write spans", exc_info=True, extra={"path": str(self.path)})
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def read_spans(path: Path) -> list[dict[str, Any]]:
    """The spans a file exporter wrote (a line cut short by a crash is skipped)."""
    out = []
    with contextlib.suppress(FileNotFoundError):
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
    return out
