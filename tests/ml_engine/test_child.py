"""Training in a child process: progress, errors, crashes, cancels, orphans."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import make_classification

from servers.contracts.ml.spec import Dataset, Task, TrainingSpec
from servers.runtime.errors import Internal, InvalidArgument
from workers.ml_engine.child import _pack, _unpack, train_in_child
from workers.ml_engine.errors import ParityError, TrainingCancelled, TrainingCrashed
from workers.ml_engine.parity import ParityThresholds
from workers.ml_engine.trainer import STAGES

from .synthetic import classification_rows

ROOT = Path(__file__).resolve().parents[2]
SPEC = TrainingSpec("churn", Task.CLASSIFICATION, "logistic_regression", "label_text")


def gone(pid: int) -> bool:
    """True when the process no longer runs (absent, or a zombie nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def wait_gone(pid: int, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        await asyncio.sleep(0.05)
    return gone(pid)


def training_children() -> list[int]:
    return [p.pid for p in multiprocessing.active_children() if p.name.startswith("chatdb-train-") and p.pid]


def big_dataset(rows: int = 50_000) -> Dataset:
    x, y = make_classification(n_samples=rows, n_features=10, n_informative=6, random_state=0)
    return Dataset(tuple(f"f{i}" for i in range(10)) + ("y",),
                   [(*map(float, features), int(label)) for features, label in zip(x, y, strict=True)])


class ExitOnUnpickle:
    """Ends the child with exit code 3 the moment it unpickles its arguments."""

    def __reduce__(self) -> Any:
        return (os._exit, (3,))


async def test_progress_and_result_come_back() -> None:
    seen: list[tuple[float, str]] = []
    dataset = classification_rows(200, seed=1)
    result = await train_in_child(SPEC, dataset, lambda fraction, stage: seen.append((fraction, stage)))
    assert list(dict.fromkeys(stage for _, stage in seen)) == list(STAGES)
    assert seen[-1] == (1.0, "verifying")
    assert result.metrics["accuracy"] > 0.8
    assert result.dataset_fingerprint == dataset.fingerprint()
    assert result.onnx_model.startswith(b"\x08")  # an ONNX ModelProto
    assert training_children() == []


async def test_async_progress_callbacks_are_awaited() -> None:
    seen: list[str] = []

    async def on_progress(fraction: float, stage: str) -> None:
        await asyncio.sleep(0)
        seen.append(stage)

    await train_in_child(SPEC, classification_rows(100, seed=2), on_progress)
    assert seen[0] == "loading" and seen[-1] == "verifying"


async def test_domain_errors_keep_their_type_message_and_details() -> None:
    bad = TrainingSpec("churn", Task.CLASSIFICATION, "random_forest", "label_text",
                       hyperparameters={"n_estimators": 0, "leaves": 3})
    dataset = classification_rows(100, seed=3)
    with pytest.raises(InvalidArgument) as in_child:
        await train_in_child(bad, dataset)
    assert sorted(v.field for v in in_child.value.violations) == ["hyperparameters.leaves", "hyperparameters.n_estimators"]
    assert "hyperparameters.n_estimators: must be an integer in [1, 5000], got 0" in in_child.value.message

    with pytest.raises(ParityError) as parity:
        await train_in_child(SPEC, dataset, parity=ParityThresholds(max_abs_diff=0.0))
    assert parity.value.message.startswith("ONNX parity failed: max |Δp| ")
    assert parity.value.metadata["rows"] == "20" and parity.value.reason == "ONNX_PARITY_FAILED"


def test_other_exceptions_become_internal() -> None:
    error = _unpack(_pack(ValueError("Input contains infinity")))
    assert isinstance(error, Internal)
    assert error.message == "training failed: ValueError: Input contains infinity"
    assert error.metadata == {"exception": "ValueError"}


async def test_a_child_that_exits_early_is_a_crash() -> None:
    dataset = Dataset(("x", "label_text"), [(ExitOnUnpickle(), "a")])
    with pytest.raises(TrainingCrashed) as info:
        await train_in_child(SPEC, dataset)
    assert info.value.message == "training process exited with code 3 before it finished"
    assert info.value.metadata == {"exit_code": "3"}


async def test_a_killed_child_is_a_crash() -> None:
    killed: list[int] = []

    def on_progress(fraction: float, stage: str) -> None:
        if stage == "fitting" and not killed:
            killed.extend(training_children())
            os.kill(killed[0], signal.SIGKILL)

    spec = TrainingSpec("churn", Task.CLASSIFICATION, "random_forest", "label_text",
                        hyperparameters={"n_estimators": 200})
    with pytest.raises(TrainingCrashed) as info:
        await train_in_child(spec, classification_rows(300, seed=4), on_progress)
    assert info.value.message == "training process killed by SIGKILL before it finished"
    assert info.value.metadata == {"exit_code": "-9"}
    assert await wait_gone(killed[0])


async def test_cancel_stops_a_long_training_within_5_s() -> None:
    cancel = asyncio.Event()
    pids: list[int] = []
    cancelled_at: list[float] = []

    def on_progress(fraction: float, stage: str) -> None:
        if stage == "fitting" and not cancel.is_set():
            pids.extend(training_children())
            cancelled_at.append(time.monotonic())
            cancel.set()

    spec = TrainingSpec("slow", Task.CLASSIFICATION, "random_forest", "y", hyperparameters={"n_estimators": 2000})
    with pytest.raises(TrainingCancelled):
        await train_in_child(spec, big_dataset(), on_progress, cancel=cancel, kill_timeout_s=3, threads=2)
    assert time.monotonic() - cancelled_at[0] < 5
    assert len(pids) == 1
    assert gone(pids[0])  # already gone when train_in_child returns
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)


async def test_cancelling_the_task_stops_the_child() -> None:
    started = asyncio.Event()
    pids: list[int] = []

    def on_progress(fraction: float, stage: str) -> None:
        if stage == "fitting" and not started.is_set():
            pids.extend(training_children())
            started.set()

    spec = TrainingSpec("slow", Task.CLASSIFICATION, "random_forest", "label_text",
                        hyperparameters={"n_estimators": 5000, "max_depth": None})
    task = asyncio.ensure_future(train_in_child(spec, classification_rows(3000, seed=5), on_progress))
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gone(pids[0])


async def test_cancel_before_start_starts_nothing() -> None:
    cancel = asyncio.Event()
    cancel.set()
    with pytest.raises(TrainingCancelled):
        await train_in_child(SPEC, classification_rows(50, seed=6), cancel=cancel)
    assert training_children() == []


async def test_spawn_start_method_works_too() -> None:
    result = await train_in_child(SPEC, classification_rows(100, seed=7), start_method="spawn")
    assert result.metrics["accuracy"] > 0.8


ORPHAN_SCRIPT = """
import asyncio, multiprocessing, sys
from workers.ml_engine.child import train_in_child
from servers.contracts.ml.spec import Task, TrainingSpec
from tests.ml_engine.synthetic import classification_rows

def on_progress(fraction, stage):
    if stage == "fitting":
        print(" ".join(str(p.pid) for p in multiprocessing.active_children() if p.name.startswith("chatdb-train-")),
              flush=True)

async def main():
    spec = TrainingSpec("slow", Task.CLASSIFICATION, "random_forest", "label_text",
                        hyperparameters={"n_estimators": 5000, "max_depth": None})
    await train_in_child(spec, classification_rows(3000, seed=8), on_progress)

if __name__ == "__main__":
    asyncio.run(main())
"""


async def test_the_child_exits_when_its_worker_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(ORPHAN_SCRIPT)
    worker = await asyncio.create_subprocess_exec(
        sys.executable, str(script), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert worker.stdout is not None
        line = await asyncio.wait_for(worker.stdout.readline(), 60)
        child = int(line.split()[0])
        assert not gone(child)
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
        assert await wait_gone(child, timeout_s=5)
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
