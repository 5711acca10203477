"""One training, in process: plan → load → split → fit → evaluate → export → verify.

    result = train(spec, dataset, progress=lambda fraction, stage: ...)

Stages are reported through `progress(fraction, stage)` with fraction in [0, 1] and stage
one of STAGES; fitting reports intermediate fractions for tree ensembles. The caller
that must stay responsive runs this in a child process (child.py).

Class labels are turned into text before fitting (columns.as_text: 1 → "1",
True → "true"), so the ONNX "label" output is always a string tensor and `classes`
(scikit-learn's sorted order, the column order of "probabilities") is unambiguous.
"""

from __future__ import annotations

import math
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from servers.contracts.ml.columns import as_texts, present_indices
from servers.contracts.ml.spec import (
    PROBABILITIES_OUTPUT,
    Dataset,
    Task,
    TensorSpec,
    TrainingSpec,
    fingerprint_columns,
    is_array,
    plain_values,
    value_types,
)
from servers.contracts.ml.validation import Plan, plan
from servers.runtime.errors import FieldViolation, InvalidArgument

from .export import Exported, metadata_for, to_onnx
from .features import FeatureData, preprocessor
from .metrics import anomaly_metrics, classification_metrics, regression_metrics
from .parity import DEFAULT_THRESHOLDS, ParityReport, ParityThresholds, Reference, check_parity

Progress = Callable[[float, str], None]
STAGES = ("loading", "splitting", "fitting", "evaluating", "exporting", "verifying")
# Where each stage starts on the 0–1 scale (fitting takes most of the time).
_STAGE_START = {"loading": 0.0, "splitting": 0.05, "fitting": 0.1, "evaluating": 0.8,
                "exporting": 0.85, "verifying": 0.92}
_FIT_STEPS = 10  # a forest is grown in this many chunks to report progress


def _no_progress(fraction: float, stage: str) -> None:
    return None


@dataclass(frozen=True)
class TrainResult:
    onnx_model: bytes
    metrics: dict[str, float]
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    classes: list[str] | None  # classifiers: labels as text, in "probabilities" column order
    dataset_fingerprint: str
    library_versions: dict[str, str]
    parity: ParityReport
    features: tuple[str, ...] = ()
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # defaults filled in
    train_rows: int = 0
    test_rows: int = 0
    timings_s: dict[str, float] = field(default_factory=dict)  # seconds per stage
    warnings: list[str] = field(default_factory=list)  # e.g. convergence, dropped rows


@dataclass
class Trained:
    """A training with its in-memory artifacts (tests compare sklearn and ONNX with it)."""

    result: TrainResult
    pipeline: Any
    plan: Plan


