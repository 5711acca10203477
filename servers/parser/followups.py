"""Follow-ups: a question read against the thread of questions before it.

The thread travels in the request's `context` (ParsedQuery.conversation: the question
that started it, then each follow-up), not in any store here: the parser keeps no
conversation state, so any replica answers any turn. The first question is re-read on
its own into a plan, each later one as a change to it (language/followup.py), then the
new question likewise; the result renders as usual. Relative dates anywhere in the
thread ("last month") are resolved against the *current* request's reference time: the
thread is re-read, not replayed, so "last month" means the same month in every turn of
one request.

A question that names its own table (outside a grouping, "now by customer" does not)
and points back at nothing ("those", "them") stands on its own: it is parsed alone and
starts a new thread. Without a context, a question that opens as a follow-up ("what
about …", "only those …") and names no table is refused instead of guessed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from chatdb.parser.v1 import parsed_query_pb2 as pq

from .domain import QueryPlan, Understanding, Unresolved
from .language import Prepared, revise, understand
from .language import followup as fu
from .language.describe import describe_request
from .language.reading import read
from .language.understand import kind_of

# Questions re-read per turn at most (each costs a parse, ~1 ms). Dropping the oldest
# would change what the thread means, so a longer one is refused, not cut.
MAX_THREAD = 50


@dataclass
class Resolved:
    understanding: Understanding
    conversation: list[str]
    follow_up: bool = False
    changes: list[str] = field(default_factory=list)  # what the follow-up changed
    previous: str = ""  # the question it follows


def thread_of(context: pq.ParsedQuery | None) -> list[str]:
    """The questions of `context`, oldest first: its conversation, else its question."""
    if context is None:
        return []
    return [q for q in context.conversation if q.strip()] or ([context.question] if context.question.strip() else [])


def resolve(question: str, thread: Sequence[str], prepared: Prepared, *, now: dt.datetime) -> Resolved:
    """`question` parsed alone, or as a follow-up of `thread`; Unresolved otherwise."""
    reading = read(fu.normalised(question), prepared, now)
    words = reading.words
    if not thread:
        return Resolved(_alone(question, reading, prepared, now), [question])
    described = describe_request(reading, prepared)
    if described is not None:  # "what tables are there" is about the schema, never a follow-up
        return Resolved(described, [question])
    own_table = fu.names_own_table(reading, prepared)
    pointing = [w for w in fu.marks(words) if w in fu.ANAPHORA]
    if own_table and not pointing:
        return Resolved(understand(question, prepared, now=now), [question])
    try:
        previous, confidence = replay(thread, prepared, now)
        delta = fu.read_delta(question, prepared, previous, now)
        plan, changes = revise.apply(previous, delta, prepared)
    except Unresolved as exc:
        # "… the years they have worked" names its table: "they" pointed at nothing
        # before it; a fragment ("with an email", "highest first") or a question with
        # follow-up words and no table of its own could only be guessed at alone
        whole = own_table or not fu.marks(words) and reading.mentions and words[:1] and words[0] in _STARTERS
        if not whole:
            raise _not_applied(exc, thread[-1]) from None
        try:
            return Resolved(understand(question, prepared, now=now), [question])
        except Unresolved:
            raise _not_applied(exc, thread[-1]) from None
    return Resolved(
        Understanding(kind_of(plan), plan, confidence=round(min(confidence, delta.confidence), 2), notes=delta.notes),
        [*thread, question],
        follow_up=True,
        changes=changes,
        previous=thread[-1],
    )


def replay(thread: Sequence[str], prepared: Prepared, now: dt.datetime) -> tuple[QueryPlan, float]:
    """The plan the thread ends with (its first question alone, then each follow-up),
    and the least confidence of its readings."""
    if len(thread) >= MAX_THREAD:
        raise Unresolved(
            f"the conversation has {len(thread)} questions, at most {MAX_THREAD - 1} can be followed up;"
            " ask a whole question to start a new one"
        )
    try:
        first = understand(thread[0], prepared, now=now)
    except Unresolved as exc:
        raise Unresolved(f'the previous question "{thread[0]}" cannot be read again: {exc.what}', exc.suggestions) from None
    if first.plan is None:
        raise Unresolved(f'the previous question "{thread[0]}" ran no query on the database; there is nothing to follow up')
    plan, confidence = first.plan, first.confidence
    for asked in thread[1:]:
        try:
            delta = fu.read_delta(asked, prepared, plan, now)
            plan, _ = revise.apply(plan, delta, prepared)
            confidence = min(confidence, delta.confidence)
        except Unresolved as exc:
            raise Unresolved(f'the earlier follow-up "{asked}" cannot be read again: {exc.what}', exc.suggestions) from None
    return plan, confidence


def _alone(question: str, reading, prepared: Prepared, now: dt.datetime) -> Understanding:
    words = reading.words
    opened = fu.opening(words)
    pointing = [w for w in fu.marks(words) if w in fu.ANAPHORA]
    refuse = opened is not None and opened not in (("only",), ("just",), ("also",), ("but",), ("then",))
    # "reverse the order" rewritten (follow-up idioms only): a change with nothing to change
    rewritten = fu.normalised(question).lower() != question.lower()
    refuse = refuse or bool(opened and pointing) or _only_a_change(words) or rewritten and "reverse" in words
    if refuse and not fu.names_own_table(reading, prepared):
        said = " ".join(opened) if opened else " ".join(pointing) or question
        raise Unresolved(
            f'"{question}" reads as a follow-up ("{said}") but there is no previous question to apply it to;'
            " pass the previous parse as context, or ask a whole question"
        )
    return understand(question, prepared, now=now)


# How a question of its own starts: one that does not is a fragment of the thread.
_STARTERS = frozenset(
    """what which who whom whose where when how list show give find tell return display count
    is are was were do does did can could get name names for please among""".split()
)

_CHANGE_ONLY = (
    ("how", "many", "are", "there"), ("top",), ("bottom",), ("sort", "them"), ("order", "them"),
    ("break", "it", "down"),
)


def _only_a_change(words: list[str]) -> bool:
    """Questions that are nothing but a change: "how many are there?", "top 5"."""
    content = [w for w in words if w.isalnum()]
    if content == ["how", "many", "are", "there"]:
        return True
    if len(content) == 2 and content[0] in ("top", "bottom", "first") and content[1].isdigit():
        return True
    return any(tuple(content[: len(p)]) == p for p in _CHANGE_ONLY[3:])


def _not_applied(exc: Unresolved, previous: str) -> Unresolved:
    if exc.what.startswith(("the previous question", "the earlier follow-up")):
        return exc
    return Unresolved(f'read as a follow-up of "{previous}": {exc.what}', exc.suggestions)


def explanation(resolved: Resolved, rest: str) -> str:
    """What the follow-up changed, then what the statement does."""
    if not resolved.follow_up:
        return rest
    changes, previous = resolved.changes, f'the previous question ("{resolved.previous}")'
    if all(c.startswith("added ") for c in changes):
        said = "; ".join(changes)
        text = f"{said[:1].upper()}{said[1:]} to {previous}."
    else:
        text = f"Changed {previous}: {'; '.join(changes)}."
    return f"{text} {rest}".strip()


__all__ = ["Resolved", "explanation", "replay", "resolve", "thread_of"]
