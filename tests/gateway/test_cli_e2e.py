"""`chatdb ask` as a person runs it: a separate process that finds the gateway through
CHATDB_GATEWAY_ADDRESS, prints the answer, and exits 0; `chatdb status` exits with the
level, 5 when nothing answers."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.connector.service_support import free_port
from tests.gateway.cli_support import shop_gateway

SHOP = "shop-e2e"
BIN = Path(sys.executable).parent


async def chatdb(address: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "CHATDB_GATEWAY_ADDRESS": address, "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(str(BIN / "chatdb"), *args, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture(scope="module")
async def gateway(settings, run_id):
    async with shop_gateway(settings, f"chatdb_test_{run_id}_gw_cli_e2e", SHOP) as mesh:
        yield mesh


async def test_chatdb_ask_in_its_own_process(gateway):
    code, out, err = await chatdb(gateway.server.address, "ask", "which customers live in Lagos", "--connection", SHOP)
    assert code == 0, err
    assert "Bo Chen" in out  # the row
    assert any(line.upper().startswith("SELECT") for line in out.splitlines())
    assert "--conversation " in out


async def test_chatdb_status_in_its_own_process(gateway):
    code, out, err = await chatdb(gateway.server.address, "status")
    assert 0 <= code <= 4, err
    assert out.startswith(f"level {code}:")


async def test_chatdb_status_is_5_when_no_gateway_answers():
    code, out, err = await chatdb(f"127.0.0.1:{free_port()}", "status")
    assert code == 5 and out == ""
    assert err.startswith("error: UNAVAILABLE") and "no gateway answers" in err
