"""Introspected schemas per connection, kept for a TTL."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from servers.runtime.metrics import CacheMeter

from .domain import Connection, SchemaInfo

# chatdb_cache_hits_total / chatdb_cache_misses_total{cache="connector_schema"}
_METER = CacheMeter("connector_schema")


@dataclasses.dataclass(frozen=True)
class CachedSchema:
    schema: SchemaInfo
    introspect_time: datetime
    expire_time: datetime
    expires_at: float  # time.monotonic()


class SchemaCache:
    """Introspected schemas per connection with a TTL; one introspection at a time per
    connection, so a burst of GetSchema calls after expiry costs one round of queries."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        # Keyed by (id, create time): a re-created connection never sees the old schema.
        self._entries: dict[tuple[str, datetime | None], CachedSchema] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(
        self, connection: Connection, introspect: Callable[[], Awaitable[SchemaInfo]], refresh: bool
    ) -> tuple[CachedSchema, bool]:
        key = (connection.connection_id, connection.create_time)
        entry = self._entries.get(key)
        if entry is not None and not refresh and entry.expires_at > time.monotonic():
            _METER.hit()
            return entry, True
        lock = self._locks.setdefault(connection.connection_id, asyncio.Lock())
        async with lock:
            entry = self._entries.get(key)
            if entry is not None and not refresh and entry.expires_at > time.monotonic():
                _METER.hit()
                return entry, True  # another call introspected while we waited
            _METER.miss()
            schema = await introspect()
            now = datetime.now(UTC)
            entry = CachedSchema(schema, now, now + timedelta(seconds=self.ttl_s), time.monotonic() + self.ttl_s)
            self._entries[key] = entry
            return entry, False

    def invalidate(self, connection_id: str) -> None:
        for key in [k for k in self._entries if k[0] == connection_id]:
            del self._entries[key]
        self._locks.pop(connection_id, None)
