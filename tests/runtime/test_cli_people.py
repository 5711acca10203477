"""The `chatdb` command and the launcher behave for people: a taken port or a missing
file is one line on stderr (no traceback), local state resolves against CHATDB_HOME and
not the working directory, regression values print in full, printed commands run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from chatdb.prediction.v1 import prediction_pb2

from servers.runtime.settings import Settings

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
CHATDB = str(Path(sys.executable).parent / "chatdb")


def _run(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CHATDB, *args], cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=60)


def _one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def taken_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize("command", [["serve", "connector", "--port", "{port}"], ["worker"]], ids=["serve", "worker"])
def test_a_taken_port_is_one_line(taken_port, command, settings):
    args = [a.format(port=taken_port) for a in command]
    line = _one_line_error(_run(*args, env={"CHATDB_WORKER_PORT": str(taken_port),
                                             "CHATDB_DATABASE_URL": settings.database_url,
                                             "CHATDB_REDIS_PREFIX": settings.redis_prefix}))
    assert f"port {taken_port} is already in use" in line


def test_a_missing_csv_is_one_line(tmp_path):
    line = _one_line_error(_run("predict", "some-model", "--csv", "missing.csv", cwd=tmp_path,
                                env={"CHATDB_PREDICTION_PORT": "1"}))
    assert "missing.csv" in line and "no such file" in line
    line = _one_line_error(_run("train", "missing.csv", "--task", "regression", "--target", "y",
                                "--algorithm", "linear_regression", cwd=tmp_path, env={"CHATDB_TRAINING_PORT": "1"}))
    assert "missing.csv" in line and "no such file" in line


def test_local_state_resolves_against_home_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("CHATDB_HOME", "CHATDB_DATA_DIR", "CHATDB_ARTIFACT_DIR"):
        monkeypatch.delenv(name, raising=False)
    default = Settings()
    assert default.home == ROOT / "var"  # the checkout's, found from the code, not the cwd
    assert default.data_dir == ROOT / "var" / "data"
    assert default.artifact_dir == ROOT / "var" / "artifacts"

    monkeypatch.setenv("CHATDB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CHATDB_ARTIFACT_DIR", "store")
    monkeypatch.setenv("CHATDB_DATA_DIR", "/srv/datasets")
    configured = Settings()
    assert configured.artifact_dir == tmp_path / "home" / "store"
    assert configured.data_dir == Path("/srv/datasets")


def test_regression_values_print_in_full():
    from servers.prediction.cli import format_prediction

    assert format_prediction(prediction_pb2.Prediction(value=173967.53125), False) == "173967.53125"
    assert format_prediction(prediction_pb2.Prediction(value=1234567.0), False) == "1234567.0"


def test_the_printed_chatdb_command_works_as_printed(tmp_path):
    """What the launcher and the CLI print for the user to run (`.venv/bin/chatdb ...`
    from the checkout when the venv is not active) runs from a shell in that directory."""
    from servers.runtime.cli_support import chatdb_command

    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if Path(p).resolve() != Path(sys.executable).parent.resolve())
    script = (
        "import os, sys; from servers.runtime.cli_support import chatdb_command; print(chatdb_command())"
    )
    printed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PATH": path},
                             capture_output=True, text=True, timeout=60).stdout.strip()
    assert printed != "chatdb"  # not on PATH: the bare name would not run
    ran = subprocess.run(f"{printed} settings", shell=True, cwd=ROOT, env={**os.environ, "PATH": path},
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and "CHATDB_HOME" in ran.stdout, ran.stderr
    assert chatdb_command()  # and in this process too
