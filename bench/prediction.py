"""Prediction benchmark: the prediction service against its own transport floor and
against ONNX Runtime in process, same machine, same run.

    .venv/bin/python bench/prediction.py

Trains three models with the platform's trainer (logistic regression on 20 numeric
features, a 100-tree random forest on the same features, TF-IDF + logistic regression
on short texts), uploads them to a registry run as a process (`chatdb serve registry`)
on a scratch platform database, and starts two prediction services as processes
(`chatdb serve prediction`, CHATDB_LOG_LEVEL=WARNING so the interceptor's one INFO line
per call is off): one as configured by default and one with dynamic batching switched the
other way (CHATDB_PREDICTION_BATCH_MAX_DELAY_MS 0 or 1). Measures, per model:

  (a) single-row Predict calls/s and p50/p99 latency at concurrency 1, 16 and 64;
  (b) the same server's ServerLive (KServe v2, the trivial RPC) at the same concurrency;
  (c) BatchPredict rows/s at 1,024 rows per call, the best of concurrency 1, 2 and 4:
      the tensor form (a raw_contents tensor per feature in, the output tensors out
      with PREDICTION_VIEW_OUTPUTS) is (c); the rows form (columns + rows in, a
      Prediction per row out) is printed beside it; so is the transport ceiling: the
      tensor request sent to a bare grpc.aio server that answers the service's own
      reply bytes (bench/_echo_server.py), the most any Python gRPC handler could do;
  (d) ONNX Runtime rows/s in this process on the same 1,024-row inputs (1 thread, as
      the service's default), and, for reference, records → feeds → run → answers;
  (e) Predict with 1,000 rows as records (one google.protobuf.Struct per row, the form
      REST clients send) for the logistic regression, rows/s, the best of concurrency
      1, 2 and 4: `rows_per_s_records_1000`. The client sends the request serialized
      once (as a load generator would), so the figure is the server's; the same with
      the client serializing the message on every call is printed beside it, and the
      records decoded by protobuf (a Struct and a dict per row, the path before the
      server read records from the bytes) for reference.

The machine is shared, so (a) and (b) alternate in ROUNDS rounds per concurrency and a
ratio is the median of the rounds' ratios; the servers' CPU time per call is printed
too (steadier than calls/s). Prints a table, then as the last line one JSON object:
`ratio_single_vs_floor_c64` is the worst model's (a)/(b) at concurrency 64 with the
default server (per model and concurrency under `ratios_single_vs_floor`);
`ratio_batch_vs_inprocess` is the worst model's (c)/(d) (per model under
`ratios_batch_vs_inprocess`; the ceiling's ratio to (d) under
`ratios_batch_ceiling_vs_inprocess`, (c) against the ceiling under
`ratios_batch_vs_ceiling`), and `rows_per_s_records_1000` is (e). The scratch database,
Redis prefix and artifact directory are removed at the end.

    .venv/bin/python bench/prediction.py --records-only    # (e) alone, in about a minute
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "gen"))

from _mesh import ScratchMesh, free_port  # noqa: E402
from chatdb.prediction.v1 import prediction_service_pb2 as pb  # noqa: E402
from chatdb.prediction.v1 import prediction_service_pb2_grpc as pb_grpc  # noqa: E402
from chatdb.registry.v1 import model_registry_service_pb2 as reg  # noqa: E402
from chatdb.registry.v1 import model_registry_service_pb2_grpc as reg_grpc  # noqa: E402
from chatdb.registry.v1 import model_version_pb2  # noqa: E402
from google.protobuf import struct_pb2  # noqa: E402
from inference import grpc_service_pb2 as kserve  # noqa: E402
from inference import grpc_service_pb2_grpc as kserve_grpc  # noqa: E402

CONCURRENCY = (1, 16, 64)
SECONDS = 1.5  # per single-row measurement, ROUNDS times
ROUNDS = 3
BATCH_ROWS = 1024
BATCH_SECONDS = 3.0
from servers.runtime.settings import Settings  # noqa: E402

DEFAULT_DELAY_MS = Settings.model_fields["prediction_batch_max_delay_ms"].default
OTHER_DELAY_MS = "0" if DEFAULT_DELAY_MS else "1"
DEFAULT_LABEL = f"batching {'on' if DEFAULT_DELAY_MS else 'off'}"
OTHER_LABEL = f"batching {'off' if DEFAULT_DELAY_MS else 'on'}"
BATCH_CONCURRENCY = (1, 2, 4)
RECORDS_ROWS = 1000
RECORDS_MODEL = "bench-logreg"


# --- models --------------------------------------------------------------------------------


def build_models(only: str | None = None) -> dict[str, dict]:
    """Train with the platform's trainer; keep each model's ONNX, interface and inputs."""
    from sklearn.datasets import make_classification

    from servers.contracts.ml.spec import Dataset, Task, TrainingSpec
    from workers.ml_engine.trainer import train

    x, y = make_classification(n_samples=5000, n_features=20, n_informative=10, random_state=0)
    names = [f"f{i}" for i in range(20)]
    tab = Dataset((*names, "label"), [(*map(float, r), f"c{c}") for r, c in zip(x, y, strict=True)])
    rng = np.random.default_rng(0)
    vocabulary = [f"word{i}" for i in range(3000)]
    topics = {t: rng.choice(vocabulary, size=60, replace=False) for t in "abcd"}
    docs, labels = [], []
    for _ in range(5000):
        topic = str(rng.choice(list(topics)))
        words = list(rng.choice(vocabulary, size=14)) + list(rng.choice(topics[topic], size=6))
        rng.shuffle(words)
        docs.append(" ".join(words))
        labels.append(topic)
    text = Dataset(("text", "topic"), list(zip(docs, labels, strict=True)))
    specs = {
        "bench-logreg": (TrainingSpec("bench-logreg", Task.CLASSIFICATION, "logistic_regression", "label"), tab),
        "bench-forest": (TrainingSpec("bench-forest", Task.CLASSIFICATION, "random_forest", "label",
                                      hyperparameters={"n_estimators": 100}), tab),
        "bench-text": (TrainingSpec("bench-text", Task.TEXT_CLASSIFICATION, "logistic_regression", "topic"), text),
    }
    xq = np.random.default_rng(1).normal(size=(BATCH_ROWS, 20)).astype(np.float32).astype(np.float64)
    out = {}
    for name, (spec, data) in specs.items():
        if only is not None and name != only:
            continue
        result = train(spec, data)
        if name == "bench-text":
            columns = ["text"]
            rows = [[docs[i % len(docs)]] for i in range(BATCH_ROWS)]
        else:
            columns = names
            rows = xq.tolist()
        out[name] = {"result": result, "columns": columns, "rows": rows}
    return out


def single_request(name: str, model: dict) -> pb.PredictRequest:
    record = struct_pb2.Struct()
    record.update(dict(zip(model["columns"], model["rows"][0], strict=True)))
    return pb.PredictRequest(model=name, records=[record])


def batch_request(name: str, model: dict) -> pb.BatchPredictRequest:
    """The rows form: columns + rows of values, one Prediction per row back."""
    rows = []
    for row in model["rows"]:
        value = struct_pb2.ListValue()
        value.extend(row)
        rows.append(value)
    return pb.BatchPredictRequest(model=name, columns=model["columns"], rows=rows)


def records_request(name: str, model: dict, rows: int = RECORDS_ROWS) -> pb.PredictRequest:
    """(e): `rows` records, one google.protobuf.Struct per row, as a REST client's JSON
    `{"records": [{"f0": …, …}, …]}` is transcoded."""
    records = []
    for i in range(rows):
        record = struct_pb2.Struct()
        record.update(dict(zip(model["columns"], model["rows"][i % len(model["rows"])], strict=True)))
        records.append(record)
    return pb.PredictRequest(model=name, records=records)


def batch_tensor_request(name: str, model: dict) -> pb.BatchPredictRequest:
    """The tensor form: one [n, 1] tensor per feature in raw_contents, the output
    tensors back (PREDICTION_VIEW_OUTPUTS): labels and probabilities, packed."""
    import struct as packing

    from chatdb.prediction.v1 import prediction_pb2

    tensors = []
    for i, column in enumerate(model["columns"]):
        values = [row[i] for row in model["rows"]]
        if isinstance(values[0], str):
            raw = b"".join(packing.pack("<I", len(v.encode())) + v.encode() for v in values)
            datatype = "BYTES"
        else:
            raw, datatype = np.asarray(values, dtype="<f4").tobytes(), "FP32"
        tensors.append(prediction_pb2.NamedTensor(name=column, datatype=datatype, shape=[len(values), 1],
                                                  raw_contents=raw))
    return pb.BatchPredictRequest(model=name, tensors=tensors, view=prediction_pb2.PREDICTION_VIEW_OUTPUTS)


def feeds(model: dict) -> dict[str, np.ndarray]:
    from workers.ml_engine.features import feeds_from_records

    records = [dict(zip(model["columns"], row, strict=True)) for row in model["rows"]]
    return feeds_from_records(model["result"].inputs, records)


def in_process(model: dict, threads: int = 1) -> dict[str, float]:
    """(d): ORT alone on prebuilt feeds; and records → feeds → run → answers."""
    from workers.ml_engine.features import feeds_from_records
    from workers.ml_engine.parity import session

    sess = session(model["result"].onnx_model, threads)
    prebuilt = feeds(model)
    names = [o.name for o in model["result"].outputs]
    records = [dict(zip(model["columns"], row, strict=True)) for row in model["rows"]]
    classes = model["result"].classes

    def ort_only() -> None:
        sess.run(names, prebuilt)

    def end_to_end() -> None:
        labels, probabilities = sess.run(names, feeds_from_records(model["result"].inputs, records))
        [{"label": label, "probabilities": dict(zip(classes, row, strict=True))}
         for label, row in zip(labels.tolist(), probabilities.tolist(), strict=True)]

    out = {}
    for key, fn in (("ort", ort_only), ("records_to_answers", end_to_end)):
        fn()
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < 1.5:
            fn()
            count += 1
        out[key] = count * BATCH_ROWS / (time.perf_counter() - start)
    return out


# --- processes -----------------------------------------------------------------------------


async def upload(port: int, name: str, result, credentials: grpc.ChannelCredentials | None = None) -> None:
    import hashlib

    data = result.onnx_model
    spec = model_version_pb2.ModelVersion(
        task="classification",
        inputs=[model_version_pb2.TensorSpec(name=s.name, datatype=s.datatype, shape=list(s.shape)) for s in result.inputs],
        outputs=[model_version_pb2.TensorSpec(name=s.name, datatype=s.datatype, shape=list(s.shape)) for s in result.outputs],
    )

    async def stream():
        yield reg.CreateModelVersionRequest(model=name, metadata=reg.CreateModelVersionRequest.Metadata(
            expected_sha256=hashlib.sha256(data).hexdigest(), expected_size_bytes=len(data), model_version=spec))
        for start in range(0, len(data), 256 * 1024):
            yield reg.CreateModelVersionRequest(chunk=data[start : start + 256 * 1024])

    opened = (grpc.aio.insecure_channel(f"127.0.0.1:{port}") if credentials is None
              else grpc.aio.secure_channel(f"localhost:{port}", credentials))
    async with opened as channel:
        await reg_grpc.ModelRegistryServiceStub(channel).CreateModelVersion(stream(), timeout=60)


# --- load ----------------------------------------------------------------------------------


async def closed_loop(call, request, concurrency: int, seconds: float) -> dict[str, float]:
    """`concurrency` tasks each calling back to back for `seconds`; calls/s, p50, p99."""
    latencies: list[float] = []
    failures = 0
    stop_at = float("inf")  # set once the warm-up is done

    async def worker() -> None:
        nonlocal failures
        while True:
            start = time.perf_counter()
            if start >= stop_at:
                return
            try:
                await call(request)
            except grpc.aio.AioRpcError:
                failures += 1
            latencies.append(time.perf_counter() - start)

    for _ in range(min(concurrency, 8) * 20):  # warm up the channel and the server
        await call(request)
    begin = time.perf_counter()
    # The window starts after the warm-up: on a loaded machine 160 BatchPredict calls
    # took longer than the window, which then held no call (IndexError below).
    stop_at = begin + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - begin
    latencies.sort()
    if failures:
        raise SystemExit(f"{failures} calls failed")
    return {
        "calls": len(latencies) + min(concurrency, 8) * 20,  # with the warm-up, for CPU per call
        "calls_per_s": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(port: int, pid: int, models: dict[str, dict]) -> tuple[dict, dict]:
    """(a) and (b) on one server. The machine is shared and noisy, so each concurrency
    runs ROUNDS rounds of ServerLive, then each model, back to back; a figure is the
    median over the rounds, and the ratio is the median of the rounds' ratios. The
    server's CPU time per call is recorded too (less sensitive to other load)."""
    options = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        predict = pb_grpc.PredictionServiceStub(channel).Predict
        live = kserve_grpc.GRPCInferenceServiceStub(channel).ServerLive
        targets = {"ServerLive": (live, kserve.ServerLiveRequest())}
        targets.update({name: (predict, single_request(name, model)) for name, model in models.items()})
        runs: dict[str, dict[str, list[dict]]] = {name: {} for name in targets}
        for c in CONCURRENCY:
            for _ in range(ROUNDS):
                for name, (call, request) in targets.items():
                    before = cpu_seconds(pid)
                    result = await closed_loop(call, request, c, SECONDS)
                    result["server_cpu_us_per_call"] = (cpu_seconds(pid) - before) / result["calls"] * 1e6
                    runs[name].setdefault(f"c{c}", []).append(result)
    floor = {key: _median_run(rounds) for key, rounds in runs.pop("ServerLive").items()}
    single = {}
    for name, by_c in runs.items():
        single[name] = {}
        for key, rounds in by_c.items():
            summary = _median_run(rounds)
            live_rounds = floor[key]["rounds"]
            summary["ratio"] = statistics.median(
                r["calls_per_s"] / lr["calls_per_s"] for r, lr in zip(rounds, live_rounds, strict=True))
            single[name][key] = summary
    return single, floor


