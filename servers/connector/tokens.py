"""The connector's page tokens (ExecuteQuery and ListConnections), in the runtime's one
signed format (servers/runtime/paging.py):

    token = urlsafe_b64(HMAC-SHA256(key, body)[:16] + body),  body = compact JSON
    ExecuteQuery body: {"v": 1, "p": "q", "c": connection_id, "h": statement hash, "o": offset}
    ListConnections:   {"v": 1, "p": "l", "a": last connection_id, "k": kind filter}

The statement hash covers the connection, the statement with its parameters and the
effective row cap, so a token replayed with another statement, another connection or
another max_rows is INVALID_ARGUMENT rather than a silently wrong page. The key comes
from CHATDB_CONNECTOR_PAGE_TOKEN_KEY; when unset a random key is drawn per process, so
tokens then do not survive a restart or cross replicas (the client starts over).
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from servers.runtime import paging
from servers.runtime.errors import InvalidArgument
from servers.runtime.settings import Settings

from .domain import ConnectionKind, Statement

log = logging.getLogger("chatdb.connector")


class PageTokens(paging.PageTokens):
    """The connector's two token bodies in the runtime's one signed format (see the
    module docstring and runtime/paging.py)."""

    def query_token(self, connection_id: str, digest: str, offset: int) -> str:
        return self.issue("q", {"c": connection_id, "h": digest, "o": offset})

    def read_query_token(self, token: str, connection_id: str, digest: str) -> int:
        body = self.open(token, "q")
        if body.get("c") != connection_id:
            raise InvalidArgument(
                f"page_token was issued for connection {body.get('c')!r}, not {connection_id!r}",
                field="page_token", reason="PAGE_TOKEN_MISMATCH",
            )
        if body.get("h") != digest:
            raise InvalidArgument(
                "page_token was issued for another statement (statement, parameters and "
                "max_rows must be those of the call that returned it)",
                field="page_token", reason="PAGE_TOKEN_MISMATCH",
            )
        offset = body.get("o")
        if not isinstance(offset, int) or offset < 0:
            raise InvalidArgument("page_token is corrupt", field="page_token", reason="INVALID_PAGE_TOKEN")
        return offset

    def list_token(self, after: str, kind: ConnectionKind | None) -> str:
        return self.issue("l", {"a": after, "k": kind.value if kind else ""})

    def read_list_token(self, token: str, kind: ConnectionKind | None) -> str:
        body = self.open(token, "l")
        if body.get("k") != (kind.value if kind else ""):
            raise InvalidArgument(
                "page_token was issued for a list with another kind filter",
                field="page_token", reason="PAGE_TOKEN_MISMATCH",
            )
        after = body.get("a")
        if not isinstance(after, str):
            raise InvalidArgument("page_token is corrupt", field="page_token", reason="INVALID_PAGE_TOKEN")
        return after


def statement_digest(connection_id: str, statement: Statement, row_cap: int) -> str:
    """Hash binding a page token to one statement. repr() of the frozen domain
    dataclasses is deterministic (dicts keep their order, Decimal/datetime/ObjectId reprs
    are exact) and distinguishes 1, 1.0, True and Decimal("1.0") as it must."""
    text = repr((connection_id, type(statement).__name__, statement, row_cap))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def page_tokens(settings: Settings) -> PageTokens:
    """The tokens signed with CHATDB_CONNECTOR_PAGE_TOKEN_KEY, or with a random
    per-process key when it is unset."""
    key = settings.connector_page_token_key
    if key is None:
        log.info("CHATDB_CONNECTOR_PAGE_TOKEN_KEY unset: page tokens are signed with a "
                 "random per-process key and do not survive a restart")
        return PageTokens(secrets.token_bytes(32))
    return PageTokens(key.get_secret_value().encode())
