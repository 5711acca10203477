"""Everything wrong with a training spec against a dataset, all at once.

`validate` is what CreateTrainingJob calls before queuing (with the dataset's columns
and a sample of its rows, or no rows when they cannot be read yet); `plan` is what the
trainer calls on the full dataset: the same checks, and the resolved choices (algorithm,
hyperparameters with defaults, feature columns and their kinds) when there is nothing
wrong.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from servers.runtime import names
from servers.runtime.errors import FieldViolation, InvalidArgument

from .algorithms import ALGORITHMS, Algorithm, check_hyperparameters, get_algorithm
from .columns import ColumnKind, infer_kind, kind_of_types, present_indices
from .spec import Task, TrainingSpec, reserved_names

# The registry's model names (servers/registry/core.py): checked here so a job does not
# train for an hour and then fail to register.
MODEL_NAME = names.NAME
MAX_TEST_FRACTION = 0.9
# A float target "looks continuous" for classification beyond this many distinct values
# when they are also more than this share of the rows.
MAX_FLOAT_CLASSES = 50
MAX_FLOAT_CLASS_SHARE = 0.5
MIN_TRAIN_ROWS = 2
MIN_TEST_ROWS = 1


@dataclass(frozen=True)
class Plan:
    """A valid spec resolved against a dataset."""

    task: Task
    algorithm: Algorithm
    hyperparameters: dict[str, Any]
    features: tuple[str, ...]
    feature_kinds: tuple[ColumnKind, ...]
    target_kind: ColumnKind
    notes: tuple[str, ...] = ()  # e.g. columns left out of the default features


def validate(
    spec: TrainingSpec, columns: Sequence[str], sample_rows: Sequence[Sequence[Any]] | None = None
) -> list[FieldViolation]:
    """Every problem of `spec` on a dataset with these columns (and rows, when known).

    With `sample_rows` None, only what the column names allow is checked; with rows,
    also the column kinds, the target's fitness for the task, and the row counts.
    """
    return _check(spec, columns, sample_rows)[1]


def plan(
    spec: TrainingSpec,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    column_values: Sequence[Sequence[Any]] | None = None,
    column_types: Sequence[frozenset[type]] | None = None,
) -> Plan:
    """The resolved plan for training; raises InvalidArgument listing every problem.
    `column_values` (`rows` transposed) and `column_types` (the set of value types of
    each column) save a pass over the data when the caller has them already."""
    resolved, violations = _check(spec, columns, rows, column_values, column_types)
    if violations or resolved is None:
        raise InvalidArgument.from_violations(violations or [FieldViolation("dataset", "cannot be used")])
    return resolved


def min_rows_to_split(test_fraction: float) -> int:
    """Fewest rows with a target value that leave MIN_TRAIN_ROWS to train on and
    MIN_TEST_ROWS to test on (scikit-learn rounds the test share up)."""
    n = MIN_TRAIN_ROWS + MIN_TEST_ROWS
    while n - math.ceil(n * test_fraction) < MIN_TRAIN_ROWS:
        n += 1
    return n


Add = Callable[[str, str], None]


def _check(
    spec: TrainingSpec,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]] | None,
    column_values: Sequence[Sequence[Any]] | None = None,
    column_types: Sequence[frozenset[type]] | None = None,
) -> tuple[Plan | None, list[FieldViolation]]:
    violations: list[FieldViolation] = []
    add = _adder(violations)

    if not isinstance(spec.model_name, str) or not MODEL_NAME.match(spec.model_name):
        add("model_name", "must be 1-63 lowercase letters, digits and hyphens, starting with a letter")
    task, algorithm, hyperparameters = _check_choices(spec, violations)
    fraction_ok = _check_split(spec, add)

    columns = list(columns)
    duplicated = sorted(name for name, count in Counter(columns).items() if count > 1)
    if duplicated:
        add("dataset", f"has duplicate column names: {', '.join(duplicated)}")
    listing = ", ".join(columns) if len(columns) <= 30 else ", ".join(columns[:30]) + ", …"
    present = set(columns)

    target_ok = False
    anomaly = task is Task.ANOMALY_DETECTION
    if anomaly:
        if spec.target:
            add("target", f"anomaly_detection takes no target column; leave target empty (got {spec.target!r})")
    elif not spec.target:
        add("target", "is required")
    elif spec.target not in present:
        add("target", f"column {spec.target!r} is not in the dataset (columns: {listing})")
    else:
        target_ok = True

    values, kinds = _column_kinds(columns, rows, column_values, column_types, add)
    known = bool(kinds)

    text_task = task is Task.TEXT_CLASSIFICATION
    features: list[str] = []
    notes: list[str] = []
    explicit = list(spec.features)
    if explicit:
        features = _explicit_features(spec.target, explicit, present, listing, kinds, text_task, add,
                                      reserved_names(task))
    elif known:
        features, notes = _default_features(spec.target, columns, kinds, text_task, target_ok or anomaly, add,
                                            reserved_names(task))

    target_kind = ColumnKind.EMPTY
    if known and target_ok:
        types = None if column_types is None else column_types[columns.index(spec.target)]
        target_kind = _check_target_values(spec, task, values[spec.target], types, kinds[spec.target], fraction_ok, add)
    elif known and anomaly and fraction_ok:
        _check_row_count(len(rows or ()), spec.test_fraction, "row(s)", add)

    if violations or task is None or algorithm is None or not known:
        return None, violations
    return Plan(
        task=task,
        algorithm=algorithm,
        hyperparameters=hyperparameters,
        features=tuple(features),
        feature_kinds=tuple(kinds[name] for name in features),
        target_kind=target_kind,
        notes=tuple(notes),
    ), violations


def _adder(violations: list[FieldViolation]) -> Add:
    return lambda where, what: violations.append(FieldViolation(where, what))


def _check_choices(
    spec: TrainingSpec, violations: list[FieldViolation]
) -> tuple[Task | None, Algorithm | None, dict[str, Any]]:
    """The task, the algorithm for it and the hyperparameters with their defaults."""
    add = _adder(violations)
    task = _task(spec.task)
    algorithm: Algorithm | None = None
    hyperparameters: dict[str, Any] = {}
    if task is None:
        add("task", f"must be one of {', '.join(t.value for t in Task)}, got {spec.task!r}")
    else:
        algorithm = get_algorithm(task, spec.algorithm)
        if algorithm is None:
            add("algorithm", f"unknown algorithm {spec.algorithm!r} for {task.value}; "
                             f"valid: {', '.join(sorted(ALGORITHMS[task]))}")
        else:
            hyperparameters, problems = check_hyperparameters(algorithm, spec.hyperparameters)
            violations.extend(problems)
    return task, algorithm, hyperparameters


def _check_split(spec: TrainingSpec, add: Add) -> bool:
    """Checks test_fraction and seed; whether test_fraction is usable."""
    fraction = spec.test_fraction
    fraction_ok = isinstance(fraction, numbers.Real) and not isinstance(fraction, bool) and (
        0 < fraction <= MAX_TEST_FRACTION
    )
    if not fraction_ok:
        add("test_fraction", f"must be in (0, {MAX_TEST_FRACTION}], got {fraction!r}")
    if not isinstance(spec.seed, int) or isinstance(spec.seed, bool) or not 0 <= spec.seed < 2**32:
        add("seed", f"must be an integer in [0, 2^32), got {spec.seed!r}")
    return fraction_ok


def _column_kinds(
    columns: list[str],
    rows: Sequence[Sequence[Any]] | None,
    column_values: Sequence[Sequence[Any]] | None,
    column_types: Sequence[frozenset[type]] | None,
    add: Add,
) -> tuple[dict[str, Any], dict[str, ColumnKind]]:
    """Each column's values and kind; both empty when the rows are not known."""
    values: dict[str, Any] = {}
    kinds: dict[str, ColumnKind] = {}
    if rows is not None and rows:
        transposed = zip(*rows, strict=True) if column_values is None else column_values
        for i, (name, column) in enumerate(zip(columns, transposed, strict=True)):
            values[name] = column
            kinds[name] = infer_kind(column) if column_types is None else kind_of_types(column_types[i])
    elif rows is not None:
        add("dataset", "has no rows")
    return values, kinds


