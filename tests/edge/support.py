"""What the edge tests run (not a test module).

- Pki: a CA (servers.runtime.certs.create_ca) and certificates with any SAN and
  validity: one per service (spiffe://chatdb/<service>), Envoy's, clients (good, from
  another CA, with a wrong SAN, expired).
- AuthzServer: a test-only HTTP ext_authz server speaking the COMMON.md contract
  (x-api-key "good" → admin of tenant t1, "user" → user, "viewer" → viewer; anything
  else 401; role refusals 403), recording what it was asked.
- FakeTraining: a TrainingService on mTLS (the training certificate) that records the
  metadata each call arrived with: what a service behind the edge really sees.
- Services: `chatdb serve <name>` subprocesses with mTLS, on free ports.
- Rest: a tiny HTTPS/1.1 client with a client certificate (http.client).
"""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
from chatdb.training.v1 import training_job_pb2, training_service_pb2, training_service_pb2_grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from servers.runtime import certs

BIN = Path(sys.executable).parent
SPIFFE = "spiffe://chatdb/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- certificates ----------------------------------------------------------------------


def issue(ca: certs.KeyPair, name: str, uri: str | None, *, expired: bool = False, serial: int | None = None) -> certs.KeyPair:
    """A leaf certificate for localhost/127.0.0.1 with the URI SAN given (None: none)."""
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    if uri:
        sans.append(x509.UniformResourceIdentifier(uri))
    start, end = (now - dt.timedelta(days=10), now - dt.timedelta(days=1)) if expired else (now - dt.timedelta(minutes=5), now + dt.timedelta(days=30))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return certs.KeyPair(key, cert)


def write_atomically(pair: certs.KeyPair, directory: Path, stem: str) -> None:
    """Key first, then certificate, each written to a temporary name and renamed: the
    rename is what Envoy's watched directory reacts to."""
    for suffix, data in ((".key", pair.key_pem), (".crt", pair.cert_pem)):
        tmp = directory / f".{stem}{suffix}.tmp"
        tmp.write_bytes(data)
        if suffix == ".key":
            tmp.chmod(0o600)
        os.replace(tmp, directory / f"{stem}{suffix}")


@dataclass
class Pki:
    directory: Path
    ca: certs.KeyPair = field(default_factory=certs.create_ca)

    def write(self, stem: str, uri: str | None, **kwargs) -> tuple[Path, Path]:
        pair = issue(self.ca, stem, uri, **kwargs)
        write_atomically(pair, self.directory, stem)
        return self.directory / f"{stem}.crt", self.directory / f"{stem}.key"

    @classmethod
    def create(cls, directory: Path, services: tuple[str, ...]) -> Pki:
        directory.mkdir(parents=True, exist_ok=True)
        pki = cls(directory)
        certs.write_pair(pki.ca, directory, "ca")
        for service in (*services, "envoy"):
            pki.write(service, f"{SPIFFE}{service}")
        pki.write("cli", f"{SPIFFE}client/cli")
        pki.write("alice", f"{SPIFFE}client/alice")
        pki.write("wrong-san", "spiffe://elsewhere/client/mallory")
        pki.write("no-san", None)
        pki.write("expired", f"{SPIFFE}client/old", expired=True)
        other = cls(directory, certs.create_ca("another CA"))
        other.write("other-ca", f"{SPIFFE}client/alice")
        return pki

    def read(self, stem: str) -> tuple[bytes, bytes]:
        return (self.directory / f"{stem}.crt").read_bytes(), (self.directory / f"{stem}.key").read_bytes()

    @property
    def ca_pem(self) -> bytes:
        return (self.directory / "ca.crt").read_bytes()


def server_serial(port: int, ca_file: Path, client: tuple[Path, Path]) -> int:
    """The serial number of the certificate the server on `port` presents now."""
    ctx = ssl.create_default_context(cafile=str(ca_file))
    ctx.load_cert_chain(str(client[0]), str(client[1]))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        der = tls.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


# --- the test ext_authz server -----------------------------------------------------------

