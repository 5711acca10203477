"""Local launcher: `make up` starts every service and the worker in the background,
waits for each to report SERVING (a placeholder process, whose issue has not landed yet,
answers NOT_SERVING and shows as "placeholder"), then shows the mesh answering; `make
down` stops them.

State lives under CHATDB_HOME (default: var/ of this checkout): pid files in run/, logs
in log/ (one JSON line per event), certificates in certs/, and the services' datasets and
artifacts in data/ and artifacts/. Every process started here gets that one home, so
none of them depends on the working directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from servers.runtime.cli_support import CliError, chatdb_command, ensure_port_free  # noqa: E402
from servers.runtime.settings import Settings  # noqa: E402
from servers.services import PLACEHOLDERS  # noqa: E402

VAR = Settings().home
RUN, LOG, CERTS = VAR / "run", VAR / "log", VAR / "certs"
# Children resolve data_dir and artifact_dir against the same home as this launcher.
ENV = {**os.environ, "CHATDB_HOME": str(VAR)}

# Start order: what others depend on first.
PROCESSES = ["connector", "registry", "parser", "training", "prediction", "gateway", "worker"]


def _command(name: str) -> list[str]:
    return [str(BIN / "chatdb"), "worker"] if name == "worker" else [str(BIN / "chatdb"), "serve", name]


def _pid(name: str) -> int | None:
    path = RUN / f"{name}.pid"
    if not path.exists():
        return None
    pid = int(path.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        path.unlink()
        return None
    return pid


def _start(name: str) -> int:
    pid = _pid(name)
    if pid:
        return pid
    RUN.mkdir(parents=True, exist_ok=True)
    LOG.mkdir(parents=True, exist_ok=True)
    with open(LOG / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(
            _command(name), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            cwd=ROOT, start_new_session=True, env=ENV,
        )
    (RUN / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


async def _health(address: str) -> str:
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
            return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        except grpc.aio.AioRpcError as exc:
            return exc.code().name


def _table_health(name: str, health: str) -> str:
    """What the table shows for a process's health: a placeholder process is up when it
    answers NOT_SERVING, the only answer it gives."""
    return "placeholder" if name in PLACEHOLDERS and health == "NOT_SERVING" else health


def _is_up(health: str) -> bool:
    return health in ("SERVING", "placeholder")


async def _wait_serving(settings: Settings, timeout_s: float = 60) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    status: dict[str, str] = {}
    while time.monotonic() < deadline:
        status = {n: _table_health(n, await _health(f"127.0.0.1:{settings.port_of(n)}")) for n in PROCESSES}
        if all(_is_up(s) for s in status.values()):
            break
        for name in PROCESSES:
            if _pid(name) is None:
                raise SystemExit(f"{name} exited during start; see {LOG / (name + '.log')}")
        await asyncio.sleep(0.3)
    return status


def _grpcurl_list(address: str) -> list[str]:
    grpcurl = shutil.which("grpcurl", path=str(BIN)) or "grpcurl"
    out = subprocess.run([grpcurl, "-plaintext", address, "list"], capture_output=True, text=True, timeout=20)
    return out.stdout.split()


def _check_ports(settings: Settings) -> None:
    """One line, before anything starts, when a port of a process that is not running
    yet is taken by something else."""
    for name in PROCESSES:
        if _pid(name) is None:
            try:
                ensure_port_free(settings.host, settings.port_of(name), f"CHATDB_{name.upper()}_PORT")
            except CliError as exc:
                raise SystemExit(f"error: {name}: {exc}") from None


def _run(*args: str, quiet: bool = False) -> None:
    done = subprocess.run([str(BIN / "chatdb"), *args], env=ENV, stdout=subprocess.DEVNULL if quiet else None)
    if done.returncode != 0:  # the command printed its one-line error
        raise SystemExit(f"error: `chatdb {' '.join(args)}` failed (exit status {done.returncode})")


def start_all() -> None:
    _check_ports(Settings())
    _run("certs", str(CERTS), quiet=True)
    _run("migrate")
    for name in PROCESSES:
        _start(name)


async def show_up() -> int:
    settings = Settings()
    status = await _wait_serving(settings)
    print(f"\n{'process':12} {'address':18} {'health':12} services (from server reflection)")
    for name in PROCESSES:
        address = f"127.0.0.1:{settings.port_of(name)}"
        listed = [s for s in _grpcurl_list(address) if not s.startswith("grpc.")]
        print(f"{name:12} {address:18} {status.get(name, '?'):12} {', '.join(listed) or '-'}")
    from deploy.showcase import show

    # The intent model first, so the questions below are classified by it, not by rules.
    bootstrap_intent()
    await show(settings)
    down_ok = all(_is_up(s) for s in status.values())
    chatdb = chatdb_command()
    if not down_ok:
        print(f"\nsome processes are not SERVING; see {_shown(LOG)}/")
        return 1
    print(f"\nmesh is up; logs in {_shown(LOG)}/, stop with `make down`. Try:")
    print(f"  {chatdb} ask \"which city has the most customers\" --connection demo-postgres")
    print(f"  {chatdb} history")
    print(f"  {chatdb} status")
    print(f"  {chatdb} parse \"which city has the most customers\" --connection demo-postgres --run")
    print(f"  {chatdb} connections")
    print(f"  {chatdb} models")
    print(f"  {chatdb} jobs")
    print(f"  {chatdb} settings")
    if chatdb != "chatdb":
        print(f"(or `source {_shown(BIN / 'activate')}` once, then plain `chatdb ...`)")
    return 0


def bootstrap_intent() -> None:
    """The parser's intent model, trained on the platform when it is missing (`chatdb
    parser bootstrap-intent`). Never breaks `make up`: without the model the parser
    answers on its rule path, so a failure is one printed line."""
    print("\n== parser: the intent model (query-intent)")
    started = time.monotonic()
    try:
        done = subprocess.run([str(BIN / "chatdb"), "parser", "bootstrap-intent"], env=ENV, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"skipped: the intent model bootstrap did not finish ({exc}); the parser answers on its rules")
        return
    if done.returncode != 0:
        print(f"skipped: `chatdb parser bootstrap-intent` failed (exit status {done.returncode}); "
              "the parser answers on its rules")
        return
    print(f"intent model ready ({time.monotonic() - started:.1f} s)")


def _shown(path: Path) -> str:
    """`path` as the user can type it from here: relative when under the working directory."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def down() -> int:
    stopping = {}
    for name in reversed(PROCESSES):
        pid = _pid(name)
        if pid:
            os.kill(pid, signal.SIGTERM)
            stopping[name] = pid
    deadline = time.monotonic() + 20
    for name, pid in stopping.items():
        while time.monotonic() < deadline and _pid(name):
            time.sleep(0.1)
        if _pid(name):
            os.kill(pid, signal.SIGKILL)
        (RUN / f"{name}.pid").unlink(missing_ok=True)
        print(f"stopped {name} (pid {pid})")
    if not stopping:
        print("nothing running")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["up", "down"])
    args = parser.parse_args()
    if args.action == "down":
        return down()
    start_all()
    return asyncio.run(show_up())


if __name__ == "__main__":
    sys.exit(main())
