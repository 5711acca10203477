"""Degradation as Ask sees it. Level 3 (databases down): the database goes away behind a
TCP forwarder that is cut; a question answered before is served from the cache with a
note, any other is UNAVAILABLE with the reason. The parser down: UNAVAILABLE naming the
parser, while cached answers are still served. Level 4 (critical, from the status
reader): Ask is refused but status questions are still answered. GetSystemStatus
answers from the gateway's own health checks until a status monitor is wired."""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit

import grpc
import pytest
from chatdb.connector.v1 import connection_pb2
from chatdb.connector.v1 import connector_service_pb2 as cpb
from chatdb.gateway.v1 import chat_service_pb2 as pb
from chatdb.gateway.v1 import chat_service_pb2_grpc
from chatdb.gateway.v1 import query_record_pb2 as qr
from chatdb.gateway.v1 import system_status_pb2 as st

from gateway.answer import SOURCES, Answer
from gateway.app import open_gateway
from gateway.service import chat_binding
from servers.runtime.server import GrpcServer
from servers.runtime.status import details_from_rpc_error
from tests.conftest import drop_pg_database, pg_dsn_for
from tests.connector.service_support import free_port
from tests.gateway.mesh_support import TcpForwarder
from tests.gateway.support import rows_of, running_gateway
from tests.parser.service_support import create_shop_pg, register

QUESTION = "show the names of customers from new york"


@pytest.fixture(scope="module")
async def shop(run_id):
    database = f"chatdb_test_{run_id}_gw_degrade"
    await create_shop_pg(database)
    yield database
    await drop_pg_database(database)


@pytest.fixture
async def mesh(settings, shop):
    # The connector introspects on every GetSchema: the gateway sees the database go at once.
    async with running_gateway(settings, connector_schema_cache_ttl_s=0.0) as m:
        try:
            yield m
        finally:
            # Connections to a cut forwarder would stay in the session's platform
            # database, a "database down" for every later test that checks them all.
            for n in (1, 2, 3):
                await m.connector.stub.DeleteConnection(
                    cpb.DeleteConnectionRequest(connection_id=f"gw-deg-{n}", allow_missing=True))


async def forwarded(mesh, shop: str, connection_id: str) -> TcpForwarder:
    target = urlsplit(pg_dsn_for(shop))
    forwarder = await TcpForwarder(target.hostname, target.port or 5432).start()
    dsn = f"postgresql://{target.username}@127.0.0.1:{forwarder.port}/{shop}"
    await register(mesh.connector, connection_id, connection_pb2.CONNECTION_KIND_POSTGRES, dsn)
    return forwarder


async def test_level_3_serves_cached_answers_and_refuses_the_rest_with_the_reason(mesh, shop):
    forwarder = await forwarded(mesh, shop, "gw-deg-1")
    try:
        first = await mesh.ask(QUESTION, "gw-deg-1")
        assert not first.cached
        await forwarder.cut()
        cached = await mesh.ask(QUESTION, "gw-deg-1")
        assert cached.cached and cached.source == qr.ANSWER_SOURCE_CACHE
        assert rows_of(cached) == rows_of(first)
        assert any(n.startswith("databases unavailable: cached answer from") for n in cached.notes), cached.notes
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await mesh.ask("how many orders are there", "gw-deg-1")
        assert err.value.code() is grpc.StatusCode.UNAVAILABLE
        assert "databases unavailable" in err.value.details()
        assert details_from_rpc_error(err.value).reason == "DATABASES_UNAVAILABLE"
        # even with use_cache=false, a cached answer beats no answer while the database is down
        assert (await mesh.ask(QUESTION, "gw-deg-1", use_cache=False)).cached
    finally:
        await forwarder.cut()


@contextlib.asynccontextmanager
async def second_gateway(mesh, **updates):
    """Another gateway on the same platform database and Redis, configured otherwise."""
    async with contextlib.AsyncExitStack() as stack:
        settings = mesh.settings.model_copy(update=updates)
        opened = await open_gateway(settings, stack)
        server = GrpcServer(settings, [chat_binding(opened.core)], host="127.0.0.1", port=0)
        await server.start()
        stack.push_async_callback(server.stop, 0, 0)
        channel = grpc.aio.insecure_channel(server.address)
        stack.push_async_callback(channel.close)
        yield opened.core, chat_service_pb2_grpc.ChatServiceStub(channel)


async def test_the_parser_down_is_named_and_cached_answers_still_come(mesh, shop):
    await register(mesh.connector, "gw-deg-2", connection_pb2.CONNECTION_KIND_POSTGRES, pg_dsn_for(shop))
    first = await mesh.ask(QUESTION, "gw-deg-2")
    async with second_gateway(mesh, parser_port=free_port()) as (_, stub):
        cached = await stub.Ask(pb.AskRequest(question=QUESTION, connection_id="gw-deg-2"))
        assert cached.cached and rows_of(cached) == rows_of(first)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Ask(pb.AskRequest(question="how many orders are there", connection_id="gw-deg-2"))
        assert err.value.code() is grpc.StatusCode.UNAVAILABLE
        assert "query parser" in err.value.details()
        # What GetSystemStatus says of it: tests/gateway/test_status.py and test_degradation.py.


class _SystemQuestions:
    def recognises(self, question: str) -> bool:
        return "healthy" in question

    async def answer(self, question, parsed=None) -> Answer:
        return Answer(text="level 4: critical", source=SOURCES.ANSWER_SOURCE_SYSTEM)


async def test_level_4_refuses_questions_but_answers_about_the_system(mesh, shop):
    await register(mesh.connector, "gw-deg-3", connection_pb2.CONNECTION_KIND_POSTGRES, pg_dsn_for(shop))
    critical = st.SystemStatus(degradation_level=st.DEGRADATION_LEVEL_CRITICAL, level=4, summary="all down")

    async def reader() -> st.SystemStatus:
        return critical

    mesh.core.status_reader = reader
    mesh.core.system = _SystemQuestions()
    try:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await mesh.ask(QUESTION, "gw-deg-3")
        assert err.value.code() is grpc.StatusCode.UNAVAILABLE
        assert err.value.details().startswith("critical: status only")
        reply = await mesh.ask("is the system healthy?")
        assert reply.source == qr.ANSWER_SOURCE_SYSTEM and reply.answer == "level 4: critical"
        assert (await mesh.stub.GetSystemStatus(pb.GetSystemStatusRequest())).status == critical
    finally:
        mesh.core.status_reader = None
        mesh.core.system = None


async def test_redis_down_only_loses_the_cache(mesh, shop):
    await register(mesh.connector, "gw-deg-3", connection_pb2.CONNECTION_KIND_POSTGRES, pg_dsn_for(shop))
    async with second_gateway(mesh, redis_url=f"redis://127.0.0.1:{free_port()}/0") as (_, stub):
        for _ in range(2):
            reply = await stub.Ask(pb.AskRequest(question=QUESTION, connection_id="gw-deg-3"))
            assert not reply.cached and reply.source == qr.ANSWER_SOURCE_DATABASE
            assert sorted(r[0] for r in rows_of(reply)) == ["Ada Obi", "Cy Diaz"]