KEYS = {
    "good": ("key:ak_good", "t1", "admin"),
    "user": ("key:ak_user", "t1", "user"),
    "viewer": ("key:ak_viewer", "t1", "viewer"),
}
ADMIN_ONLY = (
    "/chatdb.gateway.v1.ApiKeyService/",
    "/chatdb.connector.v1.ConnectorService/CreateConnection",
    "/chatdb.connector.v1.ConnectorService/DeleteConnection",
    "/chatdb.connector.v1.ConnectorService/SetGlossary",
    "/chatdb.registry.v1.ModelRegistryService/SetAlias",
    "/chatdb.registry.v1.ModelRegistryService/CreateModelVersion",
)
VIEWER_METHODS = ("Get", "List", "Watch", "ParseQuery")


class AuthzServer:
    """COMMON.md's ext_authz contract, in little: GET|POST /authz<grpc path>."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.seen.append((self.path, headers))
                key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ").strip()
                method = self.path.removeprefix("/authz")
                if key == "over-quota":
                    return self._deny(429, 8, "quota questions_per_minute=60 used up; resets at 12:01:00Z")
                if key not in KEYS:
                    return self._deny(401, 16, "missing or unknown API key")
                principal, tenant, role = KEYS[key]
                if role != "admin" and method.startswith(ADMIN_ONLY):
                    return self._deny(403, 7, f"role {role} may not call {method}")
                if role == "viewer" and not method.rsplit("/", 1)[-1].startswith(VIEWER_METHODS):
                    return self._deny(403, 7, f"role viewer may not call {method}")
                self.send_response(200)
                self.send_header("x-chatdb-principal", principal)
                self.send_header("x-chatdb-tenant", tenant)
                self.send_header("x-chatdb-role", role)
                self.send_header("x-chatdb-api-key-id", principal.removeprefix("key:"))
                self.send_header("x-chatdb-quota", "questions_per_minute=60")
                self.send_header("content-length", "0")
                self.end_headers()

            def _deny(self, status: int, code: int, message: str) -> None:
                body = json.dumps({"code": code, "message": message}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("grpc-status", str(code))
                self.send_header("grpc-message", urllib.parse.quote(message, safe=" "))
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> AuthzServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- a TrainingService that shows what reaches a service -----------------------------------


class _Training(training_service_pb2_grpc.TrainingServiceServicer):
    def __init__(self, calls: list[dict[str, str]], attempts: dict[str, int]) -> None:
        self.calls = calls
        self.attempts = attempts

    def GetTrainingJob(self, request, context):
        self.calls.append(dict(context.invocation_metadata()))
        return training_service_pb2.GetTrainingJobResponse(
            training_job=training_job_pb2.TrainingJob(name=f"trainingJobs/{request.job_id}", job_id=request.job_id)
        )

    def ListTrainingJobs(self, request, context):
        self.calls.append(dict(context.invocation_metadata()))
        self._flaky(request.page_token, context)
        return training_service_pb2.ListTrainingJobsResponse()

    def CancelTrainingJob(self, request, context):
        self.calls.append(dict(context.invocation_metadata()))
        self._flaky(request.job_id, context)
        return training_service_pb2.CancelTrainingJobResponse()

    def _flaky(self, tag: str, context) -> None:
        """`flaky-N-ID`: the first N calls with this tag answer UNAVAILABLE."""
        if tag.startswith("flaky-"):
            _, times, _ = tag.split("-", 2)
            self.attempts[tag] = self.attempts.get(tag, 0) + 1
            if self.attempts[tag] <= int(times):
                context.abort(grpc.StatusCode.UNAVAILABLE, "flaky on purpose")


class FakeTraining:
    def __init__(self, pki: Pki, port: int) -> None:
        self.calls: list[dict[str, str]] = []
        self.attempts: dict[str, int] = {}
        self.port = port
        self.pki = pki
        self.server: grpc.Server | None = None

    def start(self) -> FakeTraining:
        server = grpc.server(futures.ThreadPoolExecutor(4), options=[("grpc.so_reuseport", 0)])
        training_service_pb2_grpc.add_TrainingServiceServicer_to_server(_Training(self.calls, self.attempts), server)
        status = health.HealthServicer()
        status.set("", health_pb2.HealthCheckResponse.SERVING)
        status.set("chatdb.training.v1.TrainingService", health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(status, server)
        cert, key = self.pki.read("training")
        creds = grpc.ssl_server_credentials([(key, cert)], root_certificates=self.pki.ca_pem, require_client_auth=True)
        server.add_secure_port(f"127.0.0.1:{self.port}", creds)
        server.start()
        self.server = server
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(0).wait(5)
            self.server = None


# --- real services ----------------------------------------------------------------------


class Services:
    """`chatdb serve NAME` per service, mTLS with NAME.crt, every process knowing every
    other's port; logs in `logs/NAME.log`."""

    def __init__(self, work: Path, pki: Pki, env: dict[str, str], names: tuple[str, ...], ports: dict[str, int]) -> None:
        self.work, self.pki, self.names, self.ports = work, pki, names, ports
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            **env,
            "CHATDB_HOST": "127.0.0.1",
            "CHATDB_LOG_LEVEL": "WARNING",
            "CHATDB_GRACE_PERIOD_S": "2",
            "CHATDB_TLS_DIR": str(pki.directory),
            "CHATDB_TLS_CA_FILE": str(pki.directory / "ca.crt"),
            "CHATDB_TLS_CLIENT_CA_FILE": str(pki.directory / "ca.crt"),
            **{f"CHATDB_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        }
        self.procs: dict[str, subprocess.Popen] = {}

    def _env_of(self, name: str) -> dict[str, str]:
        d = self.pki.directory
        return {
            **self.env,
            "CHATDB_TLS_CERT_FILE": str(d / f"{name}.crt"),
            "CHATDB_TLS_KEY_FILE": str(d / f"{name}.key"),
            "CHATDB_TLS_CLIENT_CERT_FILE": str(d / f"{name}.crt"),
            "CHATDB_TLS_CLIENT_KEY_FILE": str(d / f"{name}.key"),
        }

    def run(self, *args: str) -> None:
        subprocess.run([str(BIN / "chatdb"), *args], env=self._env_of("cli"), check=True, stdout=subprocess.DEVNULL, timeout=120)

    def start(self, name: str) -> None:
        with open(self.logs / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(
                [str(BIN / "chatdb"), "serve", name], env=self._env_of(name), stdout=log, stderr=log, start_new_session=True
            )

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()

    def channel(self, name: str) -> grpc.Channel:
        cert, key = self.pki.read("cli")
        creds = grpc.ssl_channel_credentials(self.pki.ca_pem, key, cert)
        return grpc.secure_channel(f"localhost:{self.ports[name]}", creds)

    def wait_serving(self, *names: str, timeout_s: float = 150) -> None:
        for name in names or tuple(self.procs):
            deadline = time.monotonic() + timeout_s
            with self.channel(name) as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                while True:
                    proc = self.procs.get(name)
                    if proc is not None and proc.poll() is not None:
                        raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")
                    try:
                        if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                            break
                    except grpc.RpcError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{name} not serving in {timeout_s:g} s:\n{self.tail(name)}")
                    time.sleep(0.2)

    def tail(self, name: str) -> str:
        log = self.logs / f"{name}.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""


# --- REST --------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class Rest:
    def __init__(self, port: int, ca_file: Path, client: tuple[Path, Path] | None) -> None:
        self.port = port
        self.ctx = ssl.create_default_context(cafile=str(ca_file))
        if client is not None:
            self.ctx.load_cert_chain(str(client[0]), str(client[1]))

    def call(self, method: str, path: str, body=None, *, key: str | None = "good", headers: dict | None = None) -> Reply:
        conn = http.client.HTTPSConnection("localhost", self.port, context=self.ctx, timeout=30)
        try:
            sent = {"content-type": "application/json", **(headers or {})}
            if key is not None:
                sent["x-api-key"] = key
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()


def grpc_channel(port: int, pki: Pki, client: str | None = "alice") -> grpc.Channel:
    cert, key = pki.read(client) if client else (None, None)
    creds = grpc.ssl_channel_credentials(pki.ca_pem, key, cert)
    return grpc.secure_channel(f"localhost:{port}", creds)
