"""Benchmark of the DB connector: rows/s through gRPC against raw asyncpg.

    .venv/bin/python bench/connector.py [--rows 1000000] [--rounds 3] [--page-size 10000]
                                        [--batch-size 5000] [--pg-dsn postgresql://postgres@127.0.0.1:5432/postgres]

Runs `chatdb serve connector` as a subprocess on its own platform database, registers a
connection to a scratch PostgreSQL database (both created here and dropped at the end),
then for the same query, in the same run and interleaved round by round:

  * raw asyncpg `fetch` of the whole result in this process (the baseline),
  * StreamQuery through gRPC (all batches read by the client),
  * ExecuteQuery through gRPC, page after page with next_page_token.

It prints a table and, as the last line, one JSON object with the ratios and the
service's peak RSS (VmHWM from /proc/<pid>/status).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import grpc  # noqa: E402
from chatdb.connector.v1 import (  # noqa: E402
    connection_pb2,
    connector_service_pb2,
    connector_service_pb2_grpc,
    statement_pb2,
)

pb = connector_service_pb2


def _query(rows: int) -> str:
    return f"SELECT g, g * 2, md5(g::text) FROM generate_series(1, {rows}) g"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _with_db(dsn: str, name: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + name


def _memory_kb(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def bench_asyncpg(dsn: str, query: str) -> tuple[int, float]:
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        records = await conn.fetch(query)
        elapsed = time.perf_counter() - started
        return len(records), elapsed
    finally:
        await conn.close()


async def bench_stream(stub, cid: str, query: str, batch_size: int) -> tuple[int, float]:
    request = pb.StreamQueryRequest(connection_id=cid, batch_size=batch_size,
                                    statement=statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql=query)))
    rows = 0
    started = time.perf_counter()
    async for message in stub.StreamQuery(request, timeout=600):
        if message.WhichOneof("payload") == "batch":
            rows += len(message.batch.rows)
    return rows, time.perf_counter() - started


async def bench_execute(stub, cid: str, query: str, page_size: int) -> tuple[int, float, int]:
    statement = statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql=query))
    rows, pages, token = 0, 0, ""
    started = time.perf_counter()
    while True:
        page = await stub.ExecuteQuery(pb.ExecuteQueryRequest(
            connection_id=cid, statement=statement, page_size=page_size, page_token=token), timeout=600)
        rows += len(page.rows)
        pages += 1
        token = page.next_page_token
        if not token:
            return rows, time.perf_counter() - started, pages


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--execute-rounds", type=int, default=3,
                        help="rounds of the paged ExecuteQuery (pages read on from a cursor the "
                             "previous page left open, so a round is linear in the rows)")
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=2_000)
    parser.add_argument("--pg-dsn", default=os.environ.get("CHATDB_TEST_PG_DSN",
                                                           "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    platform_db, user_db = f"chatdb_bench_{run}", f"chatdb_bench_{run}_user"
    platform_dsn, user_dsn = _with_db(args.pg_dsn, platform_db), _with_db(args.pg_dsn, user_db)
    await _admin(args.pg_dsn, f'CREATE DATABASE "{user_db}"')
    port = _free_port()
    env = {
        **os.environ,
        "CHATDB_DATABASE_URL": platform_dsn,  # the service creates and migrates it
        "CHATDB_CONNECTOR_PORT": str(port),
        "CHATDB_HOST": "127.0.0.1",
        "CHATDB_LOG_LEVEL": "WARNING",
        "CHATDB_GRACE_PERIOD_S": "1",
    }
    log = tempfile.TemporaryFile()
    # Popen returns at once; the child is polled below, never waited for blocking.
    proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "servers.cli", "serve", "connector"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=log,
    )
    query = _query(args.rows)
    results: dict[str, list[tuple[int, float]]] = {"asyncpg": [], "stream": [], "execute": []}
    pages = 0
    try:
        address = f"127.0.0.1:{port}"
        options = [("grpc.max_receive_message_length", 256 * 1024 * 1024)]
        async with grpc.aio.insecure_channel(address, options=options) as channel:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise SystemExit(f"connector exited:\n{log.read().decode(errors='replace')[-3000:]}")
                try:
                    await asyncio.wait_for(channel.channel_ready(), 1)
                    break
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise SystemExit("connector did not start") from None
            stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
            connection = connection_pb2.Connection(kind=connection_pb2.CONNECTION_KIND_POSTGRES, dsn=user_dsn)
            connection.options.max_rows = max(args.rows, 1) * 2
            connection.options.statement_timeout.FromSeconds(600)
            cid = "bench"
            await stub.CreateConnection(pb.CreateConnectionRequest(connection_id=cid, connection=connection))
            # warm-up: pool, prepared types, code paths
            await bench_stream(stub, cid, _query(20_000), args.batch_size)
            await bench_execute(stub, cid, _query(20_000), args.page_size)
            await bench_asyncpg(user_dsn, _query(20_000))
            baseline_kb = _memory_kb(proc.pid)

            for i in range(args.rounds):
                for name in ("asyncpg", "stream", "execute"):
                    if name == "execute" and i >= args.execute_rounds:
                        continue
                    if name == "asyncpg":
                        n, s = await bench_asyncpg(user_dsn, query)
                    elif name == "stream":
                        n, s = await bench_stream(stub, cid, query, args.batch_size)
                    else:
                        n, s, pages = await bench_execute(stub, cid, query, args.page_size)
                    if n != args.rows:
                        raise SystemExit(f"{name} returned {n} rows, expected {args.rows}")
                    results[name].append((n, s))
                    print(f"  round {i + 1}: {name:8} {n / s:>12,.0f} rows/s ({s:.2f} s)", file=sys.stderr)
            memory = _memory_kb(proc.pid)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        for db in (platform_db, user_db):
            await _admin(args.pg_dsn, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    rate = {name: statistics.median(n / s for n, s in runs) if runs else float("nan") for name, runs in results.items()}
    seconds = {name: statistics.median(s for _, s in runs) if runs else float("nan") for name, runs in results.items()}
    ratio_stream = rate["stream"] / rate["asyncpg"]
    ratio_execute = rate["execute"] / rate["asyncpg"]
    peak_mb = memory["VmHWM"] / 1024

    print(f"query: {query}")
    print(f"median of {args.rounds} interleaved rounds ({min(args.rounds, args.execute_rounds)} of ExecuteQuery); StreamQuery batch_size={args.batch_size}, "
          f"ExecuteQuery page_size={args.page_size} ({pages} pages)")
    print(f"{'path':34} {'rows/s':>12} {'seconds':>9} {'vs asyncpg':>11}")
    print(f"{'raw asyncpg fetch (in process)':34} {rate['asyncpg']:>12,.0f} {seconds['asyncpg']:>9.2f} {1.0:>10.2f}x")
    print(f"{'StreamQuery via gRPC':34} {rate['stream']:>12,.0f} {seconds['stream']:>9.2f} {ratio_stream:>10.2f}x")
    print(f"{'ExecuteQuery via gRPC (paged)':34} {rate['execute']:>12,.0f} {seconds['execute']:>9.2f} {ratio_execute:>10.2f}x")
    print(f"service RSS: peak (VmHWM) {peak_mb:.1f} MB, after warm-up {baseline_kb['VmHWM'] / 1024:.1f} MB, "
          f"now {memory['VmRSS'] / 1024:.1f} MB")
    print(json.dumps({
        "ratio_stream_vs_asyncpg": round(ratio_stream, 3),
        "ratio_execute_vs_asyncpg": round(ratio_execute, 3) if results["execute"] else None,
        "peak_rss_mb": round(peak_mb, 1),
        "rows": args.rows,
        "rounds": args.rounds,
        "asyncpg_rows_per_s": round(rate["asyncpg"]),
        "stream_rows_per_s": round(rate["stream"]),
        "execute_rows_per_s": round(rate["execute"]) if results["execute"] else None,
        "stream_batch_size": args.batch_size,
        "execute_page_size": args.page_size,
        "execute_pages": pages,
        "warmup_rss_mb": round(baseline_kb["VmHWM"] / 1024, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
