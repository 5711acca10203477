"""The mesh's internal certificate authority: one CA, a certificate per identity.

Layout under CHATDB_HOME (`ensure_pki(home)`, `chatdb certs`):

    ca/            0700  the CA: ca.key (0600) and ca.crt — never read by services;
                         dns.json, the DNS names asked for (kept across renewals)
    certs/               what processes read (CHATDB_TLS_DIR points here)
      ca.crt             the trust anchor every process verifies peers against
      <service>.crt/.key gateway, parser, connector, training, worker, registry,
                         prediction: SAN URI spiffe://chatdb/<service>, DNS localhost
                         (plus <service> and <service>.<suffix> for each --dns-suffix,
                         e.g. parser.chatdb.svc), IP 127.0.0.1 and ::1; server and
                         client auth
      envoy.crt/.key     spiffe://chatdb/envoy (server for clients, client upstream),
                         also the edge's public names (--edge-dns)
      cli.crt/.key       spiffe://chatdb/client/cli, the operator's `chatdb` commands
      clients/NAME.*     spiffe://chatdb/client/NAME (`chatdb certs client NAME`)

Leaves are valid 30 days. `ensure_pki` keeps what exists and still has more than
RENEW_WITHIN left (so running `make up` twice never invalidates what clients hold) and
re-issues the rest; `rotate` re-issues every leaf with the same CA.

Writes are atomic (a temporary file in the same directory, then os.replace) and a
leaf's key is replaced before its certificate: the certificate is the file watchers key
on (tls.py re-reads a pair when the certificate's mtime changes), so when a new
certificate shows, its key is already there. A reader that read the key just before
the swap and the certificate just after sees a pair that does not match; tls.py checks
that and keeps the old pair until the next handshake, so no handshake ever uses a
mismatched pair.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TRUST_DOMAIN = "chatdb"
# Processes of the mesh; each gets <service>.crt and presents it both ways.
MESH_SERVICES = ("gateway", "parser", "connector", "training", "worker", "registry", "prediction")
ENVOY = "envoy"
CLI = "cli"
LEAF_DAYS = 30
CA_DAYS = 3650
RENEW_WITHIN = dt.timedelta(days=7)
CLIENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DNS_NAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")


@dataclass(frozen=True)
class KeyPair:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def spiffe_id(path: str) -> str:
    """spiffe://chatdb/<path>: `parser`, `envoy`, `client/alice`."""
    return f"spiffe://{TRUST_DOMAIN}/{path}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_ca(common_name: str = "ChatDB internal CA", days: int = CA_DAYS) -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, cert)


def issue(
    ca: KeyPair,
    common_name: str,
    *,
    dns_names: tuple[str, ...] = ("localhost",),
    ip_addresses: tuple[str, ...] = ("127.0.0.1", "::1"),
    server: bool = True,
    client: bool = True,
    days: float = LEAF_DAYS,
    spiffe_path: str | None = None,
) -> KeyPair:
    """A leaf signed by `ca` with SAN URI spiffe://chatdb/<spiffe_path or common_name>.

    `days` may be negative: the certificate then expired that long ago (for tests of
    refusal)."""
    key = ec.generate_private_key(ec.SECP256R1())
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    sans.append(x509.UniformResourceIdentifier(spiffe_id(spiffe_path or common_name)))
    not_after = _now() + dt.timedelta(days=days)
    not_before = min(_now() - dt.timedelta(minutes=5), not_after - dt.timedelta(days=1))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return KeyPair(key, cert)


# --- files -----------------------------------------------------------------------------


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Readers see the old file or the new one, never a partial one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_pair(pair: KeyPair, directory: Path, stem: str) -> tuple[Path, Path]:
    """<stem>.key (0600) then <stem>.crt (0644), each replaced atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    key_path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(key_path, pair.key_pem, 0o600)
    _atomic_write(cert_path, pair.cert_pem, 0o644)
    return cert_path, key_path


def load_pair(cert_path: Path, key_path: Path) -> KeyPair:
    key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    return KeyPair(key, cert)  # type: ignore[arg-type]


def pair_matches(cert_pem: bytes, key_pem: bytes) -> bool:
    """Whether the certificate's public key is the key's (a half-rotated pair is not)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except ValueError:
        return False
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


