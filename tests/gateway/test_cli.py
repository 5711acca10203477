"""`chatdb ask|history|status` against the real gateway (in front of the real parser and
connector): what a person sees, and the exit statuses scripts rely on."""

from __future__ import annotations

import json

import pytest
from chatdb.gateway.v1 import chat_service_pb2

from tests.gateway.cli_support import chatdb_in_thread, shop_gateway

SHOP = "shop-cli"


@pytest.fixture(scope="module")
async def gateway(settings, run_id):
    async with shop_gateway(settings, f"chatdb_test_{run_id}_gw_cli", SHOP) as mesh:
        yield mesh


async def test_ask_prints_the_statement_and_the_rows(gateway, capsys, monkeypatch):
    code, out, err = await chatdb_in_thread(capsys, monkeypatch, "ask", "how many customers live in New York",
                                            "--connection", SHOP, "--address", gateway.server.address)
    assert code == 0, err
    lines = out.splitlines()
    assert any(line.upper().startswith("SELECT") and "New York" in line for line in lines)
    assert any(line.startswith("-- ") for line in lines)  # the explanation
    assert any("│" in line and " 2 " in line for line in lines)  # two customers, in the table
    assert "--conversation " in lines[-1]


async def test_a_follow_up_continues_the_conversation_it_names(gateway, capsys, monkeypatch):
    code, out, err = await chatdb_in_thread(capsys, monkeypatch, "ask", "list the customers", "--connection", SHOP,
                                            "--address", gateway.server.address, "--json")
    assert code == 0, err
    conversation = json.loads(out)["conversation_id"]
    code, out, err = await chatdb_in_thread(capsys, monkeypatch, "ask", "how many customers are older than 30",
                                            "--connection", SHOP, "--conversation", conversation,
                                            "--address", gateway.server.address)
    assert code == 0, err
    assert out.splitlines()[-1].endswith(f"--conversation {conversation}")


async def test_history_lists_what_was_asked(gateway, capsys, monkeypatch):
    question = "how many products are there"
    code, _, err = await chatdb_in_thread(capsys, monkeypatch, "ask", question, "--connection", SHOP,
                                          "--address", gateway.server.address)
    assert code == 0, err
    code, out, err = await chatdb_in_thread(capsys, monkeypatch, "history", "--connection", SHOP, "--limit", "5",
                                            "--address", gateway.server.address)
    assert code == 0, err
    assert question in out and "succeeded" in out


async def test_status_exits_with_the_level_it_prints(gateway, capsys, monkeypatch):
    code, out, err = await chatdb_in_thread(capsys, monkeypatch, "status", "--address", gateway.server.address)
    assert 0 <= code <= 4, err
    assert out.startswith(f"level {code}:")
    status = (await gateway.stub.GetSystemStatus(chat_service_pb2.GetSystemStatusRequest())).status
    assert {c.component for c in status.components} <= set(out.split())  # one row per component


async def test_a_question_it_cannot_answer_is_one_line_and_exit_1(gateway, capsys, monkeypatch):
    code, out, err = await chatdb_in_thread(capsys, monkeypatch, "ask", "xylophone quantum zebra",
                                            "--connection", SHOP, "--address", gateway.server.address)
    assert code == 1 and out == ""
    assert err.startswith("error: INVALID_ARGUMENT") and "Traceback" not in err
