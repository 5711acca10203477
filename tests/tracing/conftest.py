"""Spans of this test process, collected in memory (every span any in-process server,
channel or connector makes reaches `spans`), and the real mesh (connector, parser,
gateway on 127.0.0.1:<ephemeral>) over the demo data set in PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from chatdb.connector.v1 import connection_pb2
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from deploy.demo import data as dd
from servers.runtime import tracing
from tests.conftest import PG_ADMIN_DSN, drop_pg_database
from tests.connector.service_support import pg_dsn
from tests.gateway.conftest import register
from tests.gateway.support import forget, running_gateway


class _WhileCollecting(SimpleSpanProcessor):
    """A processor that can be switched off: the process's processors stay for its life,
    and later test folders need not fill memory with their spans."""

    active = True

    def on_end(self, span) -> None:
        if self.active:
            super().on_end(span)


@pytest.fixture(scope="module")
def memory_exporter():
    exporter = InMemorySpanExporter()
    processor = _WhileCollecting(exporter)
    tracing.add_span_processor(processor)
    yield exporter
    processor.active = False
    exporter.clear()


class Spans:
    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def of_trace(self, trace_id: str) -> list:
        return [s for s in self.exporter.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]

    async def wait(self, predicate, timeout_s: float = 10.0):
        """The spans of the process once `predicate(spans)` holds (spans end when their
        calls do, some just after the answer reached the client): a deadline, not a
        timing assert."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            spans = list(self.exporter.get_finished_spans())
            if predicate(spans) or loop.time() > deadline:
                return spans
            await asyncio.sleep(0.05)


@pytest.fixture
def spans(memory_exporter) -> Spans:
    memory_exporter.clear()
    return Spans(memory_exporter)


@pytest.fixture(scope="session")
async def demo_pg(run_id):
    spec = dd.DemoSpec(seed=7, today=dt.date(2026, 11, 30), scale=0.02, database=f"chatdb_test_{run_id}_trace_demo")
    await dd.load_postgres(PG_ADMIN_DSN, spec)
    try:
        yield pg_dsn(spec.database)
    finally:
        await drop_pg_database(spec.database)


@pytest.fixture(scope="module")
async def mesh(settings, demo_pg, memory_exporter):
    async with running_gateway(settings) as mesh:
        await register(mesh.connector, "trace-demo", connection_pb2.CONNECTION_KIND_POSTGRES, demo_pg)
        yield mesh
        await forget(mesh.connector, "trace-demo")
