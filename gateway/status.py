"""The gateway's view of the mesh: every component's health, the degradation level the
architecture defines, and the SystemStatus that GetSystemStatus returns.

The monitor checks all components at once in the background every
CHATDB_GATEWAY_STATUS_INTERVAL_S, each check bounded by CHATDB_GATEWAY_STATUS_TIMEOUT_S
and behind its own circuit breaker (breaker.py). Readers get the last snapshot when it
is younger than the interval and a fresh check otherwise, so a status question never
waits longer than one timeout and never raises.

Levels (highest applicable wins):
  0 all healthy
  1 training down (training or worker): questions and predictions still served
  2 ML down (prediction or registry): the parser runs on its rule path, no predictions
  3 databases down (the connector, or every user database): cached answers only
  4 critical (parser, platform PostgreSQL or Redis): health and status only
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chatdb.gateway.v1 import system_status_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from servers.runtime.channels import open_channel
from servers.runtime.settings import Settings

from . import health_probe
from .breaker import BreakerState, CircuitBreaker
from .health_probe import DEGRADED, NOT_SERVING, SERVING, UNKNOWN, Probe, ProbeResult

log = logging.getLogger("chatdb.gateway.status")

# Stable order of SystemStatus.components: the question path first, then ML, then stores.
GRPC_COMPONENTS = ("parser", "connector", "training", "worker", "registry", "prediction")
COMPONENTS = ("parser", "connector", "databases", "training", "worker", "registry", "prediction", "platform-db", "redis")

MONITOR_CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)

# Which components bring each level about. Redis is level 1, not critical: it holds the
# training queue and the result cache, and the core answers every question without the
# cache (uncached), so only training stops.
LEVEL_CAUSES: dict[int, tuple[str, ...]] = {
    4: ("parser", "platform-db"),
    3: ("connector", "databases"),
    2: ("prediction", "registry"),
    1: ("training", "worker", "redis"),
}
CONSEQUENCES = {
    0: "all components healthy",
    1: "questions and predictions still served",
    2: "database questions still served by the parser's rule path; no predictions",
    3: "cached answers only; other questions answer UNAVAILABLE",
    4: "critical: health and status only",
}
# A channel of its own connection (not the process-wide subchannel shared with the
# monitor's channel, which may be in reconnect backoff).
FRESH_CHANNEL_OPTIONS = (("grpc.use_local_subchannel_pool", 1),)
DEGRADATION = system_status_pb2.DegradationLevel


@dataclass(frozen=True)
class ComponentHealth:
    component: str
    state: int  # a ComponentState
    message: str = ""
    latency_s: float = 0.0
    checked_at: datetime | None = None


@dataclass(frozen=True)
class Snapshot:
    components: tuple[ComponentHealth, ...]
    checked_at: datetime
    monotonic: float = 0.0
    level: int = field(init=False)
    down: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        down = tuple(c.component for c in self.components if c.state == NOT_SERVING)
        object.__setattr__(self, "down", down)
        object.__setattr__(self, "level", level_of(down))

    def state_of(self, component: str) -> int:
        for health in self.components:
            if health.component == component:
                return health.state
        return UNKNOWN

    @property
    def summary(self) -> str:
        if self.level == 0:
            return f"level 0: {CONSEQUENCES[0]}"
        return f"level {self.level}: {', '.join(self.down)} down — {CONSEQUENCES[self.level]}"


def level_of(down: Sequence[str]) -> int:
    for level in (4, 3, 2, 1):
        if any(component in down for component in LEVEL_CAUSES[level]):
            return level
    return 0


def _timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    if moment is not None:
        stamp.FromDatetime(moment)
    return stamp


def to_pb(snapshot: Snapshot) -> system_status_pb2.SystemStatus:
    components = []
    for health in snapshot.components:
        latency = duration_pb2.Duration()
        latency.FromNanoseconds(int(health.latency_s * 1e9))
        components.append(system_status_pb2.ComponentStatus(
            component=health.component, state=health.state, message=health.message,
            check_time=_timestamp(health.checked_at), latency=latency))
    return system_status_pb2.SystemStatus(
        degradation_level=snapshot.level + 1,  # the enum is the level plus one (0 is UNSPECIFIED)
        level=snapshot.level, components=components, summary=snapshot.summary,
        check_time=_timestamp(snapshot.checked_at))


class StatusMonitor:
    def __init__(self, probes: dict[str, Probe], *, timeout_s: float, interval_s: float,
                 breaker_failures: int, breaker_cooldown_s: float,
                 rechecks: dict[str, Probe] | None = None) -> None:
        self.probes = dict(probes)
        # Used instead of the probe when a critical level is checked again (force=True).
        self.rechecks = dict(rechecks or {})
        self.timeout_s = timeout_s
        self.interval_s = interval_s
        self.breakers = {name: CircuitBreaker(breaker_failures, breaker_cooldown_s) for name in self.probes}
        now = datetime.now(UTC)
        self._snapshot = Snapshot(tuple(ComponentHealth(name, UNKNOWN, "not checked yet") for name in self.probes), now)
        self._fresh = False
        self._refreshing: asyncio.Task[Snapshot] | None = None
        self._loop: asyncio.Task[None] | None = None
        self._forced_at = float("-inf")

    @classmethod
    def from_settings(cls, settings: Settings, probes: dict[str, Probe],
                      rechecks: dict[str, Probe] | None = None) -> StatusMonitor:
        return cls(probes, timeout_s=settings.gateway_status_timeout_s, interval_s=settings.gateway_status_interval_s,
                   breaker_failures=settings.gateway_breaker_failures,
                   breaker_cooldown_s=settings.gateway_breaker_cooldown_s, rechecks=rechecks)

    # --- what readers see -------------------------------------------------------------
    @property
    def last(self) -> Snapshot:
        return self._snapshot

    @property
    def level(self) -> int:
        return self._snapshot.level

    def is_down(self, component: str) -> bool:
        return self._snapshot.state_of(component) == NOT_SERVING

    async def snapshot(self) -> Snapshot:
        """The last snapshot if younger than the interval, else a fresh one. A critical
        snapshot is checked again first, through open circuits too (at most once a
        second): level 4 refuses every question, so it must rest on a check of now, not on
        one that a busy moment timed out or on a circuit that opened while the mesh was
        still starting."""
        if self._fresh and time.monotonic() - self._snapshot.monotonic < self.interval_s:
            snapshot = self._snapshot
        else:
            snapshot = await self.refresh()
        if snapshot.level >= 4 and time.monotonic() - self._forced_at >= min(self.interval_s, 1.0):
            self._forced_at = time.monotonic()
            snapshot = await self._check_all(force=True)
        return snapshot


    async def status(self) -> system_status_pb2.SystemStatus:
        return to_pb(await self.snapshot())

    # --- checking ---------------------------------------------------------------------
    async def refresh(self) -> Snapshot:
        """Check every component now; concurrent callers share one round of checks."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._check_all())
        return await asyncio.shield(self._refreshing)

    async def _check_all(self, *, force: bool = False) -> Snapshot:
        results = await asyncio.gather(*(self._check(name, probe, force=force) for name, probe in self.probes.items()))
        snapshot = Snapshot(tuple(results), datetime.now(UTC), time.monotonic())
        if snapshot.level != self._snapshot.level and self._fresh:
            log.warning("degradation level changed", extra={"level": snapshot.level, "was": self._snapshot.level,
                                                           "summary": snapshot.summary})
        self._snapshot = snapshot
        self._fresh = True
        return snapshot

    async def _check(self, name: str, probe: Probe, *, force: bool = False) -> ComponentHealth:
        breaker = self.breakers[name]
        if not force and not breaker.allow():
            return ComponentHealth(name, NOT_SERVING,
                                   f"circuit open after {breaker.failures} failed checks; next check in "
                                   f"{breaker.retry_in_s():.1f} s", 0.0, datetime.now(UTC))
        if force:
            probe = self.rechecks.get(name, probe)
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await probe()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 — any failure of a check is a down component
            breaker.record_failure()
            message = health_probe.describe_failure(exc)
            if isinstance(exc, TimeoutError):
                message = f"no answer within {self.timeout_s:g} s"
            if breaker.state is BreakerState.OPEN:
                message += f" (circuit open for {breaker.cooldown_s:g} s)"
            return ComponentHealth(name, NOT_SERVING, message, time.monotonic() - started, datetime.now(UTC))
        breaker.record_success()
        return ComponentHealth(name, result.state, result.message, time.monotonic() - started, datetime.now(UTC))

    # --- background -------------------------------------------------------------------
    def start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.create_task(self._run(), name="gateway-status-monitor")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        if self._refreshing is not None and not self._refreshing.done():
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refreshing

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in a probe must not end the monitoring
                log.exception("status check failed")
            await asyncio.sleep(self.interval_s)


