"""The mesh PKI on disk: where the CA key lives, what each certificate names, that
`ensure_pki` is idempotent and renews only what is about to expire, and that `rotate`
re-issues every leaf with the same CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat

import pytest
from cryptography import x509

from servers.cli import main
from servers.runtime import certs
from servers.runtime.certs import MESH_SERVICES, create_ca, ensure_pki, issue, spiffe_ids_of


def _cert(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _serials(pki: certs.Pki) -> dict[str, int]:
    return {str(p.relative_to(pki.certs_dir)): _cert(p).serial_number for p in pki.certs_dir.rglob("*.crt")}


@pytest.fixture
def pki(tmp_path) -> certs.Pki:
    return ensure_pki(tmp_path / "home")


def test_the_ca_key_is_kept_apart_from_what_services_read(pki):
    assert stat.S_IMODE(pki.ca_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(pki.ca_key.stat().st_mode) == 0o600
    assert pki.certs_dir not in pki.ca_key.parents
    ca_key = pki.ca_key.read_bytes()
    for path in pki.certs_dir.rglob("*"):
        assert not path.is_file() or path.read_bytes() != ca_key, path
    assert pki.ca_cert.read_bytes() == pki.ca_cert_private.read_bytes()
    for key in pki.certs_dir.rglob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


@pytest.mark.parametrize("service", MESH_SERVICES)
def test_service_certificates_name_the_service_and_localhost(pki, service):
    cert = _cert(pki.cert(service))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [f"spiffe://chatdb/{service}"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    lifetime = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=29) < lifetime <= dt.timedelta(days=30)
    cert.verify_directly_issued_by(_cert(pki.ca_cert))


def test_envoy_cli_and_client_identities(pki, tmp_path):
    assert spiffe_ids_of(_cert(pki.cert("envoy"))) == ["spiffe://chatdb/envoy"]
    assert spiffe_ids_of(_cert(pki.cert("cli"))) == ["spiffe://chatdb/client/cli"]
    cert, key = certs.issue_client(pki.home, "alice")
    assert cert == pki.certs_dir / "clients" / "alice.crt" and key.exists()
    assert spiffe_ids_of(_cert(cert)) == ["spiffe://chatdb/client/alice"]
    with pytest.raises(ValueError):
        certs.issue_client(pki.home, "../evil")
    with pytest.raises(ValueError):
        certs.issue_client(pki.home, "cli")


def test_env_for_the_launcher(pki):
    assert pki.env() == {"CHATDB_TLS_DIR": str(pki.home / "certs")}


def test_ensure_is_idempotent(pki):
    before = {p: p.read_bytes() for p in pki.home.rglob("*") if p.is_file()}
    again = ensure_pki(pki.home)
    assert again.issued == []
    assert {p: p.read_bytes() for p in pki.home.rglob("*") if p.is_file()} == before
    assert not list(pki.home.rglob("*.tmp"))


def test_only_what_expires_within_7_days_is_renewed(pki):
    ca = certs.load_pair(pki.ca_cert_private, pki.ca_key)
    certs.write_pair(issue(ca, "parser", days=3), pki.certs_dir, "parser")
    certs.write_pair(issue(create_ca("Another CA"), "gateway"), pki.certs_dir, "gateway")
    before = _serials(pki)
    again = ensure_pki(pki.home)
    assert sorted(again.issued) == ["gateway", "parser"]
    after = _serials(pki)
    assert {k for k in after if after[k] != before[k]} == {"parser.crt", "gateway.crt"}
    _cert(pki.cert("gateway")).verify_directly_issued_by(_cert(pki.ca_cert))


def test_rotate_reissues_every_leaf_with_the_same_ca(pki):
    certs.issue_client(pki.home, "bob")
    before = _serials(pki)
    rotated = certs.rotate(pki.home)
    after = _serials(pki)
    assert after["ca.crt"] == before["ca.crt"]
    assert {k for k in after if after[k] != before[k]} == set(after) - {"ca.crt"}
    assert "clients/bob" in rotated.issued
    for path in pki.certs_dir.rglob("*.crt"):
        if path == pki.ca_cert:
            continue
        assert certs.pair_matches(path.read_bytes(), path.with_suffix(".key").read_bytes())


def test_issue_keeps_its_signature_and_can_issue_an_expired_certificate():
    ca = create_ca()
    server = issue(ca, "server", client=False)
    assert spiffe_ids_of(server.cert) == ["spiffe://chatdb/server"]
    expired = issue(ca, "old", days=-1)
    assert expired.cert.not_valid_after_utc < dt.datetime.now(dt.UTC)
    assert expired.cert.not_valid_before_utc < expired.cert.not_valid_after_utc


def test_chatdb_certs_command(tmp_path, capsys):
    home = tmp_path / "h"
    assert main(["certs", "--home", str(home)]) == 0
    assert "issued ca, gateway" in capsys.readouterr().out
    assert main(["certs", "--home", str(home), "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["certs", "client", "carol", "--home", str(home)]) == 0
    assert "spiffe://chatdb/client/carol" in capsys.readouterr().out
    assert main(["certs", "rotate", "--home", str(home)]) == 0
    assert "clients/carol" in capsys.readouterr().out
    assert main(["certs", "client", "no/slash", "--home", str(home)]) == 1
    # The single-directory form still works.
    assert main(["certs", str(tmp_path / "flat"), "-q"]) == 0
    assert (tmp_path / "flat" / "server.crt").exists()


def test_concurrent_runs_make_one_ca(tmp_path):
    """`make up` and an operator's `chatdb certs` at once: one CA, every leaf chains to it."""
    import subprocess
    import sys
    from pathlib import Path

    chatdb = str(Path(sys.executable).parent / "chatdb")
    home = tmp_path / "h"
    procs = [subprocess.Popen([chatdb, "certs", "--home", str(home), "-q"]) for _ in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0] * 4
    pki = certs.Pki(home)
    ca = _cert(pki.ca_cert)
    assert ca == _cert(pki.ca_cert_private)
    for path in pki.certs_dir.rglob("*.crt"):
        if path != pki.ca_cert:
            _cert(path).verify_directly_issued_by(ca)