def spiffe_ids_of(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [u for u in san.get_values_for_type(x509.UniformResourceIdentifier) if u.startswith("spiffe://")]


# --- the deployment's PKI --------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """One identity's certificate: its file stem under certs/ and its SPIFFE path."""

    stem: str
    spiffe_path: str
    server: bool

    @property
    def client_only(self) -> bool:
        return not self.server


def mesh_leaves() -> list[Leaf]:
    """The identities `ensure_pki` keeps current: the services, Envoy, the CLI."""
    return [Leaf(s, s, True) for s in (*MESH_SERVICES, ENVOY)] + [Leaf(CLI, f"client/{CLI}", False)]


def client_leaf(name: str) -> Leaf:
    if not CLIENT_NAME.match(name) or name == CLI:
        raise ValueError(f"client name {name!r}: letters, digits, '.', '_' and '-' (not 'cli'), at most 64")
    return Leaf(f"clients/{name}", f"client/{name}", False)


@dataclass
class Pki:
    """Paths of one deployment's PKI, and what the last call (re)issued."""

    home: Path
    issued: list[str] = field(default_factory=list)

    @property
    def ca_dir(self) -> Path:
        return self.home / "ca"

    @property
    def ca_key(self) -> Path:
        return self.ca_dir / "ca.key"

    @property
    def ca_cert_private(self) -> Path:
        return self.ca_dir / "ca.crt"

    @property
    def certs_dir(self) -> Path:
        """CHATDB_TLS_DIR of every process."""
        return self.home / "certs"

    @property
    def ca_cert(self) -> Path:
        return self.certs_dir / "ca.crt"

    def cert(self, stem: str) -> Path:
        return self.certs_dir / f"{stem}.crt"

    def key(self, stem: str) -> Path:
        return self.certs_dir / f"{stem}.key"

    def env(self) -> dict[str, str]:
        """What every process of the deployment needs in its environment for mTLS (the
        launcher adds it to each child's env: services, worker, and `chatdb` commands)."""
        return {"CHATDB_TLS_DIR": str(self.certs_dir)}

    @property
    def dns_file(self) -> Path:
        return self.ca_dir / "dns.json"

    def dns_config(self) -> dict[str, list[str]]:
        """The DNS names asked for by `chatdb certs --dns-suffix/--edge-dns`, kept so
        that renewals and `rotate` issue the same names."""
        try:
            data = json.loads(self.dns_file.read_text())
        except FileNotFoundError:
            data = {}
        return {"suffixes": list(data.get("suffixes", [])), "edge": list(data.get("edge", []))}

    def client_leaves(self) -> list[Leaf]:
        directory = self.certs_dir / "clients"
        names = sorted(p.stem for p in directory.glob("*.crt")) if directory.is_dir() else []
        return [client_leaf(n) for n in names if CLIENT_NAME.match(n)]


def _prepare_dirs(pki: Pki) -> None:
    pki.ca_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(pki.ca_dir, 0o700)
    (pki.certs_dir / "clients").mkdir(parents=True, exist_ok=True)


def _current(cert_path: Path, key_path: Path, ca: x509.Certificate | None, within: dt.timedelta) -> bool:
    """Exists, matches its key, is signed by `ca`, and has more than `within` left."""
    try:
        cert_pem, key_pem = cert_path.read_bytes(), key_path.read_bytes()
    except FileNotFoundError:
        return False
    if not pair_matches(cert_pem, key_pem):
        return False
    cert = x509.load_pem_x509_certificate(cert_pem)
    if cert.not_valid_after_utc - _now() <= within:
        return False
    if ca is not None:
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            return False
    return True


def _load_or_create_ca(pki: Pki) -> tuple[KeyPair, bool]:
    # The CA lasts ten years; one that is (nearly) out is replaced, and with it every leaf.
    if _current(pki.ca_cert_private, pki.ca_key, None, RENEW_WITHIN):
        return load_pair(pki.ca_cert_private, pki.ca_key), False
    ca = create_ca()
    write_pair(ca, pki.ca_dir, "ca")
    return ca, True


def _dns_names(pki: Pki, leaf: Leaf) -> tuple[str, ...]:
    """The DNS names a server leaf answers to: localhost, and with the deployment's
    suffixes (ca/dns.json) its Service names, e.g. parser, parser.chatdb.svc; Envoy also
    the edge's public names."""
    if not leaf.server:
        return ()
    names = pki.dns_config()
    name = leaf.stem.rpartition("/")[2]
    extra = [name, *(f"{name}.{suffix}" for suffix in names["suffixes"])] if names["suffixes"] else []
    if name == ENVOY:
        extra += names["edge"]
    return tuple(dict.fromkeys(("localhost", *extra)))


def dns_names_of(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(san.get_values_for_type(x509.DNSName))


def _names_current(pki: Pki, leaf: Leaf) -> bool:
    """The leaf's certificate names every DNS name the deployment now asks for."""
    try:
        cert = x509.load_pem_x509_certificate(pki.cert(leaf.stem).read_bytes())
    except FileNotFoundError:
        return False
    return set(_dns_names(pki, leaf)) <= set(dns_names_of(cert))


def _issue_leaf(pki: Pki, ca: KeyPair, leaf: Leaf, days: float) -> None:
    name = leaf.stem.rpartition("/")[2]
    dns, ips = (_dns_names(pki, leaf), ("127.0.0.1", "::1")) if leaf.server else ((), ())
    pair = issue(ca, name, dns_names=dns, ip_addresses=ips, server=leaf.server, client=True, days=days, spiffe_path=leaf.spiffe_path)
    write_pair(pair, pki.certs_dir, leaf.stem)
    pki.issued.append(leaf.stem)


def _sync_ca_cert(pki: Pki, ca: KeyPair) -> None:
    if not pki.ca_cert.exists() or pki.ca_cert.read_bytes() != ca.cert_pem:
        _atomic_write(pki.ca_cert, ca.cert_pem, 0o644)
        pki.issued.append("ca")


@contextlib.contextmanager
def _locked(pki: Pki) -> Iterator[None]:
    """One writer at a time (`make up` and an operator's `chatdb certs` at once must not
    make two CAs)."""
    _prepare_dirs(pki)
    with open(pki.ca_dir / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_pki(home: Path, *, renew_within: dt.timedelta = RENEW_WITHIN, days: float = LEAF_DAYS,
               dns_suffixes: Sequence[str] = (), edge_dns: Sequence[str] = ()) -> Pki:
    """The CA and every mesh leaf (services, envoy, cli), creating what is missing and
    re-issuing what expires within `renew_within` (or no longer chains to the CA, or
    lacks a DNS name asked for). Idempotent: a second call changes nothing. Client
    certificates under clients/ are renewed the same way. Returns the paths; `.issued`
    lists what was written.

    `dns_suffixes` (e.g. chatdb.svc) make each service's certificate also name
    `<service>` and `<service>.<suffix>`, the names peers dial on Kubernetes; `edge_dns`
    adds the edge's public names to Envoy's. Both are remembered (added to what an
    earlier call asked for), so renewals keep them."""
    pki = Pki(Path(home).expanduser().absolute())
    with _locked(pki):
        _remember_dns(pki, dns_suffixes, edge_dns)
        _ensure(pki, renew_within, days)
    return pki


def _remember_dns(pki: Pki, dns_suffixes: Sequence[str], edge_dns: Sequence[str]) -> None:
    if not dns_suffixes and not edge_dns:
        return
    for name in (*dns_suffixes, *edge_dns):
        if not DNS_NAME.match(name):
            raise ValueError(f"DNS name {name!r}: labels of letters, digits and '-', joined by '.'")
    current = pki.dns_config()
    merged = {
        "suffixes": list(dict.fromkeys([*current["suffixes"], *(s.strip(".").lower() for s in dns_suffixes)])),
        "edge": list(dict.fromkeys([*current["edge"], *(e.lower() for e in edge_dns)])),
    }
    if merged != current:
        _atomic_write(pki.dns_file, json.dumps(merged, indent=2).encode(), 0o644)


def _ensure(pki: Pki, renew_within: dt.timedelta, days: float) -> None:
    ca, new_ca = _load_or_create_ca(pki)
    _sync_ca_cert(pki, ca)
    for leaf in [*mesh_leaves(), *pki.client_leaves()]:
        if (new_ca or not _current(pki.cert(leaf.stem), pki.key(leaf.stem), ca.cert, renew_within)
                or not _names_current(pki, leaf)):
            _issue_leaf(pki, ca, leaf, days)


def rotate(home: Path, *, days: float = LEAF_DAYS) -> Pki:
    """Re-issue every leaf (mesh and clients) with the same CA. Servers pick the new
    certificates up on their next handshake; old ones stay valid until they expire."""
    pki = Pki(Path(home).expanduser().absolute())
    with _locked(pki):
        _ensure(pki, RENEW_WITHIN, days)
        pki.issued.clear()
        ca = load_pair(pki.ca_cert_private, pki.ca_key)
        for leaf in [*mesh_leaves(), *pki.client_leaves()]:
            _issue_leaf(pki, ca, leaf, days)
    return pki


def issue_client(home: Path, name: str, *, days: float = LEAF_DAYS, force: bool = False) -> tuple[Path, Path]:
    """certs/clients/NAME.crt/.key (spiffe://chatdb/client/NAME); an existing current
    one is kept unless `force`."""
    leaf = client_leaf(name)
    pki = Pki(Path(home).expanduser().absolute())
    with _locked(pki):
        _ensure(pki, RENEW_WITHIN, LEAF_DAYS)
        ca = load_pair(pki.ca_cert_private, pki.ca_key)
        if force or not _current(pki.cert(leaf.stem), pki.key(leaf.stem), ca.cert, RENEW_WITHIN):
            _issue_leaf(pki, ca, leaf, days)
    return pki.cert(leaf.stem), pki.key(leaf.stem)


def write_pki(directory: Path, *, overwrite: bool = False) -> dict[str, Path]:
    """Legacy single-directory set (CA with its key, `server`, `client`) for tests and
    tools that want one throwaway directory; a deployment uses ensure_pki(home).

    Keeps an existing set unless `overwrite`."""
    directory = Path(directory)
    names = {stem: directory / f"{stem}.crt" for stem in ("ca", "server", "client")}
    if not overwrite and all(p.exists() for p in names.values()):
        return {**names, **{f"{s}_key": directory / f"{s}.key" for s in names}}
    ca = create_ca()
    write_pair(ca, directory, "ca")
    write_pair(issue(ca, "server", client=False), directory, "server")
    write_pair(issue(ca, "client", server=False, dns_names=(), ip_addresses=()), directory, "client")
    return {**names, **{f"{s}_key": directory / f"{s}.key" for s in names}}


def describe(pki: Pki) -> list[str]:
    """One line per certificate under certs/: file, SPIFFE id, serial, expiry."""
    lines = []
    for path in sorted(pki.certs_dir.rglob("*.crt")):
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        ident = ",".join(spiffe_ids_of(cert)) or cert.subject.rfc4514_string()
        name = str(path.relative_to(pki.certs_dir))
        lines.append(f"{name:24} {ident:36} until {cert.not_valid_after_utc:%Y-%m-%d %H:%M}Z  serial {cert.serial_number:x}")
    return lines
