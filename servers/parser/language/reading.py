"""Reading a question: every fact in it by token position — schema mentions, values,
numbers, dates, glossary terms — and the cue words around them ("how many", "average",
"ordered by", "the most", "not"), plus the table the question is about."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from servers.parser.domain import (
    Aggregate,
    ColumnRef,
)
from servers.parser.language import lexicon as lx
from servers.parser.language.dates import DateWindow, find_dates
from servers.parser.language.glossary import TermHit, find_terms
from servers.parser.language.linking import Candidate, Mention, link
from servers.parser.language.numbers import Number, find_numbers
from servers.parser.language.periods import GrainHit, find_grain
from servers.parser.language.prepared import Prepared
from servers.parser.language.synonyms import by_meaning
from servers.parser.language.values import ValueMention, find_values
from servers.parser.language.verbs import verb_table
from servers.parser.language.words import (
    STOP_WORDS,
    Token,
    can_be_verb,
    is_english,
    is_noun,
    quoted,
    tokenize,
)

_AGG_FILLERS = frozenset(
    {
        "the",
        "of",
        "and",
        "or",
        "a",
        "an",
        "value",
        "values",
        "their",
        "its",
        "all",
        "both",
        "also",
        "number",
        ",",
    }
)


COUNT_FILLERS = frozenset(
    {"the", "different", "distinct", "unique", "of", "all", "type", "types", "kind", "kinds"}
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
    terms: list[TermHit] = field(default_factory=list)  # glossary terms, matched first
    grain: GrainHit | None = None  # "by month", "weekly" (periods.py)

    def has(self, *phrase: str, before: int | None = None) -> int | None:
        """Token index where `phrase` starts (first occurrence before `before`), or None."""
        n = len(phrase)
        end = len(self.words) if before is None else before
        for i in range(0, end - n + 1):
            if tuple(self.words[i : i + n]) == phrase:
                return i
        return None


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
    blocked |= _order_words(tokens) - term_tokens  # "average order value by …" is a term
    grain = find_grain(tokens, prepared.schema) if prepared.temporal else None
    if grain is not None:  # "by month" groups by a date: no table or column named "month"
        blocked |= set(range(grain.start, grain.end))
    mentions = link(tokens, prepared.index, blocked, prepared.text_columns)
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
    _verb_tables(reading, prepared, blocked)
    for mention in reading.mentions:
        best = max(mention.candidates, key=lambda c: c.score)
        reading.scores.append(best.score)
        if best.how == "spelling":
            reading.notes.append(f'"{mention.words}" read as a near-miss spelling of {_name(best)}')
    return reading


_ORDERED_THINGS = frozenset({"them", "it", "results", "rows", "records", "list", "data"})


def _order_words(tokens: list[Token]) -> set[int]:
    """ "ordered by", "in descending order": ordering words, not a table of orders."""
    words = [t.lower for t in tokens]
    found: set[int] = set()
    for i, word in enumerate(words):
        if word not in lx.ORDER_WORDS:
            continue
        after = words[i + 1 : i + 4]
        by = after.index("by") if "by" in after else -1
        # "ordered descending by": only ordering words between; "order total by store"
        # is a column of orders broken down by store
        if by >= 0 and all(w in lx.ORDER_FILLERS or w in _ORDERED_THINGS for w in after[:by]):
            found.add(i)
        elif after[:1] and after[0] in ("of", "from", "according"):
            found.add(i)
        elif (
            after[:1] == ["in"]
            and after[1:2]
            and after[1] in lx.DESCENDING_WORDS | lx.ASCENDING_WORDS
        ):
            found.add(i)  # "sorted in descending order", not "an order in May"
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


_AUXILIARIES = frozenset(
    {"did", "do", "does", "to", "will", "can", "could", "would", "should", "has", "have", "had"}
)


def _used_as_verb(words: list[str], i: int) -> bool:
    """ "how many orders did Ada place?": a word that can be a noun ends a clause an
    auxiliary opened, so it is the verb."""
    last = i == len(words) - 1 or words[i + 1] in (
        "in",
        "on",
        "at",
        "from",
        "to",
        "by",
        "with",
        "for",
        # a time phrase closes the clause too: "how much did we make last month"
        "last",
        "this",
        "since",
        "during",
        "yesterday",
        "today",
    )
    if any(w in _DETERMINERS for w in words[max(0, i - 2) : i]):
        return False  # "who has the largest salary": a noun after its determiner
    return last and any(w in _AUXILIARIES for w in words[max(0, i - 4) : i])


def _verb_tables(reading: Reading, prepared: Prepared, blocked: set[int]) -> None:
    """ "products never sold": a verb nothing linked names the table that records it
    (sell → sales), as a mention of that table."""
    covered = set(blocked) | {i for m in reading.mentions for i in range(m.start, m.end)}
    for i, token in enumerate(reading.tokens):
        if i in covered or (i and reading.words[i - 1] in ("best", "top", "most", "worst")):
            continue  # "best selling" describes, it names no table
        table = verb_table(prepared.schema, token)
        if table is not None:
            reading.mentions.append(
                Mention(i, i + 1, token.lower, [Candidate(table, None, 0.8, "verb")])
            )
    reading.mentions.sort(key=lambda m: m.start)


_DETERMINERS = frozenset({"the", "a", "an", "their", "its", "his", "her", "my", "our", "your"})


_SUBJECT_WORDS = frozenset({"who", "that", "which", "they", "we", "you", "people"})
_AFTER_VERB = frozenset(
    {"in", "on", "at", "for", "with", "from", "to", "by", "under", "the", "a", "an", "as"}
)


def _verb_after_subject(tokens: list[Token], i: int) -> bool:
    """ "teams play in the league", "members who live at …": a word that can be a verb,
    right after a plural noun or a relative pronoun and before a preposition, is the
    verb of the clause — never a table or column by meaning."""
    if i == 0 or not can_be_verb(tokens[i].lower):
        return False
    prev = tokens[i - 1]
    plural = prev.lower != prev.lemma and prev.lower.endswith("s")
    nxt = tokens[i + 1].lower if i + 1 < len(tokens) else ""
    return (plural or prev.lower in _SUBJECT_WORDS) and (not nxt or nxt in _AFTER_VERB)


def _derived_from(word: str, candidate: Candidate, prepared: Prepared) -> bool:
    """ "play" near `player`, "employ" near `employee`: a real word that merely begins a
    name's word is another word, however close their vectors."""
    words = (
        prepared.index.column_words.get(candidate.ref, ())
        if candidate.column
        else prepared.index.table_words.get(candidate.table, ())
    )
    return is_english(word) and any(w != word and w.startswith(word) for w in words)


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
            or _used_as_verb(reading.words, i)
            or _verb_after_subject(reading.tokens, i)
        ):
            continue
        found = by_meaning(token.lower, prepared.embeddings)
        if token.lemma != token.lower and token.lemma not in lx.GENERIC_NAME_WORDS:
            # "athletes" sits farther from `player` than "athlete" does: the better of both
            single = by_meaning(token.lemma, prepared.embeddings)
            if single is not None and (found is None or single[1] > found[1]):
                found = single
        if found and not _derived_from(token.lemma, found[0], prepared):
            candidate, similarity = found
            reading.mentions.append(Mention(i, i + 1, token.lower, [candidate]))
            reading.notes.append(
                f'"{token.lower}" read by meaning as {_name(candidate)} ({similarity:.2f})'
            )
    reading.mentions.sort(key=lambda m: m.start)


