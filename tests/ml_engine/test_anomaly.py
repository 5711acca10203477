"""anomaly_detection: IsolationForest trains without a target, exports "score"
(-score_samples, higher = more unusual) and "is_anomaly" (0/1), passes parity, and the
planted outliers come out flagged with the highest scores."""

from __future__ import annotations

import numpy as np
import pytest

from servers.contracts.ml.spec import Dataset, Task, TrainingSpec
from servers.contracts.ml.validation import validate
from servers.runtime.errors import InvalidArgument
from workers.ml_engine.parity import session
from workers.ml_engine.trainer import run

PLANTED = (7, 123, 250, 399)


def orders(n: int = 400, seed: int = 1) -> Dataset:
    """Orders with a few planted outliers (huge amounts and quantities)."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(50, 5, n)
    qty = rng.integers(1, 5, n).astype(float)
    region = rng.choice(["north", "south"], n)
    amount[list(PLANTED)] = [500, 480, -200, 520]
    qty[list(PLANTED)] = [40, 1, 30, 50]
    return Dataset.from_columns(["amount", "qty", "region"], [amount.tolist(), qty.tolist(), region.tolist()])


def spec(**changes) -> TrainingSpec:
    values = dict(model_name="orders-anomaly", task=Task.ANOMALY_DETECTION, algorithm="isolation_forest",
                  target="", hyperparameters={"contamination": 0.01, "n_estimators": 100})
    values.update(changes)
    return TrainingSpec(**values)


def feeds(dataset: Dataset) -> dict[str, np.ndarray]:
    amount, qty, region = dataset.column_values()
    return {
        "amount": np.asarray(amount, dtype=np.float32).reshape(-1, 1),
        "qty": np.asarray(qty, dtype=np.float32).reshape(-1, 1),
        "region": np.asarray(region, dtype=object).reshape(-1, 1),
    }


def test_planted_outliers_are_flagged_with_the_highest_scores() -> None:
    dataset = orders()
    trained = run(spec(), dataset)
    result = trained.result
    assert [(o.name, o.datatype, o.shape) for o in result.outputs] == [
        ("score", "FP32", (-1, 1)), ("is_anomaly", "INT64", (-1, 1))]
    assert result.classes is None and result.features == ("amount", "qty", "region")
    assert result.parity.compared == "score" and result.parity.label_agreement == 1.0
    assert result.parity.max_abs_diff < 1e-4
    for key in ("anomaly_share", "score_threshold", "score_p50", "score_p90", "score_p99", "score_max"):
        assert key in result.metrics
    sess = session(result.onnx_model)
    assert [(o.name, o.type) for o in sess.get_outputs()] == [("score", "tensor(float)"), ("is_anomaly", "tensor(int64)")]
    score, flagged = sess.run(["score", "is_anomaly"], feeds(dataset))
    score, flagged = score.ravel(), flagged.ravel()
    assert flagged[list(PLANTED)].tolist() == [1, 1, 1, 1]
    assert sorted(np.argsort(-score)[: len(PLANTED)].tolist()) == list(PLANTED)
    assert set(np.unique(flagged).tolist()) == {0, 1}
    # Against scikit-learn on every row: score = -score_samples, is_anomaly = predict == -1.
    from workers.ml_engine.features import FeatureData

    data = FeatureData.encode(trained.plan.features, trained.plan.feature_kinds, dataset.column_values())
    matrix = data.matrix()
    np.testing.assert_allclose(score, -trained.pipeline.score_samples(matrix), atol=1e-4)
    assert (flagged == (trained.pipeline.predict(matrix) == -1)).mean() >= 0.999


def test_target_is_refused_and_hyperparameters_checked() -> None:
    dataset = orders()
    problems = {v.field: v.description for v in validate(spec(target="amount"), dataset.columns, dataset.rows)}
    assert "target" in problems and "anomaly_detection takes no target" in problems["target"]
    problems = {v.field: v.description for v in validate(
        spec(hyperparameters={"contamination": 0.9, "max_samples": 1, "bogus": 1}), dataset.columns, dataset.rows)}
    assert set(problems) == {"hyperparameters.contamination", "hyperparameters.max_samples", "hyperparameters.bogus"}
    assert validate(spec(), dataset.columns, dataset.rows) == []
    with pytest.raises(InvalidArgument) as caught:
        run(spec(target="qty"), dataset)
    assert any(v.field == "target" for v in caught.value.violations)


def test_reserved_output_names_cannot_be_features() -> None:
    dataset = Dataset(("score", "x"), [(float(i), float(i % 7)) for i in range(30)])
    problems = {v.field for v in validate(spec(features=("score", "x")), dataset.columns, dataset.rows)}
    assert "features[0]" in problems


def test_cli_formats_an_anomaly_prediction() -> None:
    from chatdb.prediction.v1 import prediction_pb2

    from servers.prediction.cli import format_prediction

    p = prediction_pb2.Prediction(score=0.71234, is_anomaly=True)
    assert format_prediction(p, as_json=False) == "anomaly  (score=0.7123)"
    assert format_prediction(prediction_pb2.Prediction(score=0.4, is_anomaly=False), as_json=False) == "normal  (score=0.4000)"
    assert '"is_anomaly": true' in format_prediction(p, as_json=True)


def test_tied_values_on_the_threshold_do_not_fail_parity() -> None:
    # One column of a few small integers: many rows share the threshold's score exactly
    # and fell the other side in float32 together ("label agreement 0.75 < 0.999" before).
    from workers.ml_engine.parity import ParityError, Reference, check_parity

    rng = np.random.default_rng(5)
    weight = rng.choice([1, 2, 3, 4, 5, 6, 7], 100).astype(float)
    dataset = Dataset.from_columns(["weight"], [weight.tolist()])
    result = run(spec(hyperparameters={"contamination": 0.05, "n_estimators": 100}), dataset).result
    assert result.parity.rows_at_threshold > 0
    assert result.parity.label_agreement == 1.0
    # Rows away from the threshold still count: labels that really differ fail.
    feeds_ = {"weight": np.asarray(weight, dtype=np.float32).reshape(-1, 1)}
    score, flagged = session(result.onnx_model).run(["score", "is_anomaly"], feeds_)
    wrong = 1 - flagged.ravel()
    with pytest.raises(ParityError, match="label agreement"):
        check_parity(result.onnx_model, feeds_, Reference(score.ravel(), wrong), "score")