def library_versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import skl2onnx
    import sklearn

    return {
        "sklearn": sklearn.__version__,
        "skl2onnx": skl2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def train(
    spec: TrainingSpec,
    dataset: Dataset,
    progress: Progress = _no_progress,
    *,
    threads: int = 1,
    parity: ParityThresholds = DEFAULT_THRESHOLDS,
) -> TrainResult:
    """Train, evaluate, export and verify; raises InvalidArgument (bad spec for this
    dataset) or ParityError (the ONNX model does not reproduce scikit-learn)."""
    return run(spec, dataset, progress, threads=threads, parity=parity).result


def run(
    spec: TrainingSpec,
    dataset: Dataset,
    progress: Progress = _no_progress,
    *,
    threads: int = 1,
    parity: ParityThresholds = DEFAULT_THRESHOLDS,
    tokenizer_options: dict[str, Any] | None = None,
) -> Trained:
    notes: list[str] = []
    stages = _Stages(progress)
    stage = stages.enter

    stage("loading")
    loaded = _load(spec, dataset, notes)
    the_plan, data, y = loaded.plan, loaded.data, loaded.y

    stage("splitting")
    split = _split_classes(spec, y, loaded.classify, notes)
    train_rows, test_rows = split.train_rows, split.test_rows

    stage("fitting")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipeline = _fit(the_plan, data, train_rows, y[train_rows], spec.seed, threads, progress)

        stage("evaluating")
        classes, metrics, reference = _evaluate(pipeline, loaded, split)

        stage("exporting")
        exported = _export(spec, pipeline, loaded, classes, tokenizer_options)
    notes.extend(_describe(caught))

    stage("verifying")
    report = check_parity(
        exported.onnx_model, data.feeds(test_rows), reference, the_plan.algorithm.output, parity, threads,
    )
    stages.finish()

    result = TrainResult(
        onnx_model=exported.onnx_model,
        metrics=metrics,
        inputs=exported.inputs,
        outputs=exported.outputs,
        classes=classes,
        dataset_fingerprint=loaded.fingerprint,
        library_versions=library_versions(),
        parity=report,
        features=the_plan.features,
        hyperparameters=dict(the_plan.hyperparameters),
        train_rows=len(train_rows),
        test_rows=len(test_rows),
        timings_s={k: round(v, 4) for k, v in stages.timings.items()},
        warnings=notes,
    )
    return Trained(result, pipeline, the_plan)


@dataclass
class _Loaded:
    """The dataset planned, fingerprinted and encoded: what the later stages work on."""

    plan: Plan
    fingerprint: str
    data: FeatureData
    y: np.ndarray  # the target of the rows that have one: text labels, or floats
    classify: bool


def _load(spec: TrainingSpec, dataset: Dataset, notes: list[str]) -> _Loaded:
    # One pass over the values for each of: transposing, typing, packing (fingerprint);
    # columns packed for the fingerprint become the numeric features without another.
    column_values = list(dataset.column_values())
    types = [value_types(values) for values in column_values]
    if spec.target and spec.target in dataset.columns:  # the one column whose values are looked at one by one
        where = dataset.columns.index(spec.target)
        column_values[where] = plain_values(column_values[where])
    the_plan = plan(spec, dataset.columns, dataset.rows, column_values, types)
    notes.extend(the_plan.notes)
    packed: dict[int, Any] = {}
    fingerprint = fingerprint_columns(dataset.columns, len(dataset), column_values, types, packed)
    columns = dict(zip(dataset.columns, column_values, strict=True))
    columns.update((dataset.columns[i], array) for i, array in packed.items())
    if not the_plan.task.has_target:  # anomaly detection: every row, no target
        kept = np.arange(len(dataset))
        return _Loaded(the_plan, fingerprint, _encode(the_plan, columns, kept), np.zeros(len(kept)), False)
    target_values = columns[spec.target]
    where = present_indices(target_values, types[dataset.columns.index(spec.target)])
    kept = np.arange(len(target_values)) if where is None else np.array(where, dtype=np.intp)
    if len(kept) < len(target_values):
        notes.append(f"{len(target_values) - len(kept)} row(s) without a target value left out")
    classify = the_plan.task.is_classification
    if classify:
        y = np.empty(len(kept), dtype=object)
        y[:] = as_texts(target_values if len(kept) == len(target_values) else [target_values[i] for i in kept])
    else:
        y = np.array(target_values, dtype=np.float64)[kept]
    return _Loaded(the_plan, fingerprint, _encode(the_plan, columns, kept), y, classify)


def _export(
    spec: TrainingSpec, pipeline: Any, loaded: _Loaded, classes: list[str] | None, tokenizer_options: dict[str, Any] | None
) -> Exported:
    the_plan = loaded.plan
    return to_onnx(
        pipeline, loaded.data, output=the_plan.algorithm.output, classes=classes,
        tokenizer_options=tokenizer_options,
        metadata=metadata_for(
            model_name=spec.model_name, task=the_plan.task.value, algorithm=spec.algorithm,
            target=spec.target, features=list(the_plan.features), classes=classes,
            dataset_fingerprint=loaded.fingerprint,
        ),
    )


@dataclass
class _Split:
    train_rows: np.ndarray
    test_rows: np.ndarray
    all_classes: np.ndarray | None  # classifiers: every class of the dataset, sorted
    codes: np.ndarray | None  # classifiers: each row's class as an index into all_classes


def _split_classes(spec: TrainingSpec, y: np.ndarray, classify: bool, notes: list[str]) -> _Split:
    # Classes as integer codes: sorting the text labels once, not in every sklearn helper.
    all_classes, codes = np.unique(y, return_inverse=True) if classify else (None, None)
    train_rows, test_rows, split_note = _split(len(y), codes, spec)
    if split_note:
        notes.append(split_note)
    if codes is not None and np.unique(codes[train_rows]).size < 2:
        raise InvalidArgument.from_violations([FieldViolation(
            "target", "the training split holds a single class; add rows of the other classes")])
    return _Split(train_rows, test_rows, all_classes, codes)


def _evaluate(pipeline: Any, loaded: _Loaded, split: _Split) -> tuple[list[str] | None, dict[str, float], Reference]:
    """The model's classes, its metrics on the test rows, and the predictions the ONNX
    model must reproduce."""
    test_rows = split.test_rows
    x_test = loaded.data.matrix(test_rows)
    if not loaded.plan.task.has_target:
        scores = -pipeline.score_samples(x_test)
        flagged = (pipeline.predict(x_test) == -1).astype(np.int64)
        threshold = -float(pipeline.steps[-1][1].offset_)
        metrics = anomaly_metrics(scores, flagged, threshold)
        # How many rows it learnt from: Ask retrains a table's model when the table's
        # row count has moved away from it (gateway/anomalies.py).
        metrics["dataset_rows"] = float(len(loaded.y))
        return None, metrics, Reference(scores, flagged)
    if not loaded.classify:
        predicted = pipeline.predict(x_test)
        return None, regression_metrics(loaded.y[test_rows], predicted), Reference(predicted)
    classes = [str(c) for c in pipeline.classes_]
    labels = pipeline.predict(x_test)
    if loaded.plan.algorithm.output == PROBABILITIES_OUTPUT:
        probabilities = pipeline.predict_proba(x_test)
        values = probabilities
    else:
        probabilities = None
        values = pipeline.decision_function(x_test).reshape(len(test_rows), -1)
    # Codes index every class of the dataset; the model knows those of its
    # training split (all of them but when a class is too rare to be stratified).
    index = {label: i for i, label in enumerate(split.all_classes)}
    known_all = len(index) == len(classes or ())
    metrics = classification_metrics(
        split.codes[test_rows], np.array([index[label] for label in labels]), len(index),
        probabilities if known_all else None)
    return classes, metrics, Reference(values, np.asarray(labels))


class _Stages:
    """Reports each stage as it starts and times it."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}
        self.current = ""
        self.since = time.perf_counter()

    def enter(self, name: str) -> None:
        self._close()
        self.current = name
        self.progress(_STAGE_START[name], name)

    def finish(self) -> None:
        self._close()
        self.progress(1.0, self.current)

    def _close(self) -> None:
        now = time.perf_counter()
        if self.current:
            self.timings[self.current] = now - self.since
        self.since = now


def _encode(the_plan: Plan, columns: dict[str, Any], kept: np.ndarray) -> FeatureData:
    full = len(kept) == len(next(iter(columns.values()), ()))
    selected = [
        values if full else values[kept] if is_array(values) else [values[i] for i in kept]
        for values in (columns[name] for name in the_plan.features)
    ]
    return FeatureData.encode(
        the_plan.features, the_plan.feature_kinds, selected, text=the_plan.task is Task.TEXT_CLASSIFICATION,
    )


def _split(n: int, codes: np.ndarray | None, spec: TrainingSpec) -> tuple[np.ndarray, np.ndarray, str]:
    """Train and test row indices; stratified on the class (`codes`) when every class can be."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(n)
    n_test = math.ceil(n * spec.test_fraction)
    stratify = None
    note = ""
    if codes is not None:
        counts = np.bincount(codes)
        if counts.min() >= 2 and n_test >= len(counts) and n - n_test >= len(counts):
            stratify = codes
        else:
            note = "test split not stratified: too few rows of some class"
    train_rows, test_rows = train_test_split(
        indices, test_size=spec.test_fraction, random_state=spec.seed, stratify=stratify,
    )
    return np.sort(train_rows), np.sort(test_rows), note


def _fit(
    the_plan: Plan, data: FeatureData, rows: np.ndarray, y: np.ndarray, seed: int, threads: int, progress: Progress,
) -> Any:
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.pipeline import Pipeline

    algorithm = the_plan.algorithm
    start, end = _STAGE_START["fitting"], _STAGE_START["evaluating"]
    model = algorithm.build(the_plan.hyperparameters, seed, threads)
    x = data.matrix(rows)
    if data.text:
        model.fit(x, y)
        return model  # already Pipeline(tfidf, model)
    prep = preprocessor(data, scale_numeric=algorithm.scale_numeric)
    x = prep.fit_transform(x)
    total = getattr(model, "n_estimators", 0)
    if isinstance(model, (RandomForestClassifier, RandomForestRegressor)) and total > 1:
        # Grow the forest in chunks to report progress; with one random_state this
        # grows the very trees a single fit would.
        model.set_params(warm_start=True)
        for step in range(1, _FIT_STEPS + 1):
            model.set_params(n_estimators=max(1, round(total * step / _FIT_STEPS)))
            if step == 1 or model.n_estimators > len(model.estimators_):
                model.fit(x, y)
            progress(start + (end - start) * step / _FIT_STEPS, "fitting")
        model.set_params(warm_start=False)
    elif isinstance(model, (GradientBoostingClassifier, GradientBoostingRegressor)) and total > 1:
        every = max(1, total // _FIT_STEPS)

        def monitor(i: int, estimator: Any, local: Any) -> bool:
            if (i + 1) % every == 0:
                progress(start + (end - start) * (i + 1) / total, "fitting")
            return False

        model.fit(x, y, monitor=monitor)
    else:
        model.fit(x, y)
    return Pipeline([("prep", prep), ("model", model)])


def _describe(caught: list[warnings.WarningMessage]) -> list[str]:
    seen: list[str] = []
    for item in caught:
        text = f"{item.category.__name__}: {str(item.message).strip().splitlines()[0]}"
        if text not in seen:
            seen.append(text)
    return seen
