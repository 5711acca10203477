"""AIP-158 paging helpers: page size bounds and one signed page-token format.

Every ChatDB page token (ListModels, ListModelVersions, ListTrainingJobs,
ListConnections and the connector's ExecuteQuery cursors) is

    token = urlsafe_b64(HMAC-SHA256(key, body)[:16] + body), no padding
    body  = compact JSON {"v": 1, "p": purpose, ...what the list needs to resume}

The purpose keeps a token of one list from being accepted by another; `bound_to`
values (the filters of the request that issued it) make a token reused with other
filters INVALID_ARGUMENT instead of a silently wrong page. The signature means a
service only ever reads bodies it wrote itself: a token that was cut, edited or issued
with another key is INVALID_ARGUMENT (reason INVALID_PAGE_TOKEN), never INTERNAL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from typing import Any

from pydantic import SecretStr

from .errors import InvalidArgument
from .settings import Settings

VERSION = 1
MAC_BYTES = 16
INVALID_PAGE_TOKEN = "INVALID_PAGE_TOKEN"
PAGE_TOKEN_MISMATCH = "PAGE_TOKEN_MISMATCH"


def page_size(requested: int, *, default: int = 50, maximum: int = 1000) -> int:
    if requested < 0:
        raise InvalidArgument("must not be negative", field="page_size")
    return default if requested == 0 else min(requested, maximum)


def invalid_token() -> InvalidArgument:
    return InvalidArgument(
        "page_token is not a token this service issued for this call; pass next_page_token "
        "unchanged, or omit it to start over",
        field="page_token", reason=INVALID_PAGE_TOKEN,
    )


def token_mismatch(message: str = "page_token was issued for a request with other parameters; "
                   "repeat the request that issued it") -> InvalidArgument:
    return InvalidArgument(message, field="page_token", reason=PAGE_TOKEN_MISMATCH)


def key_from(secret: SecretStr | str | None, *, derive_from: str | None = None) -> bytes:
    """The signing key: `secret` when configured; else one derived from `derive_from`
    (e.g. the platform database URL: every replica on one database agrees, and tokens
    survive restarts); else random for this process."""
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    if secret:
        return secret.encode()
    if derive_from:
        return hashlib.sha256(b"chatdb page tokens\0" + derive_from.encode()).digest()
    return secrets.token_bytes(32)


class PageTokens:
    """Issues and opens signed page tokens with one key."""

    VERSION = VERSION

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("a page token key must not be empty")
        self._key = key

    def _mac(self, raw: bytes) -> bytes:
        return hmac.new(self._key, raw, hashlib.sha256).digest()[:MAC_BYTES]

    def issue(self, purpose: str, data: dict[str, Any]) -> str:
        body = {**data, "v": VERSION, "p": purpose}
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(self._mac(raw) + raw).rstrip(b"=").decode()

    def open(self, token: str, purpose: str, *, bound_to: dict[str, Any] | None = None) -> dict[str, Any]:
        """The body of `token` (with "v" and "p"); INVALID_PAGE_TOKEN when it is not a
        token of this key and purpose, PAGE_TOKEN_MISMATCH when a `bound_to` value differs."""
        try:
            blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise invalid_token() from None
        mac, raw = blob[:MAC_BYTES], blob[MAC_BYTES:]
        if len(mac) < MAC_BYTES or not hmac.compare_digest(mac, self._mac(raw)):
            raise invalid_token()
        try:
            body = json.loads(raw)
        except ValueError:
            raise invalid_token() from None
        if not isinstance(body, dict) or body.get("v") != VERSION or body.get("p") != purpose:
            raise invalid_token()
        for key, value in (bound_to or {}).items():
            if body.get(key) != value:
                raise token_mismatch()
        return body

    def open_optional(
        self, token: str, purpose: str, *, bound_to: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """None for an empty token (the first page), else as open()."""
        return self.open(token, purpose, bound_to=bound_to) if token else None


def page_tokens(settings: Settings) -> PageTokens:
    """The list page tokens of a service on the platform database (registry, training):
    CHATDB_PAGE_TOKEN_KEY, else a key derived from the platform database URL."""
    return PageTokens(key_from(settings.page_token_key, derive_from=settings.database_url))
