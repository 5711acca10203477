"""Edge benchmark: Ask and Predict through Envoy — gRPC over mTLS and REST/JSON over
HTTPS with a client certificate, an API key on every call — against the same calls made
directly to the service (gRPC over mTLS, the same client certificate), in the same run.

    .venv/bin/python bench/edge.py

Sets up, on scratch databases (bench/_mesh.py): the deployment's PKI under a scratch
CHATDB_HOME (servers.runtime.certs.ensure_pki: CA, a certificate per service, Envoy's,
and a client's from issue_client); the connector, parser, gateway (with its ext_authz
server), registry and prediction as `chatdb serve` processes with CHATDB_TLS_DIR (mTLS
on every hop); a first admin API key (`chatdb apikeys bootstrap`); the demo data set (a
quarter of it) in a scratch PostgreSQL database registered as a read-only connection;
the bench's logistic regression (20 numeric features, trained by the platform's
trainer, as bench/prediction.py) in the registry; and two Envoys on configurations
`edge.config.write_config` generates from the descriptor set, started by
`edge.runner.Envoy`: the edge as deployed (the gateway's authz server decides on the API
key, an allowed decision reused for edge_authz_cache_ms per Envoy worker; set
CHATDB_EDGE_AUTHZ_CACHE_MS=0 to ask on every request through ext_authz; the local rate
limit on), and the same without any API-key check, for
reference (Envoy's own cost: mTLS both ways, routing, transcoding, access log). As in
bench/ask.py the parser and the gateway are not pointed at the ML services (they answer
on the rule path).

Measured, in ROUNDS rounds that alternate the paths so that drift on this shared
2-core machine falls on every path alike (figures are medians over the rounds; a ratio
is the median of the rounds' ratios):

  Ask (cached answer), calls/s and p50/p99, gRPC at concurrency CONCURRENCY, REST with
      as many client threads (one keep-alive HTTPS/1.1 connection each);
  Predict of one record, the same;
  Predict of 1,000 records (one google.protobuf.Struct per row; the REST body is
      {"records": [{...}, ...]}), rows/s, the best of concurrency 1, 2 and 4; requests
      are serialized (or JSON-encoded) once, as a load generator would.

Prints a table, then as the last line one JSON object: `ratio_ask_edge_vs_direct` and
`ratio_predict_edge_vs_direct` (the deployed edge's gRPC over direct gRPC, target ≥ 0.7;
REST and the edge without the API-key check beside them), and `rows_per_s_records_1000`
(direct, rest, edge_grpc).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.client
import json
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "gen"))

import asyncpg  # noqa: E402
import grpc  # noqa: E402
from _mesh import BIN, PG_ADMIN, ScratchMesh, free_port  # noqa: E402
from chatdb.connector.v1 import connection_pb2, connector_service_pb2, connector_service_pb2_grpc  # noqa: E402
from chatdb.gateway.v1 import chat_service_pb2  # noqa: E402
from chatdb.prediction.v1 import prediction_service_pb2 as pb  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from prediction import (  # noqa: E402
    RECORDS_MODEL,
    RECORDS_ROWS,
    build_models,
    closed_loop,
    records_request,
    single_request,
    upload,
)

from deploy.demo.data import DemoSpec, load_postgres  # noqa: E402
from edge.config import write_config  # noqa: E402
from edge.runner import Envoy  # noqa: E402
from servers.runtime import certs  # noqa: E402
from servers.runtime.settings import Settings  # noqa: E402

SERVICES = ("connector", "parser", "gateway", "registry", "prediction")
QUESTION = "total sales amount by region"
CONNECTION = "bench-demo"
PAGE_SIZE = 100
CONCURRENCY = 16
ROUNDS = 3
SECONDS = 2.0
RECORDS_CONCURRENCY = (1, 2, 4)
RECORDS_SECONDS = 2.5
START_TIMEOUT_S = 180
ASK = "/chatdb.gateway.v1.ChatService/Ask"
PREDICT = "/chatdb.prediction.v1.PredictionService/Predict"
GRPC_OPTIONS = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
PATHS = ("direct", "edge_grpc", "edge_rest", "bare_grpc")
LABELS = {
    "direct": "direct gRPC (mTLS)",
    "edge_grpc": "Envoy gRPC (mTLS)",
    "edge_rest": "Envoy REST (HTTPS)",
    "bare_grpc": "Envoy gRPC, no authz",
}


# --- certificates and keys -------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """What a caller presents: a client certificate (and the CA it trusts), an API key."""

    ca: Path
    cert: Path
    key: Path
    api_key: str

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(self.ca.read_bytes(), self.key.read_bytes(), self.cert.read_bytes())

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.cert), str(self.key))
        return context

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-api-key", self.api_key),) if self.api_key else ()

    @property
    def headers(self) -> dict[str, str]:
        return {"content-type": "application/json", **({"x-api-key": self.api_key} if self.api_key else {})}


# --- REST load ---------------------------------------------------------------------------


def rest_loop(port: int, client: Client, path: str, body: bytes, threads: int, seconds: float) -> dict[str, float]:
    """`threads` client threads, each on one keep-alive HTTPS/1.1 connection with the
    client certificate, POSTing `body` back to back for `seconds`."""
    context = client.ssl_context()
    headers = client.headers
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(threads + 1)
    go = threading.Event()
    stop_at = [0.0]

    def worker() -> None:
        conn = http.client.HTTPSConnection("localhost", port, context=context, timeout=60)
        mine: list[float] = []
        try:
            for _ in range(5):  # warm up: handshake, Envoy's upstream connection
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    failures.append(f"{response.status} {data[:300]!r}")
                    ready.abort()
                    return
            try:
                ready.wait()
            except threading.BrokenBarrierError:
                return
            go.wait()
            while not failures:
                start = time.perf_counter()
                if start >= stop_at[0]:
                    break
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    failures.append(f"{response.status} {data[:300]!r}")
                    break
                mine.append(time.perf_counter() - start)
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    try:
        ready.wait(timeout=120)
    except threading.BrokenBarrierError:
        failures.append("a client thread did not get ready")
    begin = time.perf_counter()
    stop_at[0] = begin + seconds
    go.set()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - begin
    if failures:
        raise SystemExit(f"REST {path} failed: {failures[0]}")
    return {**_figures(latencies, elapsed), "calls": len(latencies) + 5 * threads}


def _figures(latencies: list[float], elapsed: float) -> dict[str, float]:
    latencies.sort()
    return {
        "calls_per_s": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


# --- measurements --------------------------------------------------------------------------


def raw_call(channel: grpc.aio.Channel, method: str, reply_class, metadata=()):
    """A unary call that sends bytes as they are (requests serialized once)."""
    call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=reply_class.FromString)
    if not metadata:
        return call
    return functools.partial(call, metadata=metadata)


# name → pid of the processes whose CPU time each run records (filled by run()).
WATCHED: dict[str, int] = {}


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants (the envoy command is a
    Python shim in front of the real binary)."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        child = int(entry.name)
        children.setdefault(int(fields[1]), []).append(child)
        times[child] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo.extend(children.get(current, ()))
    return total


async def load(target: tuple, concurrency: int, seconds: float) -> dict[str, float]:
    """One closed-loop run: ("grpc", call, request) or ("rest", port, client, path, body);
    with the CPU milliseconds per call each watched process spent meanwhile."""
    before = {name: tree_cpu_seconds(pid) for name, pid in WATCHED.items()}
    if target[0] == "grpc":
        result = await closed_loop(target[1], target[2], concurrency, seconds)
    else:
        result = await asyncio.to_thread(rest_loop, *target[1:], concurrency, seconds)
    for name, pid in WATCHED.items():
        result[f"cpu_ms_{name}"] = (tree_cpu_seconds(pid) - before[name]) / result["calls"] * 1000
    return result


async def measure_calls(label: str, targets: dict[str, tuple]) -> dict:
    """ROUNDS rounds of every path; medians and ratios to direct."""
    runs: dict[str, list[dict]] = {p: [] for p in targets}
    for r in range(ROUNDS):
        print(f"  {label}: round {r + 1}/{ROUNDS}", flush=True)
        for p, target in targets.items():
            runs[p].append(await load(target, CONCURRENCY, SECONDS))
    out: dict = {}
    keys = ("calls_per_s", "p50_ms", "p99_ms", *(f"cpu_ms_{name}" for name in WATCHED))
    for p in targets:
        out[p] = {k: statistics.median(run[k] for run in runs[p]) for k in keys}
        if p != "direct":
            out[p]["ratio_vs_direct"] = statistics.median(
                e["calls_per_s"] / d["calls_per_s"] for e, d in zip(runs[p], runs["direct"], strict=True))
    return out


async def measure_records(targets: dict[str, tuple]) -> dict:
    """Predict of RECORDS_ROWS records: rows/s, the best of RECORDS_CONCURRENCY per path."""
    out = {}
    for p, target in targets.items():
        by_c = {}
        for c in RECORDS_CONCURRENCY:
            print(f"  Predict {RECORDS_ROWS} records, {LABELS[p]}, concurrency {c}", flush=True)
            by_c[c] = await load(target, c, RECORDS_SECONDS)
        best = max(by_c, key=lambda c: by_c[c]["calls_per_s"])
        out[p] = {
            "rows_per_s": by_c[best]["calls_per_s"] * RECORDS_ROWS, "concurrency": best,
            "p50_ms": by_c[best]["p50_ms"], "p99_ms": by_c[best]["p99_ms"],
            "rows_per_s_by_concurrency": {f"c{c}": f["calls_per_s"] * RECORDS_ROWS for c, f in by_c.items()},
            **{k: v for k, v in by_c[best].items() if k.startswith("cpu_ms_")},
        }
    return out


# --- the run -------------------------------------------------------------------------------


def start_envoy(work: Path, name: str, mesh: ScratchMesh, tls: Path, authz_port: int | None) -> tuple[Envoy, int]:
    """An Envoy on a generated config in front of the mesh; ext_authz at `authz_port`
    (the gateway's server), or none. Returns it and its listener's port."""
    settings = Settings(
        home=work / f"home-{name}", host="127.0.0.1", edge_host="127.0.0.1", edge_port=free_port(),
        edge_admin_port=free_port(), edge_access_log=str(work / f"{name}-access.log"),
        edge_authz=authz_port is not None,
        **{f"{service}_port": port for service, port in mesh.ports.items()},
    )
    addresses = {"authz": ("127.0.0.1", authz_port)} if authz_port is not None else {}
    config = write_config(settings, work / f"{name}.yaml", tls_dir=tls, addresses=addresses)
    envoy = Envoy(config, admin_port=settings.edge_admin_port, log=work / "logs" / f"{name}.log")
    envoy.start()
    return envoy, settings.edge_port


def operator_edge_tls(pki: certs.Pki, work: Path) -> Path:
    """Certificates for the Envoy without authz: the mesh refuses a call from the edge's
    own identity (spiffe://chatdb/envoy) that carries no caller, so this one presents an
    operator's (client/bench-edge; server and client auth, DNS localhost) and its calls
    are an operator's, as a client certificate's are."""
    directory = work / "tls-no-authz"
    directory.mkdir(parents=True, exist_ok=True)
    ca = certs.load_pair(pki.ca_cert_private, pki.ca_key)
    certs.write_pair(certs.issue(ca, "bench-edge", spiffe_path="client/bench-edge"), directory, "envoy")
    (directory / "ca.crt").write_bytes(pki.ca_cert.read_bytes())
    return directory


async def run() -> dict:
    work = Path(tempfile.mkdtemp(prefix="chatdb-bench-edge-"))
    home = work / "home"
    pki = certs.ensure_pki(home)
    cert, key = certs.issue_client(home, "bench")
    tls = pki.certs_dir
    print("training the logistic regression with the platform's trainer ...", flush=True)
    models = build_models(only=RECORDS_MODEL)
    model = models[RECORDS_MODEL]
    mesh = ScratchMesh(work, ports=(*SERVICES, "training"))
    authz_port = free_port()
    common = {"CHATDB_HOME": str(home), **pki.env(), "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}
    # The parser and the gateway answer on the rule path (as in bench/ask.py): their ML
    # services are ports nothing listens on.
    no_ml = {f"CHATDB_{name.upper()}_PORT": str(free_port()) for name in ("prediction", "registry", "training")}
    user_db = f"chatdb_bench_edge_{mesh.tag}"
    envoys: list[Envoy] = []
    try:
        print(f"loading the demo data set into {user_db} ...", flush=True)
        await load_postgres(PG_ADMIN, DemoSpec(database=user_db, scale=0.25))
        await asyncio.to_thread(mesh.migrate)
        await asyncio.to_thread(subprocess.run, [str(BIN / "chatdb"), "apikeys", "bootstrap"],
                                env={**mesh.env, **common}, check=True, stdout=subprocess.DEVNULL)
        client = Client(pki.ca_cert, cert, key, (home / "admin-api-key").read_text().strip())
        creds = client.credentials()
        mesh.spawn("registry", ["serve", "registry"], **common)
        await mesh.wait_serving(mesh.ports["registry"], credentials=creds)
        await upload(mesh.ports["registry"], RECORDS_MODEL, model["result"], credentials=creds)  # production
        mesh.spawn("prediction", ["serve", "prediction"], **common)
        mesh.spawn("connector", ["serve", "connector"], **common)
        mesh.spawn("parser", ["serve", "parser"], **common, **no_ml)
        mesh.spawn("gateway", ["serve", "gateway"], **common, **no_ml, CHATDB_GATEWAY_AUTHZ_PORT=str(authz_port))
        await mesh.wait_serving(mesh.ports["connector"], mesh.ports["parser"], mesh.ports["prediction"],
                                timeout_s=START_TIMEOUT_S, credentials=creds)
        edge, edge_port = start_envoy(work, "envoy", mesh, tls, authz_port)
        envoys.append(edge)
        bare, bare_port = start_envoy(work, "envoy-no-authz", mesh, operator_edge_tls(pki, work), None)
        envoys.append(bare)
        WATCHED.update(prediction=mesh.named["prediction"].pid, gateway=mesh.named["gateway"].pid,
                       envoy=edge.proc.pid, envoy_no_authz=bare.proc.pid)

        async with contextlib.AsyncExitStack() as stack:
            def channel(port: int) -> grpc.aio.Channel:
                return grpc.aio.secure_channel(f"localhost:{port}", creds, options=GRPC_OPTIONS)

            channels = {name: await stack.enter_async_context(channel(mesh.ports[name]))
                        for name in ("connector", "gateway", "prediction")}
            edge_channel = await stack.enter_async_context(channel(edge_port))
            bare_channel = await stack.enter_async_context(channel(bare_port))
            connector = connector_service_pb2_grpc.ConnectorServiceStub(channels["connector"])
            dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{user_db}"
            await connector.CreateConnection(connector_service_pb2.CreateConnectionRequest(
                connection_id=CONNECTION, connection=connection_pb2.Connection(
                    kind=connection_pb2.CONNECTION_KIND_POSTGRES, dsn=dsn, read_only=True)), timeout=30)
            await mesh.wait_serving(mesh.ports["gateway"], timeout_s=START_TIMEOUT_S, credentials=creds)
            for envoy in envoys:
                await asyncio.to_thread(envoy.wait_ready, 60, clusters=[
                    "chatdb.gateway.v1.ChatService", "chatdb.prediction.v1.PredictionService"])

            ask = chat_service_pb2.AskRequest(question=QUESTION, connection_id=CONNECTION, page_size=PAGE_SIZE)
            ask_bytes = ask.SerializeToString()
            ask_json = json.dumps(json_format.MessageToDict(ask)).encode()
            single = single_request(RECORDS_MODEL, model)
            single_bytes = single.SerializeToString()
            single_json = json.dumps({"records": json_format.MessageToDict(single)["records"]}).encode()
            many = records_request(RECORDS_MODEL, model)
            many_bytes = many.SerializeToString()
            many_json = json.dumps({"records": json_format.MessageToDict(many)["records"]}).encode()
            predict_path = f"/v1/models/{RECORDS_MODEL}:predict"

            calls = {
                "ask": {
                    "direct": raw_call(channels["gateway"], ASK, chat_service_pb2.AskResponse),
                    "edge_grpc": raw_call(edge_channel, ASK, chat_service_pb2.AskResponse, client.metadata),
                    "bare_grpc": raw_call(bare_channel, ASK, chat_service_pb2.AskResponse),
                },
                "predict": {
                    "direct": raw_call(channels["prediction"], PREDICT, pb.PredictResponse),
                    "edge_grpc": raw_call(edge_channel, PREDICT, pb.PredictResponse, client.metadata),
                    "bare_grpc": raw_call(bare_channel, PREDICT, pb.PredictResponse),
                },
            }
            # Every path answers, and alike, before any is timed. Each caller's first Ask
            # fills the cache for it (the key includes the tenant: the edge's admin key is
            # a tenant, a direct call is the platform); the second is served from it.
            first = await calls["ask"]["direct"](ask_bytes, timeout=START_TIMEOUT_S)
            for p in ("direct", "edge_grpc", "bare_grpc"):
                await calls["ask"][p](ask_bytes, timeout=START_TIMEOUT_S)
                assert (await calls["ask"][p](ask_bytes, timeout=30)).cached, p
            for call in calls["predict"].values():
                assert len((await call(many_bytes, timeout=60)).predictions) == RECORDS_ROWS
            reply = await asyncio.to_thread(_rest_once, edge_port, client, predict_path, many_json)
            assert len(reply["predictions"]) == RECORDS_ROWS, reply
            reply = await asyncio.to_thread(_rest_once, edge_port, client, "/v1/ask", ask_json)
            assert reply.get("cached") is True, reply

            def targets(rpc: str, request: bytes, path: str, body: bytes) -> dict[str, tuple]:
                return {
                    "direct": ("grpc", calls[rpc]["direct"], request),
                    "edge_grpc": ("grpc", calls[rpc]["edge_grpc"], request),
                    "edge_rest": ("rest", edge_port, client, path, body),
                    "bare_grpc": ("grpc", calls[rpc]["bare_grpc"], request),
                }

            print("measuring ...", flush=True)
            figures = {
                "ask": await measure_calls("Ask", targets("ask", ask_bytes, "/v1/ask", ask_json)),
                "predict": await measure_calls(
                    "Predict (1 record)", targets("predict", single_bytes, predict_path, single_json)),
                "records": await measure_records(targets("predict", many_bytes, predict_path, many_json)),
                "ext_authz_upstream": {k.rsplit(".", 1)[1]: v for k, v in (await asyncio.to_thread(
                    edge.stats, "cluster.ext_authz.upstream_")).items()
                    if k.rsplit(".", 1)[1] in ("upstream_cx_total", "upstream_rq_total", "upstream_cx_destroy")},
                "statement": first.statement.sql.sql,
                "rows_per_answer": len(first.rows),
                "request_bytes": {"ask": len(ask_bytes), "predict": len(single_bytes),
                                  "records_1000_protobuf": len(many_bytes), "records_1000_json": len(many_json)},
            }
    finally:
        for envoy in envoys:
            envoy.stop()
        await mesh.stop()
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{user_db}" WITH (FORCE)')
        finally:
            await conn.close()
        shutil.rmtree(work, ignore_errors=True)
    return figures


def _rest_once(port: int, client: Client, path: str, body: bytes) -> dict:
    conn = http.client.HTTPSConnection("localhost", port, context=client.ssl_context(), timeout=60)
    try:
        conn.request("POST", path, body=body, headers=client.headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise SystemExit(f"REST {path}: {response.status} {data[:500]!r}")
        return json.loads(data)
    finally:
        conn.close()


# --- report --------------------------------------------------------------------------------


def _cpu(f: dict, path: str, rpc: str) -> str:
    """service / gateway / envoy CPU ms per call (envoy: the one on the path; none direct)."""
    service = f.get("cpu_ms_gateway" if rpc == "ask" else "cpu_ms_prediction", 0.0)
    gateway = f.get("cpu_ms_gateway", 0.0) if rpc != "ask" else 0.0
    envoy = {"direct": 0.0, "bare_grpc": f.get("cpu_ms_envoy_no_authz", 0.0)}.get(path, f.get("cpu_ms_envoy", 0.0))
    gateway_text = f"{gateway:.2f}" if rpc != "ask" else "-"  # Ask: the gateway is the service
    return f"{service:>8.2f} {gateway_text:>8} {envoy:>8.2f}"


def report(figures: dict) -> dict:
    print(f"\nAsk {QUESTION!r} (cached answer, {figures['rows_per_answer']} rows) and Predict of one record "
          f"({RECORDS_MODEL}); calls/s [p50 / p99 ms], median of {ROUNDS} rounds; concurrency {CONCURRENCY} "
          "(gRPC calls in flight on one channel, or REST client threads)")
    print("CPU ms per call of the service, of the gateway (for Predict: its ext_authz server) and of the "
          "Envoy on the path")
    print(f"{'RPC':20} {'path':24} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs direct':>10} "
          f"{'service':>8} {'gateway':>8} {'envoy':>8}")
    for rpc, label in (("ask", "Ask"), ("predict", "Predict (1 record)")):
        for p in PATHS:
            f = figures[rpc][p]
            ratio = f"{f['ratio_vs_direct']:.2f}" if "ratio_vs_direct" in f else ""
            print(f"{label:20} {LABELS[p]:24} {f['calls_per_s']:>9,.0f} {f['p50_ms']:>8.2f} {f['p99_ms']:>8.2f} "
                  f"{ratio:>10} {_cpu(f, p, rpc)}")
    print(f"\nPredict, {RECORDS_ROWS:,} rows as records (one Struct per row), rows/s, best of concurrency "
          f"{', '.join(map(str, RECORDS_CONCURRENCY))}")
    for p in PATHS:
        f = figures["records"][p]
        by_c = "  ".join(f"{k} {v:,.0f}" for k, v in f["rows_per_s_by_concurrency"].items())
        print(f"  {LABELS[p]:24} {f['rows_per_s']:>10,.0f} at c{f['concurrency']} "
              f"[{f['p50_ms']:.2f} / {f['p99_ms']:.2f} ms]   ({by_c})   CPU ms/call {_cpu(f, p, 'predict')}")
    cx = figures["ext_authz_upstream"]
    print(f"\next_authz: {cx.get('upstream_rq_total', 0):,} checks over {cx.get('upstream_cx_total', 0):,} "
          "connections from Envoy to the gateway's authz server")
    records = {p: figures["records"][p]["rows_per_s"] for p in PATHS}
    return {
        "ratio_ask_edge_vs_direct": figures["ask"]["edge_grpc"]["ratio_vs_direct"],
        "ratio_predict_edge_vs_direct": figures["predict"]["edge_grpc"]["ratio_vs_direct"],
        "ratio_ask_rest_vs_direct": figures["ask"]["edge_rest"]["ratio_vs_direct"],
        "ratio_predict_rest_vs_direct": figures["predict"]["edge_rest"]["ratio_vs_direct"],
        "ratio_ask_edge_no_authz_vs_direct": figures["ask"]["bare_grpc"]["ratio_vs_direct"],
        "ratio_predict_edge_no_authz_vs_direct": figures["predict"]["bare_grpc"]["ratio_vs_direct"],
        "rows_per_s_records_1000": {"direct": records["direct"], "rest": records["edge_rest"],
                                    "edge_grpc": records["edge_grpc"], "edge_grpc_no_authz": records["bare_grpc"]},
        "rows_per_s_records_1000_direct": records["direct"],
        "rows_per_s_records_1000_rest": records["edge_rest"],
        "target_ratio": 0.7,
        "target_rows_per_s_records_1000_direct": 125_000,
        "edge_authz_cache_ms": Settings().edge_authz_cache_ms,
        "headline": "edge = Envoy as deployed (mTLS, the gateway's API-key check with an admin API key, allowed "
                    f"decisions reused for edge_authz_cache_ms={Settings().edge_authz_cache_ms}, local rate limit, JSON access "
                    "log) over gRPC vs direct gRPC over mTLS to the service, same client certificate and "
                    f"concurrency ({CONCURRENCY}); medians of {ROUNDS} interleaved rounds",
        "ask": figures["ask"],
        "predict": figures["predict"],
        "records": figures["records"],
        "request_bytes": figures["request_bytes"],
        "ext_authz_upstream": figures["ext_authz_upstream"],
        "concurrency": CONCURRENCY,
        "rounds": ROUNDS,
        "cpus": os.cpu_count(),
    }


async def main() -> int:
    task = asyncio.current_task()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    summary = report(await run())
    print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit(130)
