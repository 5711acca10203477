"""Without a transport: input plans encode records exactly as training encoded columns
(workers.ml_engine.features.feeds_from_records), and the load-time graph rewrite changes
no answer. The core itself is tested in test_core.py."""

from __future__ import annotations

import math

import numpy as np
import onnxruntime as ort
import pytest

from servers.contracts.ml.spec import TensorSpec
from servers.prediction.domain import Columns, Records, TensorInfo
from servers.prediction.graph import fuse_numeric_inputs, index_labels
from servers.prediction.plan import InputPlan
from servers.runtime.errors import InvalidArgument
from workers.ml_engine.features import feeds_from_records

MIXED = [TensorInfo("age", "FP32", (-1, 1)), TensorInfo("plan", "BYTES", (-1, 1)), TensorInfo("vip", "FP32", (-1, 1))]


def test_records_encode_as_in_training():
    records = [
        {"age": 42.0, "plan": "pro", "vip": True},
        {"age": None, "plan": 3.0, "vip": False},
        {"age": 1e300, "plan": None, "vip": 0.5},
        {"age": float("nan"), "plan": True, "vip": float("inf")},
        {"age": 7, "plan": 2.5, "vip": 1},
    ]
    plan = InputPlan("m", MIXED)
    got = plan.records_feeds(Records(records))
    want = feeds_from_records([TensorSpec(i.name, i.datatype, i.shape) for i in MIXED], records)
    assert set(got) == set(want)
    for name in want:
        if want[name].dtype == object:
            assert got[name].tolist() == want[name].tolist()
        else:
            np.testing.assert_array_equal(got[name], want[name])
    for i, record in enumerate(records):  # one row at a time: the same values
        row = plan.record_row(record)
        single = plan.single_feeds(row)
        for name in want:
            value, expected = single[name].reshape(-1)[0], want[name][i, 0]
            if want[name].dtype == object:
                assert value == expected
            else:
                np.testing.assert_array_equal(value, expected)


def test_all_float_rows_take_the_fast_path_and_coerce_the_rest():
    plan = InputPlan("m", [TensorInfo(f"f{i}", "FP32", (-1, 1)) for i in range(3)])
    assert plan.record_row({"f0": 1.5, "f1": -2.0, "f2": 0.0}) == [1.5, -2.0, 0.0]
    row = plan.record_row({"f0": True, "f1": None, "f2": 1e39})
    assert row[0] == 1.0 and math.isnan(row[1]) and math.isnan(row[2])
    with pytest.raises(InvalidArgument) as info:
        plan.record_row({"f0": "1.5", "f1": 1.0, "f3": 2.0})
    fields = {v.field for v in info.value.violations}
    assert fields == {"records[0].f0", "records[0].f2", "records[0].f3"}


def test_columns_in_any_order_and_numeric_matrices():
    plan = InputPlan("m", [TensorInfo(f"f{i}", "FP32", (-1, 1)) for i in range(3)],
                     matrix_input="x", columns=("f2", "f0", "f1"))
    matrix = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 1e40]])
    feeds = plan.columns_feeds(Columns(["f0", "f1", "f2"], matrix=matrix))
    assert list(feeds) == ["x"] and feeds["x"].dtype == np.float32
    np.testing.assert_array_equal(feeds["x"], np.array([[3.0, 1.0, 2.0], [np.nan, 4.0, 5.0]], dtype=np.float32))
    same = plan.columns_feeds(Columns(["f0", "f1", "f2"], rows=matrix.tolist()))
    np.testing.assert_array_equal(same["x"], feeds["x"])


@pytest.mark.parametrize("key,fused", [("lr", True), ("rf", True), ("ridge", True), ("text", False), ("mixed", False)])
def test_graph_rewrite_changes_no_answer(models, key, fused):
    model = models[key]
    rewritten = fuse_numeric_inputs(model.onnx)
    assert (rewritten is not None) == fused
    if rewritten is None:
        return
    assert list(rewritten.inputs) == [s.name for s in model.trained.result.inputs]
    original = ort.InferenceSession(model.onnx, providers=["CPUExecutionProvider"])
    serving = ort.InferenceSession(rewritten.model, providers=["CPUExecutionProvider"])
    rows = np.random.default_rng(3).normal(size=(64, len(rewritten.columns))).astype(np.float32)
    rows[5, 2] = np.nan
    names = [o.name for o in original.get_outputs()]
    per_input = original.run(names, {c: rows[:, i : i + 1].copy() for i, c in enumerate(rewritten.columns)})
    matrix = serving.run(names, {rewritten.input_name: rows})
    for a, b in zip(per_input, matrix, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("key,indexed", [("lr", True), ("rf", True), ("text", True), ("svc", True), ("mixed", True),
                                         ("ridge", False)])
def test_label_indices_name_the_same_classes(models, key, indexed):
    """The classifier gives its class's index instead of its name; names[index] is the
    label the exported graph gives, and every other output is unchanged."""
    model = models[key]
    rewritten = index_labels(model.onnx)
    assert (rewritten is not None) == indexed
    if rewritten is None:
        return
    original = ort.InferenceSession(model.onnx, providers=["CPUExecutionProvider"])
    serving = ort.InferenceSession(rewritten.model, providers=["CPUExecutionProvider"])
    assert {o.name: o.type for o in serving.get_outputs()}["label"] == "tensor(int64)"
    feeds = feeds_from_records(model.trained.result.inputs, model.records)
    names = [o.name for o in original.get_outputs()]
    before = dict(zip(names, original.run(names, feeds), strict=True))
    after = dict(zip(names, serving.run(names, feeds), strict=True))
    assert np.array(rewritten.classes, dtype=object)[after.pop("label")].tolist() == before.pop("label").tolist()
    for name, array in before.items():
        np.testing.assert_array_equal(after[name], array)
