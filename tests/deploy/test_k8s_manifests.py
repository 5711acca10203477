"""deploy/k8s: the kustomization renders (tests/deploy/kustomize_lite.py, the subset of
kustomize it uses) and every document is valid against the Kubernetes JSON schemas
(kubernetes-validate, offline: the schemas ship in its wheel); the HPA ranges, probes,
resources, ports and policies are the ones the deployment promises."""

from __future__ import annotations

import base64
import copy
import os
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from deploy.k8s.render_envoy import METRICS_PORT as ENVOY_METRICS_PORT
from servers.runtime.settings import DEFAULT_METRICS_PORTS, DEFAULT_PORTS

from .kustomize_lite import KustomizeError, render

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
OVERLAY = K8S / "overlays" / "production"
K8S_VERSION = "1.30.0"
PART_OF = {"app.kubernetes.io/part-of": "chatdb"}
HPA_RANGES = {"prediction": (3, 15), "gateway": (2, 10), "training": (2, 10), "worker": (2, 8),
              "connector": (2, 8), "registry": (2, 6), "parser": (2, 6)}
WORKLOADS = set(DEFAULT_PORTS) | {"envoy"}
PROBE_PORT = 8090
MONITORING = {"kubernetes.io/metadata.name": "monitoring"}
METRICS_PORTS = {**DEFAULT_METRICS_PORTS, "envoy": ENVOY_METRICS_PORT}


def schema_errors(docs: list[dict]) -> list[str]:
    errors = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}: {exc.message} at {list(exc.path)}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{doc.get('kind')}: no schema ({exc})")
    return errors


@pytest.fixture(scope="module", params=[OVERLAY, K8S / "base"], ids=["production", "base"])
def docs(request) -> list[dict]:
    return render(request.param)


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container(deployment: dict) -> dict:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def test_every_document_is_valid_against_the_kubernetes_schemas(docs):
    assert schema_errors(docs) == []


def test_a_broken_manifest_fails_validation(docs):
    broken = copy.deepcopy(docs)
    deployment = by_kind(broken, "Deployment")["gateway"]
    container(deployment)["ports"][0]["containerPort"] = "eight thousand"
    del by_kind(broken, "Deployment")["parser"]["spec"]["selector"]
    hpa = by_kind(broken, "HorizontalPodAutoscaler")["prediction"]
    hpa["spec"]["minReplicaz"] = 3
    errors = schema_errors(broken)
    assert len(errors) == 3, errors


def test_kustomize_lite_refuses_what_it_does_not_implement(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(KustomizeError, match="commonLabels"):
        render(tmp_path)


def test_every_workload_is_there_with_its_service_pdb_and_policy(docs):
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"):
        assert set(by_kind(docs, kind)) == WORKLOADS, kind


def test_hpa_ranges(docs):
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    assert {n: (h["spec"]["minReplicas"], h["spec"]["maxReplicas"]) for n, h in hpas.items()} == HPA_RANGES
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert "replicas" not in by_kind(docs, "Deployment")[name]["spec"], f"{name}: the HPA owns its replicas"


def test_commands_probes_and_resources(docs):
    for name, deployment in by_kind(docs, "Deployment").items():
        c = container(deployment)
        requests, limits = c["resources"]["requests"], c["resources"]["limits"]
        assert {"cpu", "memory"} <= set(requests) and {"cpu", "memory"} <= set(limits), name
        if name == "envoy":
            assert c["image"].startswith("envoyproxy/envoy:")
            continue
        assert c["command"] == (["chatdb", "worker"] if name == "worker" else ["chatdb", "serve", name])
        # kubelet's gRPC probes cannot do mTLS: they ask the plaintext health-only port
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert c[probe]["grpc"]["port"] == PROBE_PORT, (name, probe)
        assert {p["containerPort"] for p in c["ports"]} >= {DEFAULT_PORTS[name], PROBE_PORT}


def _cpu(value: str) -> float:
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


def test_prediction_and_worker_get_the_most(docs):
    cpu = {n: _cpu(container(d)["resources"]["requests"]["cpu"]) for n, d in by_kind(docs, "Deployment").items()}
    biggest = sorted(cpu, key=cpu.get)[-2:]
    assert set(biggest) == {"prediction", "worker"}, cpu


def test_every_service_port_matches_a_container_port(docs):
    deployments = by_kind(docs, "Deployment")
    for name, service in by_kind(docs, "Service").items():
        pods = [d for d in deployments.values()
                if d["spec"]["template"]["metadata"]["labels"].items() >= service["spec"]["selector"].items()]
        assert len(pods) == 1, name
        ports = container(pods[0])["ports"]
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert any(target in (p["containerPort"], p.get("name")) for p in ports), (name, port)


def test_envoy_is_the_only_way_in(docs):
    lb = by_kind(docs, "Service")["envoy"]
    assert lb["spec"]["type"] == "LoadBalancer"
    assert [(p["port"], p["targetPort"]) for p in lb["spec"]["ports"]] == [(443, 8443)]
    assert all(s["spec"]["type"] == "ClusterIP" for n, s in by_kind(docs, "Service").items() if n != "envoy")
    for name, policy in by_kind(docs, "NetworkPolicy").items():
        assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": name}
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        # last: Prometheus (namespace monitoring) on the metrics port alone
        *rules, metrics_rule = policy["spec"]["ingress"]
        assert metrics_rule["from"] == [{"namespaceSelector": {"matchLabels": MONITORING}}]
        assert [p["port"] for p in metrics_rule["ports"]] == [METRICS_PORTS[name]]
        if name == "gateway":
            grpc_rule, authz_rule = rules
            assert grpc_rule["from"] == [{"podSelector": {"matchLabels": PART_OF}}]
            assert [p["port"] for p in grpc_rule["ports"]] == [DEFAULT_PORTS["gateway"]]
            assert authz_rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "envoy"}}}]
            assert [p["port"] for p in authz_rule["ports"]] == [8086]
            continue
        (rule,) = rules
        if name == "envoy":
            assert "from" not in rule and [p["port"] for p in rule["ports"]] == [8443]
        else:
            assert rule["from"] == [{"podSelector": {"matchLabels": PART_OF}}]
    for deployment in by_kind(docs, "Deployment").values():
        assert deployment["spec"]["template"]["metadata"]["labels"].items() >= PART_OF.items()


