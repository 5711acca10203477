"""Follow-up questions read as a change (a Delta) to the previous question's plan;
revise.py applies it.

"only those in 2024", "just the ones from Texas" add a filter; "what about Texas?", "and
for Lagos?" replace the filter on the same column (or add one); "and by month?", "now by
region", "break it down by category" group (a plain list becomes a count per group);
"sort them by price", "cheapest first" order; "top 5", "only the first 10" limit; "how
many are there?" counts the previous rows. The words are read with the same reading as
a whole question (values, dates, numbers, names), against the previous plan's main
table; every content word must be explained by one of these changes, or the follow-up
is refused (Unresolved) — a word left over is never dropped silently.

Nothing here names a table, column or value of a particular database.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from servers.parser.domain import (
    ColumnRef,
    Condition,
    Op,
    Ordering,
    QueryPlan,
    TimeGrain,
    TimeWindow,
    Unresolved,
)
from servers.parser.language import lexicon as lx
from servers.parser.language.conditions import (
    date_window,
    flag_conditions,
    negations,
    number_conditions,
    value_conditions,
)
from servers.parser.language.glossary import expression
from servers.parser.language.prepared import Prepared
from servers.parser.language.reading import Reading, count_cue, read, suggestions
from servers.parser.language.roles import Draft, Role, assign, column_for_words
from servers.parser.language.words import STOP_WORDS, can_be_verb, lemma

# Words that point back at the previous answer's rows.
# ("they", "that" and "it" are left out: in a whole question they mostly start or end a
# clause, "the years they worked", "break it down" is caught as a phrase.)
ANAPHORA = frozenset({"those", "these", "them", "ones"})
# How a follow-up opens: "what about …", "and for …", "now by …", "only those …".
OPENINGS: tuple[tuple[str, ...], ...] = (
    ("what", "about"),
    ("how", "about"),
    ("and",),
    ("now",),
    ("then",),
    ("only",),
    ("just",),
    ("instead",),
    ("same",),
    ("but",),
    ("also",),
)
# Openings that ask for the same question on another value: the filter is replaced.
_REPLACING = (("what", "about"), ("how", "about"), ("and", "for"), ("and", "in"), ("instead",), ("same",))
# Follow-up idioms said the way a whole question says them, so one reading serves both:
# "what about 2025?" as "… in 2025"; "exclude the cancelled ones" as "not …"; "reverse
# the order" as "in reverse order".
_REWRITES = (
    (re.compile(r"^\s*(?:exclude|excluding|remove|drop|hide|skip|leave out|minus)\b", re.IGNORECASE), "not"),
    (re.compile(r"\b(?:reverse|flip|invert)\s+(?:the\s+order|it|that|them|the\s+sort(?:ing)?)\b", re.IGNORECASE),
     "in reverse order"),
    (re.compile(r"\b(?:the\s+)?other\s+way\s+(?:round|around)\b", re.IGNORECASE), "in reverse order"),
)
_BARE_YEAR = re.compile(r"\b(about|for|and|just|only)\s+((?:19|20)\d\d)\b(?!\s*(?:rows|results|ones))", re.IGNORECASE)
_GROUP_CUES = frozenset({"by", "per", "each", "every"})
_LIMIT_CUES = frozenset({"top", "first", "bottom", "limit"})
# Words a follow-up is made of besides what it changes.
_FILLERS = STOP_WORDS | lx.CUE_WORDS | ANAPHORA | {"they", "it", "that"} | lx.NEGATION_WORDS | lx.EXCLUDING_WORDS | frozenset(
    """now then instead again please ok okay break broken down split group grouped
    sort sorted order ordered rank ranked arrange arranged first top bottom limit
    many rows row results ones one thing things lot there here instead let see
    descending ascending desc asc reverse reversed alphabetical alphabetically
    highest lowest largest smallest biggest greatest most least
    s 's what's how's"""
    .split()
)


