"""Without a transport: input plans encode records exactly as training encoded columns
(workers.ml_engine.features.feeds_from_records), the load-time graph rewrite changes no
answer, and the core works on any ModelSource."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import onnxruntime as ort
import pytest

from servers.contracts.ml.spec import TensorSpec
from servers.prediction.core import Limits, PredictionCore, parse_version
from servers.prediction.domain import Artifact, Columns, Records, Selector, TensorInfo
from servers.prediction.graph import fuse_numeric_inputs, index_labels
from servers.prediction.plan import InputPlan
from servers.prediction.sessions import ModelManager
from servers.runtime.errors import InvalidArgument, NotFound
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


def test_parse_version():
    assert parse_version("") == Selector()
    assert parse_version("12") == Selector(version=12)
    assert parse_version("staging") == Selector(alias="staging")
    with pytest.raises(InvalidArgument):
        parse_version("Not An Alias!")


class MemorySource:
    """A ModelSource in memory (no registry): {model: {version: bytes}}, aliases."""

    def __init__(self, models: dict[str, dict[int, bytes]], aliases: dict[tuple[str, str], int]) -> None:
        self.models, self.aliases, self.downloads = models, aliases, 0

    async def download(self, model: str, version: int) -> Artifact:
        self.downloads += 1
        try:
            return Artifact(model, version, self.models[model][version])
        except KeyError:
            raise NotFound(f"model {model!r} has no version {version}") from None

    async def alias_target(self, model: str, alias: str) -> int:
        if (model, alias) not in self.aliases:
            raise NotFound(f"model {model!r} has no alias {alias!r}")
        return self.aliases[(model, alias)]

    async def alias_targets(self, alias: str) -> list[tuple[str, int]]:
        return [(m, v) for (m, a), v in self.aliases.items() if a == alias]

    async def versions(self, model: str) -> list[int]:
        return sorted(self.models.get(model, {}))

    async def events(self, since_sequence):  # pragma: no cover - not used here
        if False:
            yield


async def test_core_on_a_memory_source(models):
    source = MemorySource({"a": {1: models["lr"].onnx, 2: models["rf"].onnx}}, {("a", "production"): 1})
    manager = ModelManager(source)
    core = PredictionCore(manager, Limits(max_predict_rows=5))
    await manager.preload(["production"])
    assert source.downloads == 1
    answer = await core.predict("a", Selector(), Records([models["lr"].records[0]]))
    assert (answer.version, answer.labels.tolist()) == (1, models["lr"].expected_labels[:1])
    answer = await core.predict("a", Selector(version=2), Records(models["rf"].records[:3]))
    assert answer.labels.tolist() == models["rf"].expected_labels[:3]
    many = await core.batch_predict("a", Selector(), Records(models["lr"].records), batch_size=7)
    assert many.labels.tolist() == models["lr"].expected_labels
    np.testing.assert_allclose(many.probabilities, models["lr"].expected_scores, atol=1e-5)
    with pytest.raises(InvalidArgument):
        await core.predict("a", Selector(), Records(models["lr"].records[:6]))
    with pytest.raises(NotFound):
        await core.predict("a", Selector(version=3), Records(models["lr"].records[:1]))
    assert await core.model_ready("a", "1") and not await core.model_ready("b", "")


async def test_batches_run_on_the_loop_once_the_model_is_known_to_be_quick(models, monkeypatch):
    """The first multi-row run goes to a worker thread and times the model; from then on a
    batch expected to finish under `inline_run_s` runs on the event loop (the average
    once started at inf and became NaN, so every batch kept paying the thread hop)."""
    import servers.prediction.core as core_module

    hops = []
    real_to_thread = asyncio.to_thread

    async def counting_to_thread(fn, *args):
        hops.append(fn)
        return await real_to_thread(fn, *args)

    monkeypatch.setattr(core_module.asyncio, "to_thread", counting_to_thread)
    manager = ModelManager(MemorySource({"a": {1: models["lr"].onnx}}, {("a", "production"): 1}))
    core = PredictionCore(manager, Limits(inline_rows=1, inline_run_s=1.0))
    records = Records(models["lr"].records[:10])
    for _ in range(3):
        answer = await core.batch_predict("a", Selector(), records)
        assert answer.labels.tolist() == models["lr"].expected_labels[:10]
    loaded = manager.lookup("a", Selector())
    assert 0 < loaded.seconds_per_row < 1
    assert [fn.__name__ for fn in hops].count("predict") == 1  # the first run only
