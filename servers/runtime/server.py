"""The one gRPC server builder every ChatDB process uses.

It owns what must be the same everywhere: the interceptor (request id, logs, error
mapping), message-size limits, grpc.health.v1 with a status per service, server
reflection, TLS/mTLS, and graceful shutdown: on SIGTERM/SIGINT health turns NOT_SERVING,
calls keep being served for `drain_delay_s`, then the server stops accepting new calls
and gives in-flight ones `grace_period_s` to finish.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from .interceptors import ServerInterceptor
from .settings import Settings
from .tls import mtls_required, server_credentials

log = logging.getLogger("chatdb.server")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class ServiceBinding:
    """One gRPC service to put on a server: its full name, how to register it, and
    optionally what to do when draining starts (end streams that would otherwise run
    until the grace period cuts them: watches, subscriptions)."""

    name: str
    register: Callable[[grpc.aio.Server], None]
    on_drain: Callable[[], None] | None = None
    # Called once the server listens; a service that must warm up first (preloading
    # models) keeps health NOT_SERVING until it calls server.set_serving(True) itself.
    on_started: Callable[[GrpcServer], Awaitable[None]] | None = None
    # Whether requests are walked for NUL characters before the servicer sees them
    # (screening.py); a hot path that validates its own input turns it off.
    screen_strings: bool = True
    # A descriptor set whose services this server's reflection lists and describes too:
    # the gateway answers reflection for the whole Envoy edge (grpcurl list through it).
    reflects: Path | None = None


def bind(
    name: str,
    add_to_server: Callable[[object, grpc.aio.Server], None],
    servicer: object,
    *,
    on_drain: Callable[[], None] | None = None,
    screen_strings: bool = True,
) -> ServiceBinding:
    """ServiceBinding for a generated `add_XServicer_to_server` and a servicer instance."""
    return ServiceBinding(
        name, lambda server: add_to_server(servicer, server), on_drain, screen_strings=screen_strings
    )


def _reflection_pool(descriptor_set: Path) -> tuple[descriptor_pool.DescriptorPool, set[str]]:
    """A descriptor pool holding a descriptor set (built with --include_imports) plus
    health and reflection, and the services of the set."""
    from grpc_reflection.v1alpha import reflection_pb2

    fds = descriptor_pb2.FileDescriptorSet.FromString(Path(descriptor_set).read_bytes())
    pool = descriptor_pool.DescriptorPool()
    names = set()
    for file in fds.file:
        pool.Add(file)
        names.update(f"{file.package}.{svc.name}" for svc in file.service)
    for module in (health_pb2, reflection_pb2):
        pool.Add(descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb))
    return pool, names


class GrpcServer:
    def __init__(
        self,
        settings: Settings,
        bindings: Iterable[ServiceBinding],
        *,
        host: str | None = None,
        port: int = 0,
        ready: bool = True,
        extra_interceptors: Iterable[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        self.settings = settings
        self.bindings = list(bindings)
        self.host = host or settings.host
        self.port = port
        self._ready_at_start = ready
        self.health = health_aio.HealthServicer()
        self._server = grpc.aio.server(
            interceptors=[
                ServerInterceptor(
                    frozenset(b.name for b in self.bindings if not b.screen_strings), mtls=mtls_required(settings)
                ),
                *extra_interceptors,
            ],
            options=[
                ("grpc.max_receive_message_length", settings.max_receive_message_bytes),
                ("grpc.max_send_message_length", settings.max_send_message_bytes),
                ("grpc.so_reuseport", 0),
            ],
        )
        self._stopping = False
        self._stopped = asyncio.Event()
        self._probe_server: grpc.aio.Server | None = None

    @property
    def service_names(self) -> list[str]:
        return [b.name for b in self.bindings]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> int:
        for binding in self.bindings:
            binding.register(self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        names = [*self.service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME]
        reflects = next((b.reflects for b in self.bindings if b.reflects is not None), None)
        pool = None
        if reflects is not None:
            pool, public = _reflection_pool(reflects)
            names = sorted(set(names) | public)
        reflection.enable_server_reflection(names, self._server, pool=pool)
        creds = server_credentials(self.settings)
        target = f"{self.host}:{self.port}"
        bound = self._server.add_secure_port(target, creds) if creds else self._server.add_insecure_port(target)
        if bound == 0:
            raise OSError(f"could not bind {target}")
        self.port = bound
        await self._server.start()
        if creds and self.settings.health_probe_port:
            await self._start_probe_server()
        warm_ups = [b.on_started for b in self.bindings if b.on_started is not None]
        await self.set_serving(self._ready_at_start and not warm_ups)
        for warm_up in warm_ups:
            await warm_up(self)
        log.info("server started", extra={"address": self.address, "services": self.service_names, "tls": creds is not None})
        return bound

    async def _start_probe_server(self) -> None:
        """Plaintext grpc.health.v1 only (the same servicer, so the same statuses) for
        probes that cannot present a client certificate (Kubernetes' gRPC probes)."""
        self._probe_server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._probe_server)
        target = f"{self.host}:{self.settings.health_probe_port}"
        if self._probe_server.add_insecure_port(target) == 0:
            raise OSError(f"could not bind {target}")
        await self._probe_server.start()
        log.info("health probe server started", extra={"address": target})

    async def set_serving(self, serving: bool, service: str | None = None) -> None:
        """Health of one service, or of all of them and the server ("") when None."""
        names = [service] if service is not None else ["", *self.service_names]
        for name in names:
            await self.health.set(name, SERVING if serving else NOT_SERVING)

    async def stop(self, grace_s: float | None = None, drain_delay_s: float | None = None) -> None:
        """Drain and stop; safe to call more than once."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        await self.health.enter_graceful_shutdown()
        delay = self.settings.drain_delay_s if drain_delay_s is None else drain_delay_s
        log.info("draining", extra={"address": self.address, "drain_delay_s": delay})
        if delay > 0:
            await asyncio.sleep(delay)
        for binding in self.bindings:
            if binding.on_drain is not None:
                binding.on_drain()
        grace = self.settings.grace_period_s if grace_s is None else grace_s
        await self._server.stop(grace)
        if self._probe_server is not None:
            await self._probe_server.stop(0)
        log.info("server stopped", extra={"address": self.address})
        self._stopped.set()

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()


async def wait_for_signal() -> signal.Signals:
    """Block until SIGTERM or SIGINT arrives; return which."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda s=sig: received.done() or received.set_result(s))
    try:
        return await received
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
