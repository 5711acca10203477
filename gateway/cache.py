"""The result cache in Redis: an answer's first page, keyed by what it depends on.

    key = {prefix}:gateway:answer:sha256(connection, thread, normalised question,
                                         schema version, glossary version, tenant,
                                         masked or not: personal data, see answer_key)

A schema or glossary change gives the connection a new version, so the next question
looks under a new key and the old entries age out (TTL CHATDB_GATEWAY_CACHE_TTL_S).
`thread` is the previous question of a conversation: "only those in 2024" means
something else after each question. The entry keeps the page it was made with
(page_size, max_rows) and the connector's token for the rest; a request with other
paging misses.

The last versions seen per connection are kept as well ({prefix}:gateway:versions:…):
while the connector is down they cannot be asked for, and the cached answers of level 3
(databases down) are found under them.

Redis is an optimisation here: when it is down, a lookup misses and a store is
skipped, with a log line, and questions are answered from the database.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from chatdb.gateway.v1 import chat_service_pb2 as pb

from servers.runtime.redis_errors import REDIS_DOWN

from .domain import Versions

log = logging.getLogger("chatdb.gateway.cache")


@dataclass
class CachedAnswer:
    response: pb.AskResponse  # parsed_query, statement, columns, rows, truncated, explanation, answer, source
    connector_token: str
    page_size: int
    max_rows: int
    cached_at: float  # epoch seconds
    query_id: str  # the question whose answer this is


def answer_key(connection_id: str, thread: str, normalised: str, versions: Versions,
               tenant: str | None = None, *, masked: bool = False) -> str:
    """The cache key of an answer. With a tenant (a caller with a principal) the key is
    that tenant's: a shared connection answers every tenant, and one tenant's cached
    answer must never be served to another (None: an internal caller's own key).
    `masked`: the caller gets personal data masked (not an admin), so an admin's
    unmasked answer is never served to a user, nor a user's masked one to an admin."""
    parts = [connection_id, thread, normalised, versions.schema, versions.glossary]
    if tenant is not None:
        parts.append("tenant=" + tenant)
    if masked:
        parts.append("masked")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def encode(entry: CachedAnswer) -> bytes:
    header = json.dumps({"t": entry.connector_token, "ps": entry.page_size, "mr": entry.max_rows,
                         "at": entry.cached_at, "q": entry.query_id}, separators=(",", ":"))
    return header.encode() + b"\n" + entry.response.SerializeToString()


def decode(raw: bytes) -> CachedAnswer:
    header, body = raw.split(b"\n", 1)
    meta = json.loads(header)
    return CachedAnswer(pb.AskResponse.FromString(body), meta["t"], meta["ps"], meta["mr"], meta["at"], meta["q"])


class ResultCache:
    def __init__(self, redis: aioredis.Redis, prefix: str, *, ttl_s: float) -> None:
        self.redis = redis
        self.prefix = f"{prefix}:gateway"
        self.ttl_ms = max(1, int(ttl_s * 1000))

    async def get(self, key: str) -> CachedAnswer | None:
        try:
            raw = await self.redis.get(f"{self.prefix}:answer:{key}")
        except REDIS_DOWN as exc:
            log.warning("result cache unavailable; answering without it", extra={"error": str(exc)})
            return None
        if raw is None:
            return None
        try:
            return decode(raw)
        except (ValueError, KeyError):
            log.warning("unreadable result cache entry ignored", extra={"key": key})
            return None

    async def put(self, key: str, entry: CachedAnswer) -> None:
        try:
            await self.redis.set(f"{self.prefix}:answer:{key}", encode(entry), px=self.ttl_ms)
        except REDIS_DOWN as exc:
            log.warning("result cache unavailable; answer not cached", extra={"error": str(exc)})

    async def remember_versions(self, connection_id: str, versions: Versions) -> None:
        try:
            await self.redis.set(
                f"{self.prefix}:versions:{connection_id}",
                json.dumps([versions.schema, versions.glossary]), px=self.ttl_ms,
            )
        except REDIS_DOWN as exc:
            log.warning("result cache unavailable; versions not kept", extra={"error": str(exc)})

    async def last_versions(self, connection_id: str) -> Versions | None:
        try:
            raw = await self.redis.get(f"{self.prefix}:versions:{connection_id}")
        except REDIS_DOWN:
            return None
        if raw is None:
            return None
        schema, glossary = json.loads(raw)
        return Versions(schema, glossary)


def now() -> float:
    return time.time()