def _median_run(rounds: list[dict]) -> dict:
    out = {k: statistics.median(r[k] for r in rounds) for k in ("calls_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_call")}
    out["rounds"] = rounds
    return out


async def measure_batch(port: int, models: dict[str, dict], work: Path) -> dict[str, dict]:
    """(c): BatchPredict of 1,024 rows in rows/s, the best of concurrency 1, 2 and 4, in
    each form: tensors in, output tensors out (the figure (c)), and rows in, one
    Prediction per row out. Beside (c), the transport ceiling: the same tensor request
    sent to a bare grpc.aio server (bench/_echo_server.py) that answers with the bytes
    the service answered, measured right after (c) for each model."""
    options = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
    out: dict[str, dict] = {}
    replies = work / "replies"
    replies.mkdir()
    echo_port = free_port()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        batch = pb_grpc.PredictionServiceStub(channel).BatchPredict
        requests = {}
        for name, model in models.items():
            requests[name] = {"tensors": batch_tensor_request(name, model), "rows": batch_request(name, model)}
            for form, request in requests[name].items():
                reply = await batch(request, timeout=60)
                answered = reply.outputs[0].shape[0] if form == "tensors" else len(reply.predictions)
                assert answered == BATCH_ROWS, (form, answered)
                if form == "tensors":
                    (replies / f"{name}.bin").write_bytes(reply.SerializeToString())
        echo = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "bench" / "_echo_server.py"), str(echo_port), str(replies))
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{echo_port}", options=options) as echo_channel:
                ceiling = pb_grpc.PredictionServiceStub(echo_channel).BatchPredict
                await ceiling(requests[next(iter(models))]["tensors"], timeout=30, wait_for_ready=True)
                for name in models:
                    out[name] = {}
                    for form, call in (("tensors", batch), ("ceiling", ceiling), ("rows", batch)):
                        request = requests[name]["rows" if form == "rows" else "tensors"]
                        runs = {c: await closed_loop(call, request, c, BATCH_SECONDS) for c in BATCH_CONCURRENCY}
                        best = max(runs, key=lambda c: runs[c]["calls_per_s"])
                        figures = {
                            "rows_per_s": runs[best]["calls_per_s"] * BATCH_ROWS, "concurrency": best,
                            "p50_ms": runs[best]["p50_ms"],
                            "rows_per_s_by_concurrency": {f"c{c}": r["calls_per_s"] * BATCH_ROWS for c, r in runs.items()},
                        }
                        if form == "tensors":
                            out[name].update(figures)
                        else:
                            out[name][f"{form}_form" if form == "rows" else form] = figures
        finally:
            echo.terminate()
            await echo.wait()
    return out


