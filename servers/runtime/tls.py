"""gRPC credentials from PEM files: TLS, and mTLS when a client CA is configured.

Two ways to name the files, per file the explicit one winning:
- `CHATDB_TLS_DIR` (the PKI of certs.ensure_pki): mTLS everywhere. A process presents
  `<identity>.crt/.key` from it — the service it serves (`chatdb serve S` and the worker
  set `tls_identity` to S, see `for_service`), `cli` for other commands — and verifies
  peers against its `ca.crt`; servers require a client certificate chained to it.
- `CHATDB_TLS_CERT_FILE` / `_KEY_FILE` / `_CLIENT_CA_FILE` (server) and
  `CHATDB_TLS_CA_FILE` / `_CLIENT_CERT_FILE` / `_CLIENT_KEY_FILE` (client).

Servers re-read their certificate when the file changes (rotation without restart):
grpc.dynamic_ssl_server_credentials asks `ReloadingCertificate` before each handshake;
it compares the files' mtimes and sizes (a few stat calls) and hands gRPC the new pair
only once the key and certificate match, so a half-written rotation is never served.
Client credentials are read when a channel is opened.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path

import grpc

from .certs import pair_matches
from .settings import Settings

log = logging.getLogger("chatdb.tls")


def for_service(settings: Settings, service: str) -> Settings:
    """`settings` of the process serving `service`: it presents `<service>.crt` from
    tls_dir on its server and on every channel it opens."""
    if settings.tls_identity == service:
        return settings
    return settings.model_copy(update={"tls_identity": service})


def _in_dir(settings: Settings, name: str) -> Path | None:
    return None if settings.tls_dir is None else settings.tls_dir / name


def _require(*paths: Path | None) -> None:
    """A missing file is one clear line (`chatdb` prints OSErrors as such), not a
    failure deep inside gRPC."""
    for path in paths:
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(errno.ENOENT, "TLS file missing (`chatdb certs` writes the mesh's)", str(path))


def server_files(settings: Settings, identity: str | None = None) -> tuple[Path, Path, Path | None] | None:
    """(cert, key, client CA or None) of a server, or None for plaintext."""
    who = identity or settings.tls_identity
    cert = settings.tls_cert_file or _in_dir(settings, f"{who}.crt")
    key = settings.tls_key_file or _in_dir(settings, f"{who}.key")
    if cert is None or key is None:
        return None
    return cert, key, settings.tls_client_ca_file or _in_dir(settings, "ca.crt")


def mtls_required(settings: Settings) -> bool:
    """Whether a server built from `settings` accepts only callers with a certificate
    (so each call has a peer identity)."""
    files = server_files(settings)
    return files is not None and files[2] is not None


class ReloadingCertificate:
    """Certificate-configuration fetcher of grpc.dynamic_ssl_server_credentials: gRPC
    calls it before every handshake; it answers None (keep the current configuration)
    unless the files changed and the new key matches the new certificate."""

    def __init__(self, cert: Path, key: Path, client_ca: Path | None) -> None:
        self.paths = tuple(p for p in (cert, key, client_ca) if p is not None)
        self.cert, self.key, self.client_ca = Path(cert), Path(key), client_ca
        self._stamp = self._stat()
        config = self._load()
        if config is None:
            raise ValueError(f"TLS key {key} does not match certificate {cert}")
        self.initial = config
        self.reloads = 0

    def _stat(self) -> tuple[tuple[int, int], ...]:
        out = []
        for p in self.paths:
            st = os.stat(p)
            out.append((st.st_mtime_ns, st.st_size))
        return tuple(out)

    def _load(self) -> grpc.ServerCertificateConfiguration | None:
        key, cert = self.key.read_bytes(), self.cert.read_bytes()
        if not pair_matches(cert, key):
            return None
        roots = Path(self.client_ca).read_bytes() if self.client_ca is not None else None
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=roots)

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        try:
            stamp = self._stat()  # before reading: a change while reading shows next time
            if stamp == self._stamp:
                return None
            config = self._load()
        except Exception:  # noqa: BLE001 - a failed reload must not fail the handshake
            log.warning("certificate reload failed; keeping the current one", exc_info=True)
            return None
        if config is None:  # caught between the key's and the certificate's replacement
            return None
        self._stamp = stamp
        self.reloads += 1
        log.info("certificate reloaded", extra={"cert": str(self.cert)})
        return config


def server_credentials(settings: Settings, identity: str | None = None) -> grpc.ServerCredentials | None:
    """None means plaintext. With a client CA, clients without a certificate signed by it
    are refused during the handshake. `identity` defaults to settings.tls_identity."""
    files = server_files(settings, identity)
    if files is None:
        return None
    cert, key, client_ca = files
    _require(cert, key, client_ca)
    fetcher = ReloadingCertificate(cert, key, client_ca)
    return grpc.dynamic_ssl_server_credentials(
        fetcher.initial, fetcher, require_client_authentication=client_ca is not None
    )


def channel_credentials(settings: Settings, identity: str | None = None) -> grpc.ChannelCredentials | None:
    """Credentials a ChatDB client uses towards a ChatDB server; None means plaintext.
    With tls_dir it presents `<identity>.crt` (default settings.tls_identity)."""
    who = identity or settings.tls_identity
    ca = settings.tls_ca_file or _in_dir(settings, "ca.crt")
    if ca is None:
        return None
    cert = settings.tls_client_cert_file or _in_dir(settings, f"{who}.crt")
    key = settings.tls_client_key_file or _in_dir(settings, f"{who}.key")
    _require(ca, cert, key)
    key_pem, cert_pem = _read_pair(cert, key) if cert and key else (None, None)
    return grpc.ssl_channel_credentials(
        root_certificates=Path(ca).read_bytes(), private_key=key_pem, certificate_chain=cert_pem
    )


def _read_pair(cert: Path, key: Path, attempts: int = 20) -> tuple[bytes, bytes]:
    """Key and certificate that belong together: read again when a rotation replaced
    one between the two reads (certs.py replaces the key first, then the certificate)."""
    for _ in range(attempts):
        key_pem, cert_pem = Path(key).read_bytes(), Path(cert).read_bytes()
        if pair_matches(cert_pem, key_pem):
            return key_pem, cert_pem
        time.sleep(0.005)
    raise ValueError(f"TLS key {key} does not match certificate {cert}")