def _name(candidate: Candidate) -> str:
    return f"{candidate.table}.{candidate.column}" if candidate.column else candidate.table


def plural_table(reading: Reading, mention: Mention) -> bool:
    """One plural word that names a table exactly ("airlines") means its rows, even when
    a column is named like it too."""
    last = reading.tokens[mention.end - 1]
    return (
        mention.end - mention.start == 1
        and last.lower != last.lemma
        and last.lower.endswith("s")
        and any(c.how == "exact" for c in mention.tables)
    )


def _named_owner(reading: Reading, prepared: Prepared, mention: Mention) -> str | None:
    tables = {c.table for c in mention.columns}
    if len(tables) != 1 or mention.end - mention.start < 2:
        return None
    table = next(iter(tables))
    said = {t.lemma for t in reading.tokens[mention.start : mention.end]}
    own = prepared.index.table_words.get(table, ())
    column_words = {w for c in mention.columns for w in prepared.index.column_words.get(c.ref, ())}
    return table if own and set(own) <= said and not set(own) <= column_words else None


def main_table(reading: Reading, prepared: Prepared) -> str | None:
    """The table the question is about: the counted one, else the first named entity,
    else the table of the first named column, else the table of a value."""
    count_at = count_cue(reading)
    if count_at is not None:
        for mention in reading.mentions:
            if mention.start >= count_at[1] and mention.start <= count_at[1] + 3 and mention.tables:
                return mention.tables[0].table
    # "active customers who ordered …": a glossary segment said before any table names
    # the rows asked about
    first_segment = next((h for h in reading.terms if h.term.segment is not None), None)
    for mention in reading.mentions:
        if first_segment is not None and first_segment.start < mention.start:
            return first_segment.term.segment.table
        if _after_negation(reading, mention.start):
            continue
        if mention.tables and mention.tables[0].how != "meaning":
            if not mention.columns or plural_table(reading, mention):
                return best_table(mention)
        owner = _named_owner(reading, prepared, mention)
        if owner is not None:
            return owner  # "names of teachers": a column said with its table
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
    return any(w in lx.EXCLUDING_WORDS for w in reading.words[max(0, start - 5) : start])


def best_table(mention: Mention) -> str:
    return max(mention.tables, key=lambda c: c.score).table


