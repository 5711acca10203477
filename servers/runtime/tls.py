"""gRPC credentials from PEM files: TLS, and mTLS when a client CA is configured."""

from __future__ import annotations

from pathlib import Path

import grpc

from .settings import Settings


def _read(path: Path | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """None means plaintext. With a client CA, clients without a certificate signed by it
    are refused during the handshake (require_client_auth)."""
    if not settings.tls_enabled:
        return None
    key, cert = _read(settings.tls_key_file), _read(settings.tls_cert_file)
    client_ca = _read(settings.tls_client_ca_file)
    return grpc.ssl_server_credentials(
        [(key, cert)],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def channel_credentials(settings: Settings) -> grpc.ChannelCredentials | None:
    """Credentials a ChatDB client uses towards a ChatDB server; None means plaintext."""
    if settings.tls_ca_file is None:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=_read(settings.tls_ca_file),
        private_key=_read(settings.tls_client_key_file),
        certificate_chain=_read(settings.tls_client_cert_file),
    )
