"""The exporters settings choose: the default file exporter writes one JSON object per
span and line under CHATDB_HOME/traces/<service>.jsonl, which a person (or jq) reads
back with ids, parent, service, status and attributes; an unknown exporter is refused
when the settings are read."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import ValidationError

from servers.runtime import tracing
from servers.runtime.settings import Settings


def provider_with(exporter) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "parser"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def test_the_default_exporter_writes_json_lines_under_home(tmp_path):
    settings = Settings(home=tmp_path)
    assert settings.trace_exporter == "file"
    exporter = tracing.exporter_for(settings, "parser")
    provider = provider_with(exporter)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("chatdb.parser.v1.QueryParserService/ParseQuery", kind=SpanKind.SERVER,
                                      attributes={"rpc.system": "grpc"}) as parent:
        with tracer.start_as_current_span("SELECT shop") as child:
            child.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()

    path = tmp_path / "traces" / "parser.jsonl"
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    child_line, parent_line = (json.loads(line) for line in lines)  # ended first, written first
    trace_id = format(parent.get_span_context().trace_id, "032x")
    assert parent_line["trace_id"] == child_line["trace_id"] == trace_id
    assert parent_line["parent_span_id"] == "" and child_line["parent_span_id"] == parent_line["span_id"]
    assert parent_line["kind"] == "SERVER" and parent_line["service"] == "parser"
    assert parent_line["attributes"] == {"rpc.system": "grpc"}
    assert (child_line["status"], child_line["status_message"]) == ("ERROR", "boom")
    assert child_line["end_ns"] >= child_line["start_ns"] > 0
    assert tracing.read_spans(path) == [child_line, parent_line]


def test_console_exporter_prints_the_same_lines(capsys, tmp_path):
    provider = provider_with(tracing.exporter_for(Settings(home=tmp_path, trace_exporter="console"), "gateway"))
    with provider.get_tracer("test").start_as_current_span("one"):
        pass
    provider.shutdown()
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["name"] == "one"


def test_otlp_endpoint_comes_from_the_setting_then_the_standard_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
    assert tracing.otlp_endpoint(Settings(home=tmp_path)) == "http://collector:4317"
    assert tracing.otlp_endpoint(Settings(home=tmp_path, otel_exporter_otlp_endpoint="http://other:4317")) == "http://other:4317"
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    assert tracing.otlp_endpoint(Settings(home=tmp_path)) == ""


def test_an_unknown_exporter_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("CHATDB_TRACE_EXPORTER", "jaeger")
    with pytest.raises(ValidationError, match="trace_exporter"):
        Settings()


def test_service_of_a_method_is_its_package():
    assert tracing.service_of("/chatdb.connector.v1.ConnectorService/ExecuteQuery") == "connector"
    assert tracing.service_of("/inference.GRPCInferenceService/ModelInfer") == "prediction"


def test_a_full_trace_file_is_rolled_over_once(tmp_path):
    settings = Settings(home=tmp_path, trace_file_max_bytes=2000)
    provider = provider_with(tracing.exporter_for(settings, "prediction"))
    tracer = provider.get_tracer("test")
    current, previous = tmp_path / "traces" / "prediction.jsonl", tmp_path / "traces" / "prediction.jsonl.1"
    i = 0
    while i < 40 or not current.exists():  # several roll-overs, and a span after the last
        with tracer.start_as_current_span(f"call {i}"):
            pass
        i += 1
    provider.shutdown()
    assert previous.stat().st_size >= 2000 and current.stat().st_size < 2000
    assert sorted(p.name for p in (tmp_path / "traces").iterdir()) == ["prediction.jsonl", "prediction.jsonl.1"]
    names = [s["name"] for s in tracing.read_spans(previous) + tracing.read_spans(current)]
    assert names[-1] == f"call {i - 1}" and names == sorted(names, key=lambda n: int(n.split()[1]))
    assert len(names) < i  # the oldest went