def count_cue(reading: Reading) -> tuple[int, int] | None:
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
        if in_column_name(reading, at, at + 1):
            continue  # "page count", "order number": a column's own words are no cue
        before = [w for w in reading.words[max(0, at - 2) : at] if w != "the"]
        if phrase[0] in ("number", "total") and before and before[-1] in lx.AGGREGATE_WORDS:
            continue
        if phrase[0] == "number" and before and before[-1] in lx.SUPERLATIVES:
            continue  # "the most number of orders" ranks by a count, selects none
        if orders_by_count(reading) == at:
            continue  # "sorted by their count" ranks, selects none
        nxt = next((m for m in reading.mentions if end <= m.start <= end + 1), None)
        if (
            phrase[0] in ("number", "total")
            and nxt is not None
            and not nxt.tables
            and all(numeric(reading.prepared, c.ref) for c in nxt.columns)
        ):
            continue
        found = (at, end)
        break
    reading.count_at = found
    return found


def words_before(words: list[str], start: int) -> list[str]:
    return [w for w in words[max(0, start - 3) : start] if w not in ("the", "a", "an")]


def aggregates_before(words: list[str], start: int) -> tuple[Aggregate, ...]:
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
            pass  # "average listed unit price": one describing word between
        else:
            break
        i -= 1
    return tuple(reversed(found))


def sums(reading: Reading, start: int) -> bool:
    """ "how much area", "… combined", "in total": a sum of the column."""
    at = reading.has("how", "much")
    if at is not None and at + 2 <= start <= at + 3:
        return True
    tail = reading.words[start:]
    return "together" in tail or "combined" in tail or reading.has("in", "total") is not None


def in_column_name(reading: Reading, start: int, end: int) -> bool:
    """Tokens [start, end) lie inside a mention that names columns only."""
    return any(
        m.start <= start and end <= m.end and m.columns and not m.tables for m in reading.mentions
    )


def has_aggregate_cue(reading: Reading) -> bool:
    # a glossary metric aggregates too: "revenue per store"
    return (
        count_cue(reading) is not None
        or any(
            w in lx.AGGREGATE_WORDS and not in_column_name(reading, i, i + 1)
            for i, w in enumerate(reading.words)
        )
        or any(hit.term.metric is not None for hit in reading.terms)
    )


def superlative_before(words: list[str], start: int) -> str | None:
    for i in range(start - 1, max(-1, start - 4), -1):
        if words[i] in lx.SUPERLATIVES:
            return words[i]
        if words[i] not in ("the", "a", "in", "of", "terms", "most", "least"):
            return None
    return None


def order_cue(reading: Reading) -> int | None:
    """Index after "ordered by", "sorted descending by", "in ascending order of"…"""
    ordering = _order_words(reading.tokens) - {
        i for hit in reading.terms for i in range(hit.start, hit.end)
    }
    for i in range(len(reading.words)):
        if i in ordering:
            j = i + 1
            while j < len(reading.words) and j <= i + 3 and reading.words[j] in lx.ORDER_FILLERS:
                j += 1
            return j
    return None


def orders_by_count(reading: Reading) -> int | None:
    """ "in ascending order of count", "sorted by their frequency": where that word is."""
    order_at = order_cue(reading)
    if order_at is None:
        # "the top 2 customers by number of orders"
        for phrase in (("by", "number", "of"), ("by", "the", "number", "of")):
            at = reading.has(*phrase)
            if at is not None:
                return at + len(phrase) - 2
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
        if reading.words[j] == "number" and any(
            m.columns and not m.tables and j < m.start <= j + 2 for m in reading.mentions
        ):
            return None  # "by the number of seats": a column named "number of …"
        return j
    return None


def wants_descending(reading: Reading, after: int = 0) -> bool:
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


def is_negated(reading: Reading, start: int) -> bool:
    window = reading.words[max(0, start - 4) : start]
    return any(w in lx.NEGATION_WORDS for w in window) or "other than" in " ".join(window)


def numeric(prepared: Prepared, ref: ColumnRef | None) -> bool:
    column = prepared.schema.column(ref) if ref else None
    return bool(column and (column.kind.numeric or column.kind.temporal))


def unresolved_words(reading: Reading) -> str:
    words = [
        t.text
        for t in reading.tokens
        if t.lemma not in STOP_WORDS and t.lower not in lx.CUE_WORDS and not t.is_number
    ]
    return " ".join(words)


def suggestions(reading: Reading, prepared: Prepared, word: str = "") -> list[str]:
    from rapidfuzz import fuzz, process

    names = [t.name for t in prepared.schema.tables] + [
        f"{t.name}.{c.name}" for t in prepared.schema.tables for c in t.columns
    ]
    found: list[str] = []
    if word:
        from servers.parser.language.synonyms import closest

        found.extend(closest(word, prepared.embeddings, 3))
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
