"""Dataset fingerprints and the spec's plain data."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from servers.contracts.ml.spec import Dataset, Task, TrainingSpec
from servers.runtime.errors import InvalidArgument

ROOT = Path(__file__).resolve().parents[2]

ROWS = [
    (1, 2.5, "café", True, None, Decimal("1.50"), date(2024, 2, 29), datetime(2024, 1, 1, 12, tzinfo=UTC)),
    (2, -0.0, "", False, 7, Decimal("-3"), None, datetime(2023, 5, 6)),
    (10**30, float("nan"), "日本語\x00x", None, 8, None, date(1999, 1, 1), None),
]
COLUMNS = ("id", "score", "name", "flag", "n", "amount", "day", "at")


def test_fingerprint_is_stable_across_processes() -> None:
    here = Dataset(COLUMNS, ROWS).fingerprint()
    script = (
        "from tests.ml_engine.test_spec import COLUMNS, ROWS\n"
        "from servers.contracts.ml.spec import Dataset\n"
        "print(Dataset(COLUMNS, ROWS).fingerprint())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    there = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    assert here == there
    assert len(here) == 64
    assert Dataset(COLUMNS, list(ROWS)).fingerprint() == here


@pytest.mark.parametrize(
    "change",
    [
        lambda c, r: (c, r[:2]),  # a row less
        lambda c, r: (c, [r[1], r[0], r[2]]),  # row order
        lambda c, r: (("ID",) + c[1:], r),  # a column name
        lambda c, r: (c, [(1.0,) + r[0][1:]] + r[1:]),  # int 1 → float 1.0
        lambda c, r: (c, [r[0][:1] + (2.5000001,) + r[0][2:]] + r[1:]),  # a float
        lambda c, r: (c, [r[0][:2] + ("cafe",) + r[0][3:]] + r[1:]),  # a string
        lambda c, r: (c, [r[0][:4] + ("",) + r[0][5:]] + r[1:]),  # None → ""
        lambda c, r: (c, [r[0]] + [r[1][:1] + (0.0,) + r[1][2:]] + r[2:]),  # -0.0 → 0.0
        lambda c, r: (c, [r[0][:5] + (Decimal("1.5"),) + r[0][6:]] + r[1:]),  # Decimal scale
        lambda c, r: (c, [r[0][:3] + (1,) + r[0][4:]] + r[1:]),  # True → 1
    ],
)
def test_fingerprint_is_sensitive(change) -> None:
    base = Dataset(COLUMNS, ROWS).fingerprint()
    columns, rows = change(COLUMNS, list(ROWS))
    assert Dataset(columns, rows).fingerprint() != base


def test_fingerprint_does_not_confuse_cell_boundaries() -> None:
    a = Dataset(("s", "t"), [("ab", "c")]).fingerprint()
    b = Dataset(("s", "t"), [("a", "bc")]).fingerprint()
    c = Dataset(("st",), [("ab",)]).fingerprint()
    assert len({a, b, c}) == 3


def test_dataset_refuses_ragged_rows() -> None:
    with pytest.raises(InvalidArgument) as info:
        Dataset(("a", "b"), [(1, 2), (3,)])
    assert [v.field for v in info.value.violations] == ["dataset"]
    assert "row 1 has 1 values" in info.value.message


def test_spec_normalizes_sequences() -> None:
    spec = TrainingSpec("m", Task("regression"), "ridge", "y", features=["a", "b"], hyperparameters={"alpha": 1})
    assert spec.features == ("a", "b")
    assert spec.task is Task.REGRESSION
    hash(spec)  # usable as a key despite the dict of hyperparameters
