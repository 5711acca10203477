"""Every bad spec is an InvalidArgument naming the exact fields — all of them at once."""

from __future__ import annotations

from typing import Any

import pytest

from servers.contracts.ml.algorithms import ALGORITHMS, get_algorithm, resolve_hyperparameters
from servers.contracts.ml.spec import Dataset, Task, TrainingSpec
from servers.contracts.ml.validation import min_rows_to_split, validate
from servers.runtime.errors import InvalidArgument
from workers.ml_engine.trainer import train

COLUMNS = ("age", "city", "income", "score", "note", "when", "churned")


def rows(n: int = 40) -> list[tuple[Any, ...]]:
    from datetime import date

    return [
        (20 + i % 30, ["Paris", "Lyon", "Nice"][i % 3], 1000.5 + i * 37.25, i * 0.731 % 1, f"note {i}",
         date(2024, 1, 1 + i % 28), ["yes", "no"][i % 2])
        for i in range(n)
    ]


def spec(**changes: Any) -> TrainingSpec:
    base: dict[str, Any] = dict(model_name="churn", task=Task.CLASSIFICATION, algorithm="random_forest",
                                target="churned", features=("age", "city", "income"))
    return TrainingSpec(**{**base, **changes})


def fields(spec_: TrainingSpec, data: list[tuple[Any, ...]] | None = None, columns=COLUMNS) -> list[str]:
    return [v.field for v in validate(spec_, columns, rows() if data is None else data)]


def test_a_good_spec_has_no_violations() -> None:
    assert fields(spec()) == []
    assert fields(spec(features=())) == []  # default features: every usable column


@pytest.mark.parametrize(
    ("changes", "expected", "needle"),
    [
        (dict(algorithm="svm"), ["algorithm"], "valid: gradient_boosting, logistic_regression, random_forest"),
        (dict(task=Task.REGRESSION, target="income", algorithm="linear_svc", features=()), ["algorithm"],
         "valid: gradient_boosting, linear_regression, random_forest, ridge"),
        (dict(hyperparameters={"n_trees": 10}), ["hyperparameters.n_trees"], "valid: bootstrap, class_weight"),
        (dict(hyperparameters={"n_estimators": "many"}), ["hyperparameters.n_estimators"], "an integer in [1, 5000]"),
        (dict(hyperparameters={"n_estimators": 0}), ["hyperparameters.n_estimators"], "got 0"),
        (dict(hyperparameters={"n_estimators": 2.5}), ["hyperparameters.n_estimators"], "got 2.5"),
        (dict(hyperparameters={"bootstrap": "maybe"}), ["hyperparameters.bootstrap"], "a boolean"),
        (dict(hyperparameters={"max_features": "half"}), ["hyperparameters.max_features"], "one of 'sqrt', 'log2', 'all'"),
        (dict(algorithm="logistic_regression", hyperparameters={"C": 0}), ["hyperparameters.C"], "(0, 1000000]"),
        (dict(algorithm="logistic_regression", hyperparameters={"C": float("nan")}), ["hyperparameters.C"], "nan"),
        (dict(target="churn"), ["target"], "column 'churn' is not in the dataset (columns: age, city"),
        (dict(target=""), ["target"], "is required"),
        (dict(features=("age", "town", "income", "zip")), ["features[1]", "features[3]"], "'town' is not in the dataset"),
        (dict(features=("age", "churned")), ["features[1]"], "is the target"),
        (dict(features=("age", "age")), ["features[1]"], "repeats features[0]"),
        (dict(features=("when",)), ["features[0]"], "dates/times"),
        (dict(task=Task.REGRESSION, algorithm="ridge", target="city", features=("age",)), ["target"], "regression needs a numeric target"),
        (dict(target="income", features=("age",)), ["target"], "looks continuous: use regression"),
        (dict(test_fraction=0), ["test_fraction"], "(0, 0.9]"),
        (dict(test_fraction=0.95), ["test_fraction"], "(0, 0.9]"),
        (dict(seed=-1), ["seed"], "[0, 2^32)"),
        (dict(model_name="Churn Model"), ["model_name"], "lowercase"),
    ],
)
def test_bad_specs_name_their_fields(changes: dict[str, Any], expected: list[str], needle: str) -> None:
    violations = validate(spec(**changes), COLUMNS, rows(120))
    assert [v.field for v in violations] == expected
    assert needle in " ".join(v.description for v in violations)


