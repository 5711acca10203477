"""The status monitor against a real mesh: a real connector with a real user database,
the platform PostgreSQL and Redis reached through TCP forwarders the test can cut, and
health-only gRPC servers for the other services, which the tests stop and start.
Every level comes from taking away the parts the architecture names for it."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack
from urllib.parse import urlsplit

import asyncpg
import grpc
import pytest
import redis.asyncio as aioredis
from chatdb.connector.v1 import connection_pb2, connector_service_pb2, connector_service_pb2_grpc
from chatdb.gateway.v1 import system_status_pb2

from gateway import health_probe
from gateway.breaker import BreakerState, CircuitBreaker
from gateway.status import NOT_SERVING, SERVING, StatusMonitor, open_monitor, status_reader
from servers.connector.app import build as build_connector
from servers.runtime.server import GrpcServer
from tests.conftest import MYSQL, REDIS_URL, create_pg_database, drop_pg_database

from .mesh_support import HealthOnlyServer, HungListener, TcpForwarder, free_port, wait_for

HEALTH_ONLY = ("parser", "training", "worker", "registry", "prediction")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Mesh:
    def __init__(self) -> None:
        self.servers: dict[str, HealthOnlyServer] = {}
        self.forwarders: dict[str, TcpForwarder] = {}
        self.connector: GrpcServer | None = None
        self.settings = None
        self.monitor: StatusMonitor | None = None
        self.connector_stack: AsyncExitStack | None = None

    async def restart_connector(self) -> None:
        self.connector_stack = AsyncExitStack()
        self.connector = GrpcServer(self.settings, await build_connector(self.settings, self.connector_stack),
                                    host="127.0.0.1", port=self.settings.connector_port)
        await self.connector.start()

    async def stop_connector(self) -> None:
        await self.connector.stop(grace_s=0, drain_delay_s=0)
        await self.connector_stack.aclose()
        self.connector = None


def _forwarder_to(url: str) -> TcpForwarder:
    parts = urlsplit(url)
    return TcpForwarder(parts.hostname or "127.0.0.1", parts.port or 5432)


def _via(url: str, forwarder: TcpForwarder) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    auth = netloc[0] + "@" if len(netloc) == 2 else ""
    return parts._replace(netloc=f"{auth}127.0.0.1:{forwarder.port}").geturl()


@pytest.fixture(scope="module")
async def mesh(settings, pg_database, run_id):
    # A platform database of its own: the "databases" check lists every connection the
    # connector holds, and other modules' connections (to databases since dropped) would
    # count as user databases down.
    platform = f"chatdb_test_{run_id}_status"
    await drop_pg_database(platform)
    settings = settings.model_copy(update={"database_url": await create_pg_database(platform)})
    mesh = Mesh()
    async with AsyncExitStack() as stack:
        stack.push_async_callback(drop_pg_database, platform)
        for name in ("platform", "user", "redis"):
            target = {"platform": settings.database_url, "user": pg_database, "redis": REDIS_URL}[name]
            mesh.forwarders[name] = await _forwarder_to(target).start()
            stack.push_async_callback(mesh.forwarders[name].close)
        ports = {f"{name}_port": free_port() for name in (*HEALTH_ONLY, "connector")}
        mesh.settings = settings.model_copy(update={
            **ports, "gateway_breaker_failures": 3, "gateway_breaker_cooldown_s": 0.5,
        })
        for name in HEALTH_ONLY:
            mesh.servers[name] = await HealthOnlyServer(settings, ports[f"{name}_port"]).start()
            stack.push_async_callback(mesh.servers[name].stop)
        await mesh.restart_connector()
        stack.push_async_callback(lambda: mesh.stop_connector() if mesh.connector else _nothing())
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{mesh.settings.connector_port}")
        stack.push_async_callback(channel.close)
        mesh.connector_stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
        await mesh.connector_stub.CreateConnection(connector_service_pb2.CreateConnectionRequest(
            connection_id="status-user-db", connection=connection_pb2.Connection(
                kind=connection_pb2.CONNECTION_KIND_POSTGRES, dsn=_via(pg_database, mesh.forwarders["user"]))),
            timeout=20)
        stack.push_async_callback(lambda: mesh.connector_stub.DeleteConnection(
            connector_service_pb2.DeleteConnectionRequest(connection_id="status-user-db", allow_missing=True),
            timeout=20))
        pool = await asyncpg.create_pool(_via(settings.database_url, mesh.forwarders["platform"]), min_size=1, max_size=2)
        stack.push_async_callback(pool.close)
        redis = aioredis.from_url(_via(REDIS_URL, mesh.forwarders["redis"]), socket_timeout=0.3,
                                  socket_connect_timeout=0.3)
        stack.push_async_callback(redis.aclose)
        mesh.monitor = await open_monitor(mesh.settings, stack, pg_pool=pool, redis=redis, start=False)
        yield mesh


async def _nothing() -> None:
    return None


async def level_becomes(mesh: Mesh, level: int):
    async def check():
        snapshot = await mesh.monitor.refresh()
        return snapshot if snapshot.level == level else None

    return await wait_for(check, what=f"level {level}")


@contextlib.asynccontextmanager
async def stopped(mesh: Mesh, *names: str):
    for name in names:
        await mesh.servers[name].stop()
    try:
        yield
    finally:
        for name in names:
            await mesh.servers[name].start()
        await level_becomes(mesh, 0)


async def test_all_up_is_level_0_with_every_component_serving(mesh):
    snapshot = await level_becomes(mesh, 0)
    assert [c.component for c in snapshot.components] == [
        "parser", "connector", "databases", "training", "worker", "registry", "prediction", "platform-db", "redis"]
    assert all(c.state == SERVING for c in snapshot.components), snapshot.components
    assert "1 connection(s) answering" in next(c.message for c in snapshot.components if c.component == "databases")
    status = await status_reader(mesh.monitor)()
    assert status.level == 0
    assert status.degradation_level == system_status_pb2.DEGRADATION_LEVEL_HEALTHY
    assert status.summary.startswith("level 0")
    assert mesh.monitor.level == 0 and not mesh.monitor.is_down("parser")


@pytest.mark.parametrize(("names", "level", "enum"), [
    (("training",), 1, system_status_pb2.DEGRADATION_LEVEL_TRAINING_DOWN),
    (("worker",), 1, system_status_pb2.DEGRADATION_LEVEL_TRAINING_DOWN),
    (("prediction", "registry"), 2, system_status_pb2.DEGRADATION_LEVEL_ML_DOWN),
    (("registry",), 2, system_status_pb2.DEGRADATION_LEVEL_ML_DOWN),
    (("parser",), 4, system_status_pb2.DEGRADATION_LEVEL_CRITICAL),
    (("training", "prediction", "parser"), 4, system_status_pb2.DEGRADATION_LEVEL_CRITICAL),
])
async def test_stopping_services_sets_the_level_they_name(mesh, names, level, enum):
    async with stopped(mesh, *names):
        snapshot = await level_becomes(mesh, level)
        assert set(snapshot.down) == set(names)
        assert all(mesh.monitor.is_down(name) for name in names)
        status = await status_reader(mesh.monitor)()
        assert status.level == level and status.degradation_level == enum
        assert status.summary.startswith(f"level {level}: ") and names[0] in status.summary
        down = {c.component: c for c in status.components if c.state == NOT_SERVING}
        assert set(down) == set(names) and all(c.message for c in down.values())
    assert mesh.monitor.level == 0


async def test_level_1_summary_says_what_still_works(mesh):
    async with stopped(mesh, "training"):
        snapshot = await level_becomes(mesh, 1)
        assert snapshot.summary == "level 1: training down — questions and predictions still served"


async def test_connector_down_is_level_3(mesh):
    await mesh.stop_connector()
    try:
        snapshot = await level_becomes(mesh, 3)
        assert {"connector", "databases"} <= set(snapshot.down)
        assert "cached answers only" in snapshot.summary
    finally:
        await mesh.restart_connector()
    await level_becomes(mesh, 0)


async def test_user_database_cut_is_level_3_and_comes_back(mesh):
    await mesh.forwarders["user"].cut()
    try:
        snapshot = await level_becomes(mesh, 3)
        assert snapshot.down == ("databases",)
        databases = next(c for c in snapshot.components if c.component == "databases")
        assert "status-user-db" in databases.message and "1 of 1 down" in databases.message
        assert not mesh.monitor.is_down("connector")
    finally:
        await mesh.forwarders["user"].restore()
    await level_becomes(mesh, 0)


async def test_platform_database_cut_is_critical(mesh):
    await mesh.forwarders["platform"].cut()
    try:
        snapshot = await level_becomes(mesh, 4)
        assert "platform-db" in snapshot.down
        status = await status_reader(mesh.monitor)()
        assert status.degradation_level == system_status_pb2.DEGRADATION_LEVEL_CRITICAL
        assert "critical" in status.summary
    finally:
        await mesh.forwarders["platform"].restore()
    await level_becomes(mesh, 0)


async def test_redis_cut_stops_training_only(mesh):
    # Redis holds the training queue and the result cache: questions are still answered
    # (uncached), so the level is 1, not critical.
    await mesh.forwarders["redis"].cut()
    try:
        snapshot = await level_becomes(mesh, 1)
        assert "redis" in snapshot.down
        status = await status_reader(mesh.monitor)()
        assert status.degradation_level == system_status_pb2.DEGRADATION_LEVEL_TRAINING_DOWN
    finally:
        await mesh.forwarders["redis"].restore()
    await level_becomes(mesh, 0)


async def test_a_hung_service_is_down_after_the_timeout(settings):
    hung = await HungListener().start()
    try:
        channel = grpc.aio.insecure_channel(hung.address)
        monitor = StatusMonitor({"parser": health_probe.grpc_health(channel, 0.3)}, timeout_s=0.3, interval_s=2,
                                breaker_failures=3, breaker_cooldown_s=10)
        snapshot = await monitor.refresh()
        parser = snapshot.components[0]
        assert parser.state == NOT_SERVING and snapshot.level == 4
        assert "0.3 s" in parser.message or "DEADLINE_EXCEEDED" in parser.message
        await channel.close()
    finally:
        await hung.close()


async def test_breaker_opens_after_three_failures_then_lets_one_trial_through(settings):
    server = await HealthOnlyServer(settings).start()
    channel = grpc.aio.insecure_channel(server.address)
    calls = []
    real = health_probe.grpc_health(channel, 0.3)

    async def counted():
        calls.append(1)
        return await real()

    clock = FakeClock()
    monitor = StatusMonitor({"training": counted}, timeout_s=0.3, interval_s=2, breaker_failures=3, breaker_cooldown_s=10)
    monitor.breakers["training"] = CircuitBreaker(3, 10, clock=clock)
    try:
        assert (await monitor.refresh()).level == 0
        await server.stop()
        for _ in range(3):
            assert (await monitor.refresh()).level == 1
        assert len(calls) == 4 and monitor.breakers["training"].state is BreakerState.OPEN
        # Open: reported down without being called.
        snapshot = await monitor.refresh()
        assert len(calls) == 4 and "circuit open" in snapshot.components[0].message and snapshot.level == 1
        await server.start()
        clock.now += 10  # cooldown over: one trial call, which finds it back
        snapshot = await wait_for(lambda: _level_after_trial(monitor, clock), what="trial closes the circuit")
        assert snapshot.level == 0 and monitor.breakers["training"].state is BreakerState.CLOSED
        assert len(calls) >= 5
    finally:
        await channel.close()
        await server.stop()


async def _level_after_trial(monitor: StatusMonitor, clock: FakeClock):
    # A channel that saw the server go may still be backing off: a failed trial re-opens
    # the circuit, so move the clock past the cooldown again and retry.
    snapshot = await monitor.refresh()
    if snapshot.level != 0:
        clock.now += 10
        return None
    return snapshot


def test_half_open_allows_a_single_trial_and_a_failed_trial_reopens():
    clock = FakeClock()
    breaker = CircuitBreaker(3, 10, clock=clock)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.allow() and breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() and not breaker.allow()  # one trial at a time
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and breaker.retry_in_s() == 10
    clock.now += 10
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


async def test_status_reader_answers_from_a_fresh_snapshot_without_checking_again(settings):
    calls = []

    async def probe():
        calls.append(1)
        return health_probe.ProbeResult(SERVING)

    monitor = StatusMonitor({"parser": probe}, timeout_s=0.3, interval_s=60, breaker_failures=3, breaker_cooldown_s=10)
    read = status_reader(monitor)
    first, second = await read(), await read()
    assert first.level == second.level == 0 and len(calls) == 1


async def test_status_reader_never_raises(settings):
    async def broken():
        raise RuntimeError("bug in a probe")

    monitor = StatusMonitor({"parser": broken}, timeout_s=0.3, interval_s=60, breaker_failures=3, breaker_cooldown_s=10)
    status = await status_reader(monitor)()
    assert status.level == 4 and "bug in a probe" in status.components[0].message


async def test_a_critical_level_is_checked_again_through_open_circuits(settings):
    # A mesh starting up: the parser fails its first checks (it is still loading) and its
    # circuit opens; once it is up, level 4 must not last the rest of the cooldown, since
    # level 4 refuses every question.
    up = False

    async def parser():
        if not up:
            raise ConnectionRefusedError("connection refused")
        return health_probe.ProbeResult(SERVING)

    monitor = StatusMonitor({"parser": parser}, timeout_s=0.3, interval_s=0.01, breaker_failures=3,
                            breaker_cooldown_s=600)
    for _ in range(3):
        await monitor.refresh()
    assert monitor.breakers["parser"].state is BreakerState.OPEN
    up = True
    await asyncio.sleep(0.02)
    status = await status_reader(monitor)()
    assert status.level == 0
    assert monitor.breakers["parser"].state is BreakerState.CLOSED


async def test_some_user_databases_down_is_degraded_not_a_level(mesh, mysql_database):
    await mesh.connector_stub.CreateConnection(connector_service_pb2.CreateConnectionRequest(
        connection_id="status-mysql", connection=connection_pb2.Connection(
            kind=connection_pb2.CONNECTION_KIND_MYSQL,
            dsn=f"mysql://{MYSQL['user']}@{MYSQL['host']}:{MYSQL['port']}/{mysql_database}")), timeout=20)
    await mesh.forwarders["user"].cut()
    try:
        async def degraded():
            snapshot = await mesh.monitor.refresh()
            databases = next(c for c in snapshot.components if c.component == "databases")
            return snapshot if databases.state == health_probe.DEGRADED else None

        snapshot = await wait_for(degraded, what="databases DEGRADED")
        databases = next(c for c in snapshot.components if c.component == "databases")
        assert databases.message.startswith("1 of 2 down: status-user-db")
        assert snapshot.level == 0 and not mesh.monitor.is_down("databases")
    finally:
        await mesh.forwarders["user"].restore()
        await mesh.connector_stub.DeleteConnection(
            connector_service_pb2.DeleteConnectionRequest(connection_id="status-mysql"), timeout=20)
    await level_becomes(mesh, 0)


async def test_a_service_that_comes_up_while_its_channel_backs_off_is_not_critical(settings):
    # A gateway started with the mesh: its first checks of the parser failed (not up
    # yet), so the monitor's channel waits out a reconnect backoff and fails every call
    # at once until it ends, while the parser is already SERVING. The re-check behind
    # level 4 must see the parser as it is, or the gateway refuses its first questions.
    server = HealthOnlyServer(settings)
    address = server.address
    # A long backoff makes "the channel is still backing off" certain, not a race.
    channel = grpc.aio.insecure_channel(address, options=(
        ("grpc.initial_reconnect_backoff_ms", 30_000), ("grpc.min_reconnect_backoff_ms", 30_000)))
    reopened = []

    def reopen():
        reopened.append(address)
        return grpc.aio.insecure_channel(address, options=(("grpc.use_local_subchannel_pool", 1),))

    probe = health_probe.grpc_health(channel, 0.3)
    monitor = StatusMonitor({"parser": probe}, timeout_s=0.3, interval_s=60, breaker_failures=3,
                            breaker_cooldown_s=600,
                            rechecks={"parser": health_probe.grpc_health_reconnecting(channel, reopen, 0.3)})
    try:
        for _ in range(3):
            assert (await monitor.refresh()).level == 4
        await server.start()
        with pytest.raises(grpc.aio.AioRpcError):  # the monitor's own channel still says "down"
            await probe()
        status = await status_reader(monitor)()
        assert status.level == 0, status.summary
        assert reopened == [address]
    finally:
        await server.stop()
        await channel.close()


async def test_one_hung_user_database_is_degraded_not_every_database_down(mesh, pg_database):
    # A user database that accepts and never answers: its probe runs to the deadline.
    # It must not take the whole check past the monitor's timeout, which read as every
    # database down (level 3: cached answers only) while the others answered.
    hung = await _forwarder_to(pg_database).start()
    try:
        await mesh.connector_stub.CreateConnection(connector_service_pb2.CreateConnectionRequest(
            connection_id="status-hung", connection=connection_pb2.Connection(
                kind=connection_pb2.CONNECTION_KIND_POSTGRES, dsn=_via(pg_database, hung))), timeout=20)
        await level_becomes(mesh, 0)
        hung.freeze()
        snapshot = await mesh.monitor.refresh()
        databases = next(c for c in snapshot.components if c.component == "databases")
        assert databases.state == health_probe.DEGRADED, databases.message
        assert databases.message.startswith("1 of 2 down: status-hung"), databases.message
        assert snapshot.level == 0
    finally:
        hung.thaw()
        await mesh.connector_stub.DeleteConnection(
            connector_service_pb2.DeleteConnectionRequest(connection_id="status-hung", allow_missing=True), timeout=20)
        await hung.close()
