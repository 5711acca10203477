"""Does the exported ONNX model reproduce scikit-learn? Run it in ONNX Runtime on the
test split and compare: labels must agree on at least `min_label_agreement` of the rows,
probabilities/scores within `max_abs_diff`, regression values within `max_rel_diff`
relative to max(|value|, mean |value|) (so values near zero are not held to a
relative bound they cannot meet in float32). Anomaly detection: "is_anomaly" is held
to the label agreement and "score" to `max_abs_diff` (scores are in (0, 1]); a row
whose score is on the threshold (within `max_abs_diff`) may fall either side.
Below a threshold: ParityError.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from servers.contracts.ml.spec import IS_ANOMALY_OUTPUT, LABEL_OUTPUT, SCORE_OUTPUT, VARIABLE_OUTPUT

from .errors import ParityError


@dataclass(frozen=True)
class ParityThresholds:
    min_label_agreement: float = 0.999
    max_abs_diff: float = 1e-4
    max_rel_diff: float = 1e-4


DEFAULT_THRESHOLDS = ParityThresholds()


@dataclass(frozen=True)
class ParityReport:
    rows: int
    compared: str  # the output compared besides the label: probabilities, scores, variable
    label_agreement: float | None  # None for regressors
    max_abs_diff: float
    max_rel_diff: float | None  # regressors only
    thresholds: ParityThresholds
    rows_at_threshold: int = 0  # anomaly rows on the threshold that fell the other side


@dataclass(frozen=True)
class Reference:
    """scikit-learn's answers on the rows: labels (classifiers) and the values that
    correspond to the ONNX model's second output."""

    values: np.ndarray
    labels: np.ndarray | None = None


def session(onnx_model: bytes, threads: int = 1):  # -> onnxruntime.InferenceSession
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    return ort.InferenceSession(onnx_model, options, providers=["CPUExecutionProvider"])


def check_parity(
    onnx_model: bytes,
    feeds: dict[str, np.ndarray],
    reference: Reference,
    output: str,
    thresholds: ParityThresholds = DEFAULT_THRESHOLDS,
    threads: int = 1,
) -> ParityReport:
    """Compare ONNX Runtime with `reference` on `feeds`; ParityError below thresholds."""
    rows = len(reference.values)
    try:
        sess = session(onnx_model, threads)
        label_output = IS_ANOMALY_OUTPUT if output == SCORE_OUTPUT else LABEL_OUTPUT
        names = [label_output, output] if reference.labels is not None else [VARIABLE_OUTPUT]
        got = dict(zip(names, sess.run(names, feeds), strict=True))
    except Exception as exc:  # an ONNX Runtime error: the model is unusable as exported
        raise ParityError(f"ONNX parity failed: ONNX Runtime cannot run the exported model: {exc}") from exc

    expected = np.asarray(reference.values, dtype=np.float64).reshape(rows, -1)
    actual = np.asarray(got[output], dtype=np.float64)
    actual = actual.reshape(rows, -1)
    if actual.shape != expected.shape:
        raise ParityError(f"ONNX parity failed: output {output!r} has shape {actual.shape}, "
                          f"scikit-learn gives {expected.shape}")
    diff = np.abs(actual - expected)
    diff[np.isnan(actual) & np.isnan(expected)] = 0.0  # both NaN: they agree
    diff[np.isnan(diff)] = np.inf  # NaN on one side only: as far apart as can be
    max_abs = float(diff.max()) if diff.size else 0.0
    failures = []
    agreement = max_rel = None
    boundary = 0
    if reference.labels is not None:
        labels = np.asarray(got[label_output]).ravel().astype(str)
        agree = labels == reference.labels.astype(str)
        if output == SCORE_OUTPUT:
            # A row whose score sits on the anomaly threshold (within the score tolerance)
            # may fall either side in float32: with tied values (a column of a few small
            # integers) many rows share the threshold's score exactly, and they flipped
            # together. Such rows are not counted against the agreement.
            excused = ~agree & _at_threshold(expected.ravel(), reference.labels, thresholds.max_abs_diff)
            boundary = int(excused.sum())
            agree = agree | excused
        agreement = float(np.mean(agree)) if rows else 1.0
        if agreement < thresholds.min_label_agreement:
            failures.append(f"label agreement {agreement:.4g} < {thresholds.min_label_agreement:g}")
        symbol = "p" if output == "probabilities" else "s"
        if max_abs > thresholds.max_abs_diff:
            failures.append(f"max |Δ{symbol}| {max_abs:.3g} > {thresholds.max_abs_diff:g}")
    else:
        scale = np.maximum(np.abs(expected), np.mean(np.abs(expected)) if rows else 0.0)
        relative = diff / np.where(scale > 0, scale, 1.0)
        max_rel = float(relative.max()) if relative.size else 0.0
        if max_rel > thresholds.max_rel_diff:
            failures.append(f"max relative |Δy| {max_rel:.3g} > {thresholds.max_rel_diff:g} "
                            f"(max |Δy| {max_abs:.3g})")
    if failures:
        raise ParityError(
            f"ONNX parity failed: {', '.join(failures)} on {rows} test rows",
            metadata={
                "rows": str(rows),
                "max_abs_diff": f"{max_abs:.6g}",
                **({"label_agreement": f"{agreement:.6g}"} if agreement is not None else {}),
                **({"max_rel_diff": f"{max_rel:.6g}"} if max_rel is not None else {}),
                **({"rows_at_threshold": str(boundary)} if boundary else {}),
            },
        )
    return ParityReport(rows, output, agreement, max_abs, max_rel, thresholds, boundary)


def _at_threshold(scores: np.ndarray, flagged: np.ndarray, tolerance: float) -> np.ndarray:
    """Rows whose scikit-learn score is within `tolerance` of the threshold between the
    rows it flagged and those it did not (the lowest flagged or the highest unflagged
    score)."""
    flagged = np.asarray(flagged).ravel().astype(bool)
    edges = []
    if flagged.any():
        edges.append(scores[flagged].min())
    if (~flagged).any():
        edges.append(scores[~flagged].max())
    if not edges:
        return np.zeros(len(scores), dtype=bool)
    return np.min(np.abs(scores[:, None] - np.asarray(edges)[None, :]), axis=1) <= tolerance
