"""Cues → skeleton → plan.

The question is read once into positioned facts — schema mentions, values, numbers,
dates, glossary terms and cue words — and each column mention is given one role by the
cues around it: aggregated ("average age"), counted ("how many"), grouped ("for each
city"), ordered ("sorted by"), the key of a superlative ("the highest price"), compared
("price above 20"), or else selected. Tables only mentioned become the counted entity,
the grouped entity ("the number of orders for each customer"), a HAVING on a count
("customers with more than 3 orders") or a NOT IN ("customers without orders").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from servers.parser.domain import (
    Aggregate,
    ColumnKind,
    ColumnRef,
    Condition,
    Expression,
    Op,
    Ordering,
    QueryKind,
    QueryPlan,
    Selection,
    SetOperator,
    TimeBucket,
    TimeWindow,
    Understanding,
    Unresolved,
)
from servers.parser.language import business as biz
from servers.parser.language import lexicon as lx
from servers.parser.language.dates import DateWindow, find_dates
from servers.parser.language.glossary import expression, find_terms
from servers.parser.language.linking import Candidate, Mention, link
from servers.parser.language.numbers import Number, find_numbers
from servers.parser.language.prepared import Prepared
from servers.parser.language.synonyms import by_meaning
from servers.parser.language.values import ValueMention, find_values
from servers.parser.language.words import STOP_WORDS, Token, is_english, is_noun, quoted, tokenize

_AGG_FILLERS = frozenset(
    {
        "the",
        "of",
        "and",
        "or",
        "a",
        "an",
        "value",
        "their",
        "its",
        "all",
        "both",
        "also",
        "number",
        ",",
    }
)
_COUNT_FILLERS = frozenset(
    {"the", "different", "distinct", "unique", "of", "all", "type", "types", "kind", "kinds"}
)
_FILLER = frozenset(
    {"the", "a", "an", "of", "all", "and", ",", "their", "its", "his", "her", "total", "number"}
)


@dataclass
class Reading:
    """Everything found in one question, by token position."""

    tokens: list[Token]
    words: list[str]
    mentions: list[Mention]
    values: list[ValueMention]
    numbers: list[Number]
    dates: list[DateWindow]
    prepared: Prepared
    notes: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    count_at: tuple[int, int] | None | bool = False  # False: not looked for yet
    terms: list = field(default_factory=list)  # glossary.TermHit
    grain: biz.GrainHit | None = None  # "by month", "weekly"

    def has(self, *phrase: str, before: int | None = None) -> int | None:
        """Token index where `phrase` starts (first occurrence before `before`), or None."""
        n = len(phrase)
        end = len(self.words) if before is None else before
        for i in range(0, end - n + 1):
            if tuple(self.words[i : i + n]) == phrase:
                return i
        return None


@dataclass
class Draft:
    """The plan under construction."""

    select: list[tuple[int, Selection]] = field(default_factory=list)  # (position, selection)
    where: list[Condition] = field(default_factory=list)
    group_by: list[ColumnRef] = field(default_factory=list)
    having: list[Condition] = field(default_factory=list)
    order_by: list[Ordering] = field(default_factory=list)
    limit: int | None = None
    distinct: bool = False
    tables: list[str] = field(default_factory=list)
    time_window: TimeWindow | None = None
    where_any: bool = False
    set_operation: tuple[SetOperator, QueryPlan] | None = None
    group_entity: str | None = None  # a table grouped by its key
    intersect: Condition | None = None  # "both a and b": the second half's condition
    bucket: TimeBucket | None = None  # "by month": grouped by a truncated date


def understand(
    question: str, prepared: Prepared, *, now: dt.datetime, previous: QueryPlan | None = None
) -> Understanding:
    reading = read(question, prepared, now)
    draft = Draft()
    main = _main_table(reading, prepared)
    head = unknown_head(reading)
    if head is not None:
        raise Unresolved(
            f'"{head}" names no table or column', _suggestions(reading, prepared, head)
        )
    if main is None:
        raise Unresolved(_unresolved_words(reading) or question, _suggestions(reading, prepared))
    _glossary(question, reading, prepared, draft)
    roles = _assign(reading, prepared, draft, main)
    _values(reading, prepared, draft, main, roles)
    _numbers(reading, prepared, draft, main, roles)
    _negation(reading, prepared, draft, main, roles)
    _dates(reading, prepared, draft, main, roles)
    _business(reading, prepared, draft, main, roles)
    _counted_superlative(reading, prepared, draft, main, roles)
    _most_common(reading, draft, roles)
    _versus_average(reading, prepared, draft, main, roles)
    _finish(reading, prepared, draft, main, roles)
    _bucket_finish(draft, main, prepared)
    plan = QueryPlan(
        select=_grouped_first(draft, reading.words),
        where=tuple(draft.where),
        where_any=draft.where_any,
        group_by=tuple(dict.fromkeys(draft.group_by)),
        having=tuple(draft.having),
        order_by=tuple(draft.order_by),
        limit=draft.limit,
        distinct=draft.distinct,
        tables=tuple(dict.fromkeys([main, *draft.tables])),
        time_window=draft.time_window,
        set_operation=draft.set_operation,
        bucket=draft.bucket,
    )
    _refuse_fan_out(plan, reading, prepared)
    if draft.intersect is not None:
        second = QueryPlan(
            select=plan.select,
            where=tuple(c for c in plan.where if c.column != draft.intersect.column)
            + (draft.intersect,),
            tables=plan.tables,
        )
        plan = QueryPlan(**{**plan.__dict__, "set_operation": (SetOperator.INTERSECT, second)})
    confidence = min(reading.scores) if reading.scores else 0.5
    return Understanding(
        kind=_kind(plan), plan=plan, confidence=round(confidence, 2), notes=reading.notes
    )


# ------------------------------------------------------------------------- reading


def read(question: str, prepared: Prepared, now: dt.datetime) -> Reading:
    tokens = tokenize(question)
    terms = find_terms(tokens, prepared.terms) if prepared.terms.terms else []
    term_tokens = {i for hit in terms for i in range(hit.start, hit.end)}
    values = [
        v
        for v in find_values(tokens, quoted(question), prepared.values, prepared.schema_words)
        if not term_tokens.intersection(range(v.start, v.end))
    ]
    value_tokens = {i for v in values for i in range(v.start, v.end)} | term_tokens
    dates = find_dates(tokens, now) if prepared.temporal else []
    date_tokens = {i for d in dates for i in range(d.first, d.last)}
    numbers = [
        n
        for n in find_numbers(tokens)
        if n.start not in value_tokens and n.start not in date_tokens
    ]
    blocked = value_tokens | date_tokens | {i for n in numbers for i in range(n.start, n.end)}
    blocked |= _order_words(tokens)
    grain = biz.find_grain(tokens, prepared.schema) if prepared.temporal else None
    if grain is not None:
        blocked |= set(range(grain.start, grain.end))
    mentions = link(tokens, prepared.index, blocked)
    for hit in terms:
        term = hit.term
        if term.table or term.column:
            table = term.column.table if term.column else term.table
            column = term.column.column if term.column else None
            words = " ".join(t.lower for t in tokens[hit.start : hit.end])
            mentions.append(
                Mention(hit.start, hit.end, words, [Candidate(table, column, 1.0, "glossary")])
            )
    mentions.sort(key=lambda m: m.start)
    reading = Reading(
        tokens,
        [t.lower for t in tokens],
        mentions,
        values,
        numbers,
        dates,
        prepared,
        terms=terms,
        grain=grain,
    )
    _by_meaning(reading, prepared, blocked)
    for mention in reading.mentions:
        best = max(mention.candidates, key=lambda c: c.score)
        reading.scores.append(best.score)
        if best.how == "spelling":
            reading.notes.append(f'"{mention.words}" read as a near-miss spelling of {_name(best)}')
    return reading


def _order_words(tokens: list[Token]) -> set[int]:
    """ "ordered by", "in descending order": ordering words, not a table of orders."""
    words = [t.lower for t in tokens]
    found: set[int] = set()
    for i, word in enumerate(words):
        if word not in lx.ORDER_WORDS:
            continue
        after = words[i + 1 : i + 4]
        if "by" in after or (after[:1] and after[0] in ("of", "in", "from", "according")):
            found.add(i)
        elif i and words[i - 1] in (
            "in",
            "descending",
            "ascending",
            "alphabetical",
            "reverse",
            "decreasing",
            "increasing",
        ):
            found.add(i)
    return found


def _by_meaning(reading: Reading, prepared: Prepared, blocked: set[int]) -> None:
    """Content words nothing linked, matched to names by meaning (embeddings)."""
    covered = set(blocked) | {i for m in reading.mentions for i in range(m.start, m.end)}
    for i, token in enumerate(reading.tokens):
        if i in covered or token.lemma in STOP_WORDS or token.is_number or len(token.lower) < 3:
            continue
        if (
            token.lower in lx.NOT_SCHEMA_WORDS
            or token.lower in lx.SUPERLATIVES
            or token.lower in lx.AGGREGATE_WORDS
        ):
            continue
        if (
            token.lower in lx.CUE_WORDS
            or token.lower in lx.COMPARATIVE_NOUNS
            or not is_noun(token.lower)
        ):
            continue
        found = by_meaning(token.lower, prepared)
        if found:
            candidate, similarity = found
            reading.mentions.append(Mention(i, i + 1, token.lower, [candidate]))
            reading.notes.append(
                f'"{token.lower}" read by meaning as {_name(candidate)} ({similarity:.2f})'
            )
    reading.mentions.sort(key=lambda m: m.start)


def _name(candidate: Candidate) -> str:
    return f"{candidate.table}.{candidate.column}" if candidate.column else candidate.table


# ------------------------------------------------------------------------ main table


def _main_table(reading: Reading, prepared: Prepared) -> str | None:
    """The table the question is about: the counted one, else the first named entity,
    else the table of the first named column, else the table of a value."""
    count_at = _count_cue(reading)
    if count_at is not None:
        for mention in reading.mentions:
            if mention.start >= count_at[1] and mention.start <= count_at[1] + 3 and mention.tables:
                return mention.tables[0].table
    for mention in reading.mentions:
        if _after_negation(reading, mention.start):
            continue
        if mention.tables and mention.tables[0].how != "meaning":
            if not mention.columns:
                return _best_table(mention)
    weights: dict[str, float] = {}
    for k, mention in enumerate(reading.mentions):
        for candidate in mention.candidates:
            weights[candidate.table] = weights.get(candidate.table, 0) + candidate.score / (
                1 + 0.1 * k
            )
    for term_hit in reading.terms:
        entry = term_hit.term.metric or term_hit.term.segment
        if entry is not None:
            weights[entry.table] = weights.get(entry.table, 0) + 2
    for value in reading.values:
        for hit in value.hits:
            weights[hit.column.table] = weights.get(hit.column.table, 0) + 0.5 * value.score / len(
                value.hits
            )
    if not weights:
        return None
    # the first mention's tables, weighted by everything else
    first = reading.mentions[0] if reading.mentions else None
    if first is not None:
        return max({c.table for c in first.candidates}, key=lambda t: weights.get(t, 0))
    return max(weights, key=lambda t: weights[t])


def _after_negation(reading: Reading, start: int) -> bool:
    return any(
        w in ("without", "never", "not", "n't", "no", "none")
        for w in reading.words[max(0, start - 5) : start]
    )


def _best_table(mention: Mention) -> str:
    return max(mention.tables, key=lambda c: c.score).table


def _count_cue(reading: Reading) -> tuple[int, int] | None:
    """Where "how many" / "number of" / "count" asks for a count. "average number of X"
    aggregates X, and "number of X" where X is a numeric column names that column."""
    if reading.count_at is not False:
        return reading.count_at  # type: ignore[return-value]
    found = None
    for phrase in lx.COUNT_PHRASES:
        at = reading.has(*phrase)
        if at is None:
            continue
        end = at + len(phrase)
        before = [w for w in reading.words[max(0, at - 2) : at] if w != "the"]
        if phrase[0] in ("number", "total") and before and before[-1] in lx.AGGREGATE_WORDS:
            continue
        if phrase[0] == "number" and before and before[-1] in lx.SUPERLATIVES:
            continue  # "the most number of orders" ranks by a count, selects none
        if _orders_by_count(reading) == at:
            continue  # "sorted by their count" ranks, selects none
        nxt = next((m for m in reading.mentions if end <= m.start <= end + 1), None)
        if (
            phrase[0] == "number"
            and nxt is not None
            and not nxt.tables
            and all(_numeric(reading.prepared, c.ref) for c in nxt.columns)
        ):
            continue
        found = (at, end)
        break
    reading.count_at = found
    return found


# ----------------------------------------------------------------------------- roles


@dataclass
class Role:
    mention: Mention
    column: ColumnRef | None  # the chosen column, or None for a table mention
    table: str
    kind: str = (
        "select"  # select, agg, count, group, order, superlative, condition, table, value-col, used
    )
    aggregates: tuple[Aggregate, ...] = ()


def _resolve(mention: Mention, reading: Reading, focus: set[str], main: str) -> Candidate:
    """One candidate for a mention: the one whose table is named next to it, in focus, or main."""
    near: set[str] = set()
    for other in reading.mentions:
        if (
            other is not mention
            and other.tables
            and (abs(other.start - mention.end) <= 3 or abs(mention.start - other.end) <= 3)
        ):
            near.update(c.table for c in other.tables)

    def score(candidate: Candidate) -> float:
        return (
            candidate.score
            + (1.0 if candidate.table in near else 0)
            + (0.5 if candidate.table in focus else 0)
            + (0.3 if candidate.table == main else 0)
        )

    return max(mention.candidates, key=score)


def _assign(reading: Reading, prepared: Prepared, draft: Draft, main: str) -> list[Role]:
    focus = {main} | {c.table for m in reading.mentions for c in m.tables}
    roles: list[Role] = []
    for mention in reading.mentions:
        chosen = _resolve(mention, reading, focus, main)
        if chosen.column is None:
            roles.append(Role(mention, None, chosen.table, "table"))
        else:
            roles.append(Role(mention, chosen.ref, chosen.table))
    words = reading.words
    order_at = _order_cue(reading)
    for role in roles:
        start = role.mention.start
        before = _words_before(words, start)
        if role.column is None:
            continue
        aggs = _aggregates_before(words, start)
        if (
            order_at is not None
            and order_at <= start <= order_at + 8
            and not any(order_at <= r.mention.start < start and r.column for r in roles)
        ):
            role.kind = "order"  # the first column after "ordered by"
            continue
        if (
            before[-1:] in (["each"], ["per"], ["every"])
            and words[start] not in ("time", "times")
            or before[-2:] in (["for", "each"], ["by"])
            and _has_aggregate_cue(reading)
        ):
            role.kind = "group"
            continue
        if before[-1:] == ["by"] and _has_aggregate_cue(reading):
            role.kind = "group"
            continue
        if before[-1:] == ["by"] and any(w in ("top", "first", "bottom") for w in words[:start]):
            role.kind = "order"
            continue
        if aggs:
            role.kind, role.aggregates = "agg", aggs
            continue
        if _sums(reading, start) and _numeric(prepared, role.column):
            role.kind, role.aggregates = "agg", (Aggregate.SUM,)
            continue
        sup = _superlative_before(words, start)
        if sup is not None:
            role.kind = "superlative"
            continue
        count_at = _count_cue(reading)
        if (
            count_at is not None
            and count_at[1] <= start
            and all(w in _COUNT_FILLERS for w in words[count_at[1] : start])
        ):
            role.kind = "count"
            continue
    # "the number of different names and cities": a count runs through a list
    for prev, role in zip(roles, roles[1:], strict=False):
        if prev.kind == "count" and role.kind == "select" and prev.column and role.column:
            if all(
                w in ("and", ",", "the", "of") for w in words[prev.mention.end : role.mention.start]
            ):
                role.kind = "count"
    return roles


def _words_before(words: list[str], start: int) -> list[str]:
    return [w for w in words[max(0, start - 3) : start] if w not in ("the", "a", "an")]


def _aggregates_before(words: list[str], start: int) -> tuple[Aggregate, ...]:
    """Aggregate words just before a column, through lists: "average and maximum age"."""
    found: list[Aggregate] = []
    i = start - 1
    while i >= 0 and start - i <= 7:
        word = words[i]
        if word in lx.AGGREGATE_WORDS:
            if word == "total" and i + 1 < len(words) and words[i + 1] == "number":
                break
            found.append(lx.AGGREGATE_WORDS[word])
        elif word in _AGG_FILLERS:
            pass
        elif not found and i == start - 1 and i > 0 and words[i - 1] in lx.AGGREGATE_WORDS:
            pass  # "average expected life expectancy": one describing word between
        else:
            break
        i -= 1
    return tuple(reversed(found))


def _sums(reading: Reading, start: int) -> bool:
    """ "how much area", "… combined", "in total": a sum of the column."""
    at = reading.has("how", "much")
    if at is not None and at + 2 <= start <= at + 3:
        return True
    tail = reading.words[start:]
    return "together" in tail or "combined" in tail or reading.has("in", "total") is not None


def _has_aggregate_cue(reading: Reading) -> bool:
    return _count_cue(reading) is not None or any(w in lx.AGGREGATE_WORDS for w in reading.words)


def _superlative_before(words: list[str], start: int) -> str | None:
    for i in range(start - 1, max(-1, start - 4), -1):
        if words[i] in lx.SUPERLATIVES:
            return words[i]
        if words[i] not in ("the", "a", "in", "of", "terms", "most", "least"):
            return None
    return None


def _order_cue(reading: Reading) -> int | None:
    """Index after "ordered by", "sorted descending by", "in ascending order of"…"""
    ordering = _order_words(reading.tokens)
    for i in range(len(reading.words)):
        if i in ordering:
            j = i + 1
            while j < len(reading.words) and j <= i + 3 and reading.words[j] in lx.ORDER_FILLERS:
                j += 1
            return j
    return None


def _orders_by_count(reading: Reading) -> int | None:
    """ "in ascending order of count", "sorted by their frequency": where that word is."""
    order_at = _order_cue(reading)
    if order_at is None:
        return None
    j = order_at
    while j < len(reading.words) and reading.words[j] in ("the", "their", "its", "how"):
        j += 1
    if j < len(reading.words) and reading.words[j] in (
        "count",
        "frequency",
        "popularity",
        "number",
        "many",
    ):
        return j
    return None


def _descending(reading: Reading, after: int = 0) -> bool:
    words = reading.words[after:]
    if any(w in lx.DESCENDING_WORDS for w in words):
        return True
    for i, word in enumerate(words):
        if word == "from" and i + 2 < len(words):
            nxt = words[i + 1] if words[i + 1] != "the" else words[i + 2]
            if nxt in lx.SUPERLATIVES or nxt in (
                "high",
                "large",
                "big",
                "most",
                "old",
                "late",
                "new",
            ):
                return lx.SUPERLATIVES.get(nxt, (True, ()))[0]
    return False


# ----------------------------------------------------------------------------- values


def _values(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    conditions: list[tuple[ValueMention, Condition]] = []
    for value in reading.values:
        if value.quoted and any(
            w in lx.CONTAINS_WORDS for w in reading.words[max(0, value.start - 4) : value.start]
        ):
            role = _role_before(roles, value.start, 6)
            column = role.column if role and role.column else prepared.name_columns.get(main)
            if column is not None:
                if role:
                    role.kind = "used"
                negated = _negated(reading, value.start)
                conditions.append(
                    (
                        value,
                        Condition(
                            column,
                            Op.NOT_LIKE if negated else Op.LIKE,
                            (value.words,),
                            source=value.words,
                        ),
                    )
                )
                continue
        if not value.hits:
            # a quoted string no stored value matches: a part of the column named next to
            # it ("'Hey' in its name") — or, before it, the column it equals
            after = _role_after(roles, value.end, 3)
            role = after or _role_before(roles, value.start, 4)
            if role and role.column and value.quoted:
                role.kind = "used"
                text_column = not _numeric(prepared, role.column)
                op = Op.LIKE if text_column and after is not None else Op.EQ
                if _negated(reading, value.start):
                    op = Op.NOT_LIKE if op is Op.LIKE else Op.NE
                conditions.append(
                    (value, Condition(role.column, op, (value.words,), source=value.words))
                )
            continue
        hit = _choose_hit(value, roles, main, reading)
        negated = _negated(reading, value.start)
        op = Op.NE if negated else Op.EQ
        conditions.append((value, Condition(hit.column, op, (hit.value,), source=value.words)))
        reading.scores.append(value.score)
        if value.score < 1:
            reading.notes.append(f'"{value.words}" read as the value {hit.value!r} of {hit.column}')
        else:
            reading.notes.append(f'"{value.words}" found as a value of {hit.column}')
        for role in roles:
            if (
                role.column == hit.column
                and role.kind in ("select",)
                and (
                    0 <= value.start - role.mention.end <= 3
                    or 0 <= role.mention.start - value.end <= 4
                )
            ):
                role.kind = "used"
    # two values of one column: "a or b" → either; "both a and b" → both (INTERSECT)
    merged: list[Condition] = []
    for k, (value, condition) in enumerate(conditions):
        prev = merged[-1] if merged else None
        if prev and prev.column == condition.column and prev.op == condition.op == Op.EQ:
            between = reading.words[conditions[k - 1][0].end : value.start]
            if "or" in between or reading.has("either") is not None:
                merged[-1] = Condition(
                    prev.column, Op.IN, prev.values + condition.values, source=prev.source
                )
                continue
            if "and" in between:
                draft.intersect = Condition(
                    condition.column, Op.EQ, condition.values, source=condition.source
                )
                continue
        merged.append(condition)
    draft.where.extend(merged)


def _choose_hit(value: ValueMention, roles: list[Role], main: str, reading: Reading):
    named = {
        role.column for role in roles if role.column and abs(role.mention.end - value.start) <= 4
    }
    named |= {
        role.column for role in roles if role.column and 0 <= role.mention.start - value.end <= 2
    }
    tables = {role.table for role in roles}

    def score(hit) -> float:
        return (
            (2 if hit.column in named else 0)
            + (1 if hit.column.table in tables else 0)
            + (0.5 if hit.column.table == main else 0)
        )

    return max(value.hits, key=score)


def _negated(reading: Reading, start: int) -> bool:
    window = reading.words[max(0, start - 4) : start]
    return any(w in lx.NEGATION_WORDS for w in window) or "other than" in " ".join(window)


def _role_before(
    roles: list[Role], start: int, distance: int, numeric: Prepared | None = None
) -> Role | None:
    best = None
    for role in roles:
        if role.column and role.mention.end <= start and start - role.mention.end <= distance:
            if numeric is None or _numeric(numeric, role.column):
                best = role
    return best


# ---------------------------------------------------------------------------- numbers


def _numbers(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    words = reading.words
    before = len(draft.where)
    for number in reading.numbers:
        # "top 5", "first 3", "5 highest"
        prev = words[number.start - 1] if number.start else ""
        nxt = words[number.end] if number.end < len(words) else ""
        if (
            prev in ("top", "first", "last", "bottom")
            or nxt in lx.SUPERLATIVES
            and number.op is None
        ):
            if isinstance(number.value, int):
                draft.limit = number.value
                continue
        op = number.op or (Op.EQ if number.op is None else number.op)
        anchor = number.op_start if number.op_start is not None else number.start
        # a counted noun after the number: HAVING count(*)
        end = number.end
        if words[end : end + 2] in (
            ["or", "more"],
            ["or", "fewer"],
            ["or", "less"],
            ["or", "above"],
        ):
            end += 2
        counted = _counted_after(reading, roles, end, main)
        if number.op is not None and counted is not None:
            draft.having.append(_count_condition(number, op, counted))
            # "customers with more than 2 orders" groups customers; "cities with more
            # than 2 customers" groups the selected column (see _finish)
            if counted != main:
                draft.group_entity = draft.group_entity or main
                draft.tables.append(counted)
            continue
        implied = _implied_column(reading, prepared, anchor, main, roles)
        if implied is None and biz.currency_after(words, number.end):
            # "between 10 and 20 dollars": the money column of the tables in play
            implied = biz.money_column(prepared.schema, [main, *[r.table for r in roles]])
        if implied is not None:
            draft.where.append(_number_condition(implied, number, op))
            continue
        role = next(
            (
                r
                for r in roles
                if r.column
                and anchor <= r.mention.start < number.start
                and _numeric(prepared, r.column)
            ),
            None,
        )
        role = role or _role_before(roles, anchor, 4, numeric=prepared)
        if role is None or not _numeric(prepared, role.column):
            after = _role_after(roles, number.end, 2)
            role = after if after is not None and _numeric(prepared, after.column) else None
        if role is None:
            implied = _implied_column(reading, prepared, anchor, main, roles)
            if implied is not None:
                draft.where.append(_number_condition(implied, number, op))
                continue
        if role is None or role.column is None:
            if number.op is None and number.is_year:
                column = _year_column(prepared, main, roles)
                if column:
                    draft.where.append(
                        Condition(column, Op.EQ, (number.value,), source=str(number.value))
                    )
            continue
        if role.kind == "agg":
            # "whose average price is above 10": a condition on the group
            for aggregate in role.aggregates:
                draft.having.append(
                    Condition(
                        role.column,
                        op,
                        _bounds(number, op),
                        aggregate=aggregate,
                        source=str(number.value),
                    )
                )
            role.kind = "used"
            continue
        role.kind = "used"
        draft.where.append(_number_condition(role.column, number, op))
    if reading.has("or") is not None or reading.has("either") is not None:
        draft.where[before:] = _either(draft.where[before:])
    elif draft.intersect is None:
        _both(draft, before)


def _both(draft: Draft, before: int) -> None:
    """ "before 2003 and after 2003", "in 2014 and 2015": two conditions on one column no
    row meets together ask for rows of each kind: an INTERSECT."""
    numbered = draft.where[before:]
    for a in range(len(numbered)):
        for b in range(a + 1, len(numbered)):
            x, y = numbered[a], numbered[b]
            if x.column != y.column or x.subquery or y.subquery:
                continue
            if _disjoint(x, y):
                draft.where.remove(y)
                draft.intersect = y
                return


def _disjoint(x: Condition, y: Condition) -> bool:
    if x.op is Op.EQ and y.op is Op.EQ:
        return x.values != y.values
    lower = {Op.GT, Op.GE}
    upper = {Op.LT, Op.LE}
    try:
        if x.op in lower and y.op in upper:
            return not x.values[0] < y.values[0]
        if x.op in upper and y.op in lower:
            return not y.values[0] < x.values[0]
    except TypeError:
        return False
    return False


def _either(conditions: list[Condition]) -> list[Condition]:
    """ "aged 32 or 33": equalities on one column become one IN."""
    out: list[Condition] = []
    for condition in conditions:
        prev = out[-1] if out else None
        if (
            prev
            and condition.op is Op.EQ
            and prev.op in (Op.EQ, Op.IN)
            and prev.column == condition.column
        ):
            out[-1] = Condition(
                prev.column, Op.IN, prev.values + condition.values, source=prev.source
            )
            continue
        out.append(condition)
    return out


def _bounds(number: Number, op: Op) -> tuple:
    return (number.value, number.upper) if op is Op.BETWEEN else (number.value,)


def _number_condition(column: ColumnRef, number: Number, op: Op) -> Condition:
    if op is Op.BETWEEN:
        return Condition(column, Op.BETWEEN, (number.value, number.upper), source="between")
    return Condition(column, op, (number.value,), source=str(number.value))


def _count_condition(number: Number, op: Op, table: str) -> Condition:
    values = (number.value, number.upper) if op is Op.BETWEEN else (number.value,)
    return Condition(ColumnRef(table, "*"), op, values, aggregate=Aggregate.COUNT)


def _counted_after(reading: Reading, roles: list[Role], end: int, main: str) -> str | None:
    words = reading.words
    if end < len(words) and words[end] in ("time", "times"):
        return main
    for role in roles:
        if role.kind == "table" and end <= role.mention.start <= end + 2:
            between = words[end : role.mention.start]
            if any(w in ("and", "or", "a", "an", "the", "than") for w in between):
                continue
            return role.table
    return None


def _role_after(roles: list[Role], end: int, distance: int) -> Role | None:
    for role in roles:
        if role.column and 0 <= role.mention.start - end <= distance:
            return role
    return None


def _numeric(prepared: Prepared, ref: ColumnRef | None) -> bool:
    column = prepared.schema.column(ref) if ref else None
    return bool(column and (column.kind.numeric or column.kind.temporal))


def _implied_column(
    reading: Reading, prepared: Prepared, anchor: int, main: str, roles: list[Role]
) -> ColumnRef | None:
    """ "older than 30" → an age column of the tables in play."""
    for word in reading.words[max(0, anchor - 1) : anchor + 2]:
        nouns = lx.COMPARATIVE_NOUNS.get(word)
        if nouns:
            return _column_for_words(prepared, nouns, [main, *[r.table for r in roles]])
    return None


def _neighbours(prepared: Prepared, table: str) -> list[str]:
    out: list[str] = []
    for info in prepared.schema.tables:
        for fk in info.foreign_keys:
            if info.name == table:
                out.append(fk.referenced_table)
            elif fk.referenced_table == table:
                out.append(info.name)
    return out


def _column_for_words(
    prepared: Prepared, nouns: tuple[str, ...], tables: list[str]
) -> ColumnRef | None:
    tables = list(dict.fromkeys(tables))
    for table in list(tables[:1]):  # then the tables one foreign key away from the main one
        tables.extend(_neighbours(prepared, table))
    for noun in nouns:
        for table in dict.fromkeys(tables):
            for ref, forms in prepared.index.column_words.items():
                # dates are often stored as text; a date word may name such a column
                if (
                    ref.table == table
                    and noun in forms
                    and (_numeric(prepared, ref) or noun in ("date", "time", "year"))
                ):
                    return ref
    return None


def _year_column(prepared: Prepared, main: str, roles: list[Role]) -> ColumnRef | None:
    return _column_for_words(prepared, ("year",), [main, *[r.table for r in roles]])


# --------------------------------------------------------------------------- negation


def _negation(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "customers without orders", "that never placed an order", "with no order": the
    main table's key NOT IN the keys the other table refers to."""
    words = reading.words
    for i, word in enumerate(words):
        if word not in ("without", "never", "no", "not", "n't", "none"):
            continue
        for mention in reading.mentions:
            if not (i < mention.start <= i + 5) or not mention.tables:
                continue
            other = _best_table(mention)
            if other == main:
                continue
            link_cols = _reference(prepared, other, main)
            holder = other
            if link_cols is None:
                # through a link table: teachers never arranged to teach a course
                holder, link_cols = _link_reference(prepared, other, main)
            if link_cols is None:
                continue
            fk_column, key_column = link_cols
            # conditions on the excluded rows go into the subquery: "no order in 2024"
            inner = tuple(
                c for c in draft.where if c.column is not None and c.column.table in (other, holder)
            )
            draft.where = [c for c in draft.where if c not in inner]
            # the negation is spent on NOT IN: the excluded rows' own conditions are positive
            flip = {Op.NE: Op.EQ, Op.NOT_LIKE: Op.LIKE}
            inner = tuple(replace(c, op=flip.get(c.op, c.op)) for c in inner)
            sub = QueryPlan(
                select=(Selection(ColumnRef(holder, fk_column)),), where=inner, tables=(holder,)
            )
            draft.where.append(
                Condition(
                    ColumnRef(main, key_column),
                    Op.NOT_IN,
                    subquery=sub,
                    source=f"{word} {mention.words}",
                )
            )
            for role in roles:
                if role.mention is mention:
                    role.kind = "used"
            return