async def measure_records(port: int, models: dict[str, dict]) -> dict:
    """(e): Predict of RECORDS_ROWS records, rows/s, the best of BATCH_CONCURRENCY, with
    the request serialized once (`rows_per_s`), by the stub on every call
    (`client_serializes`), and laid out so that protobuf decodes it (`protobuf_path`)."""
    options = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
    request = records_request(RECORDS_MODEL, models[RECORDS_MODEL])
    data = request.SerializeToString()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        typed = pb_grpc.PredictionServiceStub(channel).Predict
        raw = channel.unary_unary("/chatdb.prediction.v1.PredictionService/Predict",
                                  request_serializer=lambda b: b, response_deserializer=pb.PredictResponse.FromString)
        reply = await raw(data, timeout=60)
        assert len(reply.predictions) == RECORDS_ROWS, len(reply.predictions)
        out: dict = {"model": RECORDS_MODEL, "rows": RECORDS_ROWS, "request_bytes": len(data)}
        # The same message with the model's name also between the first two records:
        # protobuf reads the same request, the server's fast path leaves it to protobuf
        # (a Struct and a dict per row, as before it existed). For reference.
        first = pb.PredictRequest(records=request.records[:1]).SerializeToString()
        rest = pb.PredictRequest(model=RECORDS_MODEL, records=request.records[1:]).SerializeToString()
        apart = first + rest
        assert pb.PredictRequest.FromString(apart) == request
        for key, call, payload in (("rows_per_s", raw, data), ("client_serializes", typed, request),
                                   ("protobuf_path", raw, apart)):
            runs = {c: await closed_loop(call, payload, c, BATCH_SECONDS) for c in BATCH_CONCURRENCY}
            best = max(runs, key=lambda c: runs[c]["calls_per_s"])
            figures = {
                "rows_per_s": runs[best]["calls_per_s"] * RECORDS_ROWS, "concurrency": best,
                "p50_ms": runs[best]["p50_ms"], "p99_ms": runs[best]["p99_ms"],
                "rows_per_s_by_concurrency": {f"c{c}": r["calls_per_s"] * RECORDS_ROWS for c, r in runs.items()},
            }
            if key == "rows_per_s":
                out.update(figures)
            else:
                out[key] = figures
    return out


