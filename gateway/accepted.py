"""Accepted answers: statements somebody marked right (or gave as the correction) for a
question on a connection, reused for that question from then on.

A new question matches an accepted one when their normal forms are equal, or when the
cosine similarity of their embeddings (wordllama, servers/contracts/embeddings.py) is at
least CHATDB_GATEWAY_ACCEPTED_SIMILARITY on the same connection. A connection's accepted
answers are read once per `ttl_s` and kept in memory; feedback given to this replica
drops them at once. The embedding model loads on first use, in a thread, and only for
connections that have accepted answers: other questions never pay for it.

Embeddings are blind to what flips an answer: "customers not from new york" is 0.955
from "customers from new york", "older than 30" 0.90 from "older than 40". So a match by
meaning also needs the same numbers and the same words of negation, comparison, order
and logic (SAME_WORDS) in both questions; only the rest may differ ("show" ≈ "list",
"the customers" ≈ "customers").
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence

from servers.runtime.errors import Unavailable

from .domain import AcceptedAnswer
from .store import GatewayStore

log = logging.getLogger("chatdb.gateway.accepted")

Embed = Callable[[str], Awaitable[tuple[float, ...]]]

SAME_WORDS = frozenset("""
    not no never without except excluding non none nor neither only
    above below over under more less fewer greater larger smaller higher lower bigger
    before after since until between least most top bottom first last
    min max minimum maximum average avg sum total count
    asc desc ascending descending increasing decreasing and or
    < > = <= >= != <> % each per by
""".split())
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")


def same_meaning_words(a: str, b: str) -> bool:
    """Whether two normal forms agree on every number and every word that flips an
    answer (SAME_WORDS), so that only their other words may differ."""
    if _NUMBER.findall(a) != _NUMBER.findall(b):
        return False
    return [w for w in a.split() if w in SAME_WORDS] == [w for w in b.split() if w in SAME_WORDS]


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
        try:
            answers = await self.store.accepted(connection_id)
        except Unavailable:
            # The platform database down must not stop questions: answer without
            # accepted answers (or with the last ones read) and try again next time.
            log.warning("accepted answers unavailable; answering without them", extra={"connection_id": connection_id})
            return held[1] if held is not None else []
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
        candidates = [a for a in answers if same_meaning_words(normalised, a.normalised)]
        if not candidates:
            return None
        vector = await self.embed(normalised)
        best, score = None, -1.0
        for answer in candidates:
            s = cosine(vector, answer.embedding)
            if s > score:
                best, score = answer, s
        return best if score >= self.similarity else None
