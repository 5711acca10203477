"""Schema linking: which spans of the question name a table or a column.

Every table and column gets word forms once per prepared schema (identifier split,
lemmas, the column name without its table's prefix, comment words). A question is
matched over n-grams from 5 words down to 1, longest first, so "date of birth" wins over
"date": exact lemma sequences first, then content words only ("number of employees" ↔
num_employees), then one content word of a longer name (partial), then a near-miss
spelling (rapidfuzz) for words no name or English word explains.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from servers.parser.domain import ColumnRef, SchemaView
from servers.parser.language.lexicon import GENERIC_NAME_WORDS, NOT_SCHEMA_WORDS, VERB_NOUNS
from servers.parser.language.words import (
    STOP_WORDS,
    Token,
    can_be_verb,
    content,
    is_english,
    is_noun,
    lemma,
    lemmas,
    raw_pieces,
    split_identifier,
)

_NEGATIONS = frozenset({"not", "no", "never", "without", "n't", "none", "nor"})
TABLE_PREFIXES = frozenset({"ref", "reference", "tbl", "lu", "lkp", "lookup", "dim", "fact", "t"})
TABLE_SUFFIXES = frozenset(
    {"tbl", "tab", "table", "dim", "fact", "lookup", "ref", "master", "data"}
)
EXACT, CONTENT, PARTIAL, FUZZY, MEANING = 1.0, 0.9, 0.6, 0.7, 0.5


@dataclass(frozen=True)
class Candidate:
    table: str
    column: str | None  # None: the table itself
    score: float
    how: str  # "exact", "partial", "spelling", "meaning"

    @property
    def ref(self) -> ColumnRef | None:
        return ColumnRef(self.table, self.column) if self.column else None


@dataclass
class Mention:
    start: int  # token span [start, end)
    end: int
    words: str
    candidates: list[Candidate]

    @property
    def tables(self) -> list[Candidate]:
        return [c for c in self.candidates if c.column is None]

    @property
    def columns(self) -> list[Candidate]:
        return [c for c in self.candidates if c.column is not None]


@dataclass
class SchemaIndex:
    """Word forms of every table and column, built once per schema."""

    exact: dict[tuple[str, ...], list[Candidate]] = field(default_factory=lambda: defaultdict(list))
    by_content: dict[tuple[str, ...], list[Candidate]] = field(
        default_factory=lambda: defaultdict(list)
    )
    by_word: dict[str, list[Candidate]] = field(default_factory=lambda: defaultdict(list))
    vocabulary: list[str] = field(default_factory=list)
    table_words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    column_words: dict[ColumnRef, tuple[str, ...]] = field(default_factory=dict)


def _add(index: SchemaIndex, forms: tuple[str, ...], candidate: Candidate) -> None:
    if not forms:
        return
    if candidate not in index.exact[forms]:
        index.exact[forms].append(candidate)
    key = content(forms)
    if key and key != forms and candidate not in index.by_content[key]:
        index.by_content[key].append(candidate)


# Words that make a comment a sentence ("When the order was placed"), not another name
# for the column: such a comment still links by meaning (synonyms.py), never as a phrase,
# or "how many orders were placed" would read as that column.
_SENTENCE_WORDS = frozenset({"when", "where", "which", "who", "how", "what", "why", "if", "was", "were", "is", "are", "has", "have"})


def _name_like(comment: str) -> bool:
    words = comment.lower().split()
    return bool(words) and not (set(words) & _SENTENCE_WORDS)


def build_index(schema: SchemaView) -> SchemaIndex:
    index = SchemaIndex()
    vocabulary: set[str] = set()
    for table in schema.tables:
        table_forms = lemmas(split_identifier(table.name))
        index.table_words[table.name] = table_forms
        _add(index, table_forms, Candidate(table.name, None, EXACT, "exact"))
        # reference / lookup tables carry a prefix people do not say: ref_, tbl_, lu_
        if len(table_forms) > 1 and table_forms[0] in TABLE_PREFIXES:
            _add(index, table_forms[1:], Candidate(table.name, None, EXACT, "exact"))
        if len(table_forms) > 1 and table_forms[-1] in TABLE_SUFFIXES:  # customer_tbl
            _add(index, table_forms[:-1], Candidate(table.name, None, EXACT, "exact"))
        if _name_like(table.comment):
            _add(
                index,
                lemmas(tuple(w.lower() for w in table.comment.split()[:5])),
                Candidate(table.name, None, CONTENT, "comment"),
            )
        # a table named by one word of several ("order_item" ← "item")
        for word in content(table_forms):
            if len(table_forms) > 1 and word not in GENERIC_NAME_WORDS:
                index.by_word[word].append(Candidate(table.name, None, PARTIAL, "partial"))
        vocabulary.update(table_forms)
        for column in table.columns:
            forms = lemmas(split_identifier(column.name))
            ref = ColumnRef(table.name, column.name)
            index.column_words[ref] = forms
            candidate = Candidate(table.name, column.name, EXACT, "exact")
            _add(index, forms, candidate)
            # customer.customer_name ← "name"; orders.order_id ← "id"
            for n in range(len(table_forms), 0, -1):
                if forms[:n] == table_forms[-n:] and len(forms) > n:
                    _add(index, forms[n:], candidate)
                    break
            # and any leading words the table's name holds: ref_status_kinds.status_kind_code ← "kind code"
            for k in range(1, len(forms)):
                if all(word in table_forms for word in forms[:k]):
                    _add(index, forms[k:], candidate)
                else:
                    break
            # "store name" / "name of the store" for store.name
            _add(index, table_forms + forms, candidate)
            _add(index, forms + ("of",) + table_forms, candidate)
            if _name_like(column.comment):
                comment_forms = lemmas(tuple(w.lower() for w in column.comment.split()[:6]))
                _add(index, comment_forms, Candidate(table.name, column.name, CONTENT, "comment"))
            for word in content(forms):
                if word not in GENERIC_NAME_WORDS and len(forms) > 1:
                    index.by_word[word].append(
                        Candidate(table.name, column.name, PARTIAL, "partial")
                    )
            # a piece split into words ("RuntimeMin" → run time) is said whole too
            for piece in raw_pieces(column.name) - set(forms):
                if len(piece) >= 6 and lemma(piece) not in forms:
                    index.by_word[lemma(piece)].append(
                        Candidate(table.name, column.name, PARTIAL, "partial")
                    )
            vocabulary.update(forms)
    index.vocabulary = sorted(w for w in vocabulary if len(w) >= 4)
    return index


_AUXILIARIES = frozenset({"did", "do", "does", "will", "can", "could", "would", "should", "to"})
_AFTER_VERB = frozenset({"in", "on", "at", "from", "to", "by", "with", "for"})
_DETERMINERS = frozenset({"the", "a", "an", "their", "its", "his", "her", "my", "our", "your"})


def _verbish(tokens: list[Token], k: int) -> bool:
    """ "placed", or a bare "place" closing a clause an auxiliary opened: a verb."""
    token = tokens[k]
    if not can_be_verb(token.lower):
        return False
    if token.lower != token.lemma and not is_noun(token.lower):
        return True
    words = [t.lower for t in tokens]
    last = k == len(words) - 1 or words[k + 1] in _AFTER_VERB
    return (
        last
        and any(w in _AUXILIARIES for w in words[max(0, k - 4) : k])
        and not any(w in _DETERMINERS for w in words[max(0, k - 2) : k])
    )


def _not_verbs(
    tokens: list[Token],
    i: int,
    n: int,
    candidates: list[Candidate],
    index: SchemaIndex,
    text_columns: set[ColumnRef],
) -> list[Candidate]:
    """ "how many orders did each customer place", "customers who placed an order": a
    verb sharing its lemma with a text column's noun is not that column ("released"
    still names release_year, "founded" a column named so)."""
    verbs = [k for k in range(i, i + n) if _verbish(tokens, k)]
    if not verbs:
        return candidates
    return [
        c
        for c in candidates
        if c.ref is None
        or c.ref not in text_columns
        or not any(
            tokens[k].lemma in index.column_words.get(c.ref, ())
            # is_enrolled ← "enrolled": the column is named with that very form
            and (tokens[k].lower == tokens[k].lemma or tokens[k].lower not in raw_pieces(c.column))
            for k in verbs
        )
    ]


def link(
    tokens: list[Token],
    index: SchemaIndex,
    blocked: set[int],
    text_columns: set[ColumnRef] | frozenset[ColumnRef] = frozenset(),
) -> list[Mention]:
    """Schema mentions, longest first, never over a blocked token (values, numbers)."""
    text_columns = set(text_columns)
    used = set(blocked)
    found: list[Mention] = []
    lem = [token.lemma for token in tokens]
    n_tokens = len(tokens)
    for n in range(min(5, n_tokens), 0, -1):
        for i in range(0, n_tokens - n + 1):
            span = range(i, i + n)
            if any(k in used for k in span):
                continue
            key = tuple(lem[i : i + n])
            if n > 1 and (key[0] in STOP_WORDS or key[-1] in STOP_WORDS):
                continue
            if n == 1 and (key[0] in STOP_WORDS or key[0] in NOT_SCHEMA_WORDS):
                continue
            candidates = list(index.exact.get(key, ()))
            if not candidates:
                ckey = content(key)
                # skipping little words never skips a negation ("students are not enrolled")
                negated = any(word in _NEGATIONS for word in key)
                if ckey and (n > 1 or ckey == key) and not negated:
                    # "years of experience" ↔ yrs_exp: the name's words with "of" left out
                    hits = index.by_content.get(ckey, ()) or (
                        index.exact.get(ckey, ())
                        if n > 1 and tuple(w for w in key if w != "of") == ckey
                        else ()
                    )
                    candidates = [Candidate(c.table, c.column, CONTENT, "exact") for c in hits]
            candidates = _not_verbs(tokens, i, n, candidates, index, text_columns)
            if not candidates:
                continue
            found.append(
                Mention(i, i + n, " ".join(t.lower for t in tokens[i : i + n]), candidates)
            )
            used.update(span)
    # one word of a longer name, then a near-miss spelling
    for i, token in enumerate(tokens):
        if (
            i in used
            or token.lemma in STOP_WORDS
            or token.lemma in NOT_SCHEMA_WORDS
            or token.is_number
        ):
            continue
        candidates = list(index.by_word.get(token.lemma, ()))
        for related in _nouns_of_verb(token.lemma):
            candidates.extend(
                c
                for c in (*index.by_word.get(related, ()), *index.exact.get((related,), ()))
                if c.column and c not in candidates
            )
        if (
            not candidates
            and len(token.lower) >= 5
            and not is_english(token.lower)
            and index.vocabulary
        ):
            best = process.extractOne(
                token.lemma, index.vocabulary, scorer=fuzz.ratio, score_cutoff=80
            )
            if best:
                candidates = [
                    Candidate(c.table, c.column, FUZZY, "spelling")
                    for c in (*index.exact.get((best[0],), ()), *index.by_word.get(best[0], ()))
                ]
        candidates = _not_verbs(tokens, i, 1, candidates, index, text_columns)
        if not candidates and not is_noun(token.lower) and token.lemma != token.lower:
            candidates = _table_of_verb(token.lemma, index)
        if candidates:
            found.append(Mention(i, i + 1, token.lower, candidates))
            used.add(i)
    found.sort(key=lambda m: m.start)
    return _merge_partials(found)


def _table_of_verb(verb: str, index: SchemaIndex) -> list[Candidate]:
    """ "prescribed" → prescription, "enrolled" → enrollment: a verb form names the table
    of its events when the table's one word begins with the verb's stem."""
    stem = verb[:-1] if verb.endswith("e") else verb
    if len(stem) < 5:
        return []
    # event nouns only ("prescription", "enrollment", "rental"): an agent noun such as
    # "player" or "employee" is another thing than the verb
    return [
        Candidate(table, None, PARTIAL, "partial")
        for table, forms in index.table_words.items()
        if len(forms) == 1
        and forms[0] != verb
        and forms[0].endswith(_EVENT_ENDINGS)
        and len(os.path.commonprefix([forms[0], stem])) >= max(5, len(stem) - 2)
    ]


_EVENT_ENDINGS = ("tion", "sion", "ment", "al", "ing", "ance", "ence", "ure", "age")


def _nouns_of_verb(verb: str) -> tuple[str, ...]:
    """Nouns a column may be named with for a verb said: "born" → birth, "rated" →
    rating, "scored" → scoring."""
    if not can_be_verb(verb) or len(verb) < 4:
        return VERB_NOUNS.get(verb, ())
    gerund = verb[:-1] + "ing" if verb.endswith("e") else verb + "ing"
    return (*VERB_NOUNS.get(verb, ()), gerund)


def _merge_partials(found: list[Mention]) -> list[Mention]:
    """Adjacent one-word mentions of the same column ("net" "worth" → net_worth_millions)
    are one mention."""
    out: list[Mention] = []
    for mention in found:
        prev = out[-1] if out else None
        if prev is not None and prev.end == mention.start:
            shared = [
                c
                for c in prev.candidates
                if c.column
                and any((c.table, c.column) == (d.table, d.column) for d in mention.candidates)
            ]
            verb = mention.end - mention.start == 1 and not is_noun(mention.words)
            if (
                shared
                and not verb
                and (
                    len(prev.candidates) == 1
                    or len(mention.candidates) == 1
                    or prev.end - prev.start == 1
                )
            ):
                out[-1] = Mention(prev.start, mention.end, f"{prev.words} {mention.words}", shared)
                continue
        out.append(mention)
    return out