def test_dns_suffixes_name_each_service_and_survive_renewal_and_rotation(tmp_path):
    pki = certs.ensure_pki(tmp_path, dns_suffixes=["chatdb.svc", "chatdb.svc.cluster.local"],
                           edge_dns=["chatdb.example.com"])

    def names(stem):
        return certs.dns_names_of(x509.load_pem_x509_certificate(pki.cert(stem).read_bytes()))

    assert names("parser") == ["localhost", "parser", "parser.chatdb.svc", "parser.chatdb.svc.cluster.local"]
    assert "chatdb.example.com" in names("envoy") and "chatdb.example.com" not in names("parser")
    assert names("cli") == []  # a client-only certificate names no host
    # Remembered: a plain ensure changes nothing, a rotation issues the same names.
    assert certs.ensure_pki(tmp_path).issued == []
    certs.rotate(tmp_path)
    assert "registry.chatdb.svc" in names("registry")
    # A suffix added later re-issues the server certificates that lack it.
    again = certs.ensure_pki(tmp_path, dns_suffixes=["other.svc"])
    assert "gateway" in again.issued and "cli" not in again.issued
    assert "gateway.other.svc" in names("gateway") and "gateway.chatdb.svc" in names("gateway")


def test_a_bad_dns_name_is_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="DNS name"):
        certs.ensure_pki(tmp_path, dns_suffixes=["bad name"])
    assert main(["certs", "--home", str(tmp_path), "--dns-suffix", "bad_name.svc"]) != 0
    assert "DNS name" in capsys.readouterr().err
