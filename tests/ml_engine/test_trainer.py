"""Each task trains, exports to ONNX, passes parity, and ONNX Runtime answers new records
as scikit-learn does."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import onnx
import pytest

from servers.contracts.ml.spec import Dataset, Task, TensorSpec, TrainingSpec
from workers.ml_engine.errors import ParityError
from workers.ml_engine.features import FeatureData, feeds_from_records
from workers.ml_engine.parity import ParityThresholds, session
from workers.ml_engine.trainer import STAGES, Trained, run

from .synthetic import classification_rows, regression_rows, text_rows

ORT_TYPES = {"FP32": "tensor(float)", "BYTES": "tensor(string)"}


def records(dataset: Dataset) -> list[dict[str, Any]]:
    return [dict(zip(dataset.columns, row, strict=True)) for row in dataset.rows]


def train_recording(spec: TrainingSpec, dataset: Dataset, **kwargs: Any) -> tuple[Trained, list[tuple[float, str]]]:
    seen: list[tuple[float, str]] = []
    trained = run(spec, dataset, lambda fraction, stage: seen.append((fraction, stage)), **kwargs)
    return trained, seen


def check_progress(seen: list[tuple[float, str]]) -> None:
    stages = [stage for _, stage in seen]
    assert list(dict.fromkeys(stages)) == list(STAGES)
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0


def check_model_interface(trained: Trained) -> Any:
    """The ONNX graph has exactly the inputs and outputs the result announces."""
    result = trained.result
    sess = session(result.onnx_model)
    assert [(i.name, i.type) for i in sess.get_inputs()] == [(t.name, ORT_TYPES[t.datatype]) for t in result.inputs]
    assert [(o.name, o.type) for o in sess.get_outputs()] == [(t.name, ORT_TYPES[t.datatype]) for t in result.outputs]
    for spec in result.inputs:
        assert spec.shape == (-1, 1)
    meta = {p.key: p.value for p in onnx.load_from_string(result.onnx_model).metadata_props}
    assert json.loads(meta["chatdb.features"]) == list(result.features)
    assert json.loads(meta["chatdb.classes"]) == result.classes
    assert meta["chatdb.dataset_fingerprint"] == result.dataset_fingerprint
    assert set(result.library_versions) == {"sklearn", "skl2onnx", "onnx", "onnxruntime", "numpy", "python"}
    return sess


def sklearn_inputs(trained: Trained, new: list[dict[str, Any]]) -> np.ndarray:
    plan = trained.plan
    columns = [[record.get(name) for record in new] for name in plan.features]
    return FeatureData.encode(plan.features, plan.feature_kinds, columns,
                              text=plan.task is Task.TEXT_CLASSIFICATION).matrix()


def compare_classifier_on(trained: Trained, sess: Any, new: list[dict[str, Any]]) -> None:
    result = trained.result
    second = result.outputs[1].name
    labels, values = sess.run(None, feeds_from_records(result.inputs, new))
    x = sklearn_inputs(trained, new)
    assert labels.tolist() == trained.pipeline.predict(x).tolist()
    if second == "probabilities":
        expected = trained.pipeline.predict_proba(x)
    else:
        expected = trained.pipeline.decision_function(x).reshape(len(new), -1)
    assert values.shape == expected.shape
    np.testing.assert_allclose(values, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("algorithm", ["logistic_regression", "random_forest", "gradient_boosting"])
def test_classification(algorithm: str, classes: int) -> None:
    dataset = classification_rows(300, seed=classes, classes=classes)
    spec = TrainingSpec("churn", Task.CLASSIFICATION, algorithm, "label_text",
                        hyperparameters={"n_estimators": 30} if algorithm != "logistic_regression" else {})
    trained, seen = train_recording(spec, dataset)
    result = trained.result
    check_progress(seen)

    assert result.classes == [f"class-{i}" for i in range(classes)]
    assert result.metrics["accuracy"] > 0.8 and result.metrics["f1_macro"] > 0.8
    assert 0.85 < result.metrics["roc_auc"] <= 1.0
    assert result.inputs == [
        TensorSpec("x1", "FP32", (-1, 1)), TensorSpec("x 2", "FP32", (-1, 1)), TensorSpec("größe", "FP32", (-1, 1)),
        TensorSpec("x4", "FP32", (-1, 1)), TensorSpec("colour", "BYTES", (-1, 1)), TensorSpec("flag", "FP32", (-1, 1)),
        TensorSpec("count", "FP32", (-1, 1)),
    ]
    assert result.outputs == [TensorSpec("label", "BYTES", (-1,)), TensorSpec("probabilities", "FP32", (-1, classes))]
    assert result.parity.rows == result.test_rows == 60 and result.train_rows == 240
    assert result.parity.label_agreement == 1.0 and result.parity.max_abs_diff < 1e-5
    assert result.dataset_fingerprint == dataset.fingerprint()

    sess = check_model_interface(trained)
    new = records(classification_rows(80, seed=100 + classes, classes=classes))
    new[0]["colour"] = "violet"  # a category never seen
    new[1]["x1"] = None  # missing: imputed
    del new[2]["größe"]  # absent key: missing too
    new[3]["flag"] = None
    compare_classifier_on(trained, sess, new)


@pytest.mark.parametrize("algorithm", ["linear_regression", "ridge", "random_forest", "gradient_boosting"])
def test_regression(algorithm: str) -> None:
    dataset = regression_rows(300, seed=7)
    spec = TrainingSpec("price", Task.REGRESSION, algorithm, "price", seed=3,
                        hyperparameters={"n_estimators": 40} if "linear" not in algorithm and algorithm != "ridge" else {})
    trained, seen = train_recording(spec, dataset)
    result = trained.result
    check_progress(seen)
    assert set(result.metrics) == {"rmse", "mae", "r2"}
    assert result.metrics["r2"] > 0.8 and result.metrics["mae"] <= result.metrics["rmse"]
    assert result.classes is None
    assert result.outputs == [TensorSpec("variable", "FP32", (-1, 1))]
    assert [t.datatype for t in result.inputs] == ["FP32"] * 4 + ["BYTES"]
    assert result.parity.label_agreement is None and result.parity.max_rel_diff < 1e-5

    sess = check_model_interface(trained)
    new = records(regression_rows(50, seed=99))
    new[0]["region"] = "west"
    new[1]["a"] = float("nan")
    (values,) = sess.run(None, feeds_from_records(result.inputs, new))
    expected = trained.pipeline.predict(sklearn_inputs(trained, new))
    assert values.shape == (50, 1)
    np.testing.assert_allclose(values.ravel(), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("topics", [("sport", "cuisine"), ("sport", "cuisine", "musique")])
@pytest.mark.parametrize("algorithm", ["logistic_regression", "linear_svc"])
def test_text_classification(algorithm: str, topics: tuple[str, ...]) -> None:
    dataset = text_rows(240, seed=len(topics), topics=topics)
    spec = TrainingSpec("topics", Task.TEXT_CLASSIFICATION, algorithm, "sujet", hyperparameters={"ngram_max": 2})
    trained, seen = train_recording(spec, dataset)
    result = trained.result
    check_progress(seen)
    assert result.features == ("texte",)  # the one text column, found by itself
    assert result.inputs == [TensorSpec("texte", "BYTES", (-1, 1))]
    assert result.classes == sorted(topics)
    assert result.metrics["accuracy"] > 0.9
    if algorithm == "linear_svc":
        assert "roc_auc" not in result.metrics  # no probabilities
        width = 1 if len(topics) == 2 else len(topics)
        assert result.outputs == [TensorSpec("label", "BYTES", (-1,)), TensorSpec("scores", "FP32", (-1, width))]
    else:
        assert result.metrics["roc_auc"] > 0.9
        assert result.outputs[1] == TensorSpec("probabilities", "FP32", (-1, len(topics)))
    assert result.parity.label_agreement == 1.0 and result.parity.max_abs_diff < 1e-5

    sess = check_model_interface(trained)
    new = records(text_rows(60, seed=42, topics=topics))
    new += [{"texte": ""}, {"texte": None}, {"texte": "ÉQUIPE MÜLLER Straße x y z"}, {"texte": "mot inconnu ∑≈"}]
    compare_classifier_on(trained, sess, new)


def test_labels_become_text() -> None:
    rows = [(i * 0.1, i % 2 == 0, i % 3) for i in range(60)]
    dataset = Dataset(("x", "even", "mod"), rows)
    by_bool = run(TrainingSpec("m", Task.CLASSIFICATION, "logistic_regression", "even", ("x", "mod")), dataset)
    assert by_bool.result.classes == ["false", "true"]
    by_int = run(TrainingSpec("m", Task.CLASSIFICATION, "gradient_boosting", "mod", ("x",),
                              hyperparameters={"n_estimators": 5}), dataset)
    assert by_int.result.classes == ["0", "1", "2"]


def test_rows_without_target_are_left_out() -> None:
    dataset = regression_rows(120, seed=1)
    rows = list(dataset.rows)
    rows[0] = rows[0][:-1] + (None,)
    rows[1] = rows[1][:-1] + (float("nan"),)
    result = run(TrainingSpec("m", Task.REGRESSION, "ridge", "price"), Dataset(dataset.columns, rows)).result
    assert result.train_rows + result.test_rows == 118
    assert "2 row(s) without a target value left out" in result.warnings


def test_feature_names_that_clash_with_internal_onnx_names() -> None:
    columns = ("merged_columns", "variable1", "probability_tensor", "y")
    rng = np.random.default_rng(0)
    rows = [(float(a), float(b), str(c), str(int(a + b > 0))) for a, b, c in
            zip(rng.normal(size=200), rng.normal(size=200), rng.choice(["p", "q"], size=200), strict=True)]
    trained = run(TrainingSpec("m", Task.CLASSIFICATION, "logistic_regression", "y"), Dataset(columns, rows))
    sess = check_model_interface(trained)
    assert [i.name for i in sess.get_inputs()] == list(columns[:3])
    compare_classifier_on(trained, sess, [dict(zip(columns, r, strict=True)) for r in rows[:20]])


# --- parity failures on purpose ----------------------------------------------------------

def test_parity_fails_below_thresholds() -> None:
    dataset = classification_rows(200, seed=5)
    spec = TrainingSpec("m", Task.CLASSIFICATION, "logistic_regression", "label_text")
    with pytest.raises(ParityError) as info:
        run(spec, dataset, parity=ParityThresholds(max_abs_diff=0.0))  # float32 vs float64: never 0
    assert re.fullmatch(r"ONNX parity failed: max \|Δp\| \S+ > 0 on 40 test rows", info.value.message)
    assert info.value.reason == "ONNX_PARITY_FAILED" and info.value.metadata["rows"] == "40"


def test_regression_parity_fails_below_thresholds() -> None:
    spec = TrainingSpec("m", Task.REGRESSION, "gradient_boosting", "price", hyperparameters={"n_estimators": 5})
    with pytest.raises(ParityError, match=r"ONNX parity failed: max relative \|Δy\| \S+ > 0 \(max \|Δy\| \S+\) on 20"):
        run(spec, regression_rows(100, seed=1), parity=ParityThresholds(max_rel_diff=0.0))


def test_parity_catches_a_mismatched_tokenizer() -> None:
    """skl2onnx's default tokenizer keeps one-letter tokens and splits non-ASCII words
    (ML.md): the check must refuse such a model."""
    spec = TrainingSpec("m", Task.TEXT_CLASSIFICATION, "logistic_regression", "sujet")
    with pytest.raises(ParityError) as info:
        run(spec, text_rows(200, seed=1), tokenizer_options={"locale": "C.UTF-8"})
    message = info.value.message
    assert message.startswith("ONNX parity failed: ") and message.endswith(" on 40 test rows")
    assert float(info.value.metadata["max_abs_diff"]) > 1e-3


def test_feeds_from_records_refuses_non_numbers_for_numeric_inputs() -> None:
    from servers.runtime.errors import InvalidArgument

    inputs = [TensorSpec("age", "FP32", (-1, 1)), TensorSpec("city", "BYTES", (-1, 1))]
    feeds = feeds_from_records(inputs, [{"age": 3, "city": None}, {"age": True, "city": 7}, {}])
    assert feeds["age"].dtype == np.float32 and feeds["age"].ravel()[:2].tolist() == [3.0, 1.0]
    assert np.isnan(feeds["age"][2, 0])
    assert feeds["city"].ravel().tolist() == ["", "7", ""]
    with pytest.raises(InvalidArgument) as info:
        feeds_from_records(inputs, [{"age": 1}, {"age": "old"}])
    assert [v.field for v in info.value.violations] == ["records[1].age"]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_class_too_rare_to_stratify(seed: int) -> None:
    rows = [(i * 0.1, "a" if i % 2 else "b") for i in range(60)] + [(3.05, "c")]
    result = run(TrainingSpec("m", Task.CLASSIFICATION, "logistic_regression", "y", seed=seed),
                 Dataset(("x", "y"), rows)).result
    assert "test split not stratified: too few rows of some class" in result.warnings
    assert 0 <= result.metrics["accuracy"] <= 1 and "f1_macro" in result.metrics
    if result.classes == ["a", "b"]:  # "c" fell in the test split: the model cannot know it
        assert "roc_auc" not in result.metrics


def test_parity_treats_nan_on_one_side_as_a_failure() -> None:
    from workers.ml_engine.parity import Reference, check_parity

    trained = run(TrainingSpec("m", Task.REGRESSION, "ridge", "price"), regression_rows(60, seed=2))
    feeds = {"a": np.zeros((2, 1), np.float32), "b": np.zeros((2, 1), np.float32), "c": np.zeros((2, 1), np.float32),
             "d": np.zeros((2, 1), np.float32), "region": np.array([["north"], ["south"]], dtype=object)}
    (values,) = session(trained.result.onnx_model).run(None, feeds)
    check_parity(trained.result.onnx_model, feeds, Reference(values.ravel().astype(np.float64)), "variable")
    with pytest.raises(ParityError, match="max relative"):
        check_parity(trained.result.onnx_model, feeds, Reference(np.array([values[0, 0], np.nan])), "variable")


@pytest.mark.parametrize("task", [Task.CLASSIFICATION, Task.REGRESSION])
def test_a_forest_grown_in_chunks_is_the_forest_of_one_fit(task: Task) -> None:
    """Forests are grown in chunks (warm start) to report progress: same trees."""
    from sklearn.base import clone

    from servers.contracts.ml.validation import plan
    from workers.ml_engine.trainer import _fit

    dataset = classification_rows(150, seed=9) if task is Task.CLASSIFICATION else regression_rows(150, seed=9)
    target = dataset.columns[-1]
    spec = TrainingSpec("m", task, "random_forest", target, hyperparameters={"n_estimators": 23, "max_depth": None})
    resolved = plan(spec, dataset.columns, dataset.rows)
    columns = dict(zip(dataset.columns, dataset.column_values(), strict=True))
    data = FeatureData.encode(resolved.features, resolved.feature_kinds, [columns[f] for f in resolved.features])
    y = np.array(columns[target], dtype=object if task is Task.CLASSIFICATION else np.float64)
    steps: list[float] = []
    chunked = _fit(resolved, data, np.arange(len(y)), y, 5, 1, lambda fraction, stage: steps.append(fraction))
    assert len(steps) == 10 and len(chunked.named_steps["model"].estimators_) == 23
    x = chunked.named_steps["prep"].transform(data.matrix())
    single = clone(chunked.named_steps["model"]).set_params(warm_start=False).fit(x, y)
    chunked_model = chunked.named_steps["model"]
    if task is Task.CLASSIFICATION:
        assert np.array_equal(chunked_model.predict_proba(x), single.predict_proba(x))
    else:
        assert np.array_equal(chunked_model.predict(x), single.predict(x))