@dataclass
class Delta:
    """What a follow-up changes, each part optional."""

    where: list[Condition] = field(default_factory=list)
    having: list[Condition] = field(default_factory=list)
    time_window: TimeWindow | None = None
    replaces: bool = False  # "what about X": X replaces the filter on its column
    group_by: list[ColumnRef] = field(default_factory=list)
    group_table: str | None = None  # "by customer": grouped by that table's rows
    grain: TimeGrain | None = None  # "by month"
    adds_group: bool = False  # "and by month" keeps the grouping there is
    order_by: list[Ordering] = field(default_factory=list)
    direction: bool | None = None  # "descending" alone: True; "ascending": False
    reverse: bool = False  # "reverse the order": each ordering flipped
    limit: int | None = None
    top: bool | None = None  # "top 5": True, "bottom 5": False; None: first rows
    count: bool = False
    notes: list[str] = field(default_factory=list)
    confidence: float = 1.0  # the least sure link of the reading

    def empty(self) -> bool:
        return not (
            self.where or self.having or self.time_window or self.group_by or self.group_table
            or self.grain or self.order_by or self.direction is not None or self.reverse or self.limit
            or self.count
        )


def normalised(question: str) -> str:
    """The question with follow-up idioms said as a whole question says them."""
    for pattern, said in _REWRITES:
        question = pattern.sub(said, question)
    return _BARE_YEAR.sub(r"\1 in \2", question)


def main_of(plan: QueryPlan) -> str:
    return plan.tables[0] if plan.tables else plan.referenced_tables()[0]


def opening(words: list[str]) -> tuple[str, ...] | None:
    for phrase in OPENINGS:
        if tuple(words[: len(phrase)]) == phrase:
            return phrase
    return None


def marks(words: list[str]) -> list[str]:
    """The words that make a question read as a follow-up: its opening, and words that
    point back at the previous rows ("those", "them", "break it down")."""
    found = [" ".join(opening(words) or ())]
    found += [w for w in words if w in ANAPHORA]
    if "it" in words and any(w in ("break", "sort", "order", "split", "group") for w in words):
        found.append("it")  # "break it down": the previous answer
    return [w for w in found if w]


def names_own_table(reading: Reading, prepared: Prepared) -> bool:
    """A table named outside a grouping — alone ("how many orders are there") or with its
    column ("cartoons written by …") — not "now by customer": the question says what it
    is about."""
    for mention in reading.mentions:
        said = {lemma(w) for w in mention.words.split()}
        if not any(
            c.column is None or said & set(prepared.index.table_words.get(c.table, ())) for c in mention.candidates
        ):
            continue
        before = [w for w in reading.words[max(0, mention.start - 2) : mention.start] if w != "the"]
        # "now by customer" groups; "orders placed by customers" names them
        if not (before[-1:] and before[-1] in _GROUP_CUES and not (len(before) > 1 and before[-2].endswith("ed"))):
            return True
    return False


