"""Imported once by the fork server (child.py, start method "forkserver") so that each
training child starts with the ML stack already loaded instead of importing it (~2 s),
and already past the first-call costs of the stack (~0.4 s: skl2onnx's converter
tables, ONNX Runtime's first session, scikit-learn's lazy imports), which a tiny
training of each kind pays here once instead of in every child."""

import numpy  # noqa: F401
import onnxruntime  # noqa: F401
import pyarrow  # noqa: F401
import pyarrow.compute  # noqa: F401
import pyarrow.csv  # noqa: F401
import skl2onnx  # noqa: F401
import sklearn.compose  # noqa: F401
import sklearn.ensemble  # noqa: F401
import sklearn.feature_extraction.text  # noqa: F401
import sklearn.impute  # noqa: F401
import sklearn.linear_model  # noqa: F401
import sklearn.metrics  # noqa: F401
import sklearn.model_selection  # noqa: F401
import sklearn.pipeline  # noqa: F401
import sklearn.preprocessing  # noqa: F401
import sklearn.svm  # noqa: F401
import threadpoolctl  # noqa: F401

from servers.contracts.ml import datasets  # noqa: F401

from . import imputer, trainer  # noqa: F401


def _rehearse() -> None:
    from servers.contracts.ml.spec import Dataset, Task, TrainingSpec

    rows = [(float(i % 7), float(i % 5), f"w{i % 3} v{i % 4}", "ab"[i % 2]) for i in range(40)]
    dataset = Dataset(("x", "y", "doc", "label"), rows)
    for task, algorithm, features in ((Task.CLASSIFICATION, "logistic_regression", ("x", "y")),
                                      (Task.REGRESSION, "linear_regression", ("x",)),
                                      (Task.TEXT_CLASSIFICATION, "logistic_regression", ("doc",))):
        target = "y" if task is Task.REGRESSION else "label"
        trainer.train(TrainingSpec("warm-up", task, algorithm, target, features), dataset)


try:
    _rehearse()
except Exception:  # noqa: BLE001 — a warm-up must never stop the fork server from serving
    pass