def _explicit_features(
    target: str, explicit: list[str], present: set[str], listing: str, kinds: dict[str, ColumnKind], text_task: bool,
    add: Add, reserved: frozenset[str],
) -> list[str]:
    """The features the spec names, each checked against the dataset."""
    known = bool(kinds)
    features: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(explicit):
        where = f"features[{i}]"
        if not name:
            add(where, "is empty")
        elif name not in present:
            add(where, f"column {name!r} is not in the dataset (columns: {listing})")
        elif name == target:
            add(where, f"{name!r} is the target; a column cannot be both")
        elif name in seen:
            add(where, f"{name!r} repeats features[{seen[name]}]")
        elif name in reserved:
            add(where, f"{name!r} is the name of a model output "
                       f"({', '.join(sorted(reserved))}); rename the column")
        elif known and kinds[name] is ColumnKind.EMPTY:
            add(where, f"column {name!r} has no values")
        elif known and kinds[name] is ColumnKind.TEMPORAL:
            add(where, f"column {name!r} holds dates/times, which are not supported as features; "
                       "derive a number or a category from it in the dataset")
        elif text_task and known and not kinds[name].is_text:
            add(where, f"column {name!r} holds {kinds[name].value} values; "
                       "text_classification needs a text column")
        else:
            features.append(name)
        seen.setdefault(name, i)
    if text_task and len(explicit) != 1:
        add("features", f"text_classification takes exactly one text column, got {len(explicit)}")
    return features


