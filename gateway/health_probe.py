"""One check per component of the mesh, each a `Probe`: an async callable that returns
what the component says about itself, or raises when it cannot be reached.

The status monitor bounds every probe by CHATDB_GATEWAY_STATUS_TIMEOUT_S and puts a
circuit breaker in front of it; probes themselves stay plain so each can be tested
against the real thing (a gRPC server, PostgreSQL, Redis, the connector's connections).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
from chatdb.connector.v1 import (
    connection_pb2,
    connector_service_pb2,
    connector_service_pb2_grpc,
    statement_pb2,
)
from chatdb.gateway.v1 import system_status_pb2
from google.protobuf import duration_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from servers.runtime.channels import as_domain_error
from servers.runtime.errors import ChatDBError

STATES = system_status_pb2.ComponentState
SERVING = STATES.COMPONENT_STATE_SERVING
DEGRADED = STATES.COMPONENT_STATE_DEGRADED
NOT_SERVING = STATES.COMPONENT_STATE_NOT_SERVING
UNKNOWN = STATES.COMPONENT_STATE_UNKNOWN


@dataclass(frozen=True)
class ProbeResult:
    state: int  # a ComponentState
    message: str = ""


Probe = Callable[[], Awaitable[ProbeResult]]


def describe_failure(exc: BaseException) -> str:
    """A failed check in words a person can act on (no traceback)."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, grpc.aio.AioRpcError | ChatDBError):
        error = as_domain_error(exc)
        return f"{error.code.name}: {error.message}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _health_result(reply: health_pb2.HealthCheckResponse) -> ProbeResult:
    if reply.status == health_pb2.HealthCheckResponse.SERVING:
        return ProbeResult(SERVING)
    return ProbeResult(NOT_SERVING, f"reports {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}")


def grpc_health(channel: grpc.aio.Channel, timeout_s: float) -> Probe:
    """grpc.health.v1 Check for the whole server (service "")."""
    stub = health_pb2_grpc.HealthStub(channel)

    async def probe() -> ProbeResult:
        return _health_result(await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s))

    return probe


def grpc_health_reconnecting(channel: grpc.aio.Channel, reopen: Callable[[], grpc.aio.Channel],
                             timeout_s: float) -> Probe:
    """The check to trust before refusing questions: on a channel that is not READY it
    asks over a fresh connection (`reopen`) and waits for it to connect, within the
    timeout. A channel whose earlier attempts failed (the service was still starting)
    sits in reconnect backoff and fails every call at once until the backoff ends, so a
    check over it says "down" about a service that is SERVING."""
    probe = grpc_health(channel, timeout_s)

    async def recheck() -> ProbeResult:
        if channel.get_state(try_to_connect=False) is grpc.ChannelConnectivity.READY:
            return await probe()
        fresh = reopen()
        try:
            reply = await health_pb2_grpc.HealthStub(fresh).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout_s, wait_for_ready=True)
        finally:
            await fresh.close()
        # The fresh connection proved the service up: nudge the long-lived channel too.
        channel.get_state(try_to_connect=True)
        return _health_result(reply)

    return recheck


def postgres(pool: asyncpg.Pool | None, dsn: str, timeout_s: float) -> Probe:
    """SELECT 1 on the gateway's own pool (or a fresh connection when it has none)."""

    async def probe() -> ProbeResult:
        if pool is not None:
            await pool.fetchval("SELECT 1", timeout=timeout_s)
        else:
            conn = await asyncpg.connect(dsn, timeout=timeout_s)
            try:
                await conn.fetchval("SELECT 1", timeout=timeout_s)
            finally:
                await conn.close(timeout=timeout_s)
        return ProbeResult(SERVING)

    return probe


def redis_ping(client: Any) -> Probe:
    async def probe() -> ProbeResult:
        await client.ping()
        return ProbeResult(SERVING)

    return probe


def _cheapest_statement(connection: connection_pb2.Connection) -> statement_pb2.Statement | None:
    if connection.kind in (connection_pb2.CONNECTION_KIND_POSTGRES, connection_pb2.CONNECTION_KIND_MYSQL):
        return statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql="SELECT 1"))
    return None  # MongoDB: no statement without a collection; GetSchema(refresh) reaches it


def user_databases(channel: grpc.aio.Channel, timeout_s: float) -> Probe:
    """The connector's connections, each probed through the connector itself: SELECT 1
    for SQL databases, a schema refresh for MongoDB. All of them down (or the connector
    unreachable) is NOT_SERVING; some of them down is DEGRADED, naming them."""
    stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)

    async def one(connection: connection_pb2.Connection, budget_s: float) -> str | None:
        statement = _cheapest_statement(connection)
        try:
            if statement is not None:
                limit = duration_pb2.Duration()
                limit.FromNanoseconds(int(budget_s * 1e9))
                await stub.ExecuteQuery(connector_service_pb2.ExecuteQueryRequest(
                    connection_id=connection.connection_id, statement=statement, page_size=1, max_rows=1,
                    timeout=limit), timeout=budget_s)
            else:
                await stub.GetSchema(connector_service_pb2.GetSchemaRequest(
                    connection_id=connection.connection_id, refresh=True), timeout=budget_s)
        except (grpc.aio.AioRpcError, ChatDBError, TimeoutError) as exc:
            return f"{connection.connection_id} ({describe_failure(exc)})"
        return None

    async def probe() -> ProbeResult:
        # One deadline for the whole check, inside the monitor's bound: a database that
        # hangs then fails alone, instead of taking the check past the bound, which read
        # as every database down (level 3).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s * 0.8

        def left() -> float:
            return max(deadline - loop.time(), 0.001)

        connections: list[connection_pb2.Connection] = []
        token = ""
        while True:
            reply = await stub.ListConnections(
                connector_service_pb2.ListConnectionsRequest(page_size=1000, page_token=token), timeout=left())
            connections.extend(reply.connections)
            token = reply.next_page_token
            if not token:
                break
        if not connections:
            return ProbeResult(SERVING, "no connections registered")
        budget_s = left()
        failures = [f for f in await asyncio.gather(*(one(c, budget_s) for c in connections)) if f]
        if not failures:
            return ProbeResult(SERVING, f"{len(connections)} connection(s) answering")
        state = NOT_SERVING if len(failures) == len(connections) else DEGRADED
        return ProbeResult(state, f"{len(failures)} of {len(connections)} down: " + "; ".join(failures))

    return probe
