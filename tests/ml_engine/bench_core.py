"""Timing of the training core against bare scikit-learn + skl2onnx on the same data.

    .venv/bin/python -m tests.ml_engine.bench_core [REPEATS] [lr|rf|text ...]

For each case: the bare fit and skl2onnx conversion of the same estimator (same
hyperparameters, numpy input, one input tensor), then trainer.train() on the same data
as a Dataset of rows (with its stage timings), then train_in_child() (fork server warm).
Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import asyncio
import sys
import time

import numpy as np


def tabular(rows: int = 100_000, features: int = 20):
    from sklearn.datasets import make_classification

    from servers.contracts.ml.spec import Dataset

    x, y = make_classification(n_samples=rows, n_features=features, n_informative=10, random_state=0)
    x = x.astype(np.float32).astype(np.float64)
    names = tuple(f"f{i}" for i in range(features)) + ("y",)
    data = Dataset(names, [(*map(float, r), int(t)) for r, t in zip(x, y, strict=True)])
    return x, y.astype(str), data


def text(rows: int = 20_000):
    from servers.contracts.ml.spec import Dataset

    rng = np.random.default_rng(0)
    vocabulary = np.array([f"mot{i}é" for i in range(5000)], dtype=object)
    topics = {t: rng.choice(vocabulary, size=60, replace=False) for t in ("a", "b", "c", "d")}
    docs, labels = [], []
    for _ in range(rows):
        topic = str(rng.choice(list(topics)))
        words = list(rng.choice(vocabulary, size=14)) + list(rng.choice(topics[topic], size=6))
        rng.shuffle(words)
        docs.append(" ".join(words))
        labels.append(topic)
    return np.array(docs, dtype=object), np.array(labels, dtype=object), Dataset(("text", "topic"), list(zip(docs, labels, strict=True)))


def bare(case: str, x, y) -> tuple[float, float]:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from servers.contracts.ml.columns import TOKEN_PATTERN
    from workers.ml_engine.export import TARGET_OPSET
    from workers.ml_engine.features import ONNX_LOCALE, ONNX_TOKENEXP

    options: dict = {}
    if case == "lr":
        model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=1000, random_state=0))])
        types = [("x", FloatTensorType([None, x.shape[1]]))]
    elif case == "rf":
        model = Pipeline([("model", RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0, n_jobs=1))])
        types = [("x", FloatTensorType([None, x.shape[1]]))]
    else:
        model = Pipeline([("tfidf", TfidfVectorizer(token_pattern=TOKEN_PATTERN)),
                          ("model", LogisticRegression(max_iter=1000, random_state=0))])
        types = [("x", StringTensorType([None, 1]))]
    start = time.perf_counter()
    model.fit(x, y)
    fitted = time.perf_counter()
    options[id(model.steps[-1][1])] = {"zipmap": False}
    if case == "text":
        options[id(model.named_steps["tfidf"])] = {"tokenexp": ONNX_TOKENEXP, "locale": ONNX_LOCALE}
    convert_sklearn(model, initial_types=types, target_opset=TARGET_OPSET, options=options).SerializeToString()
    return fitted - start, time.perf_counter() - fitted


async def main(cases: list[str], repeats: int) -> None:
    from servers.contracts.ml.spec import Task, TrainingSpec
    from workers.ml_engine.child import train_in_child
    from workers.ml_engine.trainer import train

    from .synthetic import classification_rows

    await train_in_child(TrainingSpec("warm", Task.CLASSIFICATION, "logistic_regression", "label_text"),
                         classification_rows(100, seed=0))  # start the fork server
    for case in cases:
        x, y, data = text() if case == "text" else tabular()
        spec = {
            "lr": TrainingSpec("bench", Task.CLASSIFICATION, "logistic_regression", "y"),
            "rf": TrainingSpec("bench", Task.CLASSIFICATION, "random_forest", "y", hyperparameters={"n_estimators": 100}),
            "text": TrainingSpec("bench", Task.TEXT_CLASSIFICATION, "logistic_regression", "topic"),
        }[case]
        for _ in range(repeats):
            fit_s, convert_s = bare(case, x, y)
            start = time.perf_counter()
            result = train(spec, data)
            train_s = time.perf_counter() - start
            marks: list[float] = []
            start = time.perf_counter()
            await train_in_child(spec, data, lambda fraction, stage, marks=marks: marks.append(time.perf_counter()))
            child_s = time.perf_counter() - start
            stages = " ".join(f"{k} {v:.2f}" for k, v in result.timings_s.items())
            print(f"{case} rows={len(data)}: bare fit {fit_s:.2f} + convert {convert_s:.2f} = {fit_s + convert_s:.2f}s"
                  f" | train() {train_s:.2f}s [{stages}]"
                  f" | train_in_child() {child_s:.2f}s (start→first report {marks[0] - start:.2f}s,"
                  f" last report→result {start + child_s - marks[-1]:.2f}s)"
                  f" | onnx {len(result.onnx_model) / 1e6:.2f} MB | accuracy {result.metrics['accuracy']:.3f}",
                  flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    repeats = int(args.pop(0)) if args and args[0].isdigit() else 1
    asyncio.run(main(args or ["lr", "rf", "text"], repeats))
