"""The generated bootstrap: read from the descriptor set, accepted by `envoy --mode validate`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edge.config import build_config, read_services, render, write_config
from edge.runner import EnvoyError, validate
from servers.runtime import certs
from servers.runtime.settings import Settings

BIN = Path(sys.executable).parent
LUA_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute"


@pytest.fixture
def tls_dir(tmp_path) -> Path:
    d = tmp_path / "certs"
    ca = certs.create_ca()
    certs.write_pair(ca, d, "ca")
    certs.write_pair(certs.issue(ca, "envoy"), d, "envoy")
    return d


def _settings(tmp_path, **kw) -> Settings:
    return Settings(**{"home": tmp_path / "home", "edge_port": 18443, "edge_admin_port": 19901, **kw})


def test_every_service_of_the_descriptor_set_is_routed():
    services = {s.full_name: s for s in read_services()}
    assert services["chatdb.connector.v1.ConnectorService"].process == "connector"
    assert services["inference.GRPCInferenceService"].process == "prediction"
    assert services["chatdb.gateway.v1.ApiKeyService"].process == "gateway"
    assert {s.process for s in services.values()} == {"gateway", "parser", "connector", "training", "registry", "prediction"}
    bootstrap, _ = build_config(Settings())
    clusters = {c["name"] for c in bootstrap["static_resources"]["clusters"]}
    assert set(services) | {"gateway", "ext_authz"} == clusters
    hcm = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    paths = {r["match"].get("path") for r in hcm["route_config"]["virtual_hosts"][0]["routes"]}
    for service in services.values():
        for method in service.methods:
            assert f"/{service.full_name}/{method.name}" in paths


def test_reads_retry_and_streams_have_no_timeout():
    bootstrap, _ = build_config(Settings())
    hcm = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    routes = {r["match"].get("path") or r["match"]["prefix"]: r["route"] for r in hcm["route_config"]["virtual_hosts"][0]["routes"]}
    assert "unavailable" in routes["/chatdb.connector.v1.ConnectorService/GetConnection"]["retry_policy"]["retry_on"]
    assert "retry_policy" not in routes["/chatdb.gateway.v1.ChatService/Ask"]
    assert "retry_policy" not in routes["/chatdb.registry.v1.ModelRegistryService/CreateModelVersion"]
    assert routes["/chatdb.connector.v1.ConnectorService/StreamQuery"]["timeout"] == "0s"
    assert routes["/chatdb.training.v1.TrainingService/WatchTrainingJob"]["timeout"] == "0s"
    names = [f["name"] for f in hcm["http_filters"]]
    # the API-key check with a cache of allowed decisions (edge_authz_cache_ms) is a Lua filter
    assert names == [
        "envoy.filters.http.header_mutation", "envoy.filters.http.local_ratelimit",
        "envoy.filters.http.grpc_json_transcoder", "envoy.filters.http.lua", "envoy.filters.http.router",
    ]
    assert routes["/grpc.health.v1.Health/"] and all(
        r["typed_per_filter_config"] == {"envoy.filters.http.lua": {"@type": LUA_ROUTE, "disabled": True}}
        for r in hcm["route_config"]["virtual_hosts"][0]["routes"] if "prefix" in r["match"])


def test_without_the_cache_ext_authz_asks_on_every_request(tmp_path):
    bootstrap, _ = build_config(Settings(edge_authz_cache_ms=0))
    hcm = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    names = [f["name"] for f in hcm["http_filters"]]
    assert names == [
        "envoy.filters.http.header_mutation", "envoy.filters.http.local_ratelimit",
        "envoy.filters.http.grpc_json_transcoder", "envoy.filters.http.ext_authz", "envoy.filters.http.router",
    ]
    # a unary body is read before asking; a client stream's is not (it comes message by message)
    routes = {r["match"].get("path"): r for r in hcm["route_config"]["virtual_hosts"][0]["routes"]}
    unbuffered = {path for path, r in routes.items()
                  if r.get("typed_per_filter_config", {}).get("envoy.filters.http.ext_authz", {})
                  .get("check_settings", {}).get("disable_request_body_buffering")}
    assert unbuffered == {"/chatdb.registry.v1.ModelRegistryService/CreateModelVersion"}
    validate(write_config(_settings(tmp_path, edge_authz_cache_ms=0), tmp_path / "edge.yaml", tls_dir=None))


def test_without_authz_or_rate_limit_the_filters_go():
    bootstrap, _ = build_config(Settings(edge_authz=False, edge_rate_limit_per_s=0))
    hcm = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    names = [f["name"] for f in hcm["http_filters"]]
    assert not {"envoy.filters.http.ext_authz", "envoy.filters.http.lua"} & set(names) and "envoy.filters.http.local_ratelimit" not in names
    assert "ext_authz" not in {c["name"] for c in bootstrap["static_resources"]["clusters"]}


def test_plaintext_config_validates(tmp_path):
    path = write_config(_settings(tmp_path), tmp_path / "edge.yaml", tls_dir=None)
    assert "transport_socket" not in path.read_text()
    validate(path)


def test_mtls_config_validates_with_sds_files(tmp_path, tls_dir):
    path = write_config(_settings(tmp_path), tmp_path / "edge.json", tls_dir=tls_dir)
    validate(path)
    sds = sorted(p.name for p in (tmp_path / "edge-sds").iterdir())
    assert sds == ["edge_ca.yaml", "edge_certificate.yaml"]
    cert = yaml.safe_load((tmp_path / "edge-sds" / "edge_certificate.yaml").read_text())["resources"][0]
    assert cert["tls_certificate"]["watched_directory"]["path"] == str(tls_dir.resolve())


def test_validate_reports_envoys_complaint(tmp_path):
    bootstrap, _ = build_config(_settings(tmp_path, edge_authz=False))
    bootstrap["static_resources"]["clusters"][0]["lb_policy"] = "NO_SUCH_POLICY"
    path = tmp_path / "bad.yaml"
    path.write_text(render(bootstrap))
    with pytest.raises(EnvoyError, match="NO_SUCH_POLICY"):
        validate(path)


def test_chatdb_envoy_config_writes_a_valid_file(tmp_path, tls_dir):
    out = tmp_path / "envoy.yaml"
    env = {"CHATDB_HOME": str(tmp_path / "home"), "PATH": str(BIN)}
    done = subprocess.run([str(BIN / "chatdb"), "envoy-config", "--out", str(out), "--tls-dir", str(tls_dir), "--validate"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out.resolve())
    printed = subprocess.run([str(BIN / "chatdb"), "envoy-config", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    assert '"grpc_json_transcoder"' not in printed.stdout and "envoy.filters.http.grpc_json_transcoder" in printed.stdout


def test_runner_from_settings_starts_and_stops(tmp_path, tls_dir):
    """Envoy.from_settings writes, validates and runs the config; with no upstream up,
    /ready is LIVE while every cluster is unhealthy."""
    from edge.runner import Envoy

    from .support import free_port

    settings = _settings(tmp_path, edge_host="127.0.0.1", edge_port=free_port(), edge_admin_port=free_port(),
                         gateway_port=free_port(), edge_health_interval_s=0.2)
    envoy = Envoy.from_settings(settings, tls_dir=tls_dir)
    assert envoy.config == (tmp_path / "home" / "envoy" / "envoy.yaml").resolve()
    with envoy:
        envoy.wait_ready(30)  # no clusters asked for
        with pytest.raises(EnvoyError, match="unhealthy"):
            envoy.wait_ready(2, clusters=["gateway"])
        assert envoy.unhealthy(["gateway"])
        pid = envoy.proc.pid
    assert not envoy.running
    import os

    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_metrics_listener_serves_stats_and_ready_and_nothing_else_of_admin(tmp_path, tls_dir):
    """CHATDB_EDGE_METRICS_PORT: Prometheus and a kubelet reach Envoy's stats and readiness
    from outside the pod; the admin interface's other pages (config dump with its
    certificates' paths, quitquitquit, log levels) stay on loopback."""
    import urllib.error
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    from edge.runner import Envoy

    from .support import free_port

    settings = _settings(tmp_path, edge_host="127.0.0.1", edge_port=free_port(), edge_admin_port=free_port(),
                         edge_metrics_port=free_port(), gateway_port=free_port())
    base = f"http://127.0.0.1:{settings.edge_metrics_port}"

    def fetch(path: str, method: str = "GET") -> tuple[int, str]:
        try:
            with urllib.request.urlopen(urllib.request.Request(base + path, method=method), timeout=10) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as refused:
            return refused.code, ""

    with Envoy.from_settings(settings, tls_dir=tls_dir) as envoy:
        envoy.wait_ready(30)
        status, text = fetch("/stats/prometheus")
        assert status == 200
        names = {family.name for family in text_string_to_metric_families(text)}
        assert "envoy_http_downstream_rq" in names or "envoy_http_downstream_rq_total" in names
        assert fetch("/ready") == (200, "LIVE\n")
        for path, method in [("/config_dump", "GET"), ("/quitquitquit", "POST"), ("/logging?level=trace", "POST"),
                             ("/stats/prometheus", "POST"), ("/", "GET")]:
            assert fetch(path, method)[0] == 404, (path, method)
        assert envoy.running


