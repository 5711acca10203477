"""Degradation end to end (issue 14): each level is reached by stopping the services it
names, and Ask shows what still works. The whole mesh is real: connector, parser,
training, registry and prediction in-process on free ports, a real `chatdb worker`
process, the gateway as `chatdb serve gateway` builds it; the user database and the
gateway's platform database are reached through TCP forwarders the test cuts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest
from chatdb.connector.v1 import connection_pb2, connector_service_pb2, connector_service_pb2_grpc
from chatdb.gateway.v1 import chat_service_pb2, chat_service_pb2_grpc, query_record_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from servers.runtime.server import GrpcServer
from servers.services import SERVICES
from tests.conftest import create_pg_database, drop_pg_database
from tests.parser.service_support import create_shop_pg

from .mesh_support import TcpForwarder, free_port, wait_for

pytestmark = pytest.mark.timeout(300)

IN_PROCESS = ("connector", "registry", "training", "prediction", "parser")
SOURCE = query_record_pb2.AnswerSource


def _via(url: str, forwarder: TcpForwarder) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    auth = netloc[0] + "@" if len(netloc) == 2 else ""
    return parts._replace(netloc=f"{auth}127.0.0.1:{forwarder.port}").geturl()


def _forwarder_to(url: str) -> TcpForwarder:
    parts = urlsplit(url)
    return TcpForwarder(parts.hostname or "127.0.0.1", parts.port or 5432)


class Mesh:
    def __init__(self, settings, gateway_settings, env) -> None:
        self.settings = settings
        self.gateway_settings = gateway_settings
        self.env = env
        self.servers: dict[str, GrpcServer] = {}
        self.stacks: dict[str, AsyncExitStack] = {}
        self.worker: subprocess.Popen | None = None
        self.forwarders: dict[str, TcpForwarder] = {}
        self.chat: chat_service_pb2_grpc.ChatServiceStub | None = None

    async def start(self, name: str) -> None:
        settings = self.gateway_settings if name == "gateway" else self.settings
        stack = AsyncExitStack()
        server = GrpcServer(settings, await SERVICES[name](settings, stack), host="127.0.0.1",
                            port=settings.port_of(name))
        await server.start()
        self.servers[name], self.stacks[name] = server, stack

    async def stop(self, name: str) -> None:
        if name == "worker":
            self.stop_worker()
            return
        server, stack = self.servers.pop(name), self.stacks.pop(name)
        await server.stop(grace_s=0, drain_delay_s=0)
        await stack.aclose()

    def start_worker(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        with open(log_dir / "worker.log", "ab") as log:
            self.worker = subprocess.Popen([str(Path(sys.executable).parent / "chatdb"), "worker"],
                                           stdout=log, stderr=log, env=self.env)

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.worker.kill()
        self.worker = None

    async def status(self):
        return (await self.chat.GetSystemStatus(chat_service_pb2.GetSystemStatusRequest(), timeout=10)).status

    async def level_is(self, level: int):
        async def check():
            status = await self.status()
            return status if status.level == level else None

        return await wait_for(check, timeout_s=60, what=f"level {level}")

    async def ask(self, question: str, **fields):
        return await self.chat.Ask(chat_service_pb2.AskRequest(question=question, connection_id="shop", **fields),
                                   timeout=60)


async def _serving(address: str) -> bool:
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.aio.AioRpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.fixture(scope="module")
async def mesh(settings, run_id, tmp_path_factory):
    work = tmp_path_factory.mktemp("degradation")
    shop_db = f"chatdb_test_{run_id}_degrade"
    shop_dsn = await create_shop_pg(shop_db)
    ports = {f"{name}_port": free_port() for name in (*IN_PROCESS, "gateway", "worker")}
    # A platform database of its own: the gateway's and the monitor's view of "the
    # connections" is this module's only, whatever other modules left in theirs.
    platform = f"chatdb_test_{run_id}_degrade_platform"
    await drop_pg_database(platform)
    settings = settings.model_copy(update={"database_url": await create_pg_database(platform)})
    prefix = f"{settings.redis_prefix}-degrade"
    updates = {**ports, "redis_prefix": prefix, "gateway_status_interval_s": 0.2,
               "gateway_breaker_cooldown_s": 0.5, "prediction_registry_wait_s": 0.5, "parser_intent_breaker_s": 0.5}
    mesh_settings = settings.model_copy(update=updates)
    async with AsyncExitStack() as stack:
        forwarders = {}
        for name, url in (("platform", settings.database_url), ("user", shop_dsn)):
            forwarders[name] = await _forwarder_to(url).start()
            stack.push_async_callback(forwarders[name].close)
        # Only the gateway reaches the platform database through the forwarder: cutting
        # it is the gateway losing PostgreSQL (level 4), the rest of the mesh unaffected.
        gateway_settings = mesh_settings.model_copy(
            update={"database_url": _via(settings.database_url, forwarders["platform"])})
        env = {**os.environ, "CHATDB_DATABASE_URL": settings.database_url, "CHATDB_REDIS_URL": settings.redis_url,
               "CHATDB_REDIS_PREFIX": prefix, "CHATDB_DATA_DIR": str(settings.data_dir),
               "CHATDB_ARTIFACT_DIR": str(settings.artifact_dir), "CHATDB_TRAINING_THREADS": "1",
               **{f"CHATDB_{key.upper()}": str(port) for key, port in ports.items()}}
        mesh = Mesh(mesh_settings, gateway_settings, env)
        mesh.forwarders = forwarders
        for name in IN_PROCESS:
            await mesh.start(name)
        mesh.start_worker(work)
        await wait_for(lambda: _serving(f"127.0.0.1:{ports['worker_port']}"), timeout_s=60, what="worker SERVING")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{ports['connector_port']}") as channel:
            await connector_service_pb2_grpc.ConnectorServiceStub(channel).CreateConnection(
                connector_service_pb2.CreateConnectionRequest(connection_id="shop", connection=connection_pb2.Connection(
                    kind=connection_pb2.CONNECTION_KIND_POSTGRES, dsn=_via(shop_dsn, forwarders["user"]))),
                timeout=30)
        await mesh.start("gateway")
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{ports['gateway_port']}")
        stack.push_async_callback(channel.close)
        mesh.chat = chat_service_pb2_grpc.ChatServiceStub(channel)
        try:
            yield mesh
        finally:
            mesh.stop_worker()
            for name in list(mesh.servers):
                await mesh.stop(name)
            await drop_pg_database(shop_db)
            await drop_pg_database(platform)


async def _restart(mesh: Mesh, *names: str) -> None:
    for name in names:
        if name == "worker":
            mesh.start_worker(mesh.log_dir)
        elif name not in mesh.servers:
            await mesh.start(name)
    await mesh.level_is(0)


async def _unavailable(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value.details()
    return caught.value


async def test_level_0_everything_answers(mesh):
    status = await mesh.level_is(0)
    assert status.summary.startswith("level 0")
    answer = await mesh.ask("how many customers are there?", use_cache=False)
    assert answer.source == SOURCE.ANSWER_SOURCE_DATABASE and len(answer.rows) == 1
    health = await mesh.ask("is the system healthy?")
    assert health.source == SOURCE.ANSWER_SOURCE_SYSTEM and "level 0" in health.answer


async def test_level_1_training_down_questions_still_answered(mesh):
    await mesh.stop("training")
    mesh.stop_worker()
    try:
        status = await mesh.level_is(1)
        assert "training" in status.summary and "questions and predictions still served" in status.summary
        answer = await mesh.ask("show customers from New York", use_cache=False)
        assert answer.source == SOURCE.ANSWER_SOURCE_DATABASE and len(answer.rows) == 2
        error = await _unavailable(mesh.ask("train a model to predict the city of customers from their age"))
        assert "training" in error.details().lower()
    finally:
        await _restart(mesh, "training", "worker")


async def test_level_2_ml_down_parser_on_its_rule_path(mesh):
    await mesh.stop("prediction")
    await mesh.stop("registry")
    try:
        await mesh.level_is(2)
        answer = await mesh.ask("how many customers are there?", use_cache=False)
        assert answer.source == SOURCE.ANSWER_SOURCE_DATABASE and len(answer.rows) == 1
        assert answer.parsed_query.used_fallback
    finally:
        await _restart(mesh, "registry", "prediction")


async def test_level_3_user_database_cut_cached_answers_only(mesh):
    cached_question = "how many orders are there?"
    first = await mesh.ask(cached_question)
    assert first.source == SOURCE.ANSWER_SOURCE_DATABASE
    await mesh.forwarders["user"].cut()
    try:
        await mesh.level_is(3)
        again = await mesh.ask(cached_question)
        assert again.cached and again.source == SOURCE.ANSWER_SOURCE_CACHE
        assert [list(r.cells) for r in again.rows] == [list(r.cells) for r in first.rows]
        error = await _unavailable(mesh.ask("what is the average price of products?"))
        assert error.details()
    finally:
        await mesh.forwarders["user"].restore()
    await mesh.level_is(0)


async def _critical_checks(mesh: Mesh, cause: str) -> None:
    status = await mesh.level_is(4)
    assert cause in status.summary and "critical" in status.summary
    error = await _unavailable(mesh.ask("how many customers are there?", use_cache=False))
    assert "critical" in error.details().lower()
    health = await mesh.ask("is the system healthy?")
    assert health.source == SOURCE.ANSWER_SOURCE_SYSTEM and "level 4" in health.answer


async def test_level_4_parser_down_only_health_and_status(mesh):
    await mesh.stop("parser")
    try:
        await _critical_checks(mesh, "parser")
    finally:
        await _restart(mesh, "parser")


async def test_level_4_platform_database_cut(mesh):
    await mesh.forwarders["platform"].cut()
    try:
        await _critical_checks(mesh, "platform-db")
    finally:
        await mesh.forwarders["platform"].restore()
    await asyncio.wait_for(mesh.level_is(0), 90)
