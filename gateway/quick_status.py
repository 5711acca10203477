"""The gateway's own minimal GetSystemStatus, used until a full status monitor is wired
(app.wire_answerers sets core.status_reader): grpc.health.v1 of the parser and the
connector, each with a short timeout. Both serving is level 0; either down is level 3
(only cached answers can be served); both down is level 4."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import grpc
from chatdb.gateway.v1 import system_status_pb2 as st
from grpc_health.v1 import health_pb2, health_pb2_grpc

from .convert import duration, timestamp

CHECK_TIMEOUT_S = 1.0
_LEVELS = {0: st.DEGRADATION_LEVEL_HEALTHY, 3: st.DEGRADATION_LEVEL_DATABASES_DOWN, 4: st.DEGRADATION_LEVEL_CRITICAL}


class QuickStatus:
    def __init__(self, channels: dict[str, grpc.aio.Channel]) -> None:
        self.stubs = {name: health_pb2_grpc.HealthStub(channel) for name, channel in channels.items()}

    async def _check(self, name: str, stub) -> st.ComponentStatus:
        started = time.perf_counter()
        state, message = st.COMPONENT_STATE_NOT_SERVING, ""
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=CHECK_TIMEOUT_S)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                state = st.COMPONENT_STATE_SERVING
            else:
                message = f"health is {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
        except grpc.aio.AioRpcError as exc:
            message = f"{exc.code().name}: {exc.details() or ''}".strip()
        except Exception as exc:  # noqa: BLE001 — a status read never raises
            message = f"{type(exc).__name__}: {exc}"
        return st.ComponentStatus(component=name, state=state, message=message,
                                  check_time=timestamp(dt.datetime.now(dt.UTC)),
                                  latency=duration(time.perf_counter() - started))

    async def __call__(self) -> st.SystemStatus:
        components = await asyncio.gather(*(self._check(n, s) for n, s in self.stubs.items()))
        down = [c.component for c in components if c.state != st.COMPONENT_STATE_SERVING]
        level = 0 if not down else (4 if len(down) == len(components) else 3)
        summary = "all healthy" if not down else (
            f"{', '.join(down)} unavailable: " + ("status only" if level == 4 else "cached answers only"))
        return st.SystemStatus(degradation_level=_LEVELS[level], level=level, components=components,
                               summary=summary, check_time=timestamp(dt.datetime.now(dt.UTC)))