def records_table(records: dict) -> None:
    print(f"\n(e) Predict, {records['rows']:,} rows as records (one Struct per row), {records['model']}, "
          f"rows/s [p50 / p99 ms], best of concurrency {', '.join(map(str, BATCH_CONCURRENCY))}")
    for label, figures in (("request serialized once", records),
                           ("client serializes each call", records["client_serializes"]),
                           ("protobuf path (as before)", records["protobuf_path"])):
        by_c = "  ".join(f"{k} {v:,.0f}" for k, v in figures["rows_per_s_by_concurrency"].items())
        print(f"  {label:28} {figures['rows_per_s']:>12,.0f} at c{figures['concurrency']} "
              f"[{figures['p50_ms']:.2f} / {figures['p99_ms']:.2f}]   ({by_c})")


# --- report --------------------------------------------------------------------------------


def table(models, single, floor, single_batched, floor_batched, batch, local) -> None:
    print(f"\n(a) single-row Predict vs (b) ServerLive, calls/s [p50 / p99 ms]; CHATDB_LOG_LEVEL=WARNING; "
          f"default server ({DEFAULT_LABEL}), then the other setting ({OTHER_LABEL})")
    print(f"{'model':14} {'conc':>4} {'Predict':>26} {'ServerLive':>26} {'(a)/(b)':>8} "
          f"{OTHER_LABEL:>26} {'(a)/(b)':>8}")
    for c in CONCURRENCY:
        key = f"c{c}"
        for name in models:
            s, f = single[name][key], floor[key]
            sb = single_batched[name][key]
            print(f"{name:14} {c:>4} {_fmt(s):>26} {_fmt(f):>26} {s['ratio']:>8.2f} "
                  f"{_fmt(sb):>26} {sb['ratio']:>8.2f}")
    print(f"\nserver CPU per call, µs (ServerLive / Predict per model), default server ({DEFAULT_LABEL})")
    for c in CONCURRENCY:
        key = f"c{c}"
        cells = " ".join(f"{name} {single[name][key]['server_cpu_us_per_call']:5.0f}" for name in models)
        print(f"  c{c:<3} ServerLive {floor[key]['server_cpu_us_per_call']:5.0f}   {cells}")
    print(f"\n(c) BatchPredict {BATCH_ROWS} rows/call vs (d) ONNX Runtime in process, rows/s")
    print("    (c): tensors in raw_contents, PREDICTION_VIEW_OUTPUTS; rows form: columns + rows, a Prediction per row")
    print("    ceiling: the same request to a bare grpc.aio server answering the same bytes (bench/_echo_server.py)")
    print(f"{'model':14} {'(c) tensors':>14} {'ORT (d)':>14} {'(c)/(d)':>8} {'ceiling':>14} {'ceil/(d)':>9} "
          f"{'(c)/ceil':>9} {'rows form':>14} {'/(d)':>6} {'ORT 2 thr':>14} {'in-proc records→answers':>24}")
    for name in models:
        b, d = batch[name]["rows_per_s"], local[name]
        r = batch[name]["rows_form"]["rows_per_s"]
        top = batch[name]["ceiling"]["rows_per_s"]
        print(f"{name:14} {b:>14,.0f} {d['ort']:>14,.0f} {b / d['ort']:>8.3f} {top:>14,.0f} {top / d['ort']:>9.3f} "
              f"{b / top:>9.3f} {r:>14,.0f} {r / d['ort']:>6.3f} "
              f"{d['ort_2_threads']:>14,.0f} {d['records_to_answers']:>24,.0f}")


