"""Local launcher: `make up` starts every service and the worker in the background,
waits for each to report SERVING, then shows the mesh answering; `make down` stops them.

State lives under var/: pid files in var/run, logs in var/log (one JSON line per event),
certificates in var/certs.
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
VAR = ROOT / "var"
RUN, LOG, CERTS = VAR / "run", VAR / "log", VAR / "certs"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from servers.runtime.settings import Settings  # noqa: E402

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
            cwd=ROOT, start_new_session=True,
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


async def _wait_serving(settings: Settings, timeout_s: float = 60) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    status: dict[str, str] = {}
    while time.monotonic() < deadline:
        status = {n: await _health(f"127.0.0.1:{settings.port_of(n)}") for n in PROCESSES}
        if all(s == "SERVING" for s in status.values()):
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


def start_all() -> None:
    subprocess.run([str(BIN / "chatdb"), "certs", str(CERTS)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([str(BIN / "chatdb"), "migrate"], check=True)
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

    await show(settings)
    down_ok = all(s == "SERVING" for s in status.values())
    print("\nmesh is up; logs in var/log/, stop with `make down`" if down_ok else "\nsome processes are not SERVING; see var/log/")
    return 0 if down_ok else 1


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
