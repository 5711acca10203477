"""Who is calling: the principal the edge authenticated, carried through the mesh.

Envoy's ext_authz check (the gateway's authz server) turns an API key into identity
headers and Envoy strips any the client sent itself. Every server reads them into
`current_principal()` for the length of a call (the interceptor does it), and every
channel from open_channel() forwards them on calls made inside that call, so the
parser's call to the connector is made for the same tenant as the Ask that caused it.

No identity headers means an internal caller (a mesh service's own work, an operator
with a mesh certificate, a test without the edge): `current_principal()` is None and
nothing is filtered by tenant.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from .certs import ENVOY, MESH_SERVICES, spiffe_id
from .errors import PermissionDenied, Unauthenticated

PRINCIPAL_KEY = "x-chatdb-principal"
TENANT_KEY = "x-chatdb-tenant"
ROLE_KEY = "x-chatdb-role"
API_KEY_ID_KEY = "x-chatdb-api-key-id"
QUOTA_KEY = "x-chatdb-quota"
IDENTITY_KEYS = (PRINCIPAL_KEY, TENANT_KEY, ROLE_KEY, API_KEY_ID_KEY, QUOTA_KEY)

ROLES = ("admin", "user", "viewer")
MAX_VALUE_CHARS = 256


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `quotas` maps a quota name (questions_per_minute,
    questions_per_day, training_jobs_per_day) to its limit; absent or 0 is unlimited."""

    name: str
    tenant: str = "default"
    role: str = "user"
    api_key_id: str = ""
    quotas: dict[str, int] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The identity headers that stand for this principal."""
        out = [(PRINCIPAL_KEY, self.name), (TENANT_KEY, self.tenant), (ROLE_KEY, self.role)]
        if self.api_key_id:
            out.append((API_KEY_ID_KEY, self.api_key_id))
        if self.quotas:
            out.append((QUOTA_KEY, format_quotas(self.quotas)))
        return tuple(out)


def format_quotas(quotas: dict[str, int]) -> str:
    return ",".join(f"{k}={int(v)}" for k, v in sorted(quotas.items()))


def parse_quotas(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name and value.strip().isdigit():
            out[name] = int(value)
    return out


def principal_from_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> Principal | None:
    """The principal in a call's metadata, or None when it carries no principal."""
    if not metadata:
        return None
    seen: dict[str, str] = {}
    for key, value in metadata:
        if key in IDENTITY_KEYS and key not in seen and isinstance(value, str):
            seen[key] = value[:MAX_VALUE_CHARS]
    name = seen.get(PRINCIPAL_KEY, "")
    if not name:
        return None
    role = seen.get(ROLE_KEY, "user")
    return Principal(
        name=name,
        tenant=seen.get(TENANT_KEY) or "default",
        role=role if role in ROLES else "viewer",
        api_key_id=seen.get(API_KEY_ID_KEY, ""),
        quotas=parse_quotas(seen.get(QUOTA_KEY, "")),
    )


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("chatdb_principal", default=None)


def current_principal() -> Principal | None:
    """The caller of the call being served (None: an internal caller)."""
    return _current.get()


def current_tenant() -> str | None:
    """The tenant whose resources the current call may see (None: all)."""
    p = _current.get()
    return None if p is None else p.tenant


def set_principal(principal: Principal | None) -> contextvars.Token:
    return _current.set(principal)


def reset_principal(token: contextvars.Token) -> None:
    _current.reset(token)


def forwarded_metadata(metadata) -> tuple[tuple[str, str], ...] | None:
    """`metadata` of an outgoing call plus the current principal's identity headers
    (unless the call sets its own). Returns the input unchanged without a principal."""
    p = _current.get()
    if p is None:
        return metadata
    existing = tuple(metadata or ())
    if any(k == PRINCIPAL_KEY for k, _ in existing):
        return metadata
    return existing + p.metadata()


# --- the peer: who holds the TLS connection (mTLS) ---------------------------------------
#
# With mTLS on, every call arrives over a connection whose client certificate chains to
# the mesh CA, and its SAN names the caller: spiffe://chatdb/<service> for a mesh
# process, spiffe://chatdb/envoy for the edge, spiffe://chatdb/client/<name> for an
# operator's or user's client certificate. The identity headers above are believed only
# from the first two: the edge set them after checking an API key, or a service passes
# on what the edge set. A client certificate that sends them itself is refused
# (PERMISSION_DENIED) rather than having them dropped: dropping them would turn a user
# who tried to act as a tenant into an internal caller, with every right, and would
# hide the mistake from a well-meant tool.

MESH_PEERS = frozenset(spiffe_id(s) for s in (*MESH_SERVICES, ENVOY))
EDGE_PEER = spiffe_id(ENVOY)
# What the edge routes without an API key (edge/config.py: authz off on these routes), so
# the only calls it may forward without the caller's identity headers.
HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_SERVICES = ("grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection")
_KEYLESS_PREFIXES = tuple(f"/{s}/" for s in (HEALTH_SERVICE, *REFLECTION_SERVICES))

_peer: contextvars.ContextVar[str | None] = contextvars.ContextVar("chatdb_peer", default=None)


def peer_spiffe_id(context) -> str | None:
    """The SPIFFE id in the caller's TLS certificate (None: plaintext, no certificate or
    no SPIFFE URI). gRPC core parses it into the auth context itself (peer_spiffe_id);
    a certificate it did not parse (several URI SANs) is read from its PEM, once."""
    auth = context.auth_context()
    ids = auth.get("peer_spiffe_id")
    if ids:
        return ids[0].decode()
    pems = auth.get("x509_pem_cert")
    return _spiffe_from_pem(pems[0]) if pems else None


@functools.lru_cache(maxsize=256)
def _spiffe_from_pem(pem: bytes) -> str | None:
    from cryptography import x509

    from .certs import spiffe_ids_of

    ids = spiffe_ids_of(x509.load_pem_x509_certificate(pem))
    return ids[0] if ids else None


def current_peer() -> str | None:
    """SPIFFE id of the peer of the call being served (None: mTLS off)."""
    return _peer.get()


def set_peer(peer: str | None) -> contextvars.Token:
    return _peer.set(peer)


def reset_peer(token: contextvars.Token) -> None:
    _peer.reset(token)


def check_identity_headers(principal: Principal | None, peer: str | None, method: str = "") -> None:
    """With mTLS on: identity headers only from a mesh peer (a service or the edge), and
    from the edge always, but on keyless routes. A call the edge forwards without them
    would otherwise be an internal caller with every right; the edge's API-key check
    failing open (a Lua error lets the request continue) must not grant that."""
    if principal is None:
        if peer == EDGE_PEER and not method.startswith(_KEYLESS_PREFIXES):
            raise Unauthenticated(
                "the edge forwarded this call without the caller's identity; the API-key check did not run",
                reason="EDGE_WITHOUT_IDENTITY",
            )
        return
    if peer not in MESH_PEERS:
        raise PermissionDenied(
            f"identity headers (x-chatdb-*) are accepted only from the edge and mesh services, not from {peer or 'this caller'}",
            reason="IDENTITY_HEADERS_NOT_ALLOWED",
            metadata={"peer": peer or ""},
        )
