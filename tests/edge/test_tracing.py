"""Trace context through the real Envoy edge (mTLS, the Lua API-key check, the
transcoder): a traceparent a client sends over gRPC or REST reaches the gateway, whose
SERVER span (read from the `chatdb serve gateway` process's own trace file) continues
it. With an OTLP endpoint, Envoy's OpenTelemetry tracer takes part: its span, exported
to a collector this test runs (the OTLP/gRPC TraceService, from opentelemetry-proto),
is the child of the client's and the parent of the gateway's."""

from __future__ import annotations

import secrets
import threading
import time
from concurrent import futures

import grpc
from chatdb.gateway.v1 import chat_service_pb2 as gpb
from chatdb.gateway.v1 import chat_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from edge.config import OTEL_CLUSTER, build_config, write_config
from edge.runner import validate
from servers.runtime.settings import Settings
from servers.runtime.tracing import read_spans

from .support import free_port, grpc_channel

STATUS = "chatdb.gateway.v1.ChatService/GetSystemStatus"


def traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def gateway_span(edge_mesh, trace_id: str, timeout_s: float = 15.0) -> dict:
    path = edge_mesh.work / "home" / "traces" / "gateway.jsonl"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [s for s in read_spans(path) if s["trace_id"] == trace_id and s["name"] == STATUS]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no gateway span of trace {trace_id} in {path}")


def status_over_grpc(edge, header: str) -> None:
    with grpc_channel(edge.port, edge.pki) as channel:
        chat_service_pb2_grpc.ChatServiceStub(channel).GetSystemStatus(
            gpb.GetSystemStatusRequest(), metadata=[("x-api-key", "good"), ("traceparent", header)], timeout=10)


def test_a_grpc_clients_traceparent_reaches_the_gateway_through_envoy(edge, edge_mesh):
    trace_id, parent, header = traceparent()
    status_over_grpc(edge, header)
    span = gateway_span(edge_mesh, trace_id)
    assert span["parent_span_id"] == parent
    assert (span["service"], span["kind"]) == ("gateway", "SERVER")


def test_a_rest_clients_traceparent_reaches_the_gateway_through_the_transcoder(edge, edge_mesh):
    trace_id, parent, header = traceparent()
    reply = edge.rest().call("GET", "/v1/status", headers={"traceparent": header})
    assert reply.status == 200, reply
    assert gateway_span(edge_mesh, trace_id)["parent_span_id"] == parent


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace collector keeping what it is sent."""

    def __init__(self) -> None:
        self.spans: list = []
        self.lock = threading.Lock()

    def Export(self, request, context):
        with self.lock:
            for resource_spans in request.resource_spans:
                service = next((a.value.string_value for a in resource_spans.resource.attributes
                                if a.key == "service.name"), "")
                for scope in resource_spans.scope_spans:
                    self.spans.extend((service, span) for span in scope.spans)
        return trace_service_pb2.ExportTraceServiceResponse()

    def of_trace(self, trace_id: str) -> list:
        with self.lock:
            return [(service, span) for service, span in self.spans if span.trace_id.hex() == trace_id]


def test_with_an_otlp_endpoint_envoys_span_is_the_gateways_parent(start_edge, edge_mesh):
    collector = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        edge = start_edge(otel_exporter_otlp_endpoint=f"http://127.0.0.1:{port}")
        sent = [traceparent() for _ in range(5)]  # Envoy exports every 5 spans (or 5 s)
        for _, _, header in sent:
            status_over_grpc(edge, header)
        trace_id, client_span, _ = sent[0]
        deadline = time.monotonic() + 15
        while not collector.of_trace(trace_id) and time.monotonic() < deadline:
            time.sleep(0.1)
        envoy_spans = collector.of_trace(trace_id)
        assert envoy_spans, f"Envoy exported no span of trace {trace_id}"
        assert {service for service, _ in envoy_spans} == {"envoy"}
        # Envoy's ingress span continues the client's trace; the API-key check's call
        # is its child (an egress span), and so is the gateway's SERVER span.
        (ingress,) = [span for _, span in envoy_spans if span.kind == span.SPAN_KIND_SERVER]
        assert ingress.parent_span_id.hex() == client_span
        assert any(span.parent_span_id == ingress.span_id for _, span in envoy_spans if span is not ingress)
        assert gateway_span(edge_mesh, trace_id)["parent_span_id"] == ingress.span_id.hex()
    finally:
        server.stop(0)


def _hcm(bootstrap: dict) -> dict:
    return bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]


def test_envoys_tracer_is_configured_only_with_an_otlp_endpoint(tmp_path, monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    bootstrap, _ = build_config(Settings(home=tmp_path))
    assert "tracing" not in _hcm(bootstrap)
    assert OTEL_CLUSTER not in {c["name"] for c in bootstrap["static_resources"]["clusters"]}

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://otel.observability.svc:4317")
    settings = Settings(home=tmp_path, trace_sample_ratio=0.25, edge_port=free_port(), edge_admin_port=free_port())
    bootstrap, _ = build_config(settings)
    tracing = _hcm(bootstrap)["tracing"]
    assert tracing["provider"]["name"] == "envoy.tracers.opentelemetry"
    assert tracing["random_sampling"] == {"value": 25.0}
    (cluster,) = [c for c in bootstrap["static_resources"]["clusters"] if c["name"] == OTEL_CLUSTER]
    assert cluster["type"] == "STRICT_DNS" and cluster["transport_socket"]["typed_config"]["sni"] == "otel.observability.svc"
    validate(write_config(settings, tmp_path / "edge.yaml", tls_dir=None))
