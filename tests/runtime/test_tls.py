"""TLS and mTLS from certificate files: a client signed by the CA gets in; a client
without a certificate, or with one from another CA, is refused in the handshake."""

from __future__ import annotations

import grpc
import pytest

from servers.runtime.certs import create_ca, issue, write_pair, write_pki

from .helpers import method, raw_binding


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    paths = write_pki(directory)
    rogue_ca = create_ca("Rogue CA")
    write_pair(issue(rogue_ca, "intruder", server=False, dns_names=(), ip_addresses=()), directory, "rogue-client")
    return directory, paths


def creds(directory, client: str | None):
    kwargs = {"root_certificates": (directory / "ca.crt").read_bytes()}
    if client:
        kwargs["private_key"] = (directory / f"{client}.key").read_bytes()
        kwargs["certificate_chain"] = (directory / f"{client}.crt").read_bytes()
    return grpc.ssl_channel_credentials(**kwargs)


@pytest.fixture
async def mtls_server(start_server, settings, pki):
    directory, _ = pki
    mtls = settings.model_copy(
        update={
            "tls_cert_file": directory / "server.crt",
            "tls_key_file": directory / "server.key",
            "tls_client_ca_file": directory / "ca.crt",
        }
    )
    return await start_server([raw_binding()], settings=mtls)


async def test_mtls_accepts_a_client_signed_by_the_ca(mtls_server, channel_to, pki):
    channel = channel_to(f"localhost:{mtls_server.port}", creds(pki[0], "client"))
    assert await method(channel, "Echo")(b"hello", timeout=5) == b"hello"


@pytest.mark.parametrize("client", [None, "rogue-client"], ids=["no-cert", "wrong-ca"])
async def test_mtls_rejects_other_clients(mtls_server, channel_to, pki, client):
    channel = channel_to(f"localhost:{mtls_server.port}", creds(pki[0], client))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await method(channel, "Echo")(b"hello", timeout=3)
    assert err.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_plaintext_client_cannot_talk_to_a_tls_server(mtls_server, channel_to):
    channel = channel_to(f"127.0.0.1:{mtls_server.port}")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await method(channel, "Echo")(b"hello", timeout=3)
    assert err.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_tls_without_client_auth_accepts_any_client(start_server, settings, channel_to, pki):
    directory, _ = pki
    tls = settings.model_copy(
        update={"tls_cert_file": directory / "server.crt", "tls_key_file": directory / "server.key"}
    )
    server = await start_server([raw_binding()], settings=tls)
    channel = channel_to(f"localhost:{server.port}", creds(directory, None))
    assert await method(channel, "Echo")(b"hi", timeout=5) == b"hi"