def read_delta(question: str, prepared: Prepared, previous: QueryPlan, now: dt.datetime) -> Delta:
    """The change `question` asks of `previous`; Unresolved naming the words that
    cannot be applied."""
    reading = read(normalised(question), prepared, now)
    words = reading.words
    main = main_of(previous)
    draft = Draft()
    roles = assign(reading, prepared, draft, main)
    in_play = previous.referenced_tables()
    delta = Delta(notes=list(reading.notes))
    explained: set[int] = set()
    opened = opening(words)
    delta.replaces = any(tuple(words[: len(p)]) == p for p in _REPLACING)
    delta.adds_group = opened in (("and",), ("also",))

    _limit(reading, delta, explained)
    _count(reading, delta, explained, in_play)
    _grouping(reading, roles, delta, explained)
    _ordering(reading, prepared, roles, delta, explained, in_play, previous)
    for role in roles:
        if role.kind == "table" and role.table in in_play:
            # "only those customers …": the rows already asked about, named again
            explained.update(range(role.mention.start, role.mention.end))
            role.kind = "used"

    # conditions, read as in a whole question but against the previous main table
    limit_numbers = {n.start for n in reading.numbers if n.start in explained}
    reading.numbers = [n for n in reading.numbers if n.start not in limit_numbers]
    conditional = [r for r in roles if r.kind not in ("order", "group")]
    value_conditions(reading, prepared, draft, main, conditional)
    flag_conditions(reading, prepared, draft, conditional)
    number_conditions(reading, prepared, draft, main, conditional)
    negations(reading, prepared, draft, main, conditional)
    date_window(reading, prepared, draft, main, conditional)
    for hit in reading.terms:
        segment = hit.term.segment
        if segment is not None:  # "only the londoners": a glossary segment is its condition
            draft.where.append(
                Condition(None, Op.EQ, expression=expression(segment.condition, prepared.schema), source=segment.name)
            )
            explained.update(range(hit.start, hit.end))
            delta.notes.append(f'"{segment.name}" is the glossary segment {segment.condition}')
    delta.where = list(draft.where)
    delta.having = list(draft.having)
    delta.time_window = draft.time_window
    if draft.intersect is not None or draft.set_operation is not None:
        raise Unresolved(f'"{question}" combines two sets of rows; ask it as a whole question')
    for role in conditional:
        if role.kind == "used":
            explained.update(range(role.mention.start, role.mention.end))
    conditions = [*delta.where, *delta.having]
    for value in reading.values:
        if any(value.words in c.source for c in conditions):
            explained.update(range(value.start, value.end))
    if delta.time_window is not None or conditions:
        for window in reading.dates:
            explained.update(range(window.first, window.last))
    for number in reading.numbers:
        if any(number.value in c.values or str(number.value) in c.source for c in conditions):
            start = number.op_start if number.op_start is not None else number.start
            explained.update(range(start, number.end))  # "older than 40" with its comparison
    for condition in conditions:
        for i, word in enumerate(words):
            if condition.source and word in condition.source.lower().split():
                explained.add(i)
    for i, word in enumerate(words):
        # "placed last month", "made in 2024", "living in London": the verb that
        # introduces a condition said nothing of its own
        nxt = next((j for j in range(i + 1, min(i + 3, len(words))) if words[j] not in STOP_WORDS), None)
        if i not in explained and nxt in explained and word.endswith(("ed", "en", "ing")) and can_be_verb(word):
            explained.add(i)

    left = [
        reading.tokens[i].text
        for i, word in enumerate(words)
        if i not in explained and word not in _FILLERS and reading.tokens[i].lemma not in _FILLERS
        and word.isalnum()
    ]
    if left:
        raise Unresolved(
            f'"{" ".join(left)}" could not be applied to the previous question',
            suggestions(reading, prepared),
        )
    if delta.empty():
        raise Unresolved(f'nothing in "{question}" changes the previous question')
    delta.confidence = min(reading.scores, default=1.0)
    return delta


def _limit(reading: Reading, delta: Delta, explained: set[int]) -> None:
    """ "top 5", "only the first 10", "bottom 3", "just 3", "limit to 20"."""
    words = reading.words
    for number in reading.numbers:
        before = [w for w in words[max(0, number.start - 3) : number.start] if w not in ("the", "to")]
        value = number.value
        if not isinstance(value, int | float) or value != int(value) or value <= 0:
            continue
        rest = words[number.end :]
        cue = before[-1] if before else ""
        alone = not rest or all(w in ("rows", "results", "ones", "of", "them", "those", "please") for w in rest)
        ranked = bool(rest) and (
            lx.superlative(rest[0]) is not None
            or rest[0] in ("most", "least") and len(rest) > 1 and lx.superlative(rest[1]) is not None
        )
        if ranked:  # "the 3 most expensive": the superlative orders, the number limits
            delta.limit, delta.top = int(value), None
            explained.update(range(number.start, number.end))
            return
        if cue in _LIMIT_CUES or cue in ("only", "just") and alone:
            delta.limit = int(value)
            delta.top = {"top": True, "bottom": False}.get(cue)
            explained.update(range(number.start, number.end))
            explained.update(i for i in range(max(0, number.start - 3), number.start))
            return


def _count(reading: Reading, delta: Delta, explained: set[int], in_play: list[str]) -> None:
    """ "how many are there?", "how many of them", "how many of those orders"."""
    at = count_cue(reading)
    if at is None:
        return
    counted = [m for m in reading.mentions if m.tables and at[1] <= m.start <= at[1] + 3]
    if any(c.table not in in_play for m in counted for c in m.tables[:1]):
        return  # "how many products": rows of another table, not a count of these
    delta.count = True
    explained.update(range(at[0], at[1]))


