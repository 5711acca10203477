"""Benchmark of the gateway's Ask against the connector's ExecuteQuery of the same statement.

    .venv/bin/python bench/ask.py [--iterations N] [--question TEXT]

Starts the connector, the parser and the gateway as processes (`chatdb serve …`) on a
scratch platform database and Redis prefix (bench/_mesh.py), loads the demo data set
(deploy/demo, a quarter of its rows) into a scratch PostgreSQL database and registers it
as a read-only connection. The ML services are not started (their ports are free ones
nothing listens on): the parser answers on its rule path, as in bench/nl2sql.py. Then,
in the same run and interleaved call by call, one client at a time:

  * ExecuteQuery of the statement Ask answered with, on the connector (the baseline),
  * ParseQuery of the question, on the parser,
  * Ask, cached (the default; the first Ask filled the cache),
  * Ask, uncached (use_cache=false: parse + execute + history every time).

Prints p50/p99 and calls/s of each, and as the last line one JSON object:
ratio_ask_cached_vs_execute (calls/s of Ask cached over ExecuteQuery's),
ask_overhead_ms_p50 (Ask uncached p50 − ExecuteQuery p50), parse_p50_ms, target_ms
(parse p50 + 5: what the issue allows a cache miss to add) and target_met.
CHATDB_BENCH_ASK_ITERATIONS (or --iterations) sets the calls per path (default 400).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "gen"))

import asyncpg  # noqa: E402
import grpc  # noqa: E402
from _mesh import PG_ADMIN, ScratchMesh  # noqa: E402
from chatdb.connector.v1 import connection_pb2, connector_service_pb2, connector_service_pb2_grpc  # noqa: E402
from chatdb.gateway.v1 import chat_service_pb2, chat_service_pb2_grpc  # noqa: E402
from chatdb.parser.v1 import query_parser_service_pb2, query_parser_service_pb2_grpc  # noqa: E402

from deploy.demo.data import DemoSpec, load_postgres  # noqa: E402

QUESTION = "total sales amount by region"
CONNECTION = "bench-demo"
PAGE_SIZE = 100
START_TIMEOUT_S = 180  # the parser loads embeddings at start
WARMUP = 20
PATHS = ("execute", "parse", "ask_cached", "ask_uncached")
LABELS = {
    "execute": "ExecuteQuery (connector, baseline)",
    "parse": "ParseQuery (parser)",
    "ask_cached": "Ask, cached",
    "ask_uncached": "Ask, uncached (use_cache=false)",
}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


class Paths:
    """One call of each measured path, by name."""

    def __init__(self, question: str, connector, parser, gateway, statement) -> None:
        self.question = question
        self.connector, self.parser, self.gateway, self.statement = connector, parser, gateway, statement

    async def execute(self) -> None:
        await self.connector.ExecuteQuery(connector_service_pb2.ExecuteQueryRequest(
            connection_id=CONNECTION, statement=self.statement, page_size=PAGE_SIZE), timeout=30)

    async def parse(self) -> None:
        await self.parser.ParseQuery(query_parser_service_pb2.ParseQueryRequest(
            question=self.question, connection_id=CONNECTION), timeout=30)

    async def ask_cached(self) -> None:
        reply = await self.gateway.Ask(chat_service_pb2.AskRequest(
            question=self.question, connection_id=CONNECTION, page_size=PAGE_SIZE), timeout=30)
        if not reply.cached:
            raise SystemExit("Ask with the cache on did not answer from the cache")

    async def ask_uncached(self) -> None:
        reply = await self.gateway.Ask(chat_service_pb2.AskRequest(
            question=self.question, connection_id=CONNECTION, page_size=PAGE_SIZE, use_cache=False), timeout=30)
        if reply.cached:
            raise SystemExit("Ask with use_cache=false answered from the cache")


async def measure(paths: Paths, iterations: int) -> dict[str, list[float]]:
    """Seconds per call of each path, interleaved call by call so that drift (other
    load on the machine, Redis, PostgreSQL) falls on every path alike."""
    calls = {name: getattr(paths, name) for name in PATHS}
    for _ in range(WARMUP):
        for call in calls.values():
            await call()
    times: dict[str, list[float]] = {name: [] for name in PATHS}
    for _ in range(iterations):
        for name, call in calls.items():
            started = time.perf_counter()
            await call()
            times[name].append(time.perf_counter() - started)
    return times


async def run(question: str, iterations: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="chatdb-bench-ask-"))
    (work / "data").mkdir()
    # The ML services get ports nothing listens on: the parser must not reach a
    # developer's running mesh, and answers on its rule path.
    mesh = ScratchMesh(work, ports=("connector", "parser", "gateway", "prediction", "registry", "training"))
    user_db = f"chatdb_bench_ask_{mesh.tag}"
    # A loaded machine can take longer than the default 0.3 s to answer a health check;
    # the gateway would then read its parser as down (level 4) and refuse the questions
    # this measures. The status monitor is not what is timed here.
    mesh.env["CHATDB_GATEWAY_STATUS_TIMEOUT_S"] = "2"
    python_path = {"PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}
    try:
        print(f"loading the demo data set into {user_db} ...", file=sys.stderr, flush=True)
        counts = await load_postgres(PG_ADMIN, DemoSpec(database=user_db, scale=0.25))
        mesh.migrate()
        for name in ("connector", "parser", "gateway"):
            mesh.spawn(name, ["serve", name], **python_path)
        await mesh.wait_serving(mesh.ports["connector"], mesh.ports["parser"], timeout_s=START_TIMEOUT_S)
        async with contextlib.AsyncExitStack() as stack:
            channels = {name: await stack.enter_async_context(grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports[name]}"))
                        for name in ("connector", "parser", "gateway")}
            connector = connector_service_pb2_grpc.ConnectorServiceStub(channels["connector"])
            dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{user_db}"
            await connector.CreateConnection(connector_service_pb2.CreateConnectionRequest(
                connection_id=CONNECTION, connection=connection_pb2.Connection(
                    kind=connection_pb2.CONNECTION_KIND_POSTGRES, dsn=dsn, read_only=True)), timeout=30)
            await mesh.wait_serving(mesh.ports["gateway"], timeout_s=START_TIMEOUT_S)
            gateway = chat_service_pb2_grpc.ChatServiceStub(channels["gateway"])
            # SERVING is the gateway's own health; its status monitor may still read a
            # peer as down from checks made while its channels connected (level 4
            # refuses questions). Questions are timed once it sees the parser.
            deadline = time.monotonic() + START_TIMEOUT_S
            while (await gateway.GetSystemStatus(chat_service_pb2.GetSystemStatusRequest(), timeout=10)).status.level >= 4:
                if time.monotonic() > deadline:
                    raise SystemExit("the gateway never saw its parser (level 4); see the logs under " + str(work))
                await asyncio.sleep(0.2)
            first = await gateway.Ask(chat_service_pb2.AskRequest(
                question=question, connection_id=CONNECTION, page_size=PAGE_SIZE), timeout=START_TIMEOUT_S)
            paths = Paths(question, connector, query_parser_service_pb2_grpc.QueryParserServiceStub(channels["parser"]),
                          gateway, first.statement)
            print(f"measuring {iterations} calls per path ...", file=sys.stderr, flush=True)
            times = await measure(paths, iterations)
    finally:
        await mesh.stop()
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{user_db}" WITH (FORCE)')
        finally:
            await conn.close()
        shutil.rmtree(work, ignore_errors=True)
    return report(question, first, times, iterations, sum(counts.values()))


def report(question: str, first: chat_service_pb2.AskResponse, times: dict[str, list[float]], iterations: int, rows: int) -> dict:
    stats = {}
    for name, seconds in times.items():
        ordered = sorted(seconds)
        stats[name] = {"p50_ms": percentile(ordered, 50) * 1000, "p99_ms": percentile(ordered, 99) * 1000,
                       "calls_per_s": len(seconds) / sum(seconds)}
    print(f"question: {question!r} on a PostgreSQL copy of the demo data set ({rows:,} rows)")
    print(f"statement: {first.statement.sql.sql}")
    print(f"{len(first.rows)} rows per answer; {iterations} calls per path, interleaved, one client; "
          "ML services not started (parser on its rule path)")
    print(f"\n{'path':36} {'p50 ms':>8} {'p99 ms':>8} {'calls/s':>9}")
    for name in PATHS:
        s = stats[name]
        print(f"{LABELS[name]:36} {s['p50_ms']:>8.2f} {s['p99_ms']:>8.2f} {s['calls_per_s']:>9.0f}")
    parse_p50 = stats["parse"]["p50_ms"]
    overhead = stats["ask_uncached"]["p50_ms"] - stats["execute"]["p50_ms"]
    target = parse_p50 + 5
    ratio = stats["ask_cached"]["calls_per_s"] / stats["execute"]["calls_per_s"]
    print(f"\nAsk on a cache miss adds {overhead:.2f} ms (p50) to ExecuteQuery; target ≤ parse p50 + 5 ms = "
          f"{target:.2f} ms: {'met' if overhead <= target else 'NOT met'}")
    print(f"Ask on a cache hit runs at {ratio:.2f}x ExecuteQuery's calls/s")
    figures = {
        "ratio_ask_cached_vs_execute": round(ratio, 3),
        "ask_overhead_ms_p50": round(overhead, 2),
        "parse_p50_ms": round(parse_p50, 2),
        "target_ms": round(target, 2),
        "target_met": overhead <= target,
        "iterations": iterations,
        "rows_per_answer": len(first.rows),
    }
    for name in PATHS:
        figures.update({f"{name}_{k}": round(v, 2 if k != "calls_per_s" else 1) for k, v in stats[name].items()})
    return figures


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=int(os.environ.get("CHATDB_BENCH_ASK_ITERATIONS", "400")),
                        help="calls per path (default 400, or CHATDB_BENCH_ASK_ITERATIONS)")
    parser.add_argument("--question", default=QUESTION, help=f"the question asked (default {QUESTION!r})")
    return parser.parse_args()


async def main() -> int:
    args = parse_args()
    # SIGTERM cleans up like Ctrl-C: the run is cancelled and its finally block stops
    # the processes and drops the scratch databases.
    task = asyncio.current_task()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    figures = await run(args.question, max(1, args.iterations))
    print(json.dumps(figures, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit(130)
