"""Value linking: which spans of the question are values stored in a text column.

An index over the sampled distinct values, keyed by their lower-case words, is built
once per prepared schema; a question's n-grams (longest first) are looked up exactly,
and spans the person marked as names (quotes, capitals) also with fuzzy matching for
near misses. The database's own spelling and capitalisation are kept for the statement.

Values of personal columns (names, e-mails, phones… by column name or by their values,
or marked `pii` in the glossary: contracts/personal_data.py) are matched exactly only:
a near miss corrected to the stored spelling would put a real person's name, which the
caller did not type, into the statement it is shown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from servers.contracts import personal_data
from servers.parser.domain import ColumnRef, Samples
from servers.parser.language.words import STOP_WORDS, Token, tokenize


@dataclass(frozen=True)
class ValueHit:
    column: ColumnRef
    value: str  # as stored


@dataclass
class ValueMention:
    start: int  # token span
    end: int
    words: str
    hits: list[ValueHit]
    score: float  # 1 exact; lower for fuzzy
    quoted: bool = False
    capitalised: bool = False


@dataclass
class ValueIndex:
    exact: dict[str, list[ValueHit]] = field(default_factory=lambda: defaultdict(list))
    keys: list[str] = field(default_factory=list)


def normalise(text: str) -> str:
    return " ".join(token.lower for token in tokenize(text))


def personal_columns(samples: Samples, pii: Iterable[str] = (), not_pii: Iterable[str] = ()) -> set[ColumnRef]:
    """The sampled columns that hold personal data (see the module docstring)."""
    marked = {c.lower() for c in pii}
    off = {c.lower() for c in not_pii}
    out = set()
    for ref, values in samples.items():
        name = f"{ref.table}.{ref.column}".lower()
        if name in off:
            continue
        if name in marked or personal_data.by_name(ref.table, ref.column) or personal_data.by_values(values):
            out.add(ref)
    return out


def build_values(samples: Samples, pii: Iterable[str] = (), not_pii: Iterable[str] = ()) -> ValueIndex:
    index = ValueIndex()
    for ref, values in samples.items():
        for value in values:
            if not isinstance(value, str) or not value.strip() or len(value) > 100:
                continue
            key = normalise(value)
            if not key or key[:1].isdigit() and key.replace(" ", "").replace(".", "").isdigit():
                continue
            # the database's capitalisation, without its stray spaces
            hit = ValueHit(ref, value.strip())
            if hit not in index.exact[key]:
                index.exact[key].append(hit)
    _add_codes(index, samples)
    personal = personal_columns(samples, pii, not_pii)
    # fuzzy matching only reaches values that some non-personal column holds
    index.keys = [k for k, hits in index.exact.items() if any(h.column not in personal for h in hits)]
    return index


# Words people use for values stored as one-letter codes: "female students" where the
# column holds 'F'. Only for columns whose sampled values are all codes of one family.
_CODED = (
    (
        {"f", "m"},
        {
            "female": "f",
            "females": "f",
            "woman": "f",
            "women": "f",
            "girl": "f",
            "girls": "f",
            "male": "m",
            "males": "m",
            "man": "m",
            "men": "m",
            "boy": "m",
            "boys": "m",
        },
    ),
    ({"y", "n"}, {"yes": "y", "no": "n"}),
)


def _add_codes(index: ValueIndex, samples: Samples) -> None:
    for ref, values in samples.items():
        stored = {str(v).strip().lower(): str(v).strip() for v in values if str(v).strip()}
        for codes, words in _CODED:
            if not stored or not set(stored) <= codes:
                continue
            for word, code in words.items():
                if code in stored:
                    hit = ValueHit(ref, stored[code])
                    if hit not in index.exact[word]:
                        index.exact[word].append(hit)


def find_values(
    tokens: list[Token],
    quotes: list[tuple[str, int, int]],
    index: ValueIndex,
    schema_words: set[str],
) -> list[ValueMention]:
    found: list[ValueMention] = []
    used: set[int] = set()

    def span_of(start_char: int, end_char: int) -> tuple[int, int] | None:
        inside = [i for i, t in enumerate(tokens) if t.start >= start_char and t.end <= end_char]
        return (inside[0], inside[-1] + 1) if inside else None

    for text, start_char, end_char in quotes:
        span = span_of(start_char, end_char)
        if span is None:
            continue
        key = normalise(text)
        hits = index.exact.get(key)
        score = 1.0
        if not hits and index.keys:
            best = process.extractOne(key, index.keys, scorer=fuzz.ratio, score_cutoff=80)
            if best:
                hits, score = index.exact[best[0]], best[1] / 100
        found.append(
            ValueMention(*span, text, list(hits or []), score if hits else 0.0, quoted=True)
        )
        used.update(range(*span))
    n_tokens = len(tokens)
    for n in range(min(6, n_tokens), 0, -1):
        for i in range(0, n_tokens - n + 1):
            if any(k in used for k in range(i, i + n)):
                continue
            words = [t.lower for t in tokens[i : i + n]]
            if words[0] in STOP_WORDS and n > 1 or words[-1] in STOP_WORDS and n > 1:
                continue
            capitalised = all(
                t.text[:1].isupper() or t.lower in STOP_WORDS for t in tokens[i : i + n]
            ) and (i > 0 or n > 1)
            key = " ".join(words)
            hits = index.exact.get(key)
            score = 1.0
            if not hits and n == 1 and tokens[i].lemma != key:
                hits = index.exact.get(tokens[i].lemma)  # "houses" finds "House"
            last = tokens[i + n - 1]
            if not hits and n > 1 and last.lemma != last.lower:
                # "sports cars" finds "Sports car"
                hits = index.exact.get(" ".join([*words[:-1], last.lemma]))
            if (
                not hits
                and capitalised
                and len(key) >= 4
                and index.keys
                and tokens[i].text[:1].isupper()
            ):
                best = process.extractOne(key, index.keys, scorer=fuzz.ratio, score_cutoff=88)
                if best:
                    hits, score = index.exact[best[0]], best[1] / 100 * 0.9
            if not hits:
                continue
            if not capitalised or all(
                t.lemma in schema_words or t.lower in STOP_WORDS for t in tokens[i : i + n]
            ):
                # words that name the schema are read as names, not values, unless quoted
                if all(t.lemma in schema_words or t.lower in STOP_WORDS for t in tokens[i : i + n]):
                    continue
            if n == 1 and not capitalised:
                # a lone lower-case word is a value only when it is no common or schema word
                if words[0] in STOP_WORDS or len(words[0]) < 3 or tokens[i].lemma in schema_words:
                    continue
                score *= 0.7
            found.append(ValueMention(i, i + n, key, list(hits), score, capitalised=capitalised))
            used.update(range(i, i + n))
    found.sort(key=lambda m: m.start)
    return found
