"""Dynamic batching: the Batcher alone (full batches run at once, partial ones when the
delay expires, errors reach every waiter, a caller that leaves does not break the
others), and through the service: concurrent single rows run as fewer model calls and
get the same answers."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from servers.prediction.batching import Batcher
from servers.prediction.domain import Selector

from .conftest import predict_request, unique


async def test_full_batches_run_at_once_and_partial_ones_after_the_delay():
    calls: list[list[int]] = []

    def run(rows: list[int]) -> list[int]:
        calls.append(list(rows))
        return [r * 10 for r in rows]

    batcher = Batcher(run, max_size=3, max_delay_s=0.05)
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await asyncio.gather(*(batcher.submit(i) for i in range(3))) == [0, 10, 20]
    assert loop.time() - start < 0.04  # full: did not wait for the timer
    start = loop.time()
    assert await asyncio.gather(*(batcher.submit(i) for i in range(4))) == [0, 10, 20, 30]
    assert loop.time() - start >= 0.045  # the fourth row waited for the delay
    assert calls == [[0, 1, 2], [0, 1, 2], [3]]
    await asyncio.sleep(0.07)  # the first batch's timer fires on nothing
    assert batcher.batches == 3 and batcher.rows == 7


async def test_the_wait_follows_the_load():
    """A lone client's rows run at once after one probe; concurrent rows fill batches of
    the learned size without waiting for the timer."""
    calls: list[list[int]] = []
    batcher = Batcher(lambda rows: calls.append(list(rows)) or rows, max_size=16, max_delay_s=0.05,
                      probe_interval_s=0.3, max_probe_interval_s=0.3)
    loop = asyncio.get_running_loop()
    assert await batcher.submit(1) == 1  # the first batch probes: it waits the delay alone
    assert batcher.target == 1
    start = loop.time()
    for i in range(5):
        assert await batcher.submit(i) == i
    assert loop.time() - start < 0.03  # no waiting at all
    assert calls[1:] == [[0], [1], [2], [3], [4]]
    await asyncio.sleep(0.3)
    assert await asyncio.gather(*(batcher.submit(i) for i in range(4))) == [0, 1, 2, 3]  # a probe
    assert batcher.target == 4
    start = loop.time()
    assert await asyncio.gather(*(batcher.submit(i) for i in range(8))) == list(range(8))
    assert loop.time() - start < 0.03  # two batches of 4, closed at the target
    assert calls[-2:] == [[0, 1, 2, 3], [4, 5, 6, 7]]


async def test_probes_that_find_a_lone_client_come_less_often():
    """Each probe that gathers one row doubles the wait until the next (to the cap); the
    first probe that gathers more brings the interval back. A probe runs its rows as a
    batch (`run`); a lone row between probes runs through `run_one`."""
    batches: list[list[int]] = []
    singles: list[int] = []
    batcher = Batcher(lambda rows: batches.append(list(rows)) or rows, max_size=16, max_delay_s=0.002,
                      run_one=lambda row: singles.append(row) or row, probe_interval_s=0.02,
                      max_probe_interval_s=0.16)
    for i in range(4):  # a lone client, each call once the current interval has passed
        if i:
            await asyncio.sleep(batcher.interval_s * 1.1)
        assert await batcher.submit(i) == i
    assert batches == [[0], [1], [2], [3]] and singles == []  # all four were probes
    assert batcher.interval_s == 0.16  # 0.02 → 0.04 → 0.08 → 0.16, the cap
    assert await batcher.submit(4) == 4  # well inside the interval: no probe
    assert singles == [4]
    await asyncio.sleep(0.18)
    assert await asyncio.gather(*(batcher.submit(i) for i in range(3))) == [0, 1, 2]  # a probe finds 3
    assert batches[-1] == [0, 1, 2]
    assert batcher.interval_s == 0.02 and batcher.target == 3


async def test_a_lone_row_runs_through_run_one_and_batches_through_run():
    singles: list[int] = []
    batches: list[list[int]] = []
    batcher = Batcher(lambda rows: batches.append(list(rows)) or [r * 10 for r in rows], max_size=8,
                      max_delay_s=0.02, run_one=lambda row: singles.append(row) or row * 10, probe_interval_s=0.3)
    assert await batcher.submit(1) == 10  # the probe gathers alone: a batch of one
    assert await batcher.submit(2) == 20 and await batcher.submit(3) == 30
    assert batches == [[1]] and singles == [2, 3]
    assert batcher.batches == 3 and batcher.rows == 3


async def test_errors_reach_every_waiter_and_cancelled_callers_are_skipped():
    def boom(rows):
        raise ValueError("model exploded")

    batcher = Batcher(boom, max_size=10, max_delay_s=0.01)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)

    ok = Batcher(lambda rows: rows, max_size=10, max_delay_s=0.02)
    leaving = asyncio.ensure_future(ok.submit(1))
    staying = asyncio.ensure_future(ok.submit(2))
    await asyncio.sleep(0)
    leaving.cancel()
    assert await staying == 2
    with pytest.raises(asyncio.CancelledError):
        await leaving


def test_bad_options_are_refused():
    with pytest.raises(ValueError):
        Batcher(lambda rows: rows, max_size=0, max_delay_s=0.01)
    with pytest.raises(ValueError):
        Batcher(lambda rows: rows, max_size=4, max_delay_s=0)


@pytest.mark.parametrize("key", ["lr", "text"])
async def test_concurrent_single_rows_share_model_runs(key, models, registry, start_prediction):
    model = models[key]
    name = unique(f"batch-{key}")
    await registry.upload(name, model)
    prediction = await start_prediction(prediction_batch_max_delay_ms=20, prediction_batch_max_size=8,
                                        prediction_preload_aliases="")
    plain = await start_prediction(prediction_preload_aliases="", prediction_batch_max_delay_ms=0)
    rows = model.records[:24]
    batched = await asyncio.gather(*(prediction.stub.Predict(predict_request(name, r)) for r in rows))
    single = await asyncio.gather(*(plain.stub.Predict(predict_request(name, r)) for r in rows))
    loaded = prediction.manager.lookup(name, Selector())
    assert loaded.batcher is not None and loaded.batcher.rows == 24
    assert loaded.batcher.batches < 24
    assert plain.manager.lookup(name, Selector()).batcher is None  # 0 turns it off
    for got, want, i in zip(batched, single, range(len(rows)), strict=True):
        assert got.predictions[0].label.string_value == want.predictions[0].label.string_value == model.expected_labels[i]
        classes = model.trained.result.classes
        np.testing.assert_allclose([got.predictions[0].probabilities[c] for c in classes],
                                   model.expected_scores[i], atol=1e-5)
