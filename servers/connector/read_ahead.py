"""A driver's stream read one step ahead, so the database and the sender overlap."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any


class ReadAhead:
    """Reads a driver's stream one step ahead in a task of its own, so the database
    produces the next batch while this one is encoded and sent (the two overlap instead
    of taking turns). At most `depth` items wait, so memory stays bounded. Closing it
    cancels the reader, which unwinds the driver's generator (cursor, transaction)."""

    _END = object()

    def __init__(self, source: AsyncIterator[Any], depth: int = 2) -> None:
        self._source = source
        self._queue: asyncio.Queue = asyncio.Queue(maxsize=depth)
        self._task: asyncio.Task | None = None

    async def _pump(self) -> None:
        try:
            async for item in self._source:
                await self._queue.put((item, None))
            await self._queue.put((self._END, None))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer as is
            await self._queue.put((None, exc))

    def __aiter__(self) -> ReadAhead:
        return self

    async def __anext__(self) -> Any:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._pump())
        item, exc = await self._queue.get()
        if exc is not None:
            raise exc
        if item is self._END:
            self._queue.put_nowait((self._END, None))  # stay exhausted
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        aclose = getattr(self._source, "aclose", None)
        if aclose is not None:
            await aclose()