def _link_reference(
    prepared: Prepared, other: str, main: str
) -> tuple[str, tuple[str, str] | None]:
    for table in prepared.schema.tables:
        if table.name in (other, main):
            continue
        to_main = _reference(prepared, table.name, main)
        if to_main is not None and _reference(prepared, table.name, other) is not None:
            return table.name, to_main
    return other, None


def _reference(prepared: Prepared, child: str, parent: str) -> tuple[str, str] | None:
    table = prepared.schema.table(child)
    if table is None:
        return None
    for fk in table.foreign_keys:
        if fk.referenced_table == parent and len(fk.columns) == 1:
            return fk.columns[0], fk.referenced_columns[0]
    return None


# ------------------------------------------------------------------------------ dates


def _dates(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    if not reading.dates:
        return
    window = reading.dates[0]
    for hit in reading.terms:
        metric = hit.term.metric
        if metric is not None and metric.time_column and "." in metric.time_column:
            table, column = metric.time_column.split(".", 1)
            draft.time_window = TimeWindow(
                ColumnRef(table, column), window.start, window.end, window.words
            )
            return
    # "hired since March": the temporal column named next to the window
    for role in roles:
        if role.column and role.kind == "select" and 0 <= window.first - role.mention.end <= 2:
            column = prepared.schema.column(role.column)
            if column is not None and column.kind.temporal:
                role.kind = "used"
                draft.time_window = TimeWindow(role.column, window.start, window.end, window.words)
                return
    tables = [main, *[m.candidates[0].table for m in reading.mentions]]
    column = None
    for table in dict.fromkeys(tables):
        column = next((ref for ref in prepared.temporal if ref.table == table), None)
        if column:
            break
    if column is None:
        return
    draft.time_window = TimeWindow(column, window.start, window.end, window.words)


# ---------------------------------------------------------------------------- business


def _business(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """Business phrasing (business.py): sums of a named table's amount, top N by a
    measure, the event a time window belongs to, time grains."""
    schema, words = prepared.schema, reading.words
    for role in roles:
        # "total sales": the sum of the sales table's amount-like column
        if role.kind != "table":
            continue
        aggregate = biz.sum_before(words, role.mention.start)
        column = biz.amount_column(schema.table(role.table)) if aggregate else None
        if column is not None:
            draft.select.append(
                (role.mention.start, Selection(ColumnRef(role.table, column), aggregate))
            )
    ranked = biz.ranked_by(words) if draft.limit is not None else None
    if ranked is not None and not draft.order_by:
        _ranked_by(reading, prepared, draft, main, roles, ranked)
    if not draft.order_by:
        _highest_measure(reading, prepared, draft, roles)
    if not draft.order_by:
        _best_selling(reading, prepared, draft, main, roles)
    _breakdown(reading, prepared, draft, main, roles)
    _event_window(reading, prepared, draft, main, roles)
    if reading.grain is not None:
        metric_time = next(
            (h.term.metric.time_column for h in reading.terms if h.term.metric is not None),
            "",
        )
        named = [r.column for r in roles if r.column and r.kind == "select"]
        column = biz.bucket_column(
            schema, metric_time, named, [main, *[r.table for r in roles if r.kind == "table"]]
        )
        draft.bucket = biz.bucket(reading.grain, column)
        for role in roles:
            if role.column == column and role.kind == "select":
                role.kind = "used"


def _ranked_by(
    reading: Reading,
    prepared: Prepared,
    draft: Draft,
    main: str,
    roles: list[Role],
    ranked: int,
) -> None:
    """ "top 5 products by units sold": group the products, order by the measure."""
    descending = not any(w in ("bottom", "worst") for w in reading.words[:ranked])
    for hit in reading.terms:
        if hit.term.metric is not None and hit.start >= ranked:
            selected = next(
                (sel for _, sel in draft.select if sel.expression and sel.expression.aggregated),
                None,
            )
            if selected is None or selected.expression is None:
                return
            draft.order_by.append(Ordering(None, descending, expression=selected.expression))
            draft.group_entity = draft.group_entity or main
            return
    for role in roles:
        if role.mention.start < ranked or role.kind != "table" or role.table == main:
            continue
        column = biz.amount_column(prepared.schema.table(role.table))
        if column is not None:
            ref = ColumnRef(role.table, column)
            draft.order_by.append(Ordering(ref, descending, Aggregate.SUM))
            draft.select.append((role.mention.start, Selection(ref, Aggregate.SUM)))
            draft.group_entity = draft.group_entity or main
            return


def _highest_measure(reading: Reading, prepared: Prepared, draft: Draft, roles: list[Role]) -> None:
    """ "which region had the highest revenue", "the customer with the lowest sales":
    groups ordered by the measure, the first kept."""
    words = reading.words
    for hit in reading.terms:
        sup = _superlative_before(words, hit.start) if hit.term.metric is not None else None
        if sup is None or sup in ("top", "bottom"):
            continue
        measure = next(
            (sel.expression for _, sel in draft.select if sel.expression and sel.aggregated),
            None,
        )
        if measure is not None:
            draft.order_by.append(Ordering(None, lx.SUPERLATIVES[sup][0], expression=measure))
            draft.limit = draft.limit or 1
            return
    for role in roles:
        if role.kind != "table" or not biz.money_table(role.table):
            continue
        sup = _superlative_before(words, role.mention.start)
        column = biz.amount_column(prepared.schema.table(role.table))
        if sup is None or sup in lx.COUNTING_SUPERLATIVES or column is None:
            continue
        ref = ColumnRef(role.table, column)
        if not any(sel.column == ref and sel.aggregated for _, sel in draft.select):
            draft.select.append((role.mention.start, Selection(ref, Aggregate.SUM)))
        draft.order_by.append(Ordering(ref, lx.SUPERLATIVES[sup][0], Aggregate.SUM))
        draft.limit = draft.limit or 1
        return


def _best_selling(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "the best selling product", "top 5 best-selling products", "most popular
    product": rows grouped by their key, ordered by the quantity sold (or the number of
    rows referring to them), the first one unless a number or a plural asks for more."""
    span = biz.popular_at(reading.words)
    if span is None:
        return
    start, at = span
    role = next((r for r in roles if r.kind == "table" and r.mention.start >= at), None)
    if role is None or role.table != main:
        return
    found = biz.popularity(prepared.schema, main)
    if found is None:
        return
    column, aggregate = found
    draft.order_by.append(Ordering(column, True, aggregate))
    draft.tables.append(column.table)
    draft.group_entity = draft.group_entity or main
    plural = reading.tokens[role.mention.start].lower != reading.tokens[role.mention.start].lemma
    counted = next((n for n in reading.numbers if n.end == start and n.op is None), None)
    if counted is not None and isinstance(counted.value, int):
        draft.limit = counted.value  # "the 3 best-selling products"
    if draft.limit is None:
        draft.limit = 10 if plural else 1
    role.kind = "used"


def _breakdown(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "sales by region", "customers by city": a table broken down by one of its
    columns, nothing else asked — the sum of a money table's amount, else a count."""
    if _has_aggregate_cue(reading) or reading.terms or draft.limit is not None:
        return
    if draft.select or draft.order_by or draft.group_by or draft.having:
        return
    dated = {i for d in reading.dates for i in range(d.first, d.last)}
    for k, role in enumerate(roles):
        if role.kind != "table" or role.table != main:
            continue
        at = role.mention.end
        while at in dated:
            at += 1
        later = roles[k + 1 :]
        if at >= len(reading.words) or reading.words[at] != "by" or len(later) != 1:
            return
        key = later[0]
        if key.kind != "select" or key.column is None or key.mention.start != at + 1:
            return
        column = biz.amount_column(prepared.schema.table(main)) if biz.money_table(main) else None
        measure = (
            Selection(ColumnRef(main, column), Aggregate.SUM)
            if column
            else Selection(ColumnRef(main, "*"), Aggregate.COUNT)
        )
        draft.select.append((role.mention.start, measure))
        key.kind = "group"
        return


def _event_window(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "customers who ordered more than 3 times this year": the window is the orders'
    date, not the customer's own, when no date column or metric was named."""
    window = draft.time_window
    if window is None or window.column.table != main:
        return
    if any(hit.term.metric is not None for hit in reading.terms):
        return
    if any(r.column == window.column for r in roles):
        return
    event = biz.event_table(prepared.schema, main, [r.table for r in roles if r.kind == "table"])
    column = biz.bucket_column(prepared.schema, "", [], [event]) if event else None
    if column is not None:
        draft.time_window = TimeWindow(column, window.start, window.end, window.expression)


def _refuse_fan_out(plan: QueryPlan, reading: Reading, prepared: Prepared) -> None:
    """A glossary metric is defined per row of its table: a join that repeats those rows
    would inflate it, so the question gets a refusal with the dimensions that are safe
    rather than a wrong total (the semantic layers' "fan-out" rule)."""
    relationships = prepared.glossary.relationships if prepared.glossary else ()
    for hit in reading.terms:
        metric = hit.term.metric
        if metric is None:
            continue
        lost = biz.unreachable(prepared.schema, plan, metric, tuple(relationships))
        if lost is not None:
            raise Unresolved(
                f"{metric.name} is measured on {metric.table}, and nothing links {lost} to it",
                biz.dimensions(prepared.schema, metric.table, tuple(relationships)),
            )
        found = biz.fan_out(prepared.schema, plan, metric, tuple(relationships))
        if found is None:
            continue
        parent, child = found
        raise Unresolved(
            f"{metric.name} is measured per row of {metric.table}; answering this joins "
            f"{child}, which holds several rows for each row of {parent}, so it would count "
            "them more than once",
            biz.dimensions(prepared.schema, metric.table, tuple(relationships)),
        )


def _bucket_finish(draft: Draft, main: str, prepared: Prepared) -> None:
    """ "orders per month" with nothing measured counts the rows of each period; a
    glossary measure ordered on ("the highest revenue") is ordered per group."""
    if (
        any(o.expression and o.expression.aggregated for o in draft.order_by)
        and not draft.group_by
        and not draft.bucket
    ):
        plain = [sel.column for _, sel in draft.select if sel.column and not sel.aggregated]
        if plain:
            draft.group_by.extend(plain)
        else:
            _group_by_entity(prepared, draft, main)
    if draft.bucket is None or any(sel.aggregated for _, sel in draft.select):
        return
    draft.select = [(0, Selection(ColumnRef(main, "*"), Aggregate.COUNT))]
    draft.group_by.clear()
    draft.distinct = False


def _grouped_first(draft: Draft, words: list[str]) -> tuple[Selection, ...]:
    """Outputs in the question's order, except that "X by Y" reads key first, as a
    report does: "revenue by region" is region, revenue."""
    ordered = sorted(draft.select, key=lambda item: item[0])
    if not any(sel.aggregated for _, sel in ordered):
        return tuple(sel for _, sel in ordered)
    first = [
        sel
        for position, sel in ordered
        if not sel.aggregated and 0 < position <= len(words) and words[position - 1] == "by"
    ]
    return tuple(first + [sel for _, sel in ordered if not any(sel is f for f in first)])


# ------------------------------------------------------------------------ superlatives


def _counted_superlative(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "the most orders", "the fewest members": group, order by count(*), limit 1."""
    words = reading.words
    for role in roles:
        if role.kind != "table":
            continue
        sup = _superlative_before(words, role.mention.start)
        if sup not in lx.COUNTING_SUPERLATIVES:
            sup = None
        if (
            sup is None
            and role.mention.start >= 2
            and words[role.mention.start - 2 : role.mention.start]
            in (["number", "of"], ["amount", "of"])
        ):
            sup = _superlative_before(words, role.mention.start - 2)
        if sup is None:
            continue
        descending = lx.SUPERLATIVES[sup][0]
        draft.order_by.append(Ordering(None, descending, Aggregate.COUNT))
        draft.limit = draft.limit or 1
        draft.group_entity = draft.group_entity or (main if role.table != main else None)
        if role.table != main:
            draft.tables.append(role.table)
        role.kind = "used"
        return


def _most_common(reading: Reading, draft: Draft, roles: list[Role]) -> None:
    """ "the most common city": group by the column, most rows first."""
    words = reading.words
    for i in range(len(words) - 1):
        if words[i] in ("most", "least") and words[i + 1] in lx.FREQUENT_WORDS:
            near = [
                r
                for r in roles
                if r.column and r.kind == "select" and abs(r.mention.start - i) <= 6
            ]
            if not near:
                return
            role = min(near, key=lambda r: abs(r.mention.start - i))
            draft.order_by.append(Ordering(None, words[i] == "most", Aggregate.COUNT))
            draft.group_by.append(role.column)
            draft.limit = draft.limit or 1
            return


def _versus_average(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "above the average age", "older than average": compared with a subquery."""
    words = reading.words
    for i, word in enumerate(words):
        if word not in ("average", "mean"):
            continue
        lead = words[max(0, i - 3) : i]
        op = None
        for k in range(len(lead)):
            phrase = tuple(w for w in lead[k:] if w != "the")
            op = _comparison(phrase)
            if op:
                break
        if op is None:
            continue
        after = _role_after(roles, i + 1, 1)
        column = after.column if after and _numeric(prepared, after.column) else None
        if column is None:
            column = _implied_column(reading, prepared, i - 1, main, roles)
        if column is None:
            before = _role_before(roles, i - len(lead), 4, numeric=prepared)
            column = before.column if before else None
        if column is None:
            continue
        if after is not None:
            after.kind = "used"
        for role in roles:  # "earn a salary above the average salary": compared, not selected
            if role.column == column and role.kind == "select" and 0 <= i - role.mention.end <= 5:
                role.kind = "used"
                draft.select = [
                    (p, sel) for p, sel in draft.select if sel.column != column or sel.aggregate
                ]
        for role in roles:  # the aggregate read from "average" is a comparison now
            if role.column == column and role.kind == "agg":
                role.kind = "used"
        draft.select = [
            (p, sel) for p, sel in draft.select if not (sel.column == column and sel.aggregate)
        ]
        sub = QueryPlan(select=(Selection(column, Aggregate.AVG),))
        draft.where.append(
            Condition(column, op, subquery=sub, source=" ".join(words[i - len(lead) : i + 2]))
        )
        return


def _comparison(phrase: tuple[str, ...]) -> Op | None:
    from servers.parser.language.numbers import COMPARISONS

    for words, op in COMPARISONS:
        if phrase == words:
            return op
    for word, op in (
        ("older", Op.GT),
        ("younger", Op.LT),
        ("larger", Op.GT),
        ("smaller", Op.LT),
        ("higher", Op.GT),
        ("lower", Op.LT),
        ("bigger", Op.GT),
        ("longer", Op.GT),
        ("shorter", Op.LT),
    ):
        if phrase[:1] == (word,):
            return op
    return None


# ------------------------------------------------------------------------------ finish


def _finish(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    words = reading.words
    distinct = any(w in lx.DISTINCT_WORDS for w in words)
    count_at = _count_cue(reading)
    descending = _descending(reading)
    for role in roles:
        position = role.mention.start
        if role.kind == "table":
            if role.table != main and not _is_grouped_table(reading, role):
                draft.tables.append(role.table)
                name = prepared.name_columns.get(role.table)
                if name is not None and _listed_with_selection(reading, roles, role):
                    draft.select.append((position, Selection(name)))
            if _is_grouped_table(reading, role):
                draft.group_entity = role.table
            continue
        column = role.column
        if column is None:
            continue
        if role.kind == "agg":
            for aggregate in role.aggregates:
                draft.select.append((position, Selection(column, aggregate)))
        elif role.kind == "count":
            draft.select.append(
                (
                    position,
                    Selection(
                        column,
                        Aggregate.COUNT,
                        distinct=True,
                    ),
                )
            )
            count_at = None
        elif role.kind == "group":
            draft.group_by.append(column)
            draft.select.append((position, Selection(column)))
        elif role.kind == "order":
            draft.order_by.append(Ordering(column, _descending(reading, role.mention.start - 4)))
        elif role.kind == "superlative":
            sup = _superlative_before(words, position) or "most"
            if _wants_value(reading, roles, role):
                aggregate = Aggregate.MAX if lx.SUPERLATIVES[sup][0] else Aggregate.MIN
                draft.select.append((position, Selection(column, aggregate)))
            else:
                draft.order_by.append(Ordering(column, lx.SUPERLATIVES[sup][0]))
                draft.limit = draft.limit or 1
        elif role.kind == "select":
            draft.select.append((position, Selection(column)))
    _implied_superlative(reading, prepared, draft, main, roles)
    if count_at is not None:
        counted = ColumnRef(main, "*")
        info = prepared.schema.table(main)
        if distinct and info is not None and len(info.primary_key) == 1:
            # "how many different products were ordered": distinct keys over the join
            counted = ColumnRef(main, info.primary_key[0])
        draft.select.append(
            (count_at[0], Selection(counted, Aggregate.COUNT, distinct=not counted.star))
        )
    if draft.group_entity:
        _group_by_entity(prepared, draft, draft.group_entity)
    if not draft.select:
        name = prepared.name_columns.get(main)
        if name is not None:
            draft.select.append((0, Selection(name)))
    if distinct and not any(sel.aggregated for _, sel in draft.select):
        draft.distinct = True
    if draft.order_by and not any(o.column or o.aggregate or o.expression for o in draft.order_by):
        draft.order_by.clear()
    if draft.order_by and descending and all(not o.descending for o in draft.order_by):
        draft.order_by = [
            Ordering(o.column, True, o.aggregate, o.expression) for o in draft.order_by
        ]
    _alphabetical(reading, draft)
    counted_order = _orders_by_count(reading)
    if counted_order is not None and not any(o.aggregate for o in draft.order_by):
        draft.order_by = [Ordering(None, descending, Aggregate.COUNT)]
    _dedupe(draft)
    if (draft.having or any(o.aggregate for o in draft.order_by)) and not draft.group_by:
        plain = [sel.column for _, sel in draft.select if sel.column and not sel.aggregated]
        if plain:
            draft.group_by.extend(plain)
        else:
            _group_by_entity(prepared, draft, main)
    if (
        not draft.order_by
        and _order_cue(reading) is not None
        or not draft.order_by
        and any(w in lx.DESCENDING_WORDS or w in lx.ASCENDING_WORDS for w in words)
    ):
        plain = [
            sel
            for _, sel in sorted(draft.select, key=lambda item: item[0])
            if sel.column and not sel.column.star
        ]
        if plain:
            draft.order_by.append(Ordering(plain[0].column, descending, plain[0].aggregate))


def _dedupe(draft: Draft) -> None:
    """One output per column and aggregate; a column also aggregated is not selected bare
    (unless it is a grouping key)."""
    seen: set[tuple] = set()
    aggregated = {sel.column for _, sel in draft.select if sel.aggregated and sel.column}
    keep: list[tuple[int, Selection]] = []
    for position, sel in sorted(draft.select, key=lambda item: item[0]):
        key = (sel.column, sel.aggregate, sel.distinct, sel.expression)
        if key in seen:
            continue
        if not sel.aggregated and sel.column in aggregated and sel.column not in draft.group_by:
            continue
        seen.add(key)
        keep.append((position, sel))
    draft.select = keep


def _listed_with_selection(reading: Reading, roles: list[Role], role: Role) -> bool:
    """ "the names of teachers and the courses they teach": a table listed after "and"
    next to selected columns is selected too (by its name column)."""
    before = reading.words[max(0, role.mention.start - 3) : role.mention.start]
    if "and" not in before:
        return False
    return any(r.kind == "select" and r.mention.start < role.mention.start for r in roles)


def _is_grouped_table(reading: Reading, role: Role) -> bool:
    before = _words_before(reading.words, role.mention.start)
    return bool(before[-1:] and before[-1] in ("each", "per", "every")) or (
        before[-1:] == ["by"] and _has_aggregate_cue(reading)
    )


def _group_by_entity(prepared: Prepared, draft: Draft, table: str) -> None:
    info = prepared.schema.table(table)
    if info is None:
        return
    keys = [ColumnRef(table, c) for c in info.primary_key] or [
        ColumnRef(table, info.columns[0].name)
    ]
    plain = [sel.column for _, sel in draft.select if not sel.aggregated and sel.column]
    if not plain:
        name = prepared.name_columns.get(table)
        if name is not None:
            draft.select.insert(0, (-1, Selection(name)))
            plain = [name]
    if all(ref.table == table for ref in plain):
        draft.group_by.extend(keys + plain)
    else:
        draft.group_by.extend(plain)


def _wants_value(reading: Reading, roles: list[Role], role: Role) -> bool:
    """ "what is the highest price" asks for the value (MAX); "which product has the
    highest price" for the row (ORDER BY … LIMIT 1)."""
    others = [r for r in roles if r is not role and r.kind in ("select", "agg", "count", "group")]
    if others:
        return False
    first = reading.words[0] if reading.words else ""
    return first in ("what", "find", "give", "show", "return", "tell") and not any(
        r.kind == "table"
        and r.mention.start < role.mention.start
        and reading.words[max(0, r.mention.start - 1)] in ("which", "what")
        for r in roles
    )


def _implied_superlative(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "the oldest customer" orders by an age column although no column is named."""
    if draft.order_by:
        return
    covered = {i for m in reading.mentions for i in range(m.start, m.end)}
    tables = [main, *[r.table for r in roles]]
    for i, word in enumerate(reading.words):
        if word not in lx.SUPERLATIVES or i in covered:
            continue
        descending, nouns = lx.SUPERLATIVES[word]
        column = None
        if word in ("most", "least") and i + 1 < len(reading.words) and i + 1 not in covered:
            # "the most populated" → a numeric column sharing the word's stem
            column = _column_by_stem(prepared, reading.words[i + 1], tables)
        if column is None and nouns:
            column = _column_for_words(prepared, nouns, tables)
        if column is None:
            continue
        # ages grow as dates recede: the oldest is the earliest date
        kind = prepared.schema.column(column).kind
        if word in ("oldest", "youngest") and kind in (ColumnKind.DATE, ColumnKind.TIMESTAMP):
            descending = not descending
        draft.order_by.append(Ordering(column, descending))
        draft.limit = draft.limit or 1
        # "the most recently aired": the word that named the column is not an output
        draft.select = [
            (p, sel)
            for p, sel in draft.select
            if not (sel.column == column and not sel.aggregate and 0 < p - i <= 3)
        ]
        return


def _column_by_stem(prepared: Prepared, word: str, tables: list[str]) -> ColumnRef | None:
    if len(word) < 6:
        return None
    stem = word[:6]
    for table in dict.fromkeys(tables):
        for ref, forms in prepared.index.column_words.items():
            if (
                ref.table == table
                and _numeric(prepared, ref)
                and any(f.startswith(stem) for f in forms)
            ):
                return ref
    return None


def _alphabetical(reading: Reading, draft: Draft) -> None:
    if draft.order_by or not any(w in ("alphabetical", "alphabetically") for w in reading.words):
        return
    for _, sel in draft.select:
        if sel.column and not sel.aggregated:
            draft.order_by.append(Ordering(sel.column, _descending(reading)))
            return


def _kind(plan: QueryPlan) -> QueryKind:
    if plan.limit is not None and plan.order_by:
        return QueryKind.TOP_N
    if (
        plan.select
        and all(sel.aggregate is Aggregate.COUNT for sel in plan.select)
        and not plan.group_by
    ):
        return QueryKind.COUNT
    if any(sel.aggregated for sel in plan.select):
        return QueryKind.AGGREGATE
    if plan.distinct:
        return QueryKind.DISTINCT
    return QueryKind.SELECT


# ---------------------------------------------------------------------------- glossary


def _glossary(question: str, reading: Reading, prepared: Prepared, draft: Draft) -> None:
    if not prepared.terms.terms:
        return
    for hit in reading.terms:
        term = hit.term
        if term.metric is not None:
            metric = term.metric
            draft.select.append(
                (
                    hit.start,
                    Selection(
                        expression=expression(metric.expression, prepared.schema, aggregated=True),
                        alias=metric.name.replace(" ", "_"),
                    ),
                )
            )
            for sql in metric.filters:
                draft.where.append(
                    Condition(
                        None, Op.EQ, expression=expression(sql, prepared.schema), source=metric.name
                    )
                )
            reading.notes.append(f'"{metric.name}" is the glossary metric {metric.expression}')
        elif term.segment is not None:
            segment = term.segment
            draft.where.append(
                Condition(
                    None,
                    Op.EQ,
                    expression=expression(segment.condition, prepared.schema),
                    source=segment.name,
                )
            )
            reading.notes.append(f'"{segment.name}" is the glossary segment {segment.condition}')
        # glossary synonyms were added as mentions in read(); nothing to do here


# -------------------------------------------------------------------------- unresolved


def _unresolved_words(reading: Reading) -> str:
    words = [
        t.text
        for t in reading.tokens
        if t.lemma not in STOP_WORDS and t.lower not in lx.CUE_WORDS and not t.is_number
    ]
    return " ".join(words)


def _suggestions(reading: Reading, prepared: Prepared, word: str = "") -> list[str]:
    from rapidfuzz import fuzz, process

    names = [t.name for t in prepared.schema.tables] + [
        f"{t.name}.{c.name}" for t in prepared.schema.tables for c in t.columns
    ]
    found: list[str] = []
    if word:
        from servers.parser.language.synonyms import closest

        found.extend(closest(word, prepared, 3))
    for token in reading.tokens:
        if (
            token.lemma in STOP_WORDS
            or len(token.lower) < 3
            or is_english(token.lower)
            and token.lower in lx.CUE_WORDS
        ):
            continue
        for name, score, _ in process.extract(
            token.lemma, names, scorer=fuzz.partial_ratio, limit=3
        ):
            if score >= 70 and name not in found:
                found.append(name)
    return found[:5] or [t.name for t in prepared.schema.tables][:5]


def unknown_head(reading: Reading) -> str | None:
    """The noun asked for ("what is the salary of …") when nothing links it."""
    words = reading.words
    covered = {i for m in reading.mentions for i in range(m.start, m.end)}
    covered |= {i for v in reading.values for i in range(v.start, v.end)}
    for i, word in enumerate(words[:-1]):
        if word in ("is", "are", "show", "list", "give", "find") and i + 2 < len(words):
            j = i + 1
            while j < len(words) and words[j] in ("the", "a", "an", "me", "all"):
                j += 1
            if j + 1 < len(words) and words[j + 1] == "of" and j not in covered:
                token = reading.tokens[j]
                if (
                    token.lemma not in STOP_WORDS
                    and token.lower not in lx.CUE_WORDS
                    and token.lower not in lx.NOT_SCHEMA_WORDS
                ):
                    return token.text
    return None


__all__ = ["understand", "Expression"]
