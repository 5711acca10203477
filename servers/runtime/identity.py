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
from collections.abc import Iterable
from dataclasses import dataclass, field

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