def _default_features(
    target: str, columns: list[str], kinds: dict[str, ColumnKind], text_task: bool, target_ok: bool, add: Add,
    reserved: frozenset[str],
) -> tuple[list[str], list[str]]:
    """The features when the spec names none: every usable column but the target (the
    one text column for text classification), and notes on the columns left out."""
    features: list[str] = []
    notes: list[str] = []
    for name in columns:
        if name == target:
            continue
        kind = kinds[name]
        if text_task:
            if kind.is_text:
                features.append(name)
        elif kind in (ColumnKind.EMPTY, ColumnKind.TEMPORAL):
            notes.append(f"column {name!r} left out of the features: {kind.value}")
        else:
            features.append(name)
    if text_task and len(features) != 1:
        found = f" ({', '.join(features)})" if features else ""
        add("features", f"text_classification needs exactly one text column; the dataset has "
                        f"{len(features)}{found}: name the one to use in features")
        features = []
    elif not features and target_ok:
        add("features", "the dataset has no column usable as a feature besides the target")
    clashing = sorted(set(features) & reserved)
    if clashing:
        add("features", f"column(s) {', '.join(map(repr, clashing))} carry the name of a model "
                        "output; list the features explicitly without them, or rename them")
    return features, notes


def _check_target_values(
    spec: TrainingSpec,
    task: Task | None,
    column: Sequence[Any],
    types: frozenset[type] | None,
    target_kind: ColumnKind,
    fraction_ok: bool,
    add: Add,
) -> ColumnKind:
    """The target column's fitness for the task, and enough rows to split; its kind."""
    where = present_indices(column, types)
    target_values = list(column) if where is None else [column[i] for i in where]
    if target_kind is ColumnKind.EMPTY or not target_values:
        add("target", f"column {spec.target!r} has no values")
    elif task is Task.REGRESSION and target_kind not in (ColumnKind.INT, ColumnKind.FLOAT):
        add("target", f"column {spec.target!r} holds {target_kind.value} values; regression needs "
                      "a numeric target (use classification for categories)")
    elif task is not None and task.is_classification:
        _check_classes(spec.target, target_kind, target_values, add)
    if fraction_ok and target_values:
        _check_row_count(len(target_values), spec.test_fraction, "row(s) with a target value", add)
    return target_kind


def _check_row_count(count: int, fraction: float, what: str, add: Add) -> None:
    needed = min_rows_to_split(float(fraction))
    if count < needed:
        add("dataset", f"has {count} {what}; at least {needed} "
                       f"are needed to split into training and test sets at test_fraction {fraction}")


def _task(task: Any) -> Task | None:
    if isinstance(task, Task):
        return task
    try:
        return Task(task)
    except ValueError:
        return None


def _check_classes(target: str, kind: ColumnKind, values: list[Any], add: Add) -> None:
    if kind is ColumnKind.TEMPORAL:
        add("target", f"column {target!r} holds dates/times, which cannot be class labels")
        return
    from .columns import as_text, as_texts

    distinct = len(set(as_texts(values)))
    if distinct == 1:
        add("target", f"column {target!r} has a single class ({as_text(values[0])!r}); "
                      "classification needs at least two")
    elif kind is ColumnKind.FLOAT and distinct > MAX_FLOAT_CLASSES and distinct > MAX_FLOAT_CLASS_SHARE * len(values):
        add("target", f"column {target!r} holds floats with {distinct} distinct values in "
                      f"{len(values)} rows ({distinct / len(values):.0%}); that looks continuous: "
                      "use regression, or bin the values into classes")
