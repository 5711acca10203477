"""Accepted answers: statements somebody marked right (or gave as the correction) for a
question on a connection, reused for that question from then on.

A new question matches an accepted one when their normal forms are equal, or when the
cosine similarity of their embeddings (wordllama, servers/contracts/embeddings.py) is at
least CHATDB_GATEWAY_ACCEPTED_SIMILARITY on the same connection. A connection's accepted
answers are read once per `ttl_s` and kept in memory; feedback given to this replica
drops them at once. The embedding model loads on first use, in a thread, and only for
connections that have accepted answers: other questions never pay for it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence

from .domain import AcceptedAnswer
from .store import GatewayStore

Embed = Callable[[str], Awaitable[tuple[float, ...]]]


async def wordllama_embed(text: str) -> tuple[float, ...]:
    from servers.contracts.embeddings import model

    def run() -> tuple[float, ...]:
        return tuple(float(x) for x in model().embed([text], norm=True)[0])

    return await asyncio.to_thread(run)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    if not a or not b or len(a) != len(b):
        return -1.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else -1.0


class AcceptedAnswers:
    def __init__(self, store: GatewayStore, *, similarity: float = 0.92, ttl_s: float = 5.0,
                 embed: Embed = wordllama_embed) -> None:
        self.store = store
        self.similarity = similarity
        self.ttl_s = ttl_s
        self.embed = embed
        self._by_connection: dict[str, tuple[float, list[AcceptedAnswer]]] = {}

    async def of(self, connection_id: str) -> list[AcceptedAnswer]:
        held = self._by_connection.get(connection_id)
        if held is not None and time.monotonic() - held[0] < self.ttl_s:
            return held[1]
        answers = await self.store.accepted(connection_id)
        self._by_connection[connection_id] = (time.monotonic(), answers)
        return answers

    def forget(self, connection_id: str) -> None:
        self._by_connection.pop(connection_id, None)

    async def match(self, connection_id: str, normalised: str) -> AcceptedAnswer | None:
        answers = await self.of(connection_id)
        if not answers:
            return None
        for answer in answers:
            if answer.normalised == normalised:
                return answer
        vector = await self.embed(normalised)
        best, score = None, -1.0
        for answer in answers:
            s = cosine(vector, answer.embedding)
            if s > score:
                best, score = answer, s
        return best if score >= self.similarity else None