def test_settings_certificates_and_stores(docs):
    settings = by_kind(docs, "ConfigMap")["chatdb-settings"]["data"]
    assert settings["CHATDB_HOST"] == "0.0.0.0"
    assert settings["CHATDB_HEALTH_PROBE_PORT"] == str(PROBE_PORT)
    namespace = "chatdb"
    for service, port in DEFAULT_PORTS.items():
        assert settings[f"CHATDB_{service.upper()}_ADDRESS"] == f"{service}.{namespace}.svc:{port}"
    for name, deployment in by_kind(docs, "Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        secrets = {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
        assert secrets == {f"chatdb-tls-{name}"}, name
        tls = next(m for m in container(deployment)["volumeMounts"] if m["name"] == "tls")
        assert tls["mountPath"] == "/etc/chatdb/tls"
        if name != "envoy":
            assert settings["CHATDB_TLS_DIR"] == tls["mountPath"]
            refs = container(deployment)["envFrom"]
            assert {"secretRef": {"name": "chatdb-stores"}} in refs and {"configMapRef": {"name": "chatdb-settings"}} in refs


def test_production_overlay_sets_namespace_and_image():
    docs = render(OVERLAY)
    assert all(d["metadata"].get("namespace") == "chatdb" for d in docs if d["kind"] != "Namespace")
    images = {container(d)["image"] for d in by_kind(docs, "Deployment").values()}
    assert images == {"registry.example.com/chatdb/chatdb:0.1.0", "envoyproxy/envoy:v1.40.0"}
    assert container(by_kind(docs, "Deployment")["prediction"])["resources"]["limits"]["memory"] == "4Gi"


def _volumes(deployment: dict) -> dict[str, dict]:
    return {v["name"]: v for v in deployment["spec"]["template"]["spec"].get("volumes", [])}


def test_base_registry_keeps_artifacts_in_files_on_its_node():
    docs = render(K8S / "base")
    settings = by_kind(docs, "ConfigMap")["chatdb-settings"]["data"]
    assert "CHATDB_ARTIFACT_URL" not in settings
    registry = by_kind(docs, "Deployment")["registry"]
    claim = _volumes(registry)["artifacts"]["persistentVolumeClaim"]["claimName"]
    assert claim in by_kind(docs, "PersistentVolumeClaim")
    mount = next(m for m in container(registry)["volumeMounts"] if m["name"] == "artifacts")
    assert mount["mountPath"] == settings["CHATDB_ARTIFACT_DIR"]
    # a ReadWriteOnce claim: every replica on the node that mounts it
    assert registry["spec"]["template"]["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]


def test_production_registry_keeps_artifacts_in_s3_on_any_node():
    docs = render(OVERLAY)
    settings = by_kind(docs, "ConfigMap")["chatdb-settings"]["data"]
    assert settings["CHATDB_ARTIFACT_URL"].startswith("s3://")
    assert by_kind(docs, "PersistentVolumeClaim") == {}
    deployments = by_kind(docs, "Deployment")
    registry = deployments["registry"]
    assert not any("persistentVolumeClaim" in v for v in _volumes(registry).values())
    assert all(m["mountPath"] != settings["CHATDB_ARTIFACT_DIR"] for m in container(registry)["volumeMounts"])
    affinity = registry["spec"]["template"]["spec"]["affinity"]
    assert "podAffinity" not in affinity  # not pinned: spread over nodes where it can
    assert affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    hpa = by_kind(docs, "HorizontalPodAutoscaler")["registry"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    # S3 credentials reach the registry alone: the worker uploads through the registry.
    with_s3 = {name for name, d in deployments.items() if {"secretRef": {"name": "chatdb-s3"}} in container(d).get("envFrom", [])}
    assert with_s3 == {"registry"}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with its built-in kustomize) is not installed")
@pytest.mark.parametrize("directory", [OVERLAY, K8S / "base"], ids=["production", "base"])
def test_kustomize_lite_renders_what_kubectl_kustomize_renders(directory):
    out = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=True)
    real = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out.stdout) if d}
    lite = {(d["kind"], d["metadata"]["name"]): d for d in render(directory)}
    assert real.keys() == lite.keys()
    for key, doc in lite.items():
        assert doc == real[key], key