def _fmt(r: dict) -> str:
    return f"{r['calls_per_s']:7,.0f} [{r['p50_ms']:5.2f} / {r['p99_ms']:5.2f}]"


async def records_only() -> None:
    """`--records-only`: (e) alone, on one default server."""
    work = Path(tempfile.mkdtemp(prefix="chatdb-bench-prediction-"))
    print("training the logistic regression with the platform's trainer ...", flush=True)
    models = {RECORDS_MODEL: build_models(only=RECORDS_MODEL)[RECORDS_MODEL]}
    mesh = ScratchMesh(work, ports=("registry",))
    try:
        await asyncio.to_thread(mesh.migrate)
        mesh.spawn("registry", ["serve", "registry"])
        await mesh.wait_serving(mesh.ports["registry"])
        await upload(mesh.ports["registry"], RECORDS_MODEL, models[RECORDS_MODEL]["result"])
        port = free_port()
        mesh.spawn("prediction", ["serve", "prediction", "--port", str(port)])
        await mesh.wait_serving(port)
        print("measuring Predict with records ...", flush=True)
        records = await measure_records(port, models)
    finally:
        await mesh.stop()
        shutil.rmtree(work, ignore_errors=True)
    records_table(records)
    print(json.dumps({"rows_per_s_records_1000": records["rows_per_s"], "records": records,
                      "cpus": os.cpu_count()}, separators=(",", ":")))


