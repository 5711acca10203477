"""bench/ask.py end to end in a short run: it starts its own mesh, measures every path
and ends with one JSON line carrying the figures the issue asks for; and bench/nl2sql.py
--through-gateway on a few questions of the project's own set."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"ratio_ask_cached_vs_execute", "ask_overhead_ms_p50", "parse_p50_ms", "target_ms", "target_met"}


@pytest.mark.timeout(420)
async def test_a_short_run_ends_with_the_figures_as_json():
    env = {**os.environ, "CHATDB_BENCH_ASK_ITERATIONS": "5"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "ask.py"), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 400)
    assert proc.returncode == 0, err.decode()[-3000:]
    lines = out.decode().splitlines()
    figures = json.loads(lines[-1])
    assert KEYS <= figures.keys()
    assert figures["iterations"] == 5 and figures["rows_per_answer"] > 0
    assert figures["target_ms"] == pytest.approx(figures["parse_p50_ms"] + 5, abs=0.02)
    assert figures["target_met"] == (figures["ask_overhead_ms_p50"] <= figures["target_ms"])
    assert any(line.startswith("Ask, uncached") for line in lines)  # the table, for people


@pytest.mark.timeout(420)
async def test_nl2sql_through_the_gateway_reports_the_same_keys_and_says_so():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "nl2sql.py"), str(ROOT / "bench" / "nl2sql_own"), "--db", "clinic",
        "--limit", "4", "--through-gateway", cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 400)
    assert proc.returncode == 0, err.decode()[-3000:]
    figures = json.loads(out.decode().splitlines()[-1])
    assert figures["through"] == "gateway"
    assert figures["questions"] == 4 and 0 <= figures["accuracy_overall"] <= 1
    assert figures["parse_p50_ms"] > 0  # the parse stage as Ask timed it
