"""Imported once by the fork server (child.py, start method "forkserver") so that each
training child starts with the ML stack already loaded instead of importing it (~2 s)."""

import numpy  # noqa: F401
import onnxruntime  # noqa: F401
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

from . import trainer  # noqa: F401