def envoy_accepts(configmap: dict, tmp_path: Path) -> None:
    """`envoy --mode validate` on an envoy-config ConfigMap, its files where the pod mounts
    them (paths moved to tmp) and a certificate of a CA made here."""
    from edge.runner import validate
    from servers.runtime import certs

    etc, tls = tmp_path / "envoy", tmp_path / "tls"
    etc.mkdir()
    ca = certs.create_ca()
    certs.write_pair(ca, tls, "ca")
    certs.write_pair(certs.issue(ca, "envoy"), tls, "envoy")
    for name, text in configmap["data"].items():
        (etc / name).write_text(text.replace("/etc/envoy", str(etc)).replace("/etc/chatdb/tls", str(tls)))
    for name, b64 in configmap["binaryData"].items():
        (etc / name).write_bytes(base64.b64decode(b64))
    validate(etc / "envoy.yaml")


def test_the_envoy_configmap_is_current_and_envoy_accepts_it(tmp_path, monkeypatch):
    """base/envoy-config.yaml is what render_envoy.py writes today, and `envoy --mode
    validate` accepts it with the files where the pod mounts them (paths moved to tmp)."""
    from deploy.k8s.render_envoy import configmap

    for name in [n for n in os.environ if n.startswith("CHATDB_")]:
        monkeypatch.delenv(name)  # render_envoy.py honours CHATDB_EDGE_*: render from the defaults
    committed = yaml.safe_load((K8S / "base" / "envoy-config.yaml").read_text())
    assert committed == configmap("chatdb"), "re-run deploy/k8s/render_envoy.py"
    envoy_accepts(committed, tmp_path)


def test_every_process_is_scraped_on_its_metrics_port(docs):
    for name, deployment in by_kind(docs, "Deployment").items():
        port = METRICS_PORTS[name]
        ports = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
        assert ports["metrics"] == port, name
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        path = "/stats/prometheus" if name == "envoy" else "/metrics"
        assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(port),
                               "prometheus.io/path": path}, name