def test_no_metrics_listener_unless_asked():
    bootstrap, _ = build_config(Settings())
    assert [listener["name"] for listener in bootstrap["static_resources"]["listeners"]] == ["edge"]


def test_descriptor_set_carries_error_types_and_admin_is_loopback():
    from google.protobuf import descriptor_pb2

    from edge.config import DESCRIPTOR_SET

    names = {f.name for f in descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes()).file}
    # convert_grpc_status renders details only for types Envoy finds in the descriptor
    assert {"google/rpc/status.proto", "google/rpc/error_details.proto", "google/api/annotations.proto"} <= names
    bootstrap, _ = build_config(Settings(edge_admin_port=9901))
    assert bootstrap["admin"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 9901}
    assert bootstrap["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"] == 8443


def test_per_service_addresses_become_dns_clusters(tmp_path):
    """CHATDB_<SERVICE>_ADDRESS (Kubernetes Services) turns a cluster into STRICT_DNS on
    that name; the authz cluster follows CHATDB_GATEWAY_ADDRESS's host; unset stays STATIC."""
    settings = _settings(tmp_path, parser_address="parser.chatdb.svc:8082",
                         gateway_address="gateway.chatdb.svc:8080")
    bootstrap, _ = build_config(settings)
    clusters = {c["name"]: c for c in bootstrap["static_resources"]["clusters"]}

    def endpoint(cluster):
        return cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]

    parser = next(c for n, c in clusters.items() if n.startswith("chatdb.parser."))
    assert parser["type"] == "STRICT_DNS" and endpoint(parser) == {"address": "parser.chatdb.svc", "port_value": 8082}
    registry = next(c for n, c in clusters.items() if n.startswith("chatdb.registry."))
    assert registry["type"] == "STATIC" and endpoint(registry)["address"] == "127.0.0.1"
    assert clusters["ext_authz"]["type"] == "STRICT_DNS"
    assert endpoint(clusters["ext_authz"]) == {"address": "gateway.chatdb.svc", "port_value": settings.gateway_authz_port}
    validate(write_config(settings, tmp_path / "dns.yaml", tls_dir=None))
