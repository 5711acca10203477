"""The benchmarks' scratch mesh: ChatDB services run as real processes (`chatdb …`) on a
platform database, a Redis prefix and an artifact directory of their own, all removed
by `stop()`. Files in bench/ whose names start with `_` are helpers, not benchmarks
(`make bench` skips them)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import grpc
import redis.asyncio as aioredis

BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("CHATDB_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CHATDB_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ScratchMesh:
    """`ports` names the services whose CHATDB_<NAME>_PORT the processes should share."""

    def __init__(self, work: Path, ports: tuple[str, ...] = ()) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.database = f"chatdb_bench_{self.tag}"
        self.prefix = f"chatdb-bench-{self.tag}"
        self.ports = {name: free_port() for name in ports}
        self.env = {
            **os.environ,
            "CHATDB_DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + f"/{self.database}",
            "CHATDB_REDIS_URL": REDIS_URL,
            "CHATDB_REDIS_PREFIX": self.prefix,
            "CHATDB_DATA_DIR": str(work / "data"),
            "CHATDB_ARTIFACT_DIR": str(work / "artifacts"),
            "CHATDB_LOG_LEVEL": "WARNING",  # the interceptor's one INFO line per call is off
            **{f"CHATDB_{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
        }
        self.procs: list[subprocess.Popen] = []
        self.named: dict[str, subprocess.Popen] = {}  # by spawn name, for their logs
        self.logs = work / "logs"
        self.logs.mkdir()

    def migrate(self) -> None:
        """Create the scratch platform database (blocking)."""
        subprocess.run([str(BIN / "chatdb"), "migrate"], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def spawn(self, name: str, args: list[str], **env: str) -> subprocess.Popen:
        """Start `chatdb <args>`, its output in logs/<name>.log. Its /metrics endpoint
        is on (as in production) on a free port, so two processes of one service (two
        prediction servers) never ask for the same default metrics port."""
        process = "worker" if args[:1] == ["worker"] else (args[1] if args[:1] == ["serve"] and len(args) > 1 else "")
        metrics = {f"CHATDB_{process.upper()}_METRICS_PORT": str(free_port())} if process else {}
        with open(self.logs / f"{name}.log", "wb") as log:
            proc = subprocess.Popen([str(BIN / "chatdb"), *args], env={**self.env, **metrics, **env},
                                    stdout=log, stderr=log)
        self.procs.append(proc)
        self.named[name] = proc
        return proc

    async def wait_serving(
        self, *ports: int, timeout_s: float = 120, credentials: grpc.ChannelCredentials | None = None
    ) -> None:
        """Until grpc.health.v1 says SERVING on each port (default: every named port). A
        process of this mesh that exits meanwhile fails the wait at once, with its log.
        With `credentials` (servers on mTLS) the channels go to localhost:<port>."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        for port in ports or self.ports.values():
            deadline = time.monotonic() + timeout_s
            opened = (grpc.aio.insecure_channel(f"127.0.0.1:{port}") if credentials is None
                      else grpc.aio.secure_channel(f"localhost:{port}", credentials))
            async with opened as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                while True:
                    self._fail_on_exit()
                    try:
                        if (await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)).status == 1:
                            break
                    except grpc.aio.AioRpcError:
                        pass
                    if time.monotonic() > deadline:
                        raise SystemExit(f"service on {port} did not start in {timeout_s:g} s; see {self.logs}")
                    await asyncio.sleep(0.2)

    def _fail_on_exit(self) -> None:
        for name, proc in self.named.items():
            if proc.poll() is not None:
                log = self.logs / f"{name}.log"
                tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                raise SystemExit(f"{name} exited with {proc.returncode}:\n{tail}")

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        await conn.close()
        client = aioredis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"{self.prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