def test_envoys_metrics_port_is_the_one_its_bootstrap_listens_on_and_its_probe_asks(docs):
    """Envoy's stats listener (edge_metrics_port) is what the pod annotation, the probe and
    the NetworkPolicy name; the admin interface itself stays on loopback."""
    committed = yaml.safe_load((K8S / "base" / "envoy-config.yaml").read_text())
    bootstrap = yaml.safe_load(committed["data"]["envoy.yaml"])
    listeners = {x["name"]: x["address"]["socket_address"] for x in bootstrap["static_resources"]["listeners"]}
    assert listeners["edge_metrics"] == {"address": "0.0.0.0", "port_value": METRICS_PORTS["envoy"]}
    assert bootstrap["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    probe = container(by_kind(docs, "Deployment")["envoy"])["readinessProbe"]
    assert probe["httpGet"] == {"path": "/ready", "port": METRICS_PORTS["envoy"]}


def test_the_image_runs_as_the_user_the_pods_require_and_exposes_their_ports(docs):
    # The Dockerfile cannot be built here (no Docker daemon); what the pods assume of it
    # is checked instead: the user they run as and every container port.
    dockerfile = (K8S.parents[1] / "Dockerfile").read_text()
    user = next(line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER "))
    exposed = {int(p) for line in dockerfile.splitlines() if line.startswith("EXPOSE ") for p in line.split()[1:]}
    for name, deployment in by_kind(docs, "Deployment").items():
        if name == "envoy":
            continue
        pod = deployment["spec"]["template"]["spec"]
        assert user == f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}", name
        ports = {p["containerPort"] for p in container(deployment).get("ports", [])}
        assert ports <= exposed, (name, ports - exposed)
        assert container(deployment)["command"][0] == "chatdb"


# --- the tracing overlay: production plus an OpenTelemetry Collector ----------------------

TRACING = K8S / "overlays" / "tracing"
COLLECTOR_ENDPOINT = "http://otel-collector.chatdb.svc:4317"


def test_the_tracing_overlay_is_production_plus_a_collector_every_process_sends_to():
    production, tracing = render(OVERLAY), render(TRACING)
    assert schema_errors(tracing) == []
    added = {(d["kind"], d["metadata"]["name"]) for d in tracing} - {(d["kind"], d["metadata"]["name"]) for d in production}
    assert added == {(kind, "otel-collector") for kind in ("ConfigMap", "Deployment", "Service", "NetworkPolicy")}
    assert all(d["metadata"].get("namespace") == "chatdb" for d in tracing if d["kind"] != "Namespace")
    settings = by_kind(tracing, "ConfigMap")["chatdb-settings"]["data"]
    assert settings["CHATDB_TRACE_EXPORTER"] == "otlp"
    assert settings["CHATDB_OTEL_EXPORTER_OTLP_ENDPOINT"] == COLLECTOR_ENDPOINT
    assert settings["CHATDB_ARTIFACT_URL"].startswith("s3://")  # production's settings kept
    # what the processes are told is where the collector listens, and who may reach it
    service = by_kind(tracing, "Service")["otel-collector"]
    assert [p["port"] for p in service["spec"]["ports"]] == [4317]
    config = yaml.safe_load(by_kind(tracing, "ConfigMap")["otel-collector"]["data"]["config.yaml"])
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert config["service"]["pipelines"]["traces"]["receivers"] == ["otlp"]
    assert set(config["service"]["pipelines"]["traces"]["exporters"]) <= set(config["exporters"])
    collector = by_kind(tracing, "Deployment")["otel-collector"]
    assert collector["spec"]["template"]["metadata"]["labels"].items() >= service["spec"]["selector"].items()
    (rule,) = by_kind(tracing, "NetworkPolicy")["otel-collector"]["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": PART_OF}}] and [p["port"] for p in rule["ports"]] == [4317]
    for name, deployment in by_kind(tracing, "Deployment").items():
        if name not in ("envoy", "otel-collector"):
            env_from = [e["configMapRef"]["name"] for e in container(deployment)["envFrom"] if "configMapRef" in e]
            assert "chatdb-settings" in env_from, name


def test_the_tracing_overlays_envoy_config_is_current_traces_to_the_collector_and_envoy_accepts_it(
        tmp_path, monkeypatch):
    from deploy.k8s.render_envoy import configmap

    for name in [n for n in os.environ if n.startswith(("CHATDB_", "OTEL_"))]:
        monkeypatch.delenv(name)
    committed = by_kind(render(TRACING), "ConfigMap")["envoy-config"]
    expected = configmap("chatdb", COLLECTOR_ENDPOINT)
    assert committed["data"] == expected["data"] and committed["binaryData"] == expected["binaryData"], (
        "re-run deploy/k8s/render_envoy.py --otlp-endpoint " + COLLECTOR_ENDPOINT
        + " --out deploy/k8s/overlays/tracing/envoy-config.yaml")
    bootstrap = yaml.safe_load(committed["data"]["envoy.yaml"])
    hcm = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    assert "tracing" in hcm
    collector = [c for c in bootstrap["static_resources"]["clusters"]
                 if "otel-collector.chatdb.svc" in yaml.safe_dump(c.get("load_assignment", {}))]
    assert len(collector) == 1
    envoy_accepts(committed, tmp_path)
