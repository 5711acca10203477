"""Training benchmark: wall time from CreateTrainingJob to a downloadable model version,
against in-process scikit-learn fit + skl2onnx convert on the same data, same run.

    .venv/bin/python bench/training.py

Runs the registry, the orchestrator and one worker as real processes on a scratch
platform database and Redis prefix (both removed afterwards). Cases: 100,000 rows x 20
numeric features (logistic regression) and 20,000 short texts (TF-IDF + logistic
regression). Prints a table, then one JSON line with overhead_s_tabular and
overhead_s_text (platform seconds minus in-process seconds).
"""

from __future__ import annotations

import asyncio
import csv
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _mesh import ScratchMesh  # noqa: E402
from chatdb.registry.v1 import model_registry_service_pb2 as reg_pb  # noqa: E402
from chatdb.registry.v1 import model_registry_service_pb2_grpc  # noqa: E402
from chatdb.training.v1 import job_state_pb2 as states  # noqa: E402
from chatdb.training.v1 import training_job_pb2 as job_pb  # noqa: E402
from chatdb.training.v1 import training_service_pb2 as pb  # noqa: E402
from chatdb.training.v1 import training_service_pb2_grpc  # noqa: E402

REPEATS = 3


def tabular(rows: int = 100_000, features: int = 20):
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=rows, n_features=features, n_informative=10, random_state=0)
    x = x.astype(np.float32)
    return x, np.array([f"c{v}" for v in y], dtype=object)


def texts(rows: int = 20_000):
    rng = np.random.default_rng(0)
    vocabulary = np.array([f"word{i}" for i in range(5000)], dtype=object)
    topics = {t: rng.choice(vocabulary, size=60, replace=False) for t in ("a", "b", "c", "d")}
    docs, labels = [], []
    for _ in range(rows):
        topic = str(rng.choice(list(topics)))
        words = list(rng.choice(vocabulary, size=14)) + list(rng.choice(topics[topic], size=6))
        rng.shuffle(words)
        docs.append(" ".join(words))
        labels.append(topic)
    return np.array(docs, dtype=object), np.array(labels, dtype=object)


def in_process(case: str, x, y) -> float:
    """Bare scikit-learn fit + skl2onnx conversion of the estimator the platform uses."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from servers.contracts.ml.columns import TOKEN_PATTERN
    from workers.ml_engine.export import TARGET_OPSET
    from workers.ml_engine.features import ONNX_LOCALE, ONNX_TOKENEXP

    start = time.perf_counter()
    if case == "tabular":
        model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=1000))])
        model.fit(x, y)
        types = [("x", FloatTensorType([None, x.shape[1]]))]
        options = {id(model.steps[-1][1]): {"zipmap": False}}
    else:
        model = Pipeline([("tfidf", TfidfVectorizer(token_pattern=TOKEN_PATTERN)), ("model", LogisticRegression(max_iter=1000))])
        model.fit(x, y)
        types = [("x", StringTensorType([None, 1]))]
        options = {id(model.steps[-1][1]): {"zipmap": False},
                   id(model.named_steps["tfidf"]): {"tokenexp": ONNX_TOKENEXP, "locale": ONNX_LOCALE}}
    convert_sklearn(model, initial_types=types, target_opset=TARGET_OPSET, options=options).SerializeToString()
    return time.perf_counter() - start


def write_csv(path: Path, header, rows) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


async def through_platform(mesh: ScratchMesh, job: job_pb.TrainingJob) -> tuple[float, job_pb.TrainingJob]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports['training']}") as channel, \
            grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports['registry']}") as reg_channel:
        training = training_service_pb2_grpc.TrainingServiceStub(channel)
        registry = model_registry_service_pb2_grpc.ModelRegistryServiceStub(reg_channel)
        start = time.perf_counter()
        created = (await training.CreateTrainingJob(pb.CreateTrainingJobRequest(training_job=job), timeout=120)).training_job
        async for message in training.WatchTrainingJob(pb.WatchTrainingJobRequest(job_id=created.job_id), timeout=600):
            done = message.training_job
        if done.state != states.JOB_STATE_SUCCEEDED:
            raise SystemExit(f"job ended {states.JobState.Name(done.state)}: {done.error.message}")
        size = 0
        async for chunk in registry.DownloadModelVersion(
            reg_pb.DownloadModelVersionRequest(model=job.model_name, version=done.model_version.version), timeout=60
        ):
            size += len(chunk.chunk)
        assert size > 0
        return time.perf_counter() - start, done


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="chatdb-bench-training-"))
    (work / "data").mkdir()
    x_tab, y_tab = tabular()
    x_txt, y_txt = texts()
    write_csv(work / "data" / "tabular.csv", [f"f{i}" for i in range(x_tab.shape[1])] + ["label"],
              ([*(f"{v:.6g}" for v in row), label] for row, label in zip(x_tab, y_tab, strict=True)))
    write_csv(work / "data" / "text.csv", ["text", "topic"], zip(x_txt, y_txt, strict=True))
    jobs = {
        "tabular": job_pb.TrainingJob(model_name="bench-tabular", task=job_pb.TASK_CLASSIFICATION,
                                      algorithm="logistic_regression", target="label",
                                      dataset=job_pb.Dataset(csv_path="tabular.csv")),
        "text": job_pb.TrainingJob(model_name="bench-text", task=job_pb.TASK_TEXT_CLASSIFICATION,
                                   algorithm="logistic_regression", target="topic",
                                   dataset=job_pb.Dataset(csv_path="text.csv")),
    }
    mesh = ScratchMesh(work, ports=("registry", "training", "worker"))
    mesh.migrate()
    for name, args in (("registry", ["serve", "registry"]), ("training", ["serve", "training"]), ("worker", ["worker"])):
        mesh.spawn(name, args)
    results: dict[str, dict[str, float]] = {}
    try:
        await mesh.wait_serving()
        await through_platform(mesh, jobs["text"])  # warm-up: imports, fork server, pools
        for case in ("tabular", "text"):
            x, y = (x_tab, y_tab) if case == "tabular" else (x_txt, y_txt)
            local, remote = [], []
            for _ in range(REPEATS):  # interleaved, so machine noise hits both alike
                local.append(in_process(case, x, y))
                seconds, _ = await through_platform(mesh, jobs[case])
                remote.append(seconds)
            results[case] = {"in_process_s": float(np.median(local)), "platform_s": float(np.median(remote))}
    finally:
        await mesh.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"median of {REPEATS} interleaved runs; platform = CreateTrainingJob → SUCCEEDED → version downloaded")
    print(f"{'dataset':28} {'in-process fit+convert':>24} {'platform':>10} {'overhead':>10}")
    labels = {"tabular": "tabular 100,000 x 20 (LR)", "text": "text 20,000 docs (TF-IDF+LR)"}
    for case, r in results.items():
        print(f"{labels[case]:28} {r['in_process_s']:>23.2f}s {r['platform_s']:>9.2f}s {r['platform_s'] - r['in_process_s']:>+9.2f}s")
    figures = {
        "overhead_s_tabular": round(results["tabular"]["platform_s"] - results["tabular"]["in_process_s"], 3),
        "overhead_s_text": round(results["text"]["platform_s"] - results["text"]["in_process_s"], 3),
        **{f"{case}_{k}": round(v, 3) for case, r in results.items() for k, v in r.items()},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