def _grouping(reading: Reading, roles: list[Role], delta: Delta, explained: set[int]) -> None:
    """ "by month", "now by region", "per customer", "break it down by category"."""
    if reading.grain is not None:
        delta.grain = reading.grain.grain
        explained.update(range(reading.grain.start, reading.grain.end))
    for role in roles:
        before = [w for w in reading.words[max(0, role.mention.start - 2) : role.mention.start] if w != "the"]
        if role.kind == "order" or not before or before[-1] not in _GROUP_CUES:
            continue
        if role.column is not None:
            if role.column not in delta.group_by:
                delta.group_by.append(role.column)
        else:
            delta.group_table = role.table
        role.kind = "group"
        explained.update(range(role.mention.start, role.mention.end))


def _ordering(
    reading: Reading,
    prepared: Prepared,
    roles: list[Role],
    delta: Delta,
    explained: set[int],
    in_play: list[str],
    previous: QueryPlan,
) -> None:
    """ "sort them by price", "order by name descending", "cheapest first", "most
    expensive first", "in reverse order"."""
    words = reading.words
    descending = any(w in lx.DESCENDING_WORDS for w in words)
    ascending = any(w in lx.ASCENDING_WORDS for w in words)
    top = any(w in ("top", "highest", "largest", "most") for w in words)
    for role in roles:
        if role.kind != "order" or role.column is None:
            continue
        delta.order_by.append(Ordering(role.column, descending or top and not ascending))
        explained.update(range(role.mention.start, role.mention.end))
    if delta.order_by:
        return
    covered = {i for m in reading.mentions for i in range(m.start, m.end)}
    for i, word in enumerate(words):
        if i in covered or i in explained:  # "top 5" is a limit, read already
            continue
        flip = False
        if word in ("most", "least") and i + 1 < len(words) and lx.superlative(words[i + 1]):
            continue  # "most expensive": read at "expensive"
        found = lx.superlative(word) if word not in lx.AGGREGATE_WORDS else None
        if found is None:  # "the maximum net worth" computes a value, it orders nothing
            continue
        if i and words[i - 1] == "least":
            flip = True
        named = next(
            (r for r in roles if r.column and r.mention.start == i + 1 and words[i + 1] not in ("first", "last")),
            None,
        )  # "highest first": no first-name column
        after = named.mention.end if named else i + 1
        first = words[after : after + 1] in (["first"], ["on"], ["at"])
        if not first:
            # "the oldest", "the cheapest one": the one row at that end
            delta.limit, delta.top = delta.limit or 1, None
            explained.update(range(after, min(after + 1, len(words))) if words[after:after + 1] == ["one"] else ())
        desc, nouns = found
        column = named.column if named else None
        if column is None and nouns:
            column = column_for_words(prepared, nouns, in_play)
            if column is None and ("date" in nouns or word in ("oldest", "youngest")):
                column = next((ref for t in in_play for ref in prepared.temporal if ref.table == t), None)
        if column is None:
            aggregated = [s for s in previous.select if s.aggregated]
            if len(aggregated) == 1:
                s = aggregated[0]
                delta.order_by.append(
                    Ordering(None if s.column is None or s.column.star else s.column, desc != flip,
                             s.aggregate, s.expression)
                )
                explained.update(range(max(0, i - 1), i + 2))
                return
            raise Unresolved(f'"{word}" names nothing to order the previous rows by')
        kind = prepared.schema.column(column).kind
        if word in ("oldest", "youngest") and kind.temporal:
            desc = not desc  # ages grow as dates recede: the oldest is the earliest date
        delta.order_by.append(Ordering(column, desc != flip))
        if named is not None:
            explained.update(range(named.mention.start, named.mention.end))
            named.kind = "order"
        explained.update(range(max(0, i - 1), i + 2))
        return
    if "reverse" in words or "reversed" in words:
        delta.reverse = True
    elif descending or ascending:
        delta.direction = descending and not any(w in ("alphabetical", "alphabetically") for w in words)


__all__ = ["ANAPHORA", "Delta", "main_of", "marks", "names_own_table", "normalised", "opening", "read_delta"]
