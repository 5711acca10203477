"""One model version in memory: its ONNX Runtime session, the input plan that encodes
requests for it, and how its outputs are read back (labels, probabilities, values).

    create_session(data, options)  an InferenceSession on the CPU (blocking)
    model_info(...)                what a session says about its inputs and outputs
    LoadedModel.predict(feeds)     the hot path: one ORT run, read into Predictions

The cache of these (LRU, aliases, swaps) is sessions.py. No grpc here.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from servers.runtime.errors import ChatDBError, FailedPrecondition
from servers.runtime.metrics import rows_counter

from .batching import Batcher
from .domain import ORT_DATATYPES, ModelInfo, Predictions, TensorInfo, invalid
from .graph import Fused
from .plan import InputPlan

LABEL, PROBABILITIES, VARIABLE = "label", "probabilities", "variable"
SCORE, IS_ANOMALY = "score", "is_anomaly"  # anomaly detection


@dataclass(frozen=True)
class SessionOptions:
    intra_op_threads: int = 1
    inter_op_threads: int = 1


def create_session(data: bytes, options: SessionOptions) -> Any:
    """An onnxruntime.InferenceSession on the CPU (blocking: call it in a thread)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = max(1, options.intra_op_threads)
    so.inter_op_num_threads = max(1, options.inter_op_threads)
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if options.intra_op_threads > 1:
        # A spinning pool burns the core the gRPC loop needs between runs.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class BatchOptions:
    """Dynamic batching of single-row requests; off when max_delay_s is 0."""

    max_size: int = 32
    max_delay_s: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.max_delay_s > 0 and self.max_size > 1