async def main() -> None:
    if "--records-only" in sys.argv[1:]:
        await records_only()
        return
    work = Path(tempfile.mkdtemp(prefix="chatdb-bench-prediction-"))
    print("training the models with the platform's trainer ...", flush=True)
    models = build_models()
    mesh = ScratchMesh(work, ports=("registry",))
    try:
        await asyncio.to_thread(mesh.migrate)
        mesh.spawn("registry", ["serve", "registry"])
        await mesh.wait_serving(mesh.ports["registry"])
        for name, model in models.items():
            await upload(mesh.ports["registry"], name, model["result"])  # first version: production
        plain, batched = free_port(), free_port()
        mesh.spawn("prediction", ["serve", "prediction", "--port", str(plain)])
        mesh.spawn("prediction-other", ["serve", "prediction", "--port", str(batched)],
                   CHATDB_PREDICTION_BATCH_MAX_DELAY_MS=OTHER_DELAY_MS)
        await mesh.wait_serving(plain)
        await mesh.wait_serving(batched)
        print(f"measuring single rows (default server: {DEFAULT_LABEL}) ...", flush=True)
        single, floor = await measure(plain, mesh.procs[1].pid, models)
        print(f"measuring single rows ({OTHER_LABEL}) ...", flush=True)
        single_batched, floor_batched = await measure(batched, mesh.procs[2].pid, models)
        print("measuring BatchPredict ...", flush=True)
        batch = await measure_batch(plain, models, work)
        print("measuring Predict with records ...", flush=True)
        records = await measure_records(plain, models)
    finally:
        await mesh.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("measuring ONNX Runtime in process ...", flush=True)
    local = {}
    for name, model in models.items():
        local[name] = in_process(model)
        local[name]["ort_2_threads"] = in_process(model, threads=2)["ort"]

    table(models, single, floor, single_batched, floor_batched, batch, local)
    records_table(records)
    ratios = {name: {key: single[name][key]["ratio"] for key in floor} for name in models}
    ratios_batched = {name: {key: single_batched[name][key]["ratio"] for key in floor_batched} for name in models}
    cpu_ratios = {name: {key: floor[key]["server_cpu_us_per_call"] / single[name][key]["server_cpu_us_per_call"]
                         for key in floor} for name in models}
    batch_ratios = {name: batch[name]["rows_per_s"] / local[name]["ort"] for name in models}
    summary = {
        "ratio_single_vs_floor_c64": min(r["c64"] for r in ratios.values()),
        "ratio_single_vs_floor_c64_headline": f"worst of the three models, default server ({DEFAULT_LABEL}); "
                                              "median over rounds of Predict calls/s / ServerLive calls/s",
        "ratio_batch_vs_inprocess": min(batch_ratios.values()),
        "ratio_batch_vs_inprocess_headline": "worst of the three models; (c) is the tensor form "
                                             "(raw_contents in, PREDICTION_VIEW_OUTPUTS out), (d) ORT alone "
                                             "on prebuilt feeds",
        "rows_per_s_records_1000": records["rows_per_s"],
        "rows_per_s_records_1000_headline": f"Predict of {RECORDS_ROWS:,} records (one Struct per row) to "
                                            f"{RECORDS_MODEL}, direct, request serialized once, best of "
                                            f"concurrency {', '.join(map(str, BATCH_CONCURRENCY))}",
        "records": records,
        "ratios_single_vs_floor": ratios,
        "ratios_single_vs_floor_other_setting": ratios_batched,
        "other_setting": OTHER_LABEL,
        "ratios_single_vs_floor_server_cpu": cpu_ratios,
        "ratios_batch_vs_inprocess": batch_ratios,
        "ratios_batch_ceiling_vs_inprocess": {
            name: batch[name]["ceiling"]["rows_per_s"] / local[name]["ort"] for name in models},
        "ratios_batch_vs_ceiling": {
            name: batch[name]["rows_per_s"] / batch[name]["ceiling"]["rows_per_s"] for name in models},
        "ratios_batch_rows_form_vs_inprocess": {
            name: batch[name]["rows_form"]["rows_per_s"] / local[name]["ort"] for name in models},
        "ratios_batch_vs_inprocess_records_to_answers": {
            name: batch[name]["rows_per_s"] / local[name]["records_to_answers"] for name in models},
        "single": single,
        "floor": floor,
        "single_other_setting": single_batched,
        "floor_other_setting": floor_batched,
        "batch": batch,
        "in_process": local,
        "log_level": "WARNING",
        "cpus": os.cpu_count(),
    }
    for group in (single, single_batched):
        for by_c in group.values():
            for figures in by_c.values():
                figures.pop("rounds", None)
    for group in (floor, floor_batched):
        for figures in group.values():
            figures.pop("rounds", None)
    print(json.dumps(summary, separators=(",", ":")))


if __name__ == "__main__":
    asyncio.run(main())
