"""The real edge: certificates, real services on mTLS (connector, parser, gateway,
registry, prediction as `chatdb serve` processes, and a TrainingService that records
what reaches it), a test ext_authz server, and Envoy on a config from edge.config.

`start_edge(**settings)` starts one more Envoy in front of the same services (a tiny
rate limit, no ext_authz); every Envoy and process is stopped at the end of the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.config import write_config
from edge.runner import Envoy
from servers.runtime.settings import Settings
from tests.conftest import REDIS_URL

from .support import AuthzServer, FakeTraining, Pki, Rest, Services, free_port

SERVICES = ("connector", "registry", "prediction", "parser", "gateway")
PROCESSES = (*SERVICES, "training")


@dataclass
class Edge:
    envoy: Envoy
    settings: Settings
    config: Path
    pki: Pki

    @property
    def port(self) -> int:
        return self.settings.edge_port

    def rest(self, client: str | None = "alice") -> Rest:
        d = self.pki.directory
        return Rest(self.port, d / "ca.crt", (d / f"{client}.crt", d / f"{client}.key") if client else None)

    def access_log(self) -> list[dict]:
        import json

        path = Path(self.settings.edge_access_log)
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


@dataclass
class Mesh:
    work: Path
    pki: Pki
    services: Services
    training: FakeTraining
    authz: AuthzServer
    ports: dict[str, int]
    env: dict[str, str]


@pytest.fixture(scope="session")
def edge_mesh(tmp_path_factory, platform_dsn, redis_prefix) -> Iterator[Mesh]:
    work = tmp_path_factory.mktemp("edge")
    pki = Pki.create(work / "certs", PROCESSES)
    ports = {name: free_port() for name in (*PROCESSES, "worker")}
    env = {
        "CHATDB_HOME": str(work / "home"),
        "CHATDB_DATABASE_URL": platform_dsn,
        "CHATDB_REDIS_URL": REDIS_URL,
        "CHATDB_REDIS_PREFIX": redis_prefix,
        "CHATDB_DATA_DIR": str(work / "data"),
        "CHATDB_ARTIFACT_DIR": str(work / "artifacts"),
        # the gateway's own ext_authz server (edge-keys) must not take a fixed port
        "CHATDB_GATEWAY_AUTHZ_PORT": str(free_port()),
        # spans reach CHATDB_HOME/traces/<service>.jsonl within 0.2 s (test_tracing.py)
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    services = Services(work, pki, env, SERVICES, ports)
    training = FakeTraining(pki, ports["training"])
    authz = AuthzServer()
    try:
        services.run("migrate")
        for name in SERVICES:
            services.start(name)
        training.start()
        authz.start()
        services.wait_serving(*SERVICES)
        yield Mesh(work, pki, services, training, authz, ports, env)
    finally:
        services.stop()
        training.stop()
        authz.stop()


@pytest.fixture(scope="session")
def start_edge(edge_mesh: Mesh) -> Iterator[Callable[..., Edge]]:
    started: list[Envoy] = []
    count = iter(range(1000))

    def start(*, wait_clusters=None, authz_address=None, **overrides) -> Edge:
        n = next(count)
        home = edge_mesh.work / "home"
        fields = {
            "home": home,
            "host": "127.0.0.1",
            "edge_host": "127.0.0.1",
            "edge_port": free_port(),
            "edge_admin_port": free_port(),
            "edge_access_log": str(edge_mesh.work / f"envoy-{n}-access.log"),
            **{f"{name}_port": port for name, port in edge_mesh.ports.items()},
        }
        settings = Settings(**{**fields, **overrides})
        config = write_config(
            settings, edge_mesh.work / f"envoy-{n}.yaml", tls_dir=edge_mesh.pki.directory,
            addresses={"authz": authz_address or ("127.0.0.1", edge_mesh.authz.port)},
        )
        envoy = Envoy(config, admin_port=settings.edge_admin_port, log=edge_mesh.work / f"envoy-{n}.log")
        started.append(envoy)
        envoy.start()
        # every cluster this mesh serves (ApiKeyService is a placeholder: NOT_SERVING)
        envoy.wait_ready(60, clusters=wait_clusters if wait_clusters is not None else [
            "gateway", "chatdb.gateway.v1.ChatService", "chatdb.connector.v1.ConnectorService",
            "chatdb.parser.v1.QueryParserService", "chatdb.training.v1.TrainingService",
            "chatdb.registry.v1.ModelRegistryService", "chatdb.prediction.v1.PredictionService",
        ])
        return Edge(envoy, settings, config, edge_mesh.pki)

    try:
        yield start
    finally:
        for envoy in started:
            envoy.stop()


@pytest.fixture(scope="session")
def edge(start_edge) -> Edge:
    """The edge as deployed: mTLS, ext_authz, a generous rate limit."""
    return start_edge()
