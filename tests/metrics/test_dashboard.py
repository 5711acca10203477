"""deploy/grafana/chatdb-mesh.json and deploy/prometheus/ cannot drift from what the
processes export: every metric a dashboard query names is in a real scrape — ChatDB's
from this process's /metrics endpoint (every process registers the same families,
runtime/metrics.py), Envoy's from a real Envoy's /stats/prometheus after requests went
through it — and the scrape configs name the processes' real ports."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from edge.runner import Envoy
from servers.runtime.metrics import FAMILIES, MetricsServer
from servers.runtime.settings import DEFAULT_METRICS_PORTS, Settings
from tests.runtime.test_cli_serve import free_port

from .support import Scrape, scrape

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "chatdb-mesh.json"
PROMQL_WORDS = {"sum", "max", "min", "avg", "by", "rate", "increase", "histogram_quantile"}


def exprs(panels: list[dict]) -> list[str]:
    found = []
    for panel in panels:
        found += [t["expr"] for t in panel.get("targets", [])]
        found += exprs(panel.get("panels", []))
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression: what is left once label matchers,
    range selectors, `by (...)` groupings, numbers and the functions are taken out."""
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\bby \([^)]*\)|\b\d+(\.\d+)?\b", " ", expr)
    return set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare)) - PROMQL_WORDS


def sample_names(got: Scrape) -> set[str]:
    """The names a query can use, read from the exposition text as Prometheus stores
    them (prometheus_client's parser renames counters: Envoy's have no _total): every
    sample's name, and for a family with no samples yet (a labelled counter nobody has
    counted) the ones its TYPE line gives it: a counter's _total, a histogram's
    _bucket/_count/_sum, a gauge's own name."""
    names = {line.split("{")[0].split(" ")[0] for line in got.text.splitlines() if line and not line.startswith("#")}
    for line in got.text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split()
            suffixes = {"counter": ["" if family.endswith("_total") else "_total"],
                        "histogram": ["_bucket", "_count", "_sum"]}.get(kind, [""])
            if not any(name.startswith(family) for name in names):
                names |= {family + suffix for suffix in suffixes}
    return names


def test_the_metric_name_reader_sees_what_it_must():
    assert metric_names('sum by (le, service) (rate(chatdb_x_bucket{status!="OK"}[5m])) / 0.5') == {"chatdb_x_bucket"}
    assert metric_names("histogram_quantile(0.99, envoy_a + chatdb_b)") == {"envoy_a", "chatdb_b"}


@pytest.fixture(scope="module")
def dashboard_names() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "chatdb-mesh" and dashboard["panels"]
    queries = exprs(dashboard["panels"])
    assert len(queries) >= 10
    return set().union(*(metric_names(q) for q in queries))


def test_the_dashboard_shows_what_the_issue_asks(dashboard_names):
    for needed in ("chatdb_request_count_total", "chatdb_request_latency_seconds_bucket", "chatdb_cache_hits_total",
                   "chatdb_cache_misses_total", "chatdb_queue_depth", "chatdb_training_job_duration_seconds_bucket",
                   "chatdb_predictions_total", "chatdb_connector_active_connections", "envoy_cluster_upstream_rq_total"):
        assert needed in dashboard_names


def test_every_chatdb_metric_of_the_dashboard_is_exported(dashboard_names):
    server = MetricsServer("127.0.0.1", 0)
    try:
        got = scrape(server.url)
    finally:
        server.close()
    assert FAMILIES <= set(got.families)
    ours = {n for n in dashboard_names if not n.startswith("envoy_")}
    assert ours - sample_names(got) == set()
    assert all(n.startswith("chatdb_") for n in ours), ours


ENVOY_CONFIG = """
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}
static_resources:
  listeners:
  - name: edge
    address: {{socket_address: {{address: 127.0.0.1, port_value: {listen}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: edge
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                route: {{cluster: gateway}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: gateway  # its upstream is Envoy's own admin: requests through it get real answers
    type: STATIC
    load_assignment:
      cluster_name: gateway
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}}}
"""


def test_every_envoy_metric_of_the_dashboard_is_in_envoys_stats(dashboard_names, tmp_path):
    admin, listen = free_port(), free_port()
    config = tmp_path / "envoy.yaml"
    config.write_text(ENVOY_CONFIG.format(admin=admin, listen=listen))
    envoy = Envoy(config, admin_port=admin, log=tmp_path / "envoy.log").start()
    try:
        deadline = time.monotonic() + 30
        while not envoy.ready():
            assert time.monotonic() < deadline and envoy.running, (tmp_path / "envoy.log").read_text()
            time.sleep(0.1)
        for path in ("/ready", "/no-such-page"):  # a 2xx and a 4xx through the edge
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{listen}{path}", timeout=5).read()  # noqa: S310
            except urllib.error.HTTPError as exc:
                assert exc.code == 404
        got = scrape(f"http://127.0.0.1:{admin}/stats/prometheus")
    finally:
        envoy.stop()
    envoys = {n for n in dashboard_names if n.startswith("envoy_")}
    assert envoys and envoys - sample_names(got) == set()
    assert got.value("envoy_cluster_upstream_rq_total", envoy_cluster_name="gateway") == 2


def test_the_local_scrape_config_names_every_process_and_envoy():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {*DEFAULT_METRICS_PORTS, "envoy"}
    for name, port in DEFAULT_METRICS_PORTS.items():
        assert jobs[name]["static_configs"] == [{"targets": [f"127.0.0.1:{port}"]}]
        assert jobs[name].get("metrics_path", "/metrics") == "/metrics"
    assert jobs["envoy"]["metrics_path"] == "/stats/prometheus"
    assert jobs["envoy"]["static_configs"] == [{"targets": [f"127.0.0.1:{Settings().edge_admin_port}"]}]


def test_the_kubernetes_scrape_config_keeps_annotated_pods():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus-k8s.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"][0]["role"] == "pod"
    keep = job["relabel_configs"][0]
    assert keep["source_labels"] == ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
    assert (keep["action"], keep["regex"]) == ("keep", "true")
    address = next(r for r in job["relabel_configs"] if r.get("target_label") == "__address__")
    assert re.fullmatch(address["regex"], "10.0.0.7:8080;9180")
    assert re.sub(address["regex"], address["replacement"].replace("$", "\\"), "10.0.0.7:8080;9180") == "10.0.0.7:9180"
