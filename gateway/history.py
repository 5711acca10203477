"""The history and audit writes, off Ask's response path.

Writing a question's history row and its audit row took ~3 ms of Ask's time when it
was awaited; here Ask only hands the record over (`record()`, no I/O) and a background
task writes what has piled up in one transaction. While PostgreSQL is unreachable the
records wait in memory and the task retries; past `bound` waiting records the oldest
is dropped with a log line each (a history gap, never a blocked Ask). `close()` (on
the exit stack) writes everything accepted before it returns, as long as the database
takes it within the grace period.

Readers see what is still waiting: `pending(query_id)`, `pending_conversation(id)` and
`last_pending(conversation_id)` answer from memory, and `flush()` waits until all that
was handed over before the call is written (ListQueries, SubmitFeedback).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import OrderedDict

from servers.runtime.errors import Unavailable

from .domain import STATUS_SUCCEEDED, QueryRecord
from .store import GatewayStore

log = logging.getLogger("chatdb.gateway.history")


class HistoryWriter:
    def __init__(self, store: GatewayStore, *, bound: int = 10_000, retry_s: float = 1.0) -> None:
        self.store = store
        self.bound = bound
        self.retry_s = retry_s
        self._records: OrderedDict[str, QueryRecord] = OrderedDict()
        # conversation id → (id, principal, create time, tenant): a row of gateway_conversations
        self._conversations: OrderedDict[str, tuple[str, str, dt.datetime, str]] = OrderedDict()
        self._wake = asyncio.Event()
        self._submitted = 0  # sequence number of the last record or conversation handed over
        self._written = 0  # everything up to this sequence number is in the database
        self._written_changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-history-writer")

    # ------------------------------------------------------------------ handing over

    def record(self, record: QueryRecord) -> None:
        self._records[record.query_id] = record
        self._handed_over()

    def conversation(self, conversation_id: str, principal: str, at: dt.datetime, tenant: str = "") -> None:
        self._conversations[conversation_id] = (conversation_id, principal, at, tenant)
        self._handed_over()

    def _handed_over(self) -> None:
        self._submitted += 1
        while len(self._records) + len(self._conversations) > self.bound:
            self.dropped += 1
            if self._records:
                query_id, dropped = self._records.popitem(last=False)
                log.error("history queue full: a question's history and audit row are dropped",
                          extra={"query_id": query_id, "question": dropped.question[:200], "bound": self.bound})
            else:
                conversation_id, _ = self._conversations.popitem(last=False)
                log.error("history queue full: a conversation is dropped",
                          extra={"conversation_id": conversation_id, "bound": self.bound})
        self._wake.set()

    # ------------------------------------------------------------------ reading what waits

    def pending(self, query_id: str) -> QueryRecord | None:
        return self._records.get(query_id)

    def pending_conversation(self, conversation_id: str) -> bool:
        return conversation_id in self._conversations

    def conversation_tenant(self, conversation_id: str) -> str | None:
        """The tenant of a waiting conversation; None when none waits."""
        waiting = self._conversations.get(conversation_id)
        return None if waiting is None else waiting[3]

    def last_pending(self, conversation_id: str) -> QueryRecord | None:
        """The newest waiting answered record of the conversation with a parsed query."""
        for record in reversed(self._records.values()):
            if (record.conversation_id == conversation_id and record.status == STATUS_SUCCEEDED
                    and record.parsed is not None):
                return record
        return None

    def pending_failed(self, since: dt.datetime) -> list[QueryRecord]:
        return [r for r in self._records.values() if r.status != STATUS_SUCCEEDED and r.create_time >= since]

    async def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until everything handed over before this call is written; Unavailable
        when the database does not take it within timeout_s."""
        target = self._submitted
        if self._written >= target:
            return
        self._wake.set()
        try:
            async with asyncio.timeout(timeout_s), self._written_changed:
                await self._written_changed.wait_for(lambda: self._written >= target)
        except TimeoutError:
            raise Unavailable(
                "the history is waiting for the platform database; retry later",
                reason="PLATFORM_DATABASE_UNAVAILABLE",
            ) from None

    # ------------------------------------------------------------------ the task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._write_all()

    async def _write_all(self) -> None:
        while True:
            target = self._submitted  # read with the emptiness check, no await between
            if not self._records and not self._conversations:
                await self._mark_written(target)
                return
            conversations = list(self._conversations.values())
            records = list(self._records.values())
            try:
                await self.store.write(conversations, records)
            except Unavailable as exc:
                log.warning("history write failed; retrying", extra={
                    "error": exc.message, "waiting": len(records) + len(conversations)})
                await asyncio.sleep(self.retry_s)
                continue
            except Exception:
                # Not an outage: one record the database refuses must not hold back the
                # rest forever. Write one by one and drop what is refused, with its error.
                await self._write_one_by_one(conversations, records)
                continue
            for conversation in conversations:
                if self._conversations.get(conversation[0]) is conversation:
                    del self._conversations[conversation[0]]
            for record in records:
                # A record replaced meanwhile (same id) stays for the next round.
                if self._records.get(record.query_id) is record:
                    del self._records[record.query_id]

    async def _write_one_by_one(self, conversations, records) -> None:
        """Write each alone; what is written or refused leaves the queue, an outage stops
        the round (the outage loop retries what is left)."""
        for conversation in conversations:
            try:
                await self.store.write([conversation], [])
            except Unavailable:
                return
            except Exception:
                log.exception("conversation refused by the database; dropped", extra={"conversation_id": conversation[0]})
            if self._conversations.get(conversation[0]) is conversation:
                del self._conversations[conversation[0]]
        for record in records:
            try:
                await self.store.write([], [record])
            except Unavailable:
                return
            except Exception:
                log.exception("history row refused by the database; dropped", extra={"query_id": record.query_id})
            if self._records.get(record.query_id) is record:
                del self._records[record.query_id]

    async def _mark_written(self, upto: int) -> None:
        async with self._written_changed:
            self._written = max(self._written, upto)
            self._written_changed.notify_all()

    async def close(self, timeout_s: float = 10.0) -> None:
        """Write what waits (for at most timeout_s), then stop the task."""
        if self._task is None:
            return
        try:
            await self.flush(timeout_s)
        except Unavailable:
            log.error("history not written at shutdown: the platform database did not take it",
                      extra={"waiting": len(self._records) + len(self._conversations)})
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
