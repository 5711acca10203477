"""Prometheus metrics of every ChatDB process, and the HTTP endpoint that serves them.

Each process (`chatdb serve <service>`, the gateway, `chatdb worker`) serves /metrics on
its own port, CHATDB_<SERVICE>_METRICS_PORT (settings.DEFAULT_METRICS_PORTS; 0 = off), bound to
CHATDB_HOST like its gRPC port. What is exported (ARCHITECTURE.md, "Metrics"):

    chatdb_request_latency_seconds{service,method,status}   histogram, every RPC (interceptors.py)
    chatdb_request_count_total{service,method,status}       counter, every RPC
    chatdb_cache_hits_total{cache} / chatdb_cache_misses_total{cache}
    chatdb_predictions_total{model,version}                  rows predicted (prediction)
    chatdb_training_job_duration_seconds{task,algorithm,outcome}   histogram (worker)
    chatdb_queue_depth{queue}                                jobs waiting in the arq queue (worker, read when scraped)
    chatdb_connector_active_connections{kind}                open connections to user databases (connector, read when scraped)
    chatdb_connector_pool_size / _pool_in_use / _pool_max_size{kind,connection}

plus prometheus_client's own process_* and python_* families. Envoy serves its own
statistics on its admin port (/stats/prometheus).

The request metrics sit on the path of every call, the prediction hot path included:
the labelled children are bound once per (method, status) and kept, so a call costs one
dict lookup, one histogram observe and one counter increment. Gauges that describe state
(pools, the queue) are not kept up to date on the way: they are read when scraped
(Sampled), from sources that register themselves and are held weakly.
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import start_http_server

log = logging.getLogger("chatdb.metrics")

# Latency buckets (seconds) of request_latency: 1 ms to 10 s.
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Training jobs take seconds to hours.
TRAINING_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)

REQUEST_LATENCY = Histogram(
    "chatdb_request_latency_seconds", "Time from a call's arrival to its status, per gRPC service, method and status code.",
    ("service", "method", "status"), buckets=LATENCY_BUCKETS,
)
REQUEST_COUNT = Counter(
    "chatdb_request_count", "Calls answered, per gRPC service, method and status code.", ("service", "method", "status"),
)
CACHE_HITS = Counter("chatdb_cache_hits", "Lookups answered from a cache.", ("cache",))
CACHE_MISSES = Counter("chatdb_cache_misses", "Lookups a cache could not answer.", ("cache",))
PREDICTIONS = Counter("chatdb_predictions", "Rows predicted, per model and version.", ("model", "version"))
TRAINING_JOB_DURATION = Histogram(
    "chatdb_training_job_duration_seconds",
    "Wall time of a training job's attempt on a worker (claim to outcome), per task, algorithm and outcome.",
    ("task", "algorithm", "outcome"), buckets=TRAINING_BUCKETS,
)


# ----------------------------------------------------------------------------- requests

_calls: dict[tuple[str, grpc.StatusCode], tuple[Callable[[float], None], Callable[[], None]]] = {}


def observe_call(method: str, code: grpc.StatusCode, seconds: float) -> None:
    """One finished call: `method` is the full gRPC path (/pkg.Service/Method)."""
    try:
        observe, count = _calls[(method, code)]
    except KeyError:
        service, _, name = method[1:].rpartition("/")
        observe = REQUEST_LATENCY.labels(service, name, code.name).observe
        count = REQUEST_COUNT.labels(service, name, code.name).inc
        _calls[(method, code)] = (observe, count)
    observe(seconds)
    count()


# ----------------------------------------------------------------------------- caches


class CacheMeter:
    """Hits and misses of one cache (label cache=name): `meter.hit()`, `meter.miss()`."""

    __slots__ = ("hit", "miss")

    def __init__(self, cache: str) -> None:
        self.hit: Callable[[], None] = CACHE_HITS.labels(cache).inc
        self.miss: Callable[[], None] = CACHE_MISSES.labels(cache).inc


def rows_counter(model: str, version: int | str) -> Callable[[float], None]:
    """`count(rows)` for predictions of one model version (bound once per loaded version)."""
    return PREDICTIONS.labels(model, str(version)).inc


def observe_training(task: str, algorithm: str, outcome: str, seconds: float) -> None:
    TRAINING_JOB_DURATION.labels(task or "-", algorithm or "-", outcome).observe(seconds)


# ----------------------------------------------------------------------------- sampled gauges

Samples = Iterable[tuple[tuple[str, ...], float]]
_keys = itertools.count()


class Sampled:
    """A gauge family read when scraped: the sum, per label values, of what each
    registered source returns. A source is `read(owner)` with its owner held weakly, so
    a pool manager or worker that goes away stops being read; one that raises is logged
    and skipped, and the scrape carries on."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self._sources: dict[int, tuple[weakref.ref, Callable[[Any], Samples]]] = {}
        self._lock = threading.Lock()
        REGISTRY.register(self)

    def add(self, read: Callable[[Any], Samples], owner: object) -> Callable[[], None]:
        """Call `read(owner)` on every scrape until the returned function is called or
        `owner` is gone."""
        key = next(_keys)
        with self._lock:
            self._sources[key] = (weakref.ref(owner), read)

        def remove() -> None:
            with self._lock:
                self._sources.pop(key, None)

        return remove

    def describe(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(self.name, self.documentation, labels=self.labels)]

    def collect(self) -> list[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        totals: dict[tuple[str, ...], float] = {}
        with self._lock:
            sources = list(self._sources.items())
        for key, (ref, read) in sources:
            owner = ref()
            if owner is None:
                with self._lock:
                    self._sources.pop(key, None)
                continue
            try:
                for values, value in read(owner):
                    totals[values] = totals.get(values, 0.0) + value
            except Exception as exc:  # noqa: BLE001 - a scrape never fails for one source
                log.warning("a metrics source failed", extra={"metric": self.name, "error": repr(exc)})
        for values, value in sorted(totals.items()):
            family.add_metric(list(values), value)
        return [family]


QUEUE_DEPTH = Sampled("chatdb_queue_depth", "Jobs waiting in the arq queue (read from Redis when scraped).", ("queue",))
CONNECTOR_ACTIVE_CONNECTIONS = Sampled(
    "chatdb_connector_active_connections", "Open connections the connector holds to user databases, per database kind.",
    ("kind",),
)
CONNECTOR_POOL_SIZE = Sampled(
    "chatdb_connector_pool_size", "Open connections of a connection's pool.", ("kind", "connection"))
CONNECTOR_POOL_IN_USE = Sampled(
    "chatdb_connector_pool_in_use", "Connections of a connection's pool running a statement now.", ("kind", "connection"))
CONNECTOR_POOL_MAX_SIZE = Sampled(
    "chatdb_connector_pool_max_size", "Most connections a connection's pool may open.", ("kind", "connection"))


@dataclass(frozen=True)
class PoolUse:
    """What one pool holds now (a driver's answer to pool_use())."""

    size: int  # open connections
    in_use: int  # of which running a statement
    max_size: int


PoolsOf = Callable[[Any], Iterable[tuple[str, str, PoolUse]]]


def watch_pools(owner: object, pools: PoolsOf) -> Callable[[], None]:
    """Read `pools(owner)`, (kind, connection id, PoolUse) of each open pool, into the
    connector's gauges on every scrape; returns the function that stops it."""

    def active(o: object) -> Samples:
        totals: dict[str, float] = {}
        for kind, _, use in pools(o):
            totals[kind] = totals.get(kind, 0.0) + use.size
        return [((kind,), value) for kind, value in totals.items()]

    removers = [
        CONNECTOR_ACTIVE_CONNECTIONS.add(active, owner),
        CONNECTOR_POOL_SIZE.add(lambda o: [((k, c), u.size) for k, c, u in pools(o)], owner),
        CONNECTOR_POOL_IN_USE.add(lambda o: [((k, c), u.in_use) for k, c, u in pools(o)], owner),
        CONNECTOR_POOL_MAX_SIZE.add(lambda o: [((k, c), u.max_size) for k, c, u in pools(o)], owner),
    ]

    def stop() -> None:
        for remove in removers:
            remove()

    return stop


# Every family a ChatDB process exports (names as written in the exposition, before
# the _bucket/_count/_sum/_total suffixes). tests/metrics checks the dashboard against it.
FAMILIES: frozenset[str] = frozenset({
    "chatdb_request_latency_seconds", "chatdb_request_count", "chatdb_cache_hits", "chatdb_cache_misses",
    "chatdb_predictions", "chatdb_training_job_duration_seconds", QUEUE_DEPTH.name,
    CONNECTOR_ACTIVE_CONNECTIONS.name, CONNECTOR_POOL_SIZE.name, CONNECTOR_POOL_IN_USE.name,
    CONNECTOR_POOL_MAX_SIZE.name,
})


# ----------------------------------------------------------------------------- endpoint


class MetricsServer:
    """The /metrics HTTP endpoint of this process (a daemon thread); `port` is the bound
    one (ask for 0 to get a free port, as tests do)."""

    def __init__(self, host: str, port: int) -> None:
        try:
            self._server, self._thread = start_http_server(port, addr=host)
        except OSError as exc:
            raise OSError(f"could not bind the metrics port {host}:{port}: {exc.strerror or exc}") from exc
        self.host = host
        self.port: int = self._server.server_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics(host: str, port: int, process: str = "") -> MetricsServer | None:
    """Serve /metrics on host:port for this process; None when port is 0 (off)."""
    if not port:
        return None
    server = MetricsServer(host, port)
    log.info("metrics endpoint started", extra={"for": process, "url": server.url})
    return server
