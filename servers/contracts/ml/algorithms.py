"""The algorithms each task offers, with the schema of their hyperparameters.

    ALGORITHMS[task][name] → Algorithm(params, build)

A hyperparameter has a type (int, float, bool, str), a default, and either a range or a
list of choices; `None` is allowed only where `nullable` says so (e.g. max_depth: no
limit). Values may arrive JSON-ish (2.0 for an int, "true" for a bool, "none"),
so `coerce` returns the value to use or a description of what is wrong.

scikit-learn is imported only when an estimator is built: validating a spec does not
load the ML stack.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from servers.runtime.errors import FieldViolation

from .spec import PROBABILITIES_OUTPUT, SCORE_OUTPUT, SCORES_OUTPUT, VARIABLE_OUTPUT, Task

_NONE_WORDS = frozenset({"none", "null"})


@dataclass(frozen=True)
class Param:
    name: str
    type: type  # int, float, bool or str
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[Any, ...] | None = None
    nullable: bool = False
    doc: str = ""

    def describe(self) -> str:
        """What a valid value looks like, for error messages."""
        if self.choices is not None:
            allowed = ", ".join("null" if c is None else repr(c) for c in self.choices)
            return f"one of {allowed}"
        kind = {int: "an integer", float: "a number", bool: "a boolean", str: "a string"}[self.type]
        if self.minimum is not None or self.maximum is not None:
            low = "(" if self.exclusive_minimum else "["
            low += "-inf" if self.minimum is None else _fmt(self.minimum)
            high = "inf" if self.maximum is None else _fmt(self.maximum)
            kind += f" in {low}, {high}]"
        if self.nullable:
            kind += " or null"
        return kind

    def coerce(self, value: Any) -> tuple[Any, str | None]:
        """(value to use, None) or (None, why it is invalid)."""
        wrong = f"must be {self.describe()}, got {value!r}"
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE_WORDS):
            if self.nullable or (self.choices is not None and None in self.choices):
                return None, None
            return None, wrong
        if self.choices is not None:
            for choice in self.choices:
                if choice is not None and value == choice and type(value) is type(choice):
                    return choice, None
            return None, wrong
        converted = _convert(self.type, value)
        if converted is None:
            return None, wrong
        if self.type in (int, float):
            if self.minimum is not None and (
                converted < self.minimum or (self.exclusive_minimum and converted == self.minimum)
            ):
                return None, wrong
            if self.maximum is not None and converted > self.maximum:
                return None, wrong
        return converted, None


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def _convert(kind: type, value: Any) -> Any:
    """`value` as `kind`, or None when it is not one."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return None
    if isinstance(value, bool):
        return None  # True is an int in Python, not a number here
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if kind is int else float(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                return None
    if kind is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        return None
    if kind is float:
        if isinstance(value, (int, float)) and math.isfinite(float(value)):
            return float(value)
        return None
    if kind is str:
        return value if isinstance(value, str) else None
    return None


Build = Callable[[Mapping[str, Any], int, int], Any]  # (hyperparameters, seed, threads) → estimator


@dataclass(frozen=True)
class Algorithm:
    name: str
    task: Task
    params: tuple[Param, ...]
    build: Build
    # Second output of the ONNX model: "probabilities", "scores" or "variable".
    output: str
    # Linear models see standardized numeric features; trees see them raw (their float32
    # thresholds then compare the very values scikit-learn compared).
    scale_numeric: bool = False
    doc: str = ""

    @property
    def param_names(self) -> list[str]:
        return sorted(p.name for p in self.params)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


# --- hyperparameters shared by several algorithms -------------------------------------

def _n_estimators(default: int = 100) -> Param:
    return Param("n_estimators", int, default, 1, 5000, doc="number of trees")


_C = Param("C", float, 1.0, 0.0, 1e6, exclusive_minimum=True, doc="inverse regularization strength")
_CLASS_WEIGHT = Param("class_weight", str, None, choices=(None, "balanced"), doc="balanced: weight classes by inverse frequency")
_FIT_INTERCEPT = Param("fit_intercept", bool, True)
# Forests are bounded by default: unbounded trees on 100k rows make ONNX models of
# hundreds of MB that serve slowly (ML.md measured depth 10).
_MAX_DEPTH_TREE = Param("max_depth", int, 10, 1, 1000, nullable=True, doc="null: grow until leaves are pure")
_MIN_SPLIT = Param("min_samples_split", int, 2, 2, 1_000_000)
_MIN_LEAF = Param("min_samples_leaf", int, 1, 1, 1_000_000)
_BOOTSTRAP = Param("bootstrap", bool, True)
_LEARNING_RATE = Param("learning_rate", float, 0.1, 0.0, 10.0, exclusive_minimum=True)
_SUBSAMPLE = Param("subsample", float, 1.0, 0.0, 1.0, exclusive_minimum=True)
_GB_MAX_DEPTH = Param("max_depth", int, 3, 1, 100)
# Text: TF-IDF over word n-grams. (sublinear_tf is not offered: skl2onnx 1.20 converts
# it differently from scikit-learn and parity fails by ~0.02.)
_TEXT_PARAMS = (
    Param("ngram_max", int, 1, 1, 3, doc="longest word n-gram (1 = single words)"),
    Param("min_df", int, 1, 1, 1_000_000, doc="ignore terms in fewer documents"),
    Param("max_features", int, None, 1, 10_000_000, nullable=True, doc="keep the most frequent terms"),
    Param("lowercase", bool, True),
)


def _max_features(value: str) -> Any:
    return None if value == "all" else value


# --- builders (scikit-learn imported lazily) ---------------------------------------------

def _logistic_regression(hp: Mapping[str, Any], seed: int, threads: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(
        C=hp["C"], max_iter=hp["max_iter"], class_weight=hp["class_weight"],
        fit_intercept=hp["fit_intercept"], random_state=seed,
    )


def _random_forest_classifier(hp: Mapping[str, Any], seed: int, threads: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=hp["n_estimators"], max_depth=hp["max_depth"],
        min_samples_split=hp["min_samples_split"], min_samples_leaf=hp["min_samples_leaf"],
        max_features=_max_features(hp["max_features"]), class_weight=hp["class_weight"],
        bootstrap=hp["bootstrap"], random_state=seed, n_jobs=threads,
    )


def _gradient_boosting_classifier(hp: Mapping[str, Any], seed: int, threads: int) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(
        n_estimators=hp["n_estimators"], learning_rate=hp["learning_rate"],
        max_depth=hp["max_depth"], subsample=hp["subsample"],
        min_samples_leaf=hp["min_samples_leaf"], random_state=seed,
    )


def _linear_regression(hp: Mapping[str, Any], seed: int, threads: int) -> Any:
    from sklearn.linear_model import LinearRegression

    return LinearRegression(fit_intercept=hp["fit_intercept"])


def _ridge(hp: Mapping[str, Any], seed: int, threads: int) -> Any:
    from sklearn.linear_model import Ridge

    return Ridge(alpha=hp["alpha"], fit_intercept=hp["fit_intercept"])


def _random_forest_regressor(hp: Mapping[str, Any], seed: int, threads: int) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(
        n_estimators=hp["n_estimators"], max_depth=hp["max_depth"],
        min_samples_split=hp["min_samples_split"], min_samples_leaf=hp["min_samples_leaf"],
        max_features=_max_features(hp["max_features"]), bootstrap=hp["bootstrap"],
        random_state=seed, n_jobs=threads,
    )


def _gradient_boosting_regressor(hp: Mapping[str, Any], seed: int, threads: int) -> Any:
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(
        n_estimators=hp["n_estimators"], learning_rate=hp["learning_rate"],
        max_depth=hp["max_depth"], subsample=hp["subsample"],
        min_samples_leaf=hp["min_samples_leaf"], loss=hp["loss"], random_state=seed,
    )


def _linear_svc(hp: Mapping[str, Any], seed: int, threads: int) -> Any:
    from sklearn.svm import LinearSVC

    return LinearSVC(
        C=hp["C"], max_iter=hp["max_iter"], class_weight=hp["class_weight"], random_state=seed,
    )


def _isolation_forest(hp: Mapping[str, Any], seed: int, threads: int) -> Any:
    from sklearn.ensemble import IsolationForest

    random_state = seed if hp["random_state"] is None else hp["random_state"]
    max_samples = hp["max_samples"]
    contamination = hp["contamination"]
    return IsolationForest(
        n_estimators=hp["n_estimators"],
        max_samples="auto" if max_samples is None else max_samples,
        contamination="auto" if contamination is None else contamination,
        random_state=random_state, n_jobs=threads,
    )


_IF_PARAMS = (
    _n_estimators(),
    Param("contamination", float, None, 0.0, 0.5, exclusive_minimum=True, nullable=True,
          doc="expected share of anomalies (sets the is_anomaly threshold); null: scikit-learn's 'auto'"),
    Param("max_samples", int, None, 2, 10_000_000, nullable=True,
          doc="rows drawn to grow each tree; null: min(256, rows)"),
    Param("random_state", int, None, 0, 2**32 - 1, nullable=True, doc="null: the job's seed"),
)


def _text(build: Build) -> Build:
    """TF-IDF over the one text column, then the linear model."""

    def build_text(hp: Mapping[str, Any], seed: int, threads: int) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import Pipeline

        from .columns import TOKEN_PATTERN

        tfidf = TfidfVectorizer(
            token_pattern=TOKEN_PATTERN, ngram_range=(1, hp["ngram_max"]), min_df=hp["min_df"],
            max_features=hp["max_features"], lowercase=hp["lowercase"],
        )
        return Pipeline([("tfidf", tfidf), ("model", build(hp, seed, threads))])

    return build_text


_LR_PARAMS = (_C, Param("max_iter", int, 1000, 1, 100_000), _CLASS_WEIGHT, _FIT_INTERCEPT)
_SVC_PARAMS = (_C, Param("max_iter", int, 1000, 1, 1_000_000), _CLASS_WEIGHT)
_RF_COMMON = (_n_estimators(), _MAX_DEPTH_TREE, _MIN_SPLIT, _MIN_LEAF, _BOOTSTRAP)
_GB_COMMON = (_n_estimators(), _LEARNING_RATE, _GB_MAX_DEPTH, _SUBSAMPLE, _MIN_LEAF)


def _registry(*algorithms: Algorithm) -> dict[Task, dict[str, Algorithm]]:
    table: dict[Task, dict[str, Algorithm]] = {task: {} for task in Task}
    for algorithm in algorithms:
        table[algorithm.task][algorithm.name] = algorithm
    return table


ALGORITHMS: dict[Task, dict[str, Algorithm]] = _registry(
    Algorithm("logistic_regression", Task.CLASSIFICATION, _LR_PARAMS, _logistic_regression,
              PROBABILITIES_OUTPUT, scale_numeric=True),
    Algorithm("random_forest", Task.CLASSIFICATION,
              _RF_COMMON + (Param("max_features", str, "sqrt", choices=("sqrt", "log2", "all")),
                            Param("class_weight", str, None, choices=(None, "balanced", "balanced_subsample"))),
              _random_forest_classifier, PROBABILITIES_OUTPUT),
    Algorithm("gradient_boosting", Task.CLASSIFICATION, _GB_COMMON, _gradient_boosting_classifier,
              PROBABILITIES_OUTPUT),
    Algorithm("linear_regression", Task.REGRESSION, (_FIT_INTERCEPT,), _linear_regression,
              VARIABLE_OUTPUT, scale_numeric=True),
    Algorithm("ridge", Task.REGRESSION, (Param("alpha", float, 1.0, 0.0, 1e9), _FIT_INTERCEPT), _ridge,
              VARIABLE_OUTPUT, scale_numeric=True),
    Algorithm("random_forest", Task.REGRESSION,
              _RF_COMMON + (Param("max_features", str, "all", choices=("sqrt", "log2", "all")),),
              _random_forest_regressor, VARIABLE_OUTPUT),
    Algorithm("gradient_boosting", Task.REGRESSION,
              _GB_COMMON + (Param("loss", str, "squared_error", choices=("squared_error", "absolute_error", "huber")),),
              _gradient_boosting_regressor, VARIABLE_OUTPUT),
    Algorithm("logistic_regression", Task.TEXT_CLASSIFICATION, _LR_PARAMS + _TEXT_PARAMS,
              _text(_logistic_regression), PROBABILITIES_OUTPUT),
    Algorithm("linear_svc", Task.TEXT_CLASSIFICATION, _SVC_PARAMS + _TEXT_PARAMS,
              _text(_linear_svc), SCORES_OUTPUT),
    Algorithm("isolation_forest", Task.ANOMALY_DETECTION, _IF_PARAMS, _isolation_forest, SCORE_OUTPUT),
)


def get_algorithm(task: Task, name: str) -> Algorithm | None:
    return ALGORITHMS.get(task, {}).get(name)


def check_hyperparameters(
    algorithm: Algorithm, given: Mapping[str, Any]
) -> tuple[dict[str, Any], list[FieldViolation]]:
    """Every hyperparameter with its default filled in, and what is wrong with the given ones."""
    violations: list[FieldViolation] = []
    resolved = {p.name: p.default for p in algorithm.params}
    for name, value in given.items():
        param = algorithm.param(name)
        if param is None:
            violations.append(FieldViolation(
                f"hyperparameters.{name}",
                f"is not a hyperparameter of {algorithm.name} for {algorithm.task.value}; "
                f"valid: {', '.join(algorithm.param_names)}",
            ))
            continue
        converted, problem = param.coerce(value)
        if problem is not None:
            violations.append(FieldViolation(f"hyperparameters.{name}", problem))
        else:
            resolved[name] = converted
    return resolved, violations


def resolve_hyperparameters(algorithm: Algorithm, given: Mapping[str, Any]) -> dict[str, Any]:
    """The hyperparameters to train with (defaults filled in); raises InvalidArgument."""
    from servers.runtime.errors import InvalidArgument

    resolved, violations = check_hyperparameters(algorithm, given)
    if violations:
        raise InvalidArgument.from_violations(violations)
    return resolved