def test_every_violation_is_reported_at_once() -> None:
    bad = spec(
        model_name="",
        algorithm="random_forest",
        target="nope",
        features=("age", "ghost", "when"),
        hyperparameters={"n_estimators": -5, "depth": 3, "max_depth": "deep"},
        test_fraction=1.5,
    )
    assert sorted(fields(bad)) == sorted([
        "model_name", "hyperparameters.n_estimators", "hyperparameters.depth", "hyperparameters.max_depth",
        "test_fraction", "target", "features[1]", "features[2]",
    ])


def test_dataset_level_problems() -> None:
    assert fields(spec(), data=[]) == ["dataset"]
    assert "has no rows" in validate(spec(), COLUMNS, [])[0].description
    few = validate(spec(), COLUMNS, rows(2))
    assert [v.field for v in few] == ["dataset"]
    assert f"at least {min_rows_to_split(0.2)} are needed" in few[0].description
    single = [r[:-1] + ("yes",) for r in rows()]
    assert fields(spec(), data=single) == ["target"]
    no_target = [r[:-1] + (None,) for r in rows()]
    assert fields(spec(), data=no_target) == ["target"]
    assert fields(spec(), data=rows(), columns=COLUMNS[:-1] + ("age",)) == ["dataset", "target"]


def test_text_classification_needs_exactly_one_text_column() -> None:
    text = dict(task=Task.TEXT_CLASSIFICATION, algorithm="linear_svc")
    assert fields(spec(**text, features=("note",))) == []
    assert fields(spec(**text, features=("age",))) == ["features[0]"]
    assert fields(spec(**text, features=("note", "city"))) == ["features"]
    # default features: two text columns (city, note) → ambiguous
    violations = validate(spec(**text, features=()), COLUMNS, rows())
    assert [v.field for v in violations] == ["features"]
    assert "(city, note)" in violations[0].description
    one_text = [(r[0], r[4], r[6]) for r in rows()]
    assert validate(spec(**text, features=()), ("age", "note", "churned"), one_text) == []


def test_reserved_output_names_cannot_be_features() -> None:
    columns = ("label", "x", "y")
    data = [(i % 3, i * 1.5, "ab"[i % 2]) for i in range(30)]
    assert fields(spec(target="y", features=("label", "x")), data, columns) == ["features[0]"]
    assert fields(spec(target="y", features=()), data, columns) == ["features"]
    assert fields(spec(target="y", features=("x",)), data, columns) == []


def test_without_rows_only_names_are_checked() -> None:
    assert validate(spec(features=("age", "ghost")), COLUMNS, None)[0].field == "features[1]"
    assert validate(spec(target="income", features=()), COLUMNS, None) == []


def test_hyperparameters_accept_json_ish_values() -> None:
    forest = get_algorithm(Task.CLASSIFICATION, "random_forest")
    assert forest is not None
    resolved = resolve_hyperparameters(forest, {"n_estimators": 10.0, "bootstrap": "false", "max_depth": "none",
                                                "class_weight": "balanced", "min_samples_leaf": "3"})
    assert resolved["n_estimators"] == 10 and type(resolved["n_estimators"]) is int
    assert resolved["bootstrap"] is False and resolved["max_depth"] is None and resolved["min_samples_leaf"] == 3
    assert resolved["max_features"] == "sqrt"  # default filled in
    with pytest.raises(InvalidArgument) as info:
        resolve_hyperparameters(forest, {"bootstrap": 1})
    assert [v.field for v in info.value.violations] == ["hyperparameters.bootstrap"]


def test_registry_covers_the_required_algorithms() -> None:
    assert set(ALGORITHMS[Task.CLASSIFICATION]) >= {"logistic_regression", "random_forest", "gradient_boosting"}
    assert set(ALGORITHMS[Task.REGRESSION]) >= {"linear_regression", "ridge", "random_forest", "gradient_boosting"}
    assert set(ALGORITHMS[Task.TEXT_CLASSIFICATION]) >= {"logistic_regression", "linear_svc"}
    for table in ALGORITHMS.values():
        for algorithm in table.values():
            for param in algorithm.params:  # every default passes its own schema
                assert param.coerce(param.default) == (param.default, None), (algorithm.name, param.name)


def test_train_raises_the_same_violations() -> None:
    dataset = Dataset(COLUMNS, rows())
    with pytest.raises(InvalidArgument) as info:
        train(spec(features=("age", "ghost"), hyperparameters={"n_estimators": 0}), dataset)
    assert sorted(v.field for v in info.value.violations) == ["features[1]", "hyperparameters.n_estimators"]
