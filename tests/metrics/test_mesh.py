"""The real mesh's metrics, read from a real /metrics endpoint: the connector, the parser
and the gateway run in this process (each a GrpcServer, calling each other over gRPC),
and this process's endpoint is started on a free port as `chatdb serve` starts its own.
Counters are process-wide, so every check is a difference between two scrapes."""

from __future__ import annotations

import grpc
import pytest
from chatdb.connector.v1 import connection_pb2
from chatdb.connector.v1 import connector_service_pb2 as cpb
from chatdb.gateway.v1 import chat_service_pb2 as gpb

from servers.runtime.metrics import FAMILIES, LATENCY_BUCKETS, MetricsServer
from tests.conftest import drop_mysql_database, drop_pg_database
from tests.gateway.support import forget, running_gateway
from tests.parser.service_support import create_shop_mysql, create_shop_pg, register

from .support import ascrape

QUESTION = "show the names of customers from new york"
CHAT = "chatdb.gateway.v1.ChatService"
CONNECTOR = "chatdb.connector.v1.ConnectorService"
PARSER = "chatdb.parser.v1.QueryParserService"


@pytest.fixture(scope="module")
def endpoint():
    server = MetricsServer("127.0.0.1", 0)
    yield server
    server.close()


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    pg_name, my_name = f"chatdb_test_{run_id}_metrics", f"chatdb_test_{run_id}_metrics"
    pg = await create_shop_pg(pg_name)
    my = await create_shop_mysql(my_name)
    try:
        async with running_gateway(settings) as m:
            await register(m.connector, "metrics-pg", connection_pb2.CONNECTION_KIND_POSTGRES, pg)
            await register(m.connector, "metrics-my", connection_pb2.CONNECTION_KIND_MYSQL, my)
            yield m
            await forget(m.connector, "metrics-pg", "metrics-my")
    finally:
        await drop_pg_database(pg_name)
        await drop_mysql_database(my_name)


async def test_an_ask_is_counted_in_every_service_it_crosses(mesh, endpoint):
    before = await ascrape(endpoint.url)
    await mesh.ask(QUESTION, "metrics-pg", use_cache=False)
    after = await ascrape(endpoint.url)

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("chatdb_request_count_total", service=CHAT, method="Ask", status="OK") == 1
    assert delta("chatdb_request_count_total", service=PARSER, method="ParseQuery", status="OK") == 1
    # The statement, and on a first question the parser's samples of text columns.
    assert delta("chatdb_request_count_total", service=CONNECTOR, method="ExecuteQuery", status="OK") >= 1
    assert delta("chatdb_request_latency_seconds_count", service=CHAT, method="Ask", status="OK") == 1
    assert delta("chatdb_request_latency_seconds_sum", service=CHAT, method="Ask", status="OK") > 0


async def test_latency_has_the_buckets(mesh, endpoint):
    await mesh.ask(QUESTION, "metrics-pg")
    got = await ascrape(endpoint.url)
    family = got.families["chatdb_request_latency_seconds"]
    assert family.type == "histogram"
    buckets = got.matching("chatdb_request_latency_seconds_bucket", service=CHAT, method="Ask", status="OK")
    assert sorted(float(s.labels["le"]) for s in buckets) == [*LATENCY_BUCKETS, float("inf")]
    counts = [s.value for s in sorted(buckets, key=lambda s: float(s.labels["le"]))]
    assert counts == sorted(counts)  # cumulative
    assert counts[-1] == got.value("chatdb_request_latency_seconds_count", service=CHAT, method="Ask", status="OK")


async def test_a_failed_call_is_counted_under_its_status(mesh, endpoint):
    before = await ascrape(endpoint.url)
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await mesh.stub.GetQuery(gpb.GetQueryRequest(query_id="no-such-query"))
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await mesh.connector.stub.GetConnection(cpb.GetConnectionRequest(connection_id="no-such-connection"))
    assert gone.value.code() is grpc.StatusCode.NOT_FOUND
    after = await ascrape(endpoint.url)
    for service, method in ((CHAT, "GetQuery"), (CONNECTOR, "GetConnection")):
        labels = {"service": service, "method": method}
        assert after.value("chatdb_request_count_total", **labels, status="NOT_FOUND") == \
            before.value("chatdb_request_count_total", **labels, status="NOT_FOUND") + 1
        assert after.value("chatdb_request_count_total", **labels, status="OK") == \
            before.value("chatdb_request_count_total", **labels, status="OK")


async def test_a_repeated_ask_is_a_cache_hit(mesh, endpoint):
    question = "how many orders are there"
    await mesh.ask(question, "metrics-pg")  # now cached, whatever came before
    before = await ascrape(endpoint.url)
    again = await mesh.ask(question, "metrics-pg")
    after = await ascrape(endpoint.url)
    assert again.cached
    hits = ("chatdb_cache_hits_total", {"cache": "gateway_result"})
    misses = ("chatdb_cache_misses_total", {"cache": "gateway_result"})
    assert after.value(hits[0], **hits[1]) == before.value(hits[0], **hits[1]) + 1
    assert after.value(misses[0], **misses[1]) == before.value(misses[0], **misses[1])


async def test_the_parser_schema_cache_is_counted(mesh, endpoint):
    before = await ascrape(endpoint.url)
    for _ in range(2):  # past the gateway's cache: the parser answers each
        await mesh.ask("show all products", "metrics-pg", use_cache=False)
    after = await ascrape(endpoint.url)
    looked = sum(after.value(n, cache="parser_schema") - before.value(n, cache="parser_schema")
                 for n in ("chatdb_cache_hits_total", "chatdb_cache_misses_total"))
    assert looked == 2


async def test_connector_pools_per_kind_and_connection(mesh, endpoint):
    await mesh.ask(QUESTION, "metrics-pg", use_cache=False)
    await mesh.ask(QUESTION, "metrics-my", use_cache=False)
    got = await ascrape(endpoint.url)
    for kind, connection in (("postgresql", "metrics-pg"), ("mysql", "metrics-my")):
        assert got.value("chatdb_connector_active_connections", kind=kind) >= 1
        size = got.value("chatdb_connector_pool_size", kind=kind, connection=connection)
        assert size >= 1
        assert got.value("chatdb_connector_pool_in_use", kind=kind, connection=connection) == 0  # at rest
        assert got.value("chatdb_connector_pool_max_size", kind=kind, connection=connection) == \
            mesh.settings.connector_pool_max_size
    assert not got.matching("chatdb_connector_active_connections", kind="mongodb")


async def test_every_family_is_in_the_exposition(mesh, endpoint):
    got = await ascrape(endpoint.url)
    assert FAMILIES <= set(got.families)
