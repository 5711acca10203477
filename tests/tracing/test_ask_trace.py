"""One Ask through the real gateway, parser and connector over a real PostgreSQL demo
database is one trace: the trace id Ask returns (and history keeps) finds the gateway's
SERVER span, its CLIENT calls, the parser's and the connector's SERVER spans and the
span of the statement run on PostgreSQL, each the child of the one that caused it."""

from __future__ import annotations

import re

from chatdb.gateway.v1 import chat_service_pb2 as pb
from opentelemetry.trace import SpanKind

ASK = "chatdb.gateway.v1.ChatService/Ask"
PARSE = "chatdb.parser.v1.QueryParserService/ParseQuery"
EXECUTE = "chatdb.connector.v1.ConnectorService/ExecuteQuery"


def service(span) -> str:
    return span.resource.attributes["service.name"]


def ancestors(span, by_id) -> list:
    """The span's parents, nearest first, as far as they are in `by_id`."""
    out = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        out.append(span)
    return out


def chain(span, by_id) -> list[tuple[str, str, str]]:
    return [(service(s), s.kind.name, s.name) for s in [span, *ancestors(span, by_id)]]


def db_spans(spans) -> list:
    return [s for s in spans if (s.attributes or {}).get("db.system") == "postgresql"]


async def test_one_ask_is_one_trace_from_the_gateway_to_postgresql(mesh, spans):
    reply = await mesh.ask("how many customers are there", "trace-demo")
    assert reply.rows, reply
    trace_id = reply.trace_id
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id), trace_id

    def complete(all_spans) -> bool:
        mine = [s for s in all_spans if format(s.context.trace_id, "032x") == trace_id]
        return any(s.name == ASK for s in mine) and len(db_spans(mine)) >= 2

    await spans.wait(complete)
    trace = spans.of_trace(trace_id)
    by_id = {s.context.span_id: s for s in trace}
    assert {"gateway", "parser", "connector"} <= {service(s) for s in trace}

    # The root: the gateway's SERVER span of Ask, no parent (the client sent none).
    (root,) = [s for s in trace if s.name == ASK]
    assert root.kind is SpanKind.SERVER and root.parent is None and service(root) == "gateway"
    assert root.attributes["rpc.grpc.status_code"] == 0

    # gateway → parser: a CLIENT span under Ask, the parser's SERVER span under it.
    (parse,) = [s for s in trace if s.name == PARSE and s.kind is SpanKind.SERVER]
    assert chain(parse, by_id) == [("parser", "SERVER", PARSE), ("gateway", "CLIENT", PARSE), ("gateway", "SERVER", ASK)]

    # The answer's statement: run by the connector for the gateway, a db span with the
    # statement as it ran on PostgreSQL.
    sql = reply.statement.sql.sql
    answer = [s for s in db_spans(trace) if s.attributes["db.statement"] == sql]
    assert answer, [s.attributes["db.statement"] for s in db_spans(trace)]
    assert chain(answer[0], by_id)[1:] == [("connector", "SERVER", EXECUTE), ("gateway", "CLIENT", EXECUTE),
                                           ("gateway", "SERVER", ASK)]
    assert answer[0].kind is SpanKind.CLIENT and answer[0].attributes["db.operation"] in ("SELECT", "WITH")
    assert answer[0].attributes["db.name"].endswith("_trace_demo")

    # gateway → parser → connector → PostgreSQL: what the parser read to understand the
    # question (its sampled values) is in the same tree, under the parser's span.
    through_parser = [chain(s, by_id) for s in db_spans(trace) if parse in ancestors(s, by_id)]
    assert through_parser, [chain(s, by_id) for s in db_spans(trace)]
    path = through_parser[0]
    assert [(svc, kind) for svc, kind, _ in path] == [
        ("connector", "CLIENT"), ("connector", "SERVER"), ("parser", "CLIENT"), ("parser", "SERVER"),
        ("gateway", "CLIENT"), ("gateway", "SERVER")]

    # History keeps the same id.
    record = (await mesh.stub.GetQuery(pb.GetQueryRequest(query_id=reply.query_id))).query
    assert record.trace_id == trace_id


async def test_a_traceparent_sent_by_the_client_is_continued(mesh, spans):
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    reply = await mesh.stub.Ask(pb.AskRequest(question="how many products are there", connection_id="trace-demo"),
                                metadata=(("traceparent", f"00-{trace_id}-{parent_id}-01"),))
    assert reply.trace_id == trace_id
    await spans.wait(lambda all_spans: any(s.name == ASK and format(s.context.trace_id, "032x") == trace_id
                                           for s in all_spans))
    trace = spans.of_trace(trace_id)
    (root,) = [s for s in trace if s.name == ASK]
    assert root.parent is not None and format(root.parent.span_id, "016x") == parent_id and root.parent.is_remote
    assert any(service(s) == "connector" for s in trace)


async def test_an_unsampled_traceparent_keeps_its_trace_id_and_records_nothing(mesh, spans):
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    reply = await mesh.stub.Ask(pb.AskRequest(question="how many products are there", connection_id="trace-demo"),
                                metadata=(("traceparent", f"00-{trace_id}-b7ad6b7169203331-00"),))
    assert reply.trace_id == trace_id
    record = (await mesh.stub.GetQuery(pb.GetQueryRequest(query_id=reply.query_id))).query
    assert record.trace_id == trace_id
    assert spans.of_trace(trace_id) == []


async def test_health_checks_make_no_span(mesh, spans):
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(mesh.server.address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        await mesh.stub.GetSystemStatus(pb.GetSystemStatusRequest())
    finished = await spans.wait(lambda all_spans: any(s.name.endswith("/GetSystemStatus") for s in all_spans))
    names = {s.name for s in finished}
    assert "chatdb.gateway.v1.ChatService/GetSystemStatus" in names
    assert not any(name.startswith("grpc.health") for name in names)