StatusReader = Callable[[], Awaitable[system_status_pb2.SystemStatus]]


def status_reader(monitor: StatusMonitor) -> StatusReader:
    """The core's GetSystemStatus: the monitor's snapshot, never an error."""

    async def read() -> system_status_pb2.SystemStatus:
        try:
            return await monitor.status()
        except Exception:  # noqa: BLE001 — status must answer even when checking broke
            log.exception("status check failed; answering the last snapshot")
            return to_pb(monitor.last)

    return read


async def open_monitor(settings: Settings, stack: AsyncExitStack, *, pg_pool=None, redis=None,
                       start: bool = True) -> StatusMonitor:
    """The monitor of the mesh `settings` describe: one channel per service (closed by
    `stack`), the platform database through `pg_pool`, Redis through `redis` (each
    opened here when not given), checked in the background until `stack` closes."""
    timeout_s = settings.gateway_status_timeout_s
    channels = {}
    for name in GRPC_COMPONENTS:
        # Reconnect within a second of a service coming back: with the default backoff
        # (up to 5 s) a channel that failed while the mesh was starting fails its checks
        # fast for seconds after the service is up, and level 4 refuses every question.
        channel = open_channel(settings, name, options=MONITOR_CHANNEL_OPTIONS)
        stack.push_async_callback(channel.close)
        channels[name] = channel
    if redis is None:
        import redis.asyncio as aioredis

        redis = aioredis.from_url(settings.redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        stack.push_async_callback(redis.aclose)
    probes: dict[str, Probe] = {}
    rechecks: dict[str, Probe] = {}
    for name in COMPONENTS:
        if name in channels:
            probes[name] = health_probe.grpc_health(channels[name], timeout_s)
            rechecks[name] = health_probe.grpc_health_reconnecting(
                channels[name], functools.partial(open_channel, settings, name, options=FRESH_CHANNEL_OPTIONS),
                timeout_s)
        elif name == "databases":
            probes[name] = health_probe.user_databases(channels["connector"], timeout_s)
        elif name == "platform-db":
            probes[name] = health_probe.postgres(pg_pool, settings.database_url, timeout_s)
        elif name == "redis":
            probes[name] = health_probe.redis_ping(redis)
    monitor = StatusMonitor.from_settings(settings, probes, rechecks)
    stack.push_async_callback(monitor.stop)
    if start:
        monitor.start()
    return monitor


__all__ = [
    "COMPONENTS", "DEGRADED", "NOT_SERVING", "SERVING", "UNKNOWN", "ComponentHealth", "ProbeResult", "Snapshot",
    "StatusMonitor", "StatusReader", "level_of", "open_monitor", "status_reader", "to_pb",
]
