"""The ML side of the mesh for the gateway's model questions (not a test module): the
connector, registry and training orchestrator in-process with real `chatdb worker`
processes (tests/training's mesh), plus a real prediction service and a real parser, each
on 127.0.0.1:<ephemeral>; and the typed clients MlAnswers is built from."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import grpc
import numpy as np
from chatdb.connector.v1 import connection_pb2, connector_service_pb2
from chatdb.connector.v1 import connector_service_pb2_grpc as connector_grpc
from chatdb.gateway.v1 import chat_service_pb2_grpc
from chatdb.parser.v1 import query_parser_service_pb2, query_parser_service_pb2_grpc

from gateway.app import open_gateway, wire_answerers
from gateway.service import chat_binding
from servers.contracts.cells import cell_to_value
from servers.contracts.clients import (
    ConnectorClient,
    PredictionClient,
    RegistryClient,
    TrainingClient,
)
from servers.parser.app import open_parser
from servers.parser.service import parser_binding
from servers.prediction.app import open_prediction
from servers.runtime.channels import open_channel
from servers.runtime.server import GrpcServer
from servers.runtime.settings import Settings
from tests.runtime.test_cli_serve import free_port
from tests.training.conftest import Mesh, open_mesh

CITIES = ("Lagos", "Berlin", "Lima")


def segment_of(age: int, city: str) -> str:
    """The pattern the customers table holds: the old are gold, the young silver in
    Lagos and bronze elsewhere."""
    if age >= 45:
        return "gold"
    return "silver" if city == "Lagos" else "bronze"


async def create_customers(dsn: str, rows: int = 300) -> None:
    """customers(id, name, age, city, segment, score): segment follows segment_of; score
    is a number (a regression target)."""
    rng = np.random.default_rng(11)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TABLE IF EXISTS customers")
        await conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, age INTEGER, city TEXT, "
                           "segment TEXT, score DOUBLE PRECISION, joined DATE)")
        values = []
        for i in range(rows):
            age, city = int(rng.integers(18, 80)), str(rng.choice(CITIES))
            values.append((i + 1, f"customer {i}", age, city, segment_of(age, city), age * 1.5 + rng.normal(), None))
        await conn.executemany("INSERT INTO customers VALUES ($1, $2, $3, $4, $5, $6, $7)", values)
    finally:
        await conn.close()


@dataclass
class MlMesh:
    training_mesh: Mesh
    settings: Settings  # the gateway's: every port is a running service's
    parser: query_parser_service_pb2_grpc.QueryParserServiceStub
    connector_stub: connector_grpc.ConnectorServiceStub
    training: TrainingClient
    prediction: PredictionClient
    registry: RegistryClient
    connector: ConnectorClient
    servers: dict[str, GrpcServer]

    async def parse(self, question: str, connection_id: str):
        reply = await self.parser.ParseQuery(
            query_parser_service_pb2.ParseQueryRequest(question=question, connection_id=connection_id), timeout=30)
        return reply.parsed_query

    async def register(self, connection_id: str, dsn: str, kind=connection_pb2.CONNECTION_KIND_POSTGRES) -> None:
        await self.connector_stub.CreateConnection(connector_service_pb2.CreateConnectionRequest(
            connection_id=connection_id, connection=connection_pb2.Connection(kind=kind, dsn=dsn)), timeout=30)


@contextlib.asynccontextmanager
async def ml_mesh(settings: Settings, data_dir: Path, *, workers: int = 1) -> AsyncIterator[MlMesh]:
    async with open_mesh(settings, data_dir) as mesh, contextlib.AsyncExitStack() as stack:
        for _ in range(workers):
            mesh.start_worker()
        prediction_port, parser_port = free_port(), free_port()
        own = mesh.settings.model_copy(update={
            "prediction_port": prediction_port, "parser_port": parser_port, "grace_period_s": 0,
            "registry_watch_poll_s": 0.2, "parser_intent_timeout_s": 1.0,
        })
        prediction = await open_prediction(own, stack)
        prediction_server = GrpcServer(own, prediction.bindings, host="127.0.0.1", port=prediction_port, ready=False)
        await prediction_server.start()
        stack.push_async_callback(prediction_server.stop, 0)
        await prediction.start(prediction_server)
        parser_core = await open_parser(own, stack)
        parser_server = GrpcServer(own, [parser_binding(parser_core)], host="127.0.0.1", port=parser_port)
        await parser_server.start()
        stack.push_async_callback(parser_server.stop, 0)

        def channel(service: str) -> grpc.aio.Channel:
            opened = open_channel(own, service, map_errors=True)
            stack.push_async_callback(opened.close)
            return opened

        plain = grpc.aio.insecure_channel(f"127.0.0.1:{own.parser_port}")
        stack.push_async_callback(plain.close)
        connector_plain = grpc.aio.insecure_channel(f"127.0.0.1:{own.connector_port}")
        stack.push_async_callback(connector_plain.close)
        yield MlMesh(
            mesh, own,
            query_parser_service_pb2_grpc.QueryParserServiceStub(plain),
            connector_grpc.ConnectorServiceStub(connector_plain),
            TrainingClient(channel("training")),
            PredictionClient(channel("prediction")),
            RegistryClient(channel("registry"), retry_s=0),
            ConnectorClient(channel("connector")),
            {"prediction": prediction_server, "parser": parser_server, **mesh.servers},
        )


async def serve_gateway(mesh: MlMesh, stack: contextlib.AsyncExitStack, **updates):
    """A gateway wired as `chatdb serve gateway` wires it, in front of `mesh`, on
    127.0.0.1:<ephemeral> until `stack` closes; returns a ChatService stub. Its health
    checks get time enough on a loaded machine (a slow probe is no outage here)."""
    own = mesh.settings.model_copy(update={"gateway_port": free_port(), "gateway_versions_ttl_s": 0.0,
                                           "gateway_status_timeout_s": 5.0, **updates})
    opened = await open_gateway(own, stack)
    await wire_answerers(own, stack, opened.core, pg_pool=opened.pg_pool, redis=opened.redis)
    server = GrpcServer(own, [chat_binding(opened.core)], host="127.0.0.1", port=own.gateway_port)
    await server.start()
    stack.push_async_callback(server.stop, 0, 0)
    channel = grpc.aio.insecure_channel(server.address)
    stack.push_async_callback(channel.close)
    return chat_service_pb2_grpc.ChatServiceStub(channel)


def rows_of(response) -> list[dict]:
    """An answer's rows as dicts of column name → Python value."""
    names = [c.name for c in response.columns]
    return [dict(zip(names, (cell_to_value(c) for c in row.cells), strict=True)) for row in response.rows]
