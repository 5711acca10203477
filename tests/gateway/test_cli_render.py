"""`chatdb ask|history|status` as people read them, against a stand-in ChatService on a
real gRPC server (the gateway's behaviour is tested with the gateway; here: what the CLI
prints from each reply, its exit statuses, and its errors as one line)."""

from __future__ import annotations

import asyncio
import io

import pytest
from chatdb.connector.v1 import statement_pb2
from chatdb.gateway.v1 import (
    chat_service_pb2,
    chat_service_pb2_grpc,
    query_record_pb2,
    system_status_pb2,
)
from chatdb.parser.v1 import parsed_query_pb2
from rich.console import Console

from gateway.answer import table
from gateway.cli import show_answer, show_history, statement_text
from servers.cli import main
from servers.runtime.errors import InvalidArgument
from servers.runtime.server import bind
from tests.connector.service_support import free_port


def _answer() -> chat_service_pb2.AskResponse:
    columns, rows = table(["city", "customers"], [("Lagos", 3), ("Nairobi", None)])
    reply = chat_service_pb2.AskResponse(
        query_id="q-1", conversation_id="conv-9", answer="2 rows", explanation="Counts customers per city.",
        source=query_record_pb2.ANSWER_SOURCE_DATABASE, columns=columns, rows=rows,
        notes=["read as a follow-up of q-0"],
        parsed_query=parsed_query_pb2.ParsedQuery(question="customers by city", intent=parsed_query_pb2.INTENT_AGGREGATE),
        statement=statement_pb2.Statement(sql=statement_pb2.SqlStatement(
            sql="SELECT city, count(*) AS customers FROM customers GROUP BY city")),
    )
    reply.timings.parse.FromMilliseconds(2)
    reply.timings.execute.FromMilliseconds(3)
    reply.timings.total.FromMilliseconds(6)
    return reply


class StandIn(chat_service_pb2_grpc.ChatServiceServicer):
    level = 2

    async def Ask(self, request, context):
        if request.question == "drop it":
            raise InvalidArgument("the question does not map to the schema", field="question")
        return _answer()

    async def ListQueries(self, request, context):
        record = query_record_pb2.QueryRecord(
            query_id="q-1", question=f"customers by city ({request.connection_id or 'any'})", connection_id="shop",
            conversation_id="conv-9", status=query_record_pb2.QUERY_STATUS_SUCCEEDED, row_count=2)
        record.create_time.FromSeconds(1_780_000_000)
        record.duration.FromMilliseconds(6)
        return chat_service_pb2.ListQueriesResponse(queries=[record][: request.page_size or 100])

    async def GetSystemStatus(self, request, context):
        status = system_status_pb2.SystemStatus(
            level=self.level, summary="ML down: the parser answers on its rules",
            degradation_level=self.level + 1,
            components=[
                system_status_pb2.ComponentStatus(component="connector", state=system_status_pb2.COMPONENT_STATE_SERVING),
                system_status_pb2.ComponentStatus(component="prediction", state=system_status_pb2.COMPONENT_STATE_NOT_SERVING,
                                                  message="connection refused"),
            ])
        return chat_service_pb2.GetSystemStatusResponse(status=status)


@pytest.fixture
async def gateway(start_server):
    server = await start_server([bind("chatdb.gateway.v1.ChatService",
                                      chat_service_pb2_grpc.add_ChatServiceServicer_to_server, StandIn())])
    return f"127.0.0.1:{server.port}"


async def chatdb(capsys, monkeypatch, *argv: str) -> tuple[int, str, str]:
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps at 80 columns when not on a terminal
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_an_answer_shows_sentence_statement_explanation_rows_notes_and_how_to_continue():
    console = Console(file=io.StringIO(), width=200)
    show_answer(console, _answer())
    out = console.file.getvalue()
    lines = out.splitlines()
    assert lines[0] == "? customers by city" and lines[1] == "2 rows"
    assert "SELECT city, count(*) AS customers FROM customers GROUP BY city" in out
    assert "-- Counts customers per city." in out
    assert any("Lagos" in line and "3" in line for line in lines)
    assert any("Nairobi" in line and "null" in line for line in lines)
    assert "note: read as a follow-up of q-0" in out
    assert "parse 2.0 ms, execute 3.0 ms, total 6.0 ms" in out
    assert "--conversation conv-9" in lines[-1]


def test_mongo_statements_read_as_shell_calls():
    find = statement_pb2.Statement(mongo_find=statement_pb2.MongoFind(
        collection="customers", filter='{"city": "Lagos"}', sort='{"name": 1}', limit=5))
    assert statement_text(find) == 'db.customers.find({"city": "Lagos"}).sort({"name": 1}).limit(5)'
    pipeline = statement_pb2.Statement(mongo_aggregate=statement_pb2.MongoAggregate(
        collection="orders", pipeline='[{"$count": "n"}]'))
    assert statement_text(pipeline) == 'db.orders.aggregate([{"$count": "n"}])'


async def test_ask_prints_the_answer(gateway, capsys, monkeypatch):
    code, out, err = await chatdb(capsys, monkeypatch, "ask", "customers by city", "--address", gateway)
    assert code == 0, err
    assert "SELECT city, count(*)" in out and "Lagos" in out


async def test_ask_json_is_the_whole_response(gateway, capsys, monkeypatch):
    import json

    code, out, _ = await chatdb(capsys, monkeypatch, "ask", "customers by city", "--json", "--address", gateway)
    assert code == 0
    assert json.loads(out)["conversation_id"] == "conv-9"


async def test_an_error_is_its_status_and_message_without_a_traceback(gateway, capsys, monkeypatch):
    code, out, err = await chatdb(capsys, monkeypatch, "ask", "drop it", "--address", gateway)
    assert code == 1 and out == ""
    assert err.startswith("error: INVALID_ARGUMENT: the question does not map to the schema")
    assert "Traceback" not in err


async def test_history_lists_questions(gateway, capsys, monkeypatch):
    code, out, _ = await chatdb(capsys, monkeypatch, "history", "--connection", "shop", "--address", gateway)
    assert code == 0
    assert "customers by city (shop)" in out and "q-1" in out and "succeeded" in out


async def test_status_exit_code_is_the_level(gateway, capsys, monkeypatch):
    code, out, _ = await chatdb(capsys, monkeypatch, "status", "--address", gateway)
    assert code == 2
    assert out.splitlines()[0] == "level 2: ML down: the parser answers on its rules"
    assert "prediction" in out and "NOT_SERVING" in out and "connection refused" in out


async def test_status_is_5_when_the_gateway_cannot_be_reached(capsys, monkeypatch):
    code, out, err = await chatdb(capsys, monkeypatch, "status", "--address", f"127.0.0.1:{free_port()}")
    assert code == 5 and out == ""
    assert err.startswith("error: UNAVAILABLE") and "no gateway answers at" in err


def test_history_on_a_narrow_terminal_keeps_every_id_whole():
    record = query_record_pb2.QueryRecord(
        query_id="0123456789abcdef0123456789abcdef", conversation_id="fedcba9876543210fedcba9876543210",
        question="how many orders were shipped in 2025", connection_id="demo-postgres",
        status=query_record_pb2.QUERY_STATUS_FAILED)
    record.error.message = "the connector is unavailable"
    console = Console(file=io.StringIO(), width=60)
    show_history(console, [record])
    out = console.file.getvalue()
    assert record.query_id in out and record.conversation_id in out
    assert "failed" in out and "  the connector is unavailable" in out
