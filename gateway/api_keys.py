"""API keys: what a key is, how its secret is made and checked, and the ApiKeyService
core (create, list, revoke). No grpc here: api_key_service.py converts the protos.

A key's secret is `cdb_<prefix>_<secret>`: `prefix` is 8 hex characters shown in lists
(so people tell keys apart), `secret` 256 random bits (urlsafe base64). The gateway
stores only SHA-256 of the whole string. A fast unsalted hash is right here, unlike for
passwords: the secret is 256 bits from the OS's CSPRNG, so a leaked hash cannot be
reversed by guessing (no dictionary, 2^256 candidates), and no two keys share a secret,
so a salt adds nothing; a slow hash (bcrypt, argon2) would only add milliseconds of CPU
to every request the edge checks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass, field

from servers.contracts.quotas import QUESTIONS_PER_DAY, QUESTIONS_PER_MINUTE, TRAINING_JOBS_PER_DAY
from servers.runtime.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    quote,
)
from servers.runtime.identity import ROLES, current_principal
from servers.runtime.paging import PageTokens, invalid_token, page_size

QUOTA_NAMES = (QUESTIONS_PER_MINUTE, QUESTIONS_PER_DAY, TRAINING_JOBS_PER_DAY)
TOKEN_SCHEME = "cdb"
KEY_ID = re.compile(r"^ak_[0-9a-f]{16}$")
TENANT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_TOKEN = re.compile(r"^cdb_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
MAX_NAME_CHARS = 128
MAX_REQUEST_ID_CHARS = 128
MAX_QUOTA = 1_000_000_000
DEFAULT_TENANT = "default"
LIST_PURPOSE = "api-keys"

ACTIVE, REVOKED, EXPIRED = "active", "revoked", "expired"


def hash_secret(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def well_formed(token: str) -> bool:
    """Whether `token` has the shape of a key (a cheap check before any lookup)."""
    return _TOKEN.match(token) is not None


class MintCollision(Exception):
    """A freshly minted key collided with a stored one (its 32-bit prefix): mint again."""


@dataclass(frozen=True)
class Minted:
    key_id: str
    prefix: str  # "cdb_<8 hex>"
    token: str  # the whole secret, shown once
    secret_hash: bytes


def mint() -> Minted:
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    return Minted(f"ak_{secrets.token_hex(8)}", f"{TOKEN_SCHEME}_{prefix}", token, hash_secret(token))


@dataclass(frozen=True)
class ActiveKey:
    """What the authz server needs of an accepted key."""

    key_id: str
    secret_hash: bytes
    tenant: str
    role: str
    quotas: dict[str, int]
    expire_time: dt.datetime | None


@dataclass(frozen=True)
class NewApiKey:
    owner: str
    role: str
    tenant: str = DEFAULT_TENANT
    display_name: str = ""
    quotas: dict[str, int] = field(default_factory=dict)
    expire_time: dt.datetime | None = None


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    prefix: str
    display_name: str
    owner: str
    tenant: str
    role: str
    quotas: dict[str, int]
    revoked: bool
    create_time: dt.datetime
    expire_time: dt.datetime | None = None
    revoke_time: dt.datetime | None = None
    last_use_time: dt.datetime | None = None

    def state(self, now: dt.datetime | None = None) -> str:
        if self.revoked:
            return REVOKED
        now = now or dt.datetime.now(dt.UTC)
        if self.expire_time is not None and self.expire_time <= now:
            return EXPIRED
        return ACTIVE


def validate(new: NewApiKey, request_id: str, now: dt.datetime) -> NewApiKey:
    """`new` with its defaults filled in; InvalidArgument naming every bad field."""
    bad: list[FieldViolation] = []
    owner = new.owner.strip()
    if not owner:
        bad.append(FieldViolation("api_key.owner", "required: who holds the key"))
    elif len(owner) > MAX_NAME_CHARS:
        bad.append(FieldViolation("api_key.owner", f"at most {MAX_NAME_CHARS} characters"))
    if len(new.display_name) > MAX_NAME_CHARS:
        bad.append(FieldViolation("api_key.display_name", f"at most {MAX_NAME_CHARS} characters"))
    tenant = new.tenant or DEFAULT_TENANT
    if not TENANT.match(tenant):
        bad.append(FieldViolation("api_key.tenant", f"{quote(tenant)} is not a tenant name: lowercase letters, "
                                  "digits, '.', '_' and '-', at most 63, starting with a letter or digit"))
    if new.role not in ROLES:
        bad.append(FieldViolation("api_key.role", "required: API_KEY_ROLE_ADMIN, API_KEY_ROLE_USER or "
                                  "API_KEY_ROLE_VIEWER"))
    for name, value in new.quotas.items():
        if name not in QUOTA_NAMES:
            bad.append(FieldViolation(f"api_key.quotas.{name}", "not a quota"))
        elif not 0 <= value <= MAX_QUOTA:
            bad.append(FieldViolation(f"api_key.quotas.{name}", f"must be between 0 (unlimited) and {MAX_QUOTA}"))
    if new.expire_time is not None and new.expire_time <= now:
        bad.append(FieldViolation("api_key.expire_time", "must be in the future"))
    if len(request_id) > MAX_REQUEST_ID_CHARS:
        bad.append(FieldViolation("request_id", f"at most {MAX_REQUEST_ID_CHARS} characters"))
    if bad:
        raise InvalidArgument.from_violations(bad)
    return NewApiKey(owner=owner, role=new.role, tenant=tenant, display_name=new.display_name,
                     quotas={k: v for k, v in new.quotas.items() if v}, expire_time=new.expire_time)


def require_admin() -> None:
    """Defence in depth behind the edge's policy: a caller with a principal must be an
    admin (no principal = an internal caller, who may)."""
    principal = current_principal()
    if principal is not None and not principal.is_admin:
        raise PermissionDenied("API keys are managed by admins only", reason="ADMIN_ONLY")


class ApiKeys:
    """The ApiKeyService core over ApiKeyStore. `on_create` is given every created key and
    `on_revoke` every revoked key id: the authz key table of this replica takes them at
    once (other replicas on their next reload)."""

    def __init__(self, store, tokens: PageTokens, *, on_create=None, on_revoke=None) -> None:
        self.store = store
        self.tokens = tokens
        self.on_create = on_create
        self.on_revoke = on_revoke

    async def create(self, new: NewApiKey, request_id: str = "") -> tuple[ApiKeyRecord, str]:
        """The key and its secret; ("" for the secret) when `request_id` created it before."""
        require_admin()
        now = dt.datetime.now(dt.UTC)
        new = validate(new, request_id, now)
        if request_id:
            earlier = await self.store.by_request_id(request_id)
            if earlier is not None:
                return earlier, ""
        for attempt in range(5):
            minted = mint()
            try:
                record, created = await self.store.insert(minted, new, request_id or None, now)
            except MintCollision:
                if attempt == 4:
                    raise
                continue
            if created and self.on_create is not None:
                self.on_create(ActiveKey(record.key_id, minted.secret_hash, record.tenant, record.role,
                                         dict(record.quotas), record.expire_time))
            return record, (minted.token if created else "")
        raise AssertionError("unreachable")

    async def list(self, *, requested_page_size: int, page_token: str, state: str | None
                   ) -> tuple[list[ApiKeyRecord], str]:
        require_admin()
        limit = page_size(requested_page_size, default=100, maximum=1000)
        bound = {"state": state}
        token = self.tokens.open_optional(page_token, LIST_PURPOSE, bound_to=bound)
        after = None
        if token is not None:
            t, key_id = token.get("t"), token.get("id")
            if not (isinstance(t, str) and isinstance(key_id, str)):
                raise invalid_token()
            try:
                after = (dt.datetime.fromisoformat(t), key_id)
            except ValueError:
                raise invalid_token() from None
        records = await self.store.list(limit=limit + 1, after=after, state=state)
        next_token = ""
        if len(records) > limit:
            records = records[:limit]
            last = records[-1]
            next_token = self.tokens.issue(LIST_PURPOSE, {**bound, "t": last.create_time.isoformat(), "id": last.key_id})
        return records, next_token

    async def revoke(self, key_id: str) -> ApiKeyRecord:
        require_admin()
        if not key_id:
            raise InvalidArgument("required: the key's identifier", field="key_id")
        if not KEY_ID.match(key_id):
            raise NotFound(f"API key {quote(key_id)} not found")
        record = await self.store.revoke(key_id)
        if record is None:
            raise NotFound(f"API key {quote(key_id)} not found")
        if self.on_revoke is not None:
            self.on_revoke(key_id)
        return record
