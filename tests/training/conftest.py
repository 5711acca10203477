"""A training mesh for tests: the registry and the orchestrator in-process on ephemeral
ports, and real `chatdb worker` processes consuming this module's own arq queue."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
import pytest
from chatdb.registry.v1 import model_registry_service_pb2_grpc
from chatdb.training.v1 import training_service_pb2_grpc

from servers.connector.app import build as build_connector
from servers.registry.app import build as build_registry
from servers.runtime.server import GrpcServer
from servers.training.app import build as build_training

from ..runtime.test_cli_serve import free_port, wait_serving


@dataclass
class Mesh:
    settings: object
    env: dict[str, str]
    training: training_service_pb2_grpc.TrainingServiceStub
    registry: model_registry_service_pb2_grpc.ModelRegistryServiceStub
    log_dir: Path = Path(".")
    workers: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    servers: dict[str, GrpcServer] = field(default_factory=dict)
    stack: AsyncExitStack | None = None
    worker_ports: dict[int, int] = field(default_factory=dict)  # pid → health port

    async def stop_registry(self) -> None:
        """Take the registry away (its port refuses connections) until start_registry()."""
        await self.servers.pop("registry").stop(grace_s=0)

    async def start_registry(self) -> None:
        assert self.stack is not None
        server = GrpcServer(self.settings, await build_registry(self.settings, self.stack),
                            host="127.0.0.1", port=self.settings.registry_port)
        await server.start()
        self.servers["registry"] = server

    def start_worker(self, **env: str) -> subprocess.Popen:
        env = {**self.env, **env, "CHATDB_WORKER_PORT": str(free_port())}
        # Logs to a file, not a pipe: a pipe nobody reads would block a chatty worker.
        with open(self.log_dir / f"worker-{len(self.logs)}.log", "wb") as log:
            proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "chatdb"), "worker"],
                stdout=log, stderr=log, env=env,
            )
        self.logs.append(self.log_dir / f"worker-{len(self.logs)}.log")
        wait_serving(f"127.0.0.1:{env['CHATDB_WORKER_PORT']}", proc)
        self.workers.append(proc)
        self.worker_ports[proc.pid] = int(env["CHATDB_WORKER_PORT"])
        return proc

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.workers.clear()


def write_csv(path: Path, header: list[str], rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def data_dir(settings, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(7)
    # Classification: two informative features plus a category; label from a rule.
    x = rng.normal(size=(600, 2))
    segments = rng.choice(["retail", "corporate", "home"], size=600)
    labels = np.where(x[:, 0] + 0.5 * x[:, 1] + (segments == "corporate") > 0.3, "churn", "stay")
    write_csv(directory / "churn.csv", ["tenure", "spend", "segment", "label"],
              [(f"{a:.5f}", f"{b:.5f}", s, y) for (a, b), s, y in zip(x, segments, labels, strict=True)])
    # Text classification.
    good = ["great product works well", "love it fast delivery", "excellent quality très bien", "happy with the purchase"]
    bad = ["broke after a day", "terrible support never again", "slow and noisy", "refund please awful"]
    text_rows = [(rng.choice(good) + f" item{i % 7}", "positive") for i in range(150)]
    text_rows += [(rng.choice(bad) + f" item{i % 7}", "negative") for i in range(150)]
    write_csv(directory / "reviews.csv", ["review", "sentiment"], text_rows)
    # Big enough that a forest of many trees takes a while (cancel / kill tests).
    big = rng.normal(size=(20000, 10))
    write_csv(directory / "big.csv", [f"f{i}" for i in range(10)] + ["y"],
              [(*(f"{v:.4f}" for v in row), int(row[0] + row[1] > 0)) for row in big])
    return directory


@pytest.fixture(scope="module")
async def mesh(settings, data_dir, run_id):
    async with open_mesh(settings, data_dir) as mesh:
        yield mesh


@asynccontextmanager
async def open_mesh(settings, data_dir: Path, **updates) -> AsyncIterator[Mesh]:
    """The mesh with `updates` applied to its settings (e.g. another redis_url)."""
    prefix = f"{settings.redis_prefix}-train-{os.getpid()}"
    registry_port, training_port, connector_port = free_port(), free_port(), free_port()
    mesh_settings = settings.model_copy(update={
        "redis_prefix": prefix,
        "data_dir": data_dir,
        "registry_port": registry_port,
        "training_port": training_port,
        "connector_port": connector_port,
        "training_heartbeat_stale_s": 3.0,
        "training_reaper_interval_s": 0.5,
        "training_lost_queue_after_s": 5.0,
        **updates,
    })
    env = {
        **os.environ,
        "CHATDB_DATABASE_URL": mesh_settings.database_url,
        "CHATDB_REDIS_URL": mesh_settings.redis_url,
        "CHATDB_REDIS_PREFIX": prefix,
        "CHATDB_DATA_DIR": str(data_dir),
        "CHATDB_ARTIFACT_DIR": str(mesh_settings.artifact_dir),
        "CHATDB_REGISTRY_PORT": str(registry_port),
        "CHATDB_CONNECTOR_PORT": str(connector_port),
        "CHATDB_TRAINING_HEARTBEAT_INTERVAL_S": "0.5",
        "CHATDB_TRAINING_THREADS": "1",
    }
    async with AsyncExitStack() as stack:
        servers = {}
        for name, build, port in (("connector", build_connector, connector_port), ("registry", build_registry, registry_port),
                                  ("training", build_training, training_port)):
            server = GrpcServer(mesh_settings, await build(mesh_settings, stack), host="127.0.0.1", port=port)
            await server.start()
            servers[name] = server
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{training_port}")
        registry_channel = grpc.aio.insecure_channel(f"127.0.0.1:{registry_port}")
        mesh = Mesh(
            mesh_settings, env,
            training_service_pb2_grpc.TrainingServiceStub(channel),
            model_registry_service_pb2_grpc.ModelRegistryServiceStub(registry_channel),
            log_dir=data_dir,
            servers=servers,
            stack=stack,
        )
        try:
            yield mesh
        finally:
            mesh.stop_workers()
            await channel.close()
            await registry_channel.close()
            for server in reversed(list(servers.values())):
                await server.stop(grace_s=0)


@pytest.fixture
async def worker(mesh):
    """One worker for the test (more with mesh.start_worker())."""
    mesh.start_worker()
    yield mesh
    mesh.stop_workers()


def wait_until(predicate, timeout_s: float, interval_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError("condition not met in time")
