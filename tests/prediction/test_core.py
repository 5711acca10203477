"""The plain core, without a transport: it works on any ModelSource (here one in memory,
no registry), parses version selectors, and runs quick batches on the event loop."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from servers.prediction.core import Limits, PredictionCore, parse_version
from servers.prediction.domain import Artifact, Records, Selector
from servers.prediction.sessions import ModelManager
from servers.runtime.errors import InvalidArgument, NotFound


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
