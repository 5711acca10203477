"""Edge benchmark: Ask and Predict through Envoy — gRPC over mTLS and REST/JSON over
HTTPS with a client certificate — against the same calls made directly to the service
(gRPC over mTLS, the same client certificate), in the same run.

    .venv/bin/python bench/edge.py

Sets up, on scratch databases (bench/_mesh.py): a CA and certificates (servers.runtime.
certs: one per service with SAN spiffe://chatdb/<service>, Envoy's, a client's); the
connector, parser, gateway, registry and prediction as `chatdb serve` processes on mTLS;
the demo data set (a quarter of it) in a scratch PostgreSQL database registered as a
read-only connection; the bench's logistic regression (20 numeric features, trained by
the platform's trainer, as bench/prediction.py) in the registry; and Envoy on the
configuration `edge.config.write_config` generates from the descriptor set, started by
`edge.runner.Envoy`. As in bench/ask.py the parser and the gateway are not pointed at
the ML services (they answer on the rule path). Envoy runs as deployed except:
ext_authz off (`edge_authz=False`: no API keys are checked, so the figures are Envoy's
own cost — mTLS, routing, transcoding, access log — without the gateway's authz call)
and a local rate limit high enough never to refuse (the filter still runs).

Measured, in ROUNDS rounds that alternate direct / edge gRPC / edge REST so that drift
on this shared 2-core machine falls on every path alike (figures are medians over the
rounds; a ratio is the median of the rounds' ratios):

  Ask (cached answer), calls/s and p50/p99, gRPC at concurrency CONCURRENCY, REST with
      REST_THREADS client threads (one keep-alive HTTPS/1.1 connection each);
  Predict of one record, the same;
  Predict of 1,000 records (one google.protobuf.Struct per row; the REST body is
      {"records": [{...}, ...]}), rows/s, the best of concurrency 1, 2 and 4; requests
      are serialized (or JSON-encoded) once, as a load generator would.

Prints a table, then as the last line one JSON object: `ratio_ask_edge_vs_direct` and
`ratio_predict_edge_vs_direct` (edge gRPC over direct gRPC, target ≥ 0.7; the REST
ratios beside them), and `rows_per_s_records_1000` (direct, rest, edge_grpc).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import shutil
import signal
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "gen"))

import asyncpg  # noqa: E402
import grpc  # noqa: E402
from _mesh import PG_ADMIN, ScratchMesh, free_port  # noqa: E402
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
REST_THREADS = 16  # as many as the gRPC calls in flight
ROUNDS = 3
SECONDS = 2.0
RECORDS_CONCURRENCY = (1, 2, 4)
RECORDS_SECONDS = 2.5
START_TIMEOUT_S = 180
ASK = "/chatdb.gateway.v1.ChatService/Ask"
PREDICT = "/chatdb.prediction.v1.PredictionService/Predict"
GRPC_OPTIONS = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
PATHS = ("direct", "edge_grpc", "edge_rest")
LABELS = {"direct": "direct gRPC (mTLS)", "edge_grpc": "Envoy gRPC (mTLS)", "edge_rest": "Envoy REST (HTTPS)"}


# --- certificates ------------------------------------------------------------------------


def issue(ca: certs.KeyPair, name: str) -> certs.KeyPair:
    """A 30-day certificate for localhost/127.0.0.1 with the URI SAN spiffe://chatdb/<name>
    (the SANs the edge checks), signed by `ca`."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.UniformResourceIdentifier(f"spiffe://chatdb/{name}")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return certs.KeyPair(key, cert)


def make_pki(directory: Path) -> None:
    """ca.crt; <service>.crt/.key for each service and Envoy; client.crt/.key
    (spiffe://chatdb/client/bench)."""
    ca = certs.create_ca("ChatDB bench CA")
    certs.write_pair(ca, directory, "ca")
    for name in (*SERVICES, "envoy"):
        certs.write_pair(issue(ca, name), directory, name)
    certs.write_pair(issue(ca, "client/bench"), directory, "client")


def service_env(tls: Path, name: str) -> dict[str, str]:
    """mTLS for `chatdb serve <name>`: its certificate as server and as client, callers
    must chain to the CA."""
    return {
        "CHATDB_TLS_DIR": str(tls),
        "CHATDB_TLS_CERT_FILE": str(tls / f"{name}.crt"),
        "CHATDB_TLS_KEY_FILE": str(tls / f"{name}.key"),
        "CHATDB_TLS_CLIENT_CA_FILE": str(tls / "ca.crt"),
        "CHATDB_TLS_CA_FILE": str(tls / "ca.crt"),
        "CHATDB_TLS_CLIENT_CERT_FILE": str(tls / f"{name}.crt"),
        "CHATDB_TLS_CLIENT_KEY_FILE": str(tls / f"{name}.key"),
    }


