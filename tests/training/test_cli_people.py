"""`chatdb train` as a person runs it: from any directory, against a running mesh whose
data directory is relative to CHATDB_HOME; errors once; no promote hint for a version
that is already production."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import write_csv

pytestmark = pytest.mark.timeout(300)

CHATDB = str(Path(sys.executable).parent / "chatdb")


def _env(mesh) -> dict[str, str]:
    """The CLI's environment: the mesh's stores and ports, and its data directory given
    the way a deployment gives it, relative (to CHATDB_HOME)."""
    data_dir = Path(mesh.settings.data_dir)
    env = {k: v for k, v in mesh.env.items() if k not in ("CHATDB_DATA_DIR", "CHATDB_ARTIFACT_DIR")}
    env.update({
        "CHATDB_HOME": str(data_dir.parent),
        "CHATDB_DATA_DIR": data_dir.name,
        "CHATDB_TRAINING_PORT": str(mesh.settings.training_port),
        "CHATDB_REGISTRY_PORT": str(mesh.settings.registry_port),
    })
    return env


def _chatdb(mesh, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHATDB, *args], cwd=cwd, env=_env(mesh), capture_output=True, text=True, timeout=240)


async def test_train_a_csv_from_another_directory(worker, tmp_path):
    mesh = worker
    elsewhere = tmp_path / "somewhere" / "else"
    write_csv(elsewhere / "houses.csv", ["rooms", "area", "price"],
              [(r, a, 1000 * r + 3 * a + (i % 5)) for i, (r, a) in enumerate((i % 7 + 1, 40 + i % 50) for i in range(120))])
    model = f"houses-{os.getpid()}"
    done = await asyncio.to_thread(_chatdb, mesh, elsewhere, "train", "houses.csv", "--task", "regression",
                                   "--target", "price", "--algorithm", "linear_regression", "--model", model)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    uploads = list((Path(mesh.settings.data_dir) / "uploads").glob("*-houses.csv"))
    assert uploads, "the file was not copied into the data directory under CHATDB_HOME"
    assert not (elsewhere / "var").exists() and not (elsewhere / mesh.settings.data_dir.name).exists()
    last = done.stdout.strip().splitlines()[-1]
    assert f"model {model} version 1" in last and "production" in last
    assert "promote" not in done.stdout  # version 1 is production already


async def test_an_invalid_spec_is_said_once(mesh, tmp_path):
    write_csv(tmp_path / "small.csv", ["a", "b"], [(i, i % 2) for i in range(20)])
    done = await asyncio.to_thread(_chatdb, mesh, tmp_path, "train", "small.csv", "--task", "classification",
                                   "--target", "nope", "--algorithm", "logistic_regression")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: INVALID_ARGUMENT") and "nope" in lines[0]
    assert len(lines) == 1, lines  # the field violation is in the message: not repeated below it
    assert "Traceback" not in done.stderr