class LoadedModel:
    """One version in memory: session, input plan and how to read its outputs."""

    def __init__(
        self, info: ModelInfo, session: Any, batching: BatchOptions | None = None, fused: Fused | None = None,
        label_names: tuple[str, ...] | None = None, tenant: str = "",
    ) -> None:
        self.info = info
        # The model's tenant ("" = shared): who may call it (sessions.py checks per call).
        self.tenant = tenant
        self.name = info.name
        self.version = info.version
        self.session = session
        # onnxruntime's InferenceSession.run re-validates the feed names on every call (a
        # Python loop over the inputs, ~5-10 µs); the plan has already checked them, so
        # the C++ session's run is called directly when it is there.
        self._run = getattr(getattr(session, "_sess", None), "run", None) or (
            lambda names, feeds, options: session.run(names, feeds, options))
        self.plan = InputPlan(
            info.name, info.inputs,
            matrix_input=fused.input_name if fused else None, columns=fused.columns if fused else ())
        names = [o.name for o in info.outputs]
        self.output_names = names
        # The outputs a prediction needs (the raw ones only when asked for).
        wanted = [n for n in (LABEL, PROBABILITIES, VARIABLE, SCORE, IS_ANOMALY) if n in names]
        self.prediction_outputs = wanted or names
        self._label_i = wanted.index(LABEL) if LABEL in wanted else None
        self._proba_i = wanted.index(PROBABILITIES) if PROBABILITIES in wanted else None
        self._value_i = wanted.index(VARIABLE) if VARIABLE in wanted else None
        self._score_i = wanted.index(SCORE) if SCORE in wanted else None
        self._anomaly_i = wanted.index(IS_ANOMALY) if IS_ANOMALY in wanted else None
        self.classes = info.classes
        if self.classes is None and PROBABILITIES in names:  # not from the platform: "0", "1", …
            width = info.outputs[names.index(PROBABILITIES)].shape[-1:]
            if width and width[0] > 0:
                self.classes = tuple(str(i) for i in range(width[0]))
        # With `label_names` the session's label output is indices into them (graph.py);
        # `_to_classes` maps those to indices in `classes` (None when they are the same).
        self._label_names = np.array(label_names, dtype=object) if label_names else None
        self._to_classes = None
        if label_names and tuple(label_names) != self.classes:
            position = {c: i for i, c in enumerate(self.classes or ())}
            self._to_classes = np.array([position.get(name, -1) for name in label_names])
        # How long a run takes per row (a moving average of multi-row runs): the core runs a
        # batch on the event loop when that is shorter than a hop to a worker thread.
        self.seconds_per_row = float("inf")
        # chatdb_predictions_total{model, version}: rows predicted, counted per run
        # (Predict, BatchPredict, the batcher's runs; ModelInfer in the core).
        self.count_rows = rows_counter(self.name, self.version)
        self.batcher: Batcher | None = None
        if batching is not None and batching.enabled and self.plan.takes_records:
            self.batcher = Batcher(self._run_rows, batching.max_size, batching.max_delay_s, run_one=self._run_row)

    def predict(self, feeds: dict[str, np.ndarray], rows: int, include_outputs: bool = False) -> Predictions:
        """Run the model (blocking) and read its answer."""
        names = self.output_names if include_outputs else self.prediction_outputs
        start = time.perf_counter()
        try:
            got = self._run(names, feeds, None)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise _run_error(self, exc) from None
        elapsed = time.perf_counter() - start
        self.count_rows(rows)
        if rows > 1:
            per_row = elapsed / rows
            # The first run sets the average (inf + (x - inf) * 0.2 would be NaN, and NaN
            # compares false forever: every batch would take the thread).
            last = self.seconds_per_row
            self.seconds_per_row = per_row if last == float("inf") else last + (per_row - last) * 0.2
        if include_outputs:
            outputs = dict(zip(names, got, strict=True))
            labels, codes = self._labels(outputs.get(LABEL))
            if labels is not None:
                outputs[LABEL] = labels
            return self._predictions(
                rows, labels, outputs.get(PROBABILITIES), outputs.get(VARIABLE), outputs, elapsed, codes,
                outputs.get(SCORE), outputs.get(IS_ANOMALY))
        labels, codes = self._labels(got[self._label_i] if self._label_i is not None else None)
        return self._predictions(
            rows,
            labels,
            got[self._proba_i] if self._proba_i is not None else None,
            got[self._value_i] if self._value_i is not None else None,
            {},
            elapsed,
            codes,
            got[self._score_i] if self._score_i is not None else None,
            got[self._anomaly_i] if self._anomaly_i is not None else None,
        )

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Raw outputs by name (blocking), labels as names."""
        try:
            got = self._run(names, feeds, None)
        except Exception as exc:  # noqa: BLE001
            raise _run_error(self, exc) from None
        if self._label_names is not None and LABEL in names:
            i = names.index(LABEL)
            got[i] = self._labels(got[i])[0]
        return got

    def _labels(self, raw: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Labels as names, and their indices in `classes` when the model gave indices."""
        if raw is None or self._label_names is None:
            return raw, None
        codes = raw if self._to_classes is None else self._to_classes[raw]
        if self._to_classes is not None and (codes < 0).any():
            codes = None  # a label outside `classes`: encoders look names up instead
        return self._label_names[raw], codes

    def _predictions(
        self, rows, labels, probabilities, values, outputs, elapsed, codes=None, scores=None, anomalies=None,
    ) -> Predictions:
        if values is not None:
            values = values.reshape(rows, -1)[:, 0]
        if scores is not None:
            scores = scores.reshape(rows, -1)[:, 0]
        if anomalies is not None:
            anomalies = anomalies.reshape(rows, -1)[:, 0]
        return Predictions(
            model=self.name, version=self.version, rows=rows, labels=labels,
            probabilities=probabilities, classes=self.classes, values=values,
            outputs=outputs, inference_s=elapsed, label_codes=codes, scores=scores, anomalies=anomalies,
        )

    def _run_row(self, row: list[Any]) -> Predictions:
        """The batcher's runner for a row that waits for no other."""
        return self.predict(self.plan.single_feeds(row), 1)

    def _run_rows(self, rows: list[list[Any]]) -> list[Predictions]:
        """The batcher's runner: one ORT call for rows of several requests, split back."""
        answer = self.predict(self.plan.rows_feeds(rows), len(rows))
        each = answer.inference_s
        return [
            Predictions(
                model=self.name, version=self.version, rows=1,
                labels=None if answer.labels is None else answer.labels[i : i + 1],
                label_codes=None if answer.label_codes is None else answer.label_codes[i : i + 1],
                probabilities=None if answer.probabilities is None else answer.probabilities[i : i + 1],
                classes=self.classes,
                values=None if answer.values is None else answer.values[i : i + 1],
                scores=None if answer.scores is None else answer.scores[i : i + 1],
                anomalies=None if answer.anomalies is None else answer.anomalies[i : i + 1],
                inference_s=each,
            )
            for i in range(len(rows))
        ]


def _run_error(model: LoadedModel, exc: Exception) -> ChatDBError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # ONNX Runtime rejects feeds it cannot take (shapes, types) with INVALID_ARGUMENT.
    if "INVALID_ARGUMENT" in text or "Invalid" in text or "Got invalid dimensions" in text:
        return invalid("inputs", f"model {model.name!r} version {model.version} rejected the inputs: {text}")
    return FailedPrecondition(f"model {model.name!r} version {model.version} failed to run: {text}",
                              reason="MODEL_RUN_FAILED")


def model_info(name: str, version: int, session: Any, size_bytes: int, task: str = "") -> ModelInfo:
    """What a session says about its inputs, outputs and (chatdb.*) metadata."""

    def tensors(values: Iterable[Any]) -> tuple[TensorInfo, ...]:
        return tuple(
            TensorInfo(v.name, ORT_DATATYPES.get(v.type, v.type), tuple(d if isinstance(d, int) else -1 for d in v.shape))
            for v in values
        )

    meta = session.get_modelmeta().custom_metadata_map
    classes = None
    if "chatdb.classes" in meta:
        with contextlib.suppress(ValueError, TypeError):
            decoded = json.loads(meta["chatdb.classes"])
            if isinstance(decoded, list):
                classes = tuple(str(c) for c in decoded)
    return ModelInfo(
        name=name, version=version, task=meta.get("chatdb.task", task), algorithm=meta.get("chatdb.algorithm", ""),
        inputs=tensors(session.get_inputs()), outputs=tensors(session.get_outputs()),
        classes=classes, size_bytes=size_bytes,
    )