def client_credentials(tls: Path) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        (tls / "ca.crt").read_bytes(), (tls / "client.key").read_bytes(), (tls / "client.crt").read_bytes())


# --- REST load ---------------------------------------------------------------------------


def rest_loop(port: int, tls: Path, path: str, body: bytes, threads: int, seconds: float) -> dict[str, float]:
    """`threads` client threads, each on one keep-alive HTTPS/1.1 connection with the
    client certificate, POSTing `body` back to back for `seconds`."""
    context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    context.load_cert_chain(str(tls / "client.crt"), str(tls / "client.key"))
    headers = {"content-type": "application/json"}
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
    return _figures(latencies, elapsed)


def _figures(latencies: list[float], elapsed: float) -> dict[str, float]:
    latencies.sort()
    return {
        "calls_per_s": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


# --- measurements --------------------------------------------------------------------------


def raw_call(channel: grpc.aio.Channel, method: str, reply_class):
    """A unary call that sends bytes as they are (requests serialized once)."""
    return channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=reply_class.FromString)


async def measure_calls(label: str, direct, edge, rest) -> dict:
    """ROUNDS rounds of direct gRPC, edge gRPC, edge REST; medians and ratios."""
    runs: dict[str, list[dict]] = {p: [] for p in PATHS}
    for r in range(ROUNDS):
        print(f"  {label}: round {r + 1}/{ROUNDS}", flush=True)
        runs["direct"].append(await closed_loop(*direct, CONCURRENCY, SECONDS))
        runs["edge_grpc"].append(await closed_loop(*edge, CONCURRENCY, SECONDS))
        runs["edge_rest"].append(await asyncio.to_thread(rest_loop, *rest, REST_THREADS, SECONDS))
    out = {}
    for p in PATHS:
        out[p] = {k: statistics.median(run[k] for run in runs[p]) for k in ("calls_per_s", "p50_ms", "p99_ms")}
    for p in ("edge_grpc", "edge_rest"):
        out[f"ratio_{p}_vs_direct"] = statistics.median(
            e["calls_per_s"] / d["calls_per_s"] for e, d in zip(runs[p], runs["direct"], strict=True))
    return out


async def measure_records(direct, edge, rest) -> dict:
    """Predict of RECORDS_ROWS records: rows/s, the best of RECORDS_CONCURRENCY per path."""
    out = {}
    for p in PATHS:
        by_c = {}
        for c in RECORDS_CONCURRENCY:
            print(f"  Predict {RECORDS_ROWS} records, {LABELS[p]}, concurrency {c}", flush=True)
            if p == "edge_rest":
                by_c[c] = await asyncio.to_thread(rest_loop, *rest, c, RECORDS_SECONDS)
            else:
                by_c[c] = await closed_loop(*(direct if p == "direct" else edge), c, RECORDS_SECONDS)
        best = max(by_c, key=lambda c: by_c[c]["calls_per_s"])
        out[p] = {
            "rows_per_s": by_c[best]["calls_per_s"] * RECORDS_ROWS, "concurrency": best,
            "p50_ms": by_c[best]["p50_ms"], "p99_ms": by_c[best]["p99_ms"],
            "rows_per_s_by_concurrency": {f"c{c}": f["calls_per_s"] * RECORDS_ROWS for c, f in by_c.items()},
        }
    return out


# --- the run -------------------------------------------------------------------------------


