"""Open cursors kept between ExecuteQuery pages.

Stateless paging re-runs the statement for every page and skips to its offset, so
walking a large result costs the database O(pages²) rows. Instead, the page that leaves
rows behind parks its open cursor (the driver's stream, in its READ ONLY transaction)
here under the key of the next page's token; the next page takes it and reads on.
Walking a result is then linear, and every page of it comes from one snapshot.

A parked cursor holds a pooled connection and a transaction, so they are bounded: at
most `max_open` in the process, at most one less than a connection's pool size per
connection (queries always keep a connection), and each is closed after `idle_s`
unused: a timer armed when it is parked closes it (rolling its transaction back and
returning its connection to the pool) even when no further request arrives. Anything
not parked — evicted, expired, another replica's, a token reused —
falls back to stateless paging with the same result.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator
from typing import Any

from .domain import ResultColumn

Key = tuple[str, str, int]  # connection id, statement digest, offset of the next row


class HeldCursor:
    def __init__(self, rows: AsyncGenerator[Any, None], columns: tuple[ResultColumn, ...]) -> None:
        self._rows = rows
        self.columns = columns
        self._buffer: list[tuple] = []
        self._done = False
        self.last_used = time.monotonic()

    async def take(self, n: int) -> tuple[list[tuple], bool]:
        """The next `n` rows, and whether any row follows them."""
        while len(self._buffer) <= n and not self._done:
            try:
                self._buffer.extend(await anext(self._rows))
            except StopAsyncIteration:
                self._done = True
        rows, self._buffer = self._buffer[:n], self._buffer[n:]
        self.last_used = time.monotonic()
        return rows, bool(self._buffer)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._rows.aclose()


class HeldCursors:
    def __init__(self, max_open: int, idle_s: float) -> None:
        self.max_open = max_open
        self.idle_s = idle_s
        self._held: OrderedDict[Key, HeldCursor] = OrderedDict()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._closing: set[asyncio.Task] = set()

    def __len__(self) -> int:
        return len(self._held)

    def _close_later(self, cursor: HeldCursor) -> None:
        task = asyncio.get_running_loop().create_task(cursor.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _pop(self, key: Key) -> HeldCursor | None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        return self._held.pop(key, None)

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, c in self._held.items() if now - c.last_used > self.idle_s]:
            self._close_later(self._pop(key))

    def _arm(self, key: Key, cursor: HeldCursor) -> None:
        """Close `cursor` once it has been unused for `idle_s`, whether or not another
        request comes (a parked cursor holds a transaction open on the database)."""
        delay = max(0.0, cursor.last_used + self.idle_s - time.monotonic())
        self._timers[key] = asyncio.get_running_loop().call_later(delay, self._on_timer, key, cursor)

    def _on_timer(self, key: Key, cursor: HeldCursor) -> None:
        self._timers.pop(key, None)
        if self._held.get(key) is not cursor:
            return  # taken or replaced meanwhile
        if time.monotonic() - cursor.last_used < self.idle_s:
            self._arm(key, cursor)  # the clock fired a little early
            return
        del self._held[key]
        self._close_later(cursor)

    def take(self, key: Key) -> HeldCursor | None:
        """The cursor parked for `key`, now owned by the caller (None when there is none)."""
        self._expire()
        return self._pop(key)

    def room_for(self, connection_id: str, pool_max_size: int) -> bool:
        self._expire()
        if self.max_open <= 0:
            return False
        held_here = sum(1 for k in self._held if k[0] == connection_id)
        return held_here < pool_max_size - 1

    def park(self, key: Key, cursor: HeldCursor) -> None:
        replaced = self._pop(key)
        if replaced is not None and replaced is not cursor:
            self._close_later(replaced)
        self._held[key] = cursor
        self._arm(key, cursor)
        while len(self._held) > self.max_open:
            self._close_later(self._pop(next(iter(self._held))))

    async def drop(self, connection_id: str | None = None) -> None:
        """Close the cursors of one connection (deleted, pool discarded), or all."""
        keys = [k for k in self._held if connection_id is None or k[0] == connection_id]
        await asyncio.gather(*(self._pop(k).close() for k in keys))
        if connection_id is None and self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
