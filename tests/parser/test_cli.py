"""`chatdb parse` against the real parser and connector: the statement, its explanation
and, with --run, the rows; a question it cannot map is one line on stderr, exit 1."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.parser.service_support import parser_over_shop

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    async with parser_over_shop(settings, f"chatdb_test_{run_id}_parser_cli", pg="shop") as m:
        yield m


async def chatdb(mesh, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "CHATDB_PARSER_PORT": str(mesh.parser_port),
        "CHATDB_CONNECTOR_PORT": str(mesh.settings.connector_port),
    }
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "chatdb"), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


async def test_parse_prints_the_statement_and_runs_it(mesh):
    code, out, err = await chatdb(mesh, "parse", "how many customers live in Lagos", "--connection", "shop", "--run")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].upper().startswith("SELECT") and "Lagos" in lines[0]
    assert any(line.startswith("-- ") for line in lines)
    assert lines[-2].strip() == "1" and lines[-1] == "(1 rows)"


async def test_a_question_it_cannot_map_is_one_line_and_exit_1(mesh):
    code, out, err = await chatdb(mesh, "parse", "xylophone quantum zebra", "--connection", "shop")
    assert code == 1 and out == ""
    assert err.startswith("error: INVALID_ARGUMENT") and "closest in the schema" in err


async def test_after_gives_a_thread_so_a_follow_up_can_be_tried(mesh):
    code, out, err = await chatdb(
        mesh, "parse", "how many are there?", "--after", "list the orders", "--after", "only those in 2026",
        "--connection", "shop", "--run",
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].upper().startswith("SELECT COUNT")
    assert "-- follow-up of: list the orders → only those in 2026" in lines
    assert lines[-2].strip() == "4" and lines[-1] == "(1 rows)"


async def test_a_follow_up_without_after_is_refused(mesh):
    code, out, err = await chatdb(mesh, "parse", "what about Lagos?", "--connection", "shop")
    assert code == 1 and out == ""
    assert err.startswith("error: INVALID_ARGUMENT") and "no previous question" in err