async def run() -> dict:
    work = Path(tempfile.mkdtemp(prefix="chatdb-bench-edge-"))
    tls = work / "certs"
    make_pki(tls)
    creds = client_credentials(tls)
    print("training the logistic regression with the platform's trainer ...", flush=True)
    models = build_models(only=RECORDS_MODEL)
    model = models[RECORDS_MODEL]
    mesh = ScratchMesh(work, ports=(*SERVICES, "training"))
    # The parser and the gateway answer on the rule path (as in bench/ask.py): their ML
    # services are ports nothing listens on.
    no_ml = {f"CHATDB_{name.upper()}_PORT": str(free_port()) for name in ("prediction", "registry", "training")}
    user_db = f"chatdb_bench_edge_{mesh.tag}"
    python_path = {"PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}
    envoy: Envoy | None = None
    try:
        print(f"loading the demo data set into {user_db} ...", flush=True)
        await load_postgres(PG_ADMIN, DemoSpec(database=user_db, scale=0.25))
        await asyncio.to_thread(mesh.migrate)
        mesh.spawn("registry", ["serve", "registry"], **service_env(tls, "registry"), **python_path)
        await mesh.wait_serving(mesh.ports["registry"], credentials=creds)
        await upload(mesh.ports["registry"], RECORDS_MODEL, model["result"], credentials=creds)  # production
        mesh.spawn("prediction", ["serve", "prediction"], **service_env(tls, "prediction"), **python_path)
        mesh.spawn("connector", ["serve", "connector"], **service_env(tls, "connector"), **python_path)
        for name in ("parser", "gateway"):
            mesh.spawn(name, ["serve", name], **service_env(tls, name), **python_path, **no_ml)
        await mesh.wait_serving(mesh.ports["connector"], mesh.ports["parser"], mesh.ports["prediction"],
                                timeout_s=START_TIMEOUT_S, credentials=creds)

        settings = Settings(
            home=work / "home", host="127.0.0.1", edge_host="127.0.0.1", edge_port=free_port(),
            edge_admin_port=free_port(), edge_access_log=str(work / "envoy-access.log"),
            edge_authz=False, edge_rate_limit_per_s=1_000_000, edge_rate_limit_burst=1_000_000,
            **{f"{name}_port": port for name, port in mesh.ports.items()},
        )
        config = write_config(settings, work / "envoy.yaml", tls_dir=tls)
        envoy = Envoy(config, admin_port=settings.edge_admin_port, log=work / "logs" / "envoy.log")
        envoy.start()

        async with contextlib.AsyncExitStack() as stack:
            def channel(port: int) -> grpc.aio.Channel:
                return grpc.aio.secure_channel(f"localhost:{port}", creds, options=GRPC_OPTIONS)

            channels = {name: await stack.enter_async_context(channel(mesh.ports[name]))
                        for name in ("connector", "gateway", "prediction")}
            edge_channel = await stack.enter_async_context(channel(settings.edge_port))
            connector = connector_service_pb2_grpc.ConnectorServiceStub(channels["connector"])
            dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{user_db}"
            await connector.CreateConnection(connector_service_pb2.CreateConnectionRequest(
                connection_id=CONNECTION, connection=connection_pb2.Connection(
                    kind=connection_pb2.CONNECTION_KIND_POSTGRES, dsn=dsn, read_only=True)), timeout=30)
            await mesh.wait_serving(mesh.ports["gateway"], timeout_s=START_TIMEOUT_S, credentials=creds)
            await asyncio.to_thread(envoy.wait_ready, 60, clusters=[
                "chatdb.gateway.v1.ChatService", "chatdb.prediction.v1.PredictionService"])

            ask = chat_service_pb2.AskRequest(question=QUESTION, connection_id=CONNECTION, page_size=PAGE_SIZE)
            ask_bytes = ask.SerializeToString()
            ask_json = json.dumps(json_format.MessageToDict(ask)).encode()
            first = await raw_call(channels["gateway"], ASK, chat_service_pb2.AskResponse)(ask_bytes, timeout=START_TIMEOUT_S)
            single = single_request(RECORDS_MODEL, model)
            single_bytes = single.SerializeToString()
            single_json = json.dumps({"records": json_format.MessageToDict(single)["records"]}).encode()
            many = records_request(RECORDS_MODEL, model)
            many_bytes = many.SerializeToString()
            many_json = json.dumps({"records": json_format.MessageToDict(many)["records"]}).encode()
            predict_path = f"/v1/models/{RECORDS_MODEL}:predict"

            # The paths answer alike before they are timed.
            direct_ask = raw_call(channels["gateway"], ASK, chat_service_pb2.AskResponse)
            edge_ask = raw_call(edge_channel, ASK, chat_service_pb2.AskResponse)
            direct_predict = raw_call(channels["prediction"], PREDICT, pb.PredictResponse)
            edge_predict = raw_call(edge_channel, PREDICT, pb.PredictResponse)
            assert (await edge_ask(ask_bytes, timeout=30)).cached
            for call in (direct_predict, edge_predict):
                assert len((await call(many_bytes, timeout=60)).predictions) == RECORDS_ROWS
            reply = await asyncio.to_thread(_rest_once, settings.edge_port, tls, predict_path, many_json)
            assert len(reply["predictions"]) == RECORDS_ROWS, reply
            reply = await asyncio.to_thread(_rest_once, settings.edge_port, tls, "/v1/ask", ask_json)
            assert reply.get("cached") is True, reply

            print("measuring ...", flush=True)
            figures = {
                "ask": await measure_calls(
                    "Ask", (direct_ask, ask_bytes), (edge_ask, ask_bytes),
                    (settings.edge_port, tls, "/v1/ask", ask_json)),
                "predict": await measure_calls(
                    "Predict (1 record)", (direct_predict, single_bytes), (edge_predict, single_bytes),
                    (settings.edge_port, tls, predict_path, single_json)),
                "records": await measure_records(
                    (direct_predict, many_bytes), (edge_predict, many_bytes),
                    (settings.edge_port, tls, predict_path, many_json)),
                "statement": first.statement.sql.sql,
                "rows_per_answer": len(first.rows),
                "request_bytes": {"ask": len(ask_bytes), "predict": len(single_bytes),
                                  "records_1000_protobuf": len(many_bytes), "records_1000_json": len(many_json)},
            }
    finally:
        if envoy is not None:
            envoy.stop()
        await mesh.stop()
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{user_db}" WITH (FORCE)')
        finally:
            await conn.close()
        shutil.rmtree(work, ignore_errors=True)
    return figures


def _rest_once(port: int, tls: Path, path: str, body: bytes) -> dict:
    context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    context.load_cert_chain(str(tls / "client.crt"), str(tls / "client.key"))
    conn = http.client.HTTPSConnection("localhost", port, context=context, timeout=60)
    try:
        conn.request("POST", path, body=body, headers={"content-type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise SystemExit(f"REST {path}: {response.status} {data[:500]!r}")
        return json.loads(data)
    finally:
        conn.close()


# --- report --------------------------------------------------------------------------------


def report(figures: dict) -> dict:
    print(f"\nAsk {QUESTION!r} (cached answer, {figures['rows_per_answer']} rows) and Predict of one record "
          f"({RECORDS_MODEL}); calls/s [p50 / p99 ms], median of {ROUNDS} rounds; gRPC at concurrency "
          f"{CONCURRENCY}, REST with {REST_THREADS} client threads; ext_authz off")
    print(f"{'RPC':22} {'path':22} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs direct':>10}")
    for rpc, label in (("ask", "Ask"), ("predict", "Predict (1 record)")):
        for p in PATHS:
            f = figures[rpc][p]
            ratio = "" if p == "direct" else f"{figures[rpc][f'ratio_{p}_vs_direct']:.2f}"
            print(f"{label:22} {LABELS[p]:22} {f['calls_per_s']:>9,.0f} {f['p50_ms']:>8.2f} {f['p99_ms']:>8.2f} {ratio:>10}")
    print(f"\nPredict, {RECORDS_ROWS:,} rows as records (one Struct per row), rows/s, best of concurrency "
          f"{', '.join(map(str, RECORDS_CONCURRENCY))}")
    for p in PATHS:
        f = figures["records"][p]
        by_c = "  ".join(f"{k} {v:,.0f}" for k, v in f["rows_per_s_by_concurrency"].items())
        print(f"  {LABELS[p]:22} {f['rows_per_s']:>10,.0f} at c{f['concurrency']} "
              f"[{f['p50_ms']:.2f} / {f['p99_ms']:.2f} ms]   ({by_c})")
    records = {p.removeprefix("edge_"): figures["records"][p]["rows_per_s"] for p in PATHS}
    return {
        "ratio_ask_edge_vs_direct": figures["ask"]["ratio_edge_grpc_vs_direct"],
        "ratio_predict_edge_vs_direct": figures["predict"]["ratio_edge_grpc_vs_direct"],
        "ratio_ask_rest_vs_direct": figures["ask"]["ratio_edge_rest_vs_direct"],
        "ratio_predict_rest_vs_direct": figures["predict"]["ratio_edge_rest_vs_direct"],
        "rows_per_s_records_1000": {"direct": records["direct"], "rest": records["rest"], "edge_grpc": records["grpc"]},
        "rows_per_s_records_1000_direct": records["direct"],
        "rows_per_s_records_1000_rest": records["rest"],
        "target_ratio": 0.7,
        "target_rows_per_s_records_1000_direct": 125_000,
        "headline": "edge = Envoy gRPC over mTLS vs direct gRPC over mTLS to the service, same client and "
                    f"concurrency ({CONCURRENCY}); ext_authz off (edge_authz=False), rate limit on but never reached",
        "ask": figures["ask"],
        "predict": figures["predict"],
        "records": figures["records"],
        "request_bytes": figures["request_bytes"],
        "concurrency": CONCURRENCY,
        "rest_threads": REST_THREADS,
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
