"""AIP-158 paging helpers: page size bounds and opaque page tokens.

A token is urlsafe base64 of a small JSON object (the key of the last row seen plus
whatever the list was filtered by). Tokens carry the filter so a token reused with
another filter is refused instead of silently returning the wrong page.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .errors import InvalidArgument


def page_size(requested: int, *, default: int = 50, maximum: int = 1000) -> int:
    if requested < 0:
        raise InvalidArgument("must not be negative", field="page_size")
    return default if requested == 0 else min(requested, maximum)


def encode_token(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, *, bound_to: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """None for an empty token; InvalidArgument for a malformed one or one issued for
    another request (its `bound_to` values differ)."""
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidArgument("is not a page token this service issued", field="page_token") from None
    if not isinstance(data, dict):
        raise InvalidArgument("is not a page token this service issued", field="page_token")
    for key, value in (bound_to or {}).items():
        if data.get(key) != value:
            raise InvalidArgument(
                "belongs to a request with other parameters; repeat the request that issued it",
                field="page_token",
            )
    return data
