"""Test-split metrics: accuracy, f1_macro, roc_auc (where defined) for classifiers;
rmse, mae, r2 for regressors; for anomaly detection the share flagged and the score's
quantiles. A metric that is undefined on the split is left out
rather than reported as NaN."""

from __future__ import annotations

import numpy as np


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, probabilities: np.ndarray | None
) -> dict[str, float]:
    """Labels as class indices (0 … n_classes-1, the columns of `probabilities`)."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }
    # ROC AUC needs every class in the test split, and probabilities (not linear_svc).
    if probabilities is not None and np.unique(y_true).size == n_classes:
        if n_classes == 2:
            auc = roc_auc_score(y_true == 1, probabilities[:, 1])
        else:
            auc = roc_auc_score(y_true, probabilities, multi_class="ovr", average="macro", labels=list(range(n_classes)))
        metrics["roc_auc"] = float(auc)
    return metrics


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    errors = np.asarray(y_pred, dtype=np.float64).ravel() - np.asarray(y_true, dtype=np.float64)
    metrics = {
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mae": float(np.mean(np.abs(errors))),
    }
    spread = float(np.sum((y_true - np.mean(y_true)) ** 2))
    if len(y_true) >= 2 and spread > 0:
        metrics["r2"] = float(1.0 - np.sum(errors**2) / spread)
    return metrics


def anomaly_metrics(scores: np.ndarray, flagged: np.ndarray, threshold: float) -> dict[str, float]:
    """`scores`: -score_samples (higher = more unusual); `flagged`: 0/1 is_anomaly;
    `threshold`: the score above which a row is flagged (-offset_)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    metrics = {"anomaly_share": float(np.mean(flagged)) if len(flagged) else 0.0,
               "anomalies": float(np.sum(flagged)), "score_threshold": float(threshold)}
    if len(scores):
        for q in (50, 90, 99):
            metrics[f"score_p{q}"] = float(np.percentile(scores, q))
        metrics["score_min"] = float(scores.min())
        metrics["score_max"] = float(scores.max())
    return metrics
