"""The end of `make up` (deploy/showcase.py): a plain-English question on each demo
connection asked through the gateway and printed as `chatdb ask` prints it, then `chatdb
status` with the level as its exit status. Here against the gateway tests' mesh, with a
shop database standing in for the demo one."""

from __future__ import annotations

from deploy import showcase
from tests.gateway.cli_support import shop_gateway

SHOP = "shop-make-up"


async def test_each_demo_connection_gets_its_question_answered_through_the_gateway(settings, run_id, capfd,
                                                                                   monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(showcase, "DEMO_QUESTIONS", {SHOP: "how many customers live in New York",
                                                     "not-registered": "how many customers are there"})
    async with shop_gateway(settings, f"chatdb_test_{run_id}_gw_make_up", SHOP) as mesh:
        monkeypatch.setenv("CHATDB_GATEWAY_ADDRESS", mesh.server.address)
        connections = await showcase.demo_connections(mesh.connector.stub)
        assert connections == [SHOP]  # a demo connection that is not registered is not asked
        await showcase.show_questions(mesh.settings.model_copy(update={"gateway_address": mesh.server.address}),
                                      connections)
        level = await showcase.show_status()
    out = capfd.readouterr().out
    assert f"[{SHOP}]" in out and "? how many customers live in New York" in out
    assert any(line.upper().startswith("SELECT") and "New York" in line for line in out.splitlines())
    assert "from database" in out  # the gateway answered, from the connection
    assert 0 <= level <= 4 and f"level {level}:" in out
