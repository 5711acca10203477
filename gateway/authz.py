"""The edge's ext_authz server (HTTP form), run inside the gateway process on
CHATDB_GATEWAY_AUTHZ_PORT (8086).

Envoy's ext_authz filter (after the gRPC-JSON transcoder, so REST calls arrive as their
gRPC path) calls `http://127.0.0.1:8086/authz<gRPC path>` with the client's `x-api-key`
or `authorization: Bearer …` header. The answer:

- 200 with x-chatdb-principal (`key:<key id>`), x-chatdb-tenant, x-chatdb-role,
  x-chatdb-api-key-id and x-chatdb-quota: allowed; Envoy passes these headers upstream,
  where runtime/identity.py turns them into `current_principal()`;
- 200 with no identity headers for health and reflection (no key needed: a valid client
  certificate at the edge is enough);
- 401 `{"code": 16, "message": …}`: no key, a malformed, unknown, revoked or expired one;
- 403 `{"code": 7, …}`: the key's role may not call the method (policy.py);
- 503 `{"code": 14, …}`: the key table was never loaded (platform database down at start).

Hot path: no PostgreSQL round trip per request. KeyTable holds every active key (by the
SHA-256 of its secret) in memory and reloads them every CHATDB_GATEWAY_AUTHZ_REFRESH_S
(0.5 s), so a key revoked through any gateway replica is refused within a second; a key
revoked through this one is dropped at once. When a reload fails the last snapshot keeps
serving (logged once). When keys were last used is batched: written once every
CHATDB_GATEWAY_API_KEY_LAST_USE_INTERVAL_S (60) for all keys used meanwhile.

The HTTP/1.1 server is a small asyncio Protocol (keep-alive, pipelining, a bounded head,
Content-Length bodies read and dropped; chunked bodies refused): Envoy sends header-only
checks, and a framework's request objects would cost more than the check itself on a
path every request of the mesh takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from servers.runtime.errors import ChatDBError
from servers.runtime.identity import (
    API_KEY_ID_KEY,
    PRINCIPAL_KEY,
    QUOTA_KEY,
    ROLE_KEY,
    TENANT_KEY,
    format_quotas,
)

from . import policy
from .api_key_store import ApiKeyStore
from .api_keys import ActiveKey, hash_secret, well_formed

log = logging.getLogger("chatdb.gateway.authz")

PATH_PREFIX = "/authz"
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024


class KeyTable:
    """Every active key in memory, by the hash of its secret."""

    def __init__(self, store: ApiKeyStore, *, refresh_s: float = 0.5, last_use_interval_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self.last_use_interval_s = last_use_interval_s
        self.clock = clock
        self.loaded = False
        self._by_hash: dict[bytes, ActiveKey] = {}
        # Local creates and revokes (key id → when), applied over every snapshot whose
        # query started before them (it may not have seen them committed).
        self._added: dict[str, tuple[ActiveKey, float]] = {}
        self._revoked: dict[str, float] = {}
        self._used: dict[str, dt.datetime] = {}
        self._task: asyncio.Task | None = None
        self._failing = False

    # ------------------------------------------------------------------ hot path

    def lookup(self, token: str) -> ActiveKey | None:
        """The active key whose secret is `token`, else None; counts as a use."""
        if not well_formed(token):
            return None
        digest = hash_secret(token)
        key = self._by_hash.get(digest)
        # The dict found it by equal bytes; compare_digest keeps the final check constant-time.
        if key is None or not hmac.compare_digest(key.secret_hash, digest):
            return None
        now = dt.datetime.now(dt.UTC)
        if key.expire_time is not None and key.expire_time <= now:
            return None
        self._used[key.key_id] = now
        return key

    def added(self, key: ActiveKey) -> None:
        """Accept `key` now (a create through this replica)."""
        self._added[key.key_id] = (key, self.clock())
        self._by_hash = {**self._by_hash, key.secret_hash: key}

    def revoked(self, key_id: str) -> None:
        """Drop `key_id` now (a revoke through this replica)."""
        self._revoked[key_id] = self.clock()
        self._by_hash = {h: k for h, k in self._by_hash.items() if k.key_id != key_id}

    # ------------------------------------------------------------------ background

    async def load(self) -> None:
        started = self.clock()
        keys = await self.store.active_keys()
        # What happened here before the query started is in the snapshot (it had
        # committed); what happened since may not be, and is applied over it.
        self._added = {k: v for k, v in self._added.items() if v[1] >= started}
        self._revoked = {k: t for k, t in self._revoked.items() if t >= started}
        by_hash = {k.secret_hash: k for k in keys if k.key_id not in self._revoked}
        for key, _ in self._added.values():
            if key.key_id not in self._revoked:
                by_hash.setdefault(key.secret_hash, key)
        self._by_hash = by_hash
        self.loaded = True

    async def flush_last_use(self) -> None:
        used, self._used = self._used, {}
        if used:
            try:
                await self.store.touch(used)
            except ChatDBError:
                # Kept for the next flush unless a newer use replaced it.
                for key_id, when in used.items():
                    self._used.setdefault(key_id, when)
                raise

    async def start(self) -> None:
        try:
            await self.load()
        except ChatDBError:
            log.warning("API keys could not be loaded; the authz server answers 503 until they are", exc_info=True)
            self._failing = True
        self._task = asyncio.create_task(self._run(), name="authz-key-table")

    async def _run(self) -> None:
        next_flush = self.clock() + self.last_use_interval_s
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.load()
                if self._failing:
                    self._failing = False
                    log.info("API keys reloaded again")
                if self.clock() >= next_flush:
                    next_flush = self.clock() + self.last_use_interval_s
                    await self.flush_last_use()
            except ChatDBError as exc:
                if not self._failing:
                    self._failing = True
                    log.warning("API keys could not be reloaded; the last snapshot serves until they are "
                                "(revocations are not seen meanwhile)", extra={"error": str(exc)})
            except Exception:  # noqa: BLE001 - the loop must outlive one bad pass
                log.exception("API key table refresh failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(ChatDBError):
            await self.flush_last_use()


# ---------------------------------------------------------------------- the decision


@dataclass(frozen=True)
class Decision:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


def _denied(status: int, code: int, message: str) -> Decision:
    return Decision(status, body=json.dumps({"code": code, "message": message}).encode())


def api_key_of(headers: Mapping[str, str]) -> str:
    """The key a request carries: x-api-key, else `authorization: Bearer <key>`."""
    key = headers.get("x-api-key", "").strip()
    if key:
        return key
    scheme, _, value = headers.get("authorization", "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def identity_headers(key: ActiveKey) -> tuple[tuple[str, str], ...]:
    """The x-chatdb-* headers of `key`; x-chatdb-quota only when it has a limit (absent
    is unlimited)."""
    headers = (
        (PRINCIPAL_KEY, f"key:{key.key_id}"),
        (TENANT_KEY, key.tenant),
        (ROLE_KEY, key.role),
        (API_KEY_ID_KEY, key.key_id),
    )
    return headers + ((QUOTA_KEY, format_quotas(key.quotas)),) if key.quotas else headers


class Authorizer:
    def __init__(self, table: KeyTable) -> None:
        self.table = table

    def decide(self, target: str, headers: Mapping[str, str]) -> Decision:
        path = target.partition("?")[0]
        if path.startswith(PATH_PREFIX + "/"):
            path = path[len(PATH_PREFIX):]
        if policy.open_path(path):
            return Decision(200)
        token = api_key_of(headers)
        if not token:
            return _denied(401, 16, "missing API key: send it as the x-api-key header (or authorization: Bearer KEY)")
        if not self.table.loaded:
            return _denied(503, 14, "API keys are not loaded yet (platform database unavailable); retry later")
        key = self.table.lookup(token)
        if key is None:
            return _denied(401, 16, "invalid API key: unknown, revoked or expired")
        if not policy.allowed(key.role, path):
            what = policy.split(path)
            method = f"{what[0]}/{what[1]}" if what else "this path"
            return _denied(403, 7, f"an API key with role {key.role} may not call {method}")
        return Decision(200, identity_headers(key))


# ---------------------------------------------------------------------- HTTP/1.1

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 413: "Payload Too Large",
            431: "Request Header Fields Too Large", 501: "Not Implemented", 503: "Service Unavailable"}


def _response(decision: Decision, *, close: bool) -> bytes:
    lines = [f"HTTP/1.1 {decision.status} {_REASONS.get(decision.status, 'Error')}",
             f"content-length: {len(decision.body)}"]
    if decision.body:
        lines.append("content-type: application/json")
    lines.extend(f"{k}: {v}" for k, v in decision.headers)
    if close:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + decision.body


class _HttpProtocol(asyncio.Protocol):
    def __init__(self, decide: Callable[[str, Mapping[str, str]], Decision],
                 connections: set[asyncio.Transport]) -> None:
        self.decide = decide
        self.connections = connections
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.body_left = 0
        self.closing = False

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.connections.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self.transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.buffer += data
        while self.buffer and not self.closing:
            if self.body_left:
                taken = min(self.body_left, len(self.buffer))
                del self.buffer[:taken]
                self.body_left -= taken
                continue
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD_BYTES:
                    self._fail(431, "request head too large")
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            self._handle(head)

    def _handle(self, head: str) -> None:
        request_line, *header_lines = head.split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._fail(400, "malformed request line")
            return
        _, target, version = parts
        headers: dict[str, str] = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if not sep:
                self._fail(400, "malformed header line")
                return
            headers.setdefault(name.strip().lower(), value.strip())
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._fail(501, "chunked request bodies are not accepted")
            return
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self._fail(413 if length.isdigit() else 400, "bad content-length")
            return
        self.body_left = int(length)
        connection = headers.get("connection", "").lower()
        close = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        try:
            decision = self.decide(target, headers)
        except Exception:  # noqa: BLE001 - a bug answers 503, never a hung check
            log.exception("authz decision failed")
            decision = _denied(503, 14, "authorization check failed")
        assert self.transport is not None
        self.transport.write(_response(decision, close=close))
        if close:
            self.closing = True
            self.transport.close()

    def _fail(self, status: int, message: str) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.write(_response(_denied(status, 3, message), close=True))
            self.transport.close()


class AuthzServer:
    """The HTTP server of `authorizer`; port 0 picks a free port (see .port)."""

    def __init__(self, authorizer: Authorizer, host: str, port: int) -> None:
        self.authorizer = authorizer
        self.host = host
        self.port = port
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Transport] = set()

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _HttpProtocol(self.authorizer.decide, self._connections),
                                                self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("authz server started", extra={"address": f"{self.host}:{self.port}"})
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            # Envoy keeps its connections open: close them, or wait_closed() (3.12+) waits.
            for transport in list(self._connections):
                transport.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"
