"""mTLS on every hop with CHATDB_TLS_DIR, on real grpc.aio servers: each process
presents its own service's certificate, a server admits only certificates chained to
the mesh CA (not none, not another CA's, not an expired one), handlers see the caller's
SPIFFE id, identity headers are believed only from mesh peers, and a rotation under a
request loop loses no call while new connections get the new certificates."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl

import grpc
import pytest
from cryptography import x509

from servers.runtime import certs
from servers.runtime.channels import open_channel
from servers.runtime.identity import Principal, current_peer, current_principal
from servers.runtime.server import GrpcServer, ServiceBinding
from servers.runtime.settings import Settings
from servers.runtime.tls import channel_credentials, for_service

SERVICE = "chatdb.test.v1.MeshTest"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> certs.Pki:
    home = tmp_path_factory.mktemp("mesh")
    pki = certs.ensure_pki(home)
    certs.issue_client(home, "alice")
    ca = certs.load_pair(pki.ca_cert_private, pki.ca_key)
    certs.write_pair(certs.issue(ca, "stale", server=False, days=-1, spiffe_path="client/stale"), home / "extra", "expired")
    rogue = certs.create_ca("Rogue CA")
    certs.write_pair(certs.issue(rogue, "parser"), home / "extra", "rogue")  # claims to be the parser
    return pki


def mesh(pki: certs.Pki, identity: str = "cli", **update) -> Settings:
    return Settings(
        host="127.0.0.1", home=pki.home, tls_dir=pki.certs_dir, tls_identity=identity,
        grace_period_s=1, drain_delay_s=0, **update,
    )


def _seen(context) -> dict:
    pem = context.auth_context().get("x509_pem_cert", [b""])[0]
    p = current_principal()
    return {
        "peer": current_peer(),
        "tenant": None if p is None else p.tenant,
        "client_serial": x509.load_pem_x509_certificate(pem).serial_number if pem else None,
    }


def binding(downstream: dict | None = None) -> ServiceBinding:
    """Who: what this server saw of its caller. Relay: calls Who on downstream["channel"]
    while serving, and answers what that server saw."""

    async def who(request: bytes, context) -> bytes:
        return json.dumps(_seen(context)).encode()

    async def relay(request: bytes, context) -> bytes:
        inner = await downstream["channel"].unary_unary(f"/{SERVICE}/Who")(b"", timeout=5)
        return json.dumps({"here": _seen(context), "there": json.loads(inner)}).encode()

    handlers = {
        "Who": grpc.unary_unary_rpc_method_handler(who),
        "Relay": grpc.unary_unary_rpc_method_handler(relay),
    }
    generic = grpc.method_handlers_generic_handler(SERVICE, handlers)
    return ServiceBinding(SERVICE, lambda server: server.add_generic_rpc_handlers((generic,)))


@pytest.fixture
async def serve():
    started: list[GrpcServer] = []
    channels: list[grpc.aio.Channel] = []

    async def start(settings: Settings, service: str, downstream: dict | None = None) -> GrpcServer:
        server = GrpcServer(for_service(settings, service), [binding(downstream)], port=0)
        await server.start()
        started.append(server)
        return server

    start.channels = channels
    yield start
    for channel in channels:
        await channel.close()
    for server in reversed(started):
        await server.stop(grace_s=0)


def _creds(pki: certs.Pki, cert=None, key=None) -> grpc.ChannelCredentials:
    kwargs = {"root_certificates": pki.ca_cert.read_bytes()}
    if cert is not None:
        kwargs.update(certificate_chain=cert.read_bytes(), private_key=key.read_bytes())
    return grpc.ssl_channel_credentials(**kwargs)


async def _who(address: str, creds: grpc.ChannelCredentials, metadata=None, method: str = "Who") -> dict:
    async with grpc.aio.secure_channel(address, creds) as channel:
        return json.loads(await channel.unary_unary(f"/{SERVICE}/{method}")(b"", timeout=5, metadata=metadata))


async def test_service_to_service_over_mtls(pki, serve, caplog):
    caplog.set_level("INFO", logger="chatdb.rpc")
    connector = await serve(mesh(pki), "connector")
    downstream: dict = {}
    parser = await serve(mesh(pki), "parser", downstream)
    # The parser's channel is opened from the parser's settings: it presents parser.crt.
    downstream["channel"] = open_channel(for_service(mesh(pki), "parser"), address=connector.address)
    serve.channels.append(downstream["channel"])
    cli = mesh(pki)  # a CLI command: presents cli.crt
    seen = await _who(parser.address, channel_credentials(cli), method="Relay")
    assert seen["here"]["peer"] == "spiffe://chatdb/client/cli"
    assert seen["there"]["peer"] == "spiffe://chatdb/parser"
    assert seen["here"]["tenant"] is None and seen["there"]["tenant"] is None
    # The call log names the caller's identity.
    logged = {getattr(r, "peer_id", None) for r in caplog.records if r.getMessage() == "rpc"}
    assert {"spiffe://chatdb/parser", "spiffe://chatdb/client/cli"} <= logged


async def test_identity_headers_travel_from_the_edge_through_the_mesh(pki, serve):
    connector = await serve(mesh(pki), "connector")
    downstream: dict = {}
    parser = await serve(mesh(pki), "parser", downstream)
    downstream["channel"] = open_channel(for_service(mesh(pki), "parser"), address=connector.address)
    serve.channels.append(downstream["channel"])
    envoy = _creds(pki, pki.cert("envoy"), pki.key("envoy"))
    who = Principal("key:ak_1", tenant="acme", role="user").metadata()
    seen = await _who(parser.address, envoy, metadata=who, method="Relay")
    assert seen["here"] == {**seen["here"], "peer": "spiffe://chatdb/envoy", "tenant": "acme"}
    assert seen["there"] == {**seen["there"], "peer": "spiffe://chatdb/parser", "tenant": "acme"}


@pytest.mark.parametrize("client", ["cli", "clients/alice"])
async def test_a_client_certificate_cannot_send_identity_headers(pki, serve, client):
    server = await serve(mesh(pki), "registry")
    forged = Principal("key:ak_x", tenant="victim", role="admin").metadata()
    creds = _creds(pki, pki.cert(client), pki.key(client))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _who(server.address, creds, metadata=forged)
    assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
    # Without the headers the same certificate gets in, as an internal (operator) caller.
    seen = await _who(server.address, creds)
    assert seen["peer"] == f"spiffe://chatdb/client/{client.rpartition('/')[2]}" and seen["tenant"] is None


@pytest.mark.parametrize("client", [None, "rogue", "expired"], ids=["no-cert", "other-ca", "expired"])
async def test_refused_clients(pki, serve, client):
    server = await serve(mesh(pki), "registry")
    extra = pki.home / "extra"
    creds = _creds(pki) if client is None else _creds(pki, extra / f"{client}.crt", extra / f"{client}.key")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _who(server.address, creds)
    assert err.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_a_plaintext_client_is_refused(pki, serve):
    server = await serve(mesh(pki), "registry")
    async with grpc.aio.insecure_channel(server.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await channel.unary_unary(f"/{SERVICE}/Who")(b"", timeout=3)
    assert err.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_explicit_file_settings_win_over_tls_dir(pki, serve):
    server = await serve(mesh(pki), "registry")
    alice = mesh(pki, tls_client_cert_file=pki.cert("clients/alice"), tls_client_key_file=pki.key("clients/alice"))
    seen = await _who(server.address, channel_credentials(alice))
    assert seen["peer"] == "spiffe://chatdb/client/alice"


def _server_serial(port: int, pki: certs.Pki) -> int:
    """Serial of the certificate the server presents on a new connection."""
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(str(pki.cert("cli")), str(pki.key("cli")))
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number


def _serial(path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


async def test_rotation_under_a_request_loop_loses_no_call(pki, serve):
    """A client calls continuously, opening a new connection every 5 calls, while the
    certificates are rotated three times: no call fails, and after each rotation new
    connections see the server's new certificate and present the client's new one."""
    server = await serve(mesh(pki), "registry")
    client = mesh(pki)
    calls, failures, stop = 0, [], asyncio.Event()
    client_serials: set[int] = set()

    async def loop() -> None:
        nonlocal calls
        while not stop.is_set():
            async with grpc.aio.secure_channel(server.address, channel_credentials(client)) as channel:
                who = channel.unary_unary(f"/{SERVICE}/Who")
                for _ in range(5):
                    try:
                        client_serials.add(json.loads(await who(b"", timeout=5))["client_serial"])
                        calls += 1
                    except grpc.aio.AioRpcError as exc:
                        failures.append(exc)

    loops = [asyncio.create_task(loop()) for _ in range(2)]
    try:
        served = [_serial(pki.cert("registry"))]
        for _ in range(3):
            await asyncio.sleep(0.3)
            await asyncio.to_thread(certs.rotate, pki.home)
            served.append(_serial(pki.cert("registry")))
            seen = await asyncio.to_thread(_server_serial, server.port, pki)
            assert seen == served[-1]
            new_cli = _serial(pki.cert("cli"))
            for _ in range(100):  # the loops open a new connection within a few calls
                if new_cli in client_serials:
                    break
                await asyncio.sleep(0.02)
            assert new_cli in client_serials
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await asyncio.gather(*loops)
    print(f"rotation loop: {calls} calls, {len(failures)} failed, server serials {len(set(served))}")
    assert failures == []
    assert calls > 50
    assert len(set(served)) == 4


def test_a_half_rotated_pair_is_not_served(pki, tmp_path):
    """The reload hands gRPC a new pair only once the key and certificate match: a
    fetch between the key's replacement and the certificate's keeps the old pair."""
    from servers.runtime.tls import ReloadingCertificate

    for suffix in ("crt", "key"):
        (tmp_path / f"s.{suffix}").write_bytes(pki.certs_dir.joinpath(f"registry.{suffix}").read_bytes())
    fetch = ReloadingCertificate(tmp_path / "s.crt", tmp_path / "s.key", pki.ca_cert)
    assert fetch() is None  # nothing changed
    new = certs.issue(certs.load_pair(pki.ca_cert_private, pki.ca_key), "registry")
    certs._atomic_write(tmp_path / "s.key", new.key_pem, 0o600)
    assert fetch() is None and fetch.reloads == 0  # new key, old certificate
    certs._atomic_write(tmp_path / "s.crt", new.cert_pem, 0o644)
    assert fetch() is not None and fetch.reloads == 1
    assert fetch() is None


@pytest.mark.parametrize("service", ["registry", "worker"])
def test_a_process_started_with_tls_dir_presents_its_own_certificate(pki, settings, service):
    """`chatdb serve registry` and `chatdb worker` with CHATDB_TLS_DIR: the port presents
    <service>.crt, grpcurl with the cli certificate gets an answer, without one it fails."""
    import os
    import shutil
    import subprocess
    import sys
    import time
    from pathlib import Path

    from .test_cli_serve import free_port

    bin_dir = Path(sys.executable).parent
    grpcurl = shutil.which("grpcurl", path=str(bin_dir)) or "grpcurl"
    port = free_port()
    env = {
        **os.environ,
        "CHATDB_HOME": str(pki.home),
        "CHATDB_TLS_DIR": str(pki.certs_dir),
        "CHATDB_DATABASE_URL": settings.database_url,
        "CHATDB_REDIS_PREFIX": settings.redis_prefix,
        "CHATDB_GRACE_PERIOD_S": "1",
        "CHATDB_WORKER_PORT": str(port),
    }
    command = ["worker"] if service == "worker" else ["serve", service, "--port", str(port)]
    proc = subprocess.Popen([str(bin_dir / "chatdb"), *command], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    tls = ["-cacert", str(pki.ca_cert), "-cert", str(pki.cert("cli")), "-key", str(pki.key("cli"))]
    check = [grpcurl, "-max-time", "3", *tls, f"127.0.0.1:{port}", "grpc.health.v1.Health/Check"]
    try:
        deadline = time.monotonic() + 30
        out = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            out = subprocess.run(check, capture_output=True, text=True, timeout=10)
            if "SERVING" in out.stdout:  # SERVING, or NOT_SERVING while the worker finds Redis
                break
            time.sleep(0.3)
        assert out is not None and "SERVING" in out.stdout, out
        assert _server_serial(port, pki) == _serial(pki.cert(service))
        bare = subprocess.run([grpcurl, "-max-time", "3", "-cacert", str(pki.ca_cert), f"127.0.0.1:{port}",
                               "grpc.health.v1.Health/Check"], capture_output=True, text=True, timeout=10)
        assert bare.returncode != 0 and "SERVING" not in bare.stdout
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


async def test_the_health_probe_port_answers_plaintext_health_only(pki, serve):
    """CHATDB_HEALTH_PROBE_PORT (Kubernetes' gRPC probes cannot do mTLS): plaintext
    grpc.health.v1 with the service port's statuses, and nothing else on it."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        probe_port = s.getsockname()[1]
    server = await serve(mesh(pki, health_probe_port=probe_port), "registry")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{probe_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=3)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        await server.set_serving(False)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=3)
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await channel.unary_unary(f"/{SERVICE}/Who")(b"", timeout=3)
        assert err.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def test_a_peer_reached_by_a_name_its_certificate_lacks_is_refused(pki, serve):
    """CHATDB_<SERVICE>_ADDRESS with a host name the certificate does not carry (here
    this machine's name): the client checks the name, so the call fails."""
    name = socket.gethostname()
    try:
        if socket.gethostbyname(name) != "127.0.0.1" or name == "localhost":
            pytest.skip("needs a host name other than localhost that resolves to 127.0.0.1")
    except OSError:
        pytest.skip("the host name does not resolve")
    connector = await serve(mesh(pki), "connector")
    settings = for_service(mesh(pki, connector_address=f"{name}:{connector.port}"), "parser")
    channel = open_channel(settings, "connector")
    serve.channels.append(channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await channel.unary_unary(f"/{SERVICE}/Who")(b"", timeout=5)
    assert err.value.code() is grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("suffixes, reached", [(("chatdb.svc",), True), ((), False)])
async def test_a_peer_is_verified_under_its_kubernetes_service_name(tmp_path, serve, suffixes, reached):
    """Certificates from `chatdb certs --dns-suffix chatdb.svc` carry connector.chatdb.svc,
    the name the parser dials on Kubernetes; without the suffix that name is refused.
    (The override stands in for the cluster's DNS: the TLS check is of that name.)"""
    home = certs.ensure_pki(tmp_path, dns_suffixes=suffixes)
    connector = await serve(mesh(home), "connector")
    channel = open_channel(for_service(mesh(home), "parser"), address=f"127.0.0.1:{connector.port}",
                           options=(("grpc.ssl_target_name_override", "connector.chatdb.svc"),))
    serve.channels.append(channel)
    call = channel.unary_unary(f"/{SERVICE}/Who")(b"", timeout=5)
    if reached:
        assert json.loads(await call)["peer"] == "spiffe://chatdb/parser"
    else:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() is grpc.StatusCode.UNAVAILABLE
