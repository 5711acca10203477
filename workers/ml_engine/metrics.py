"""Test-split metrics: accuracy, f1_macro, roc_auc (where defined) for classifiers;
rmse, mae, r2 for regressors. A metric that is undefined on the split is left out
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
