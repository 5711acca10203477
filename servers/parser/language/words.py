"""Words: tokenising questions, splitting identifiers, lemmas.

Identifiers are split on underscores, case changes and digits, abbreviations are
expanded, and every word is reduced to its lemma so "customers" meets `customer` and
"countries" meets `country`. Lemmas come from lemminflect (data inside the wheel).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# Short forms seen in column names across schemas; expanding them recovers the words a
# person types. Generic English/database abbreviations only.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "fname": ("first", "name"),
    "lname": ("last", "name"),
    "dob": ("date", "of", "birth"),
    "no": ("number",),
    "num": ("number",),
    "nbr": ("number",),
    "qty": ("quantity",),
    "amt": ("amount",),
    "desc": ("description",),
    "descr": ("description",),
    "addr": ("address",),
    "dept": ("department",),
    "dest": ("destination",),
    "src": ("source",),
    "yr": ("year",),
    "yn": ("yes", "no"),
    "pct": ("percent",),
    "avg": ("average",),
    "max": ("maximum",),
    "min": ("minimum",),
    "cnt": ("count",),
    "tel": ("telephone",),
    "ph": ("phone",),
    "emp": ("employee",),
    "mgr": ("manager",),
    "cust": ("customer",),
    "prod": ("product",),
    "cat": ("category",),
    "info": ("information",),
    "dt": ("date",),
    "lang": ("language",),
    "govt": ("government",),
    "gov": ("government",),
    "pop": ("population",),
    "id": ("id",),
    "loc": ("location",),
    "acct": ("account",),
    "stat": ("statistic",),
    "pub": ("publication",),
    "yrs": ("years",),
    "exp": ("experience",),
    "hrs": ("hours",),
    "mins": ("minutes",),
    "secs": ("seconds",),
    "wt": ("weight",),
    "ht": ("height",),
    "sal": ("salary",),
    "comm": ("commission",),
    "pts": ("points",),
    "bal": ("balance",),
    "dur": ("duration",),
    "freq": ("frequency",),
    "tot": ("total",),
    "mth": ("month",),
    "wk": ("week",),
    "ctry": ("country",),
    "pos": ("position",),
    "rev": ("revenue",),
    "supp": ("supplier",),
    "txn": ("transaction",),
    "edu": ("education",),
    "doj": ("date", "of", "joining"),
    "yob": ("year", "of", "birth"),
    "dod": ("date", "of", "death"),
    "mname": ("middle", "name"),
    "nm": ("name",),
    "perc": ("percent",),
    "univ": ("university",),
    "org": ("organisation",),
    "hq": ("headquarters",),
    "pax": ("passengers",),
}

STOP_WORDS = frozenset(
    """a an the of for to in on at by with from and or is are was were be been being do does did
    what which who whom whose where when how that this these those there their its it his her
    them they he she we you i me my our your all any each every some please show list give find
    tell return display get me us as than then also only just both either ever per into onto
    about over under up down out off have has had having can could would should will shall may
    might must not no nor so such own same other""".split()
)

_TOKEN = re.compile(
    r"\d{4}-\d{2}-\d{2}|\d+(?:[.,]\d+)*(?:st|nd|rd|th)?|[A-Za-z][A-Za-z'’\-]*[A-Za-z]|[A-Za-z]|[%$]"
)
_QUOTED = re.compile(r"[\"“‘'`]([^\"”’'`]{1,100})[\"”’'`]")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


@dataclass(frozen=True)
class Token:
    text: str  # as typed
    lower: str
    lemma: str
    start: int  # character offsets in the question
    end: int

    @property
    def is_number(self) -> bool:
        return self.lower[:1].isdigit()


@functools.lru_cache(maxsize=65536)
def lemma(word: str) -> str:
    """The word's base form: plural nouns singular, verbs infinitive, -est/-er adjectives
    positive; unknown words as they are."""
    from lemminflect import getAllLemmas, getAllLemmasOOV

    word = word.lower()
    if len(word) <= 2 or word[:1].isdigit():
        return word
    by_pos = getAllLemmas(word)
    for upos in ("NOUN", "VERB", "ADJ", "ADV", "PROPN", "AUX"):
        if upos in by_pos:
            return by_pos[upos][0]
    if word.endswith("s") and not word.endswith("ss"):
        oov = getAllLemmasOOV(word, "NOUN")
        if "NOUN" in oov:
            return oov["NOUN"][0]
    return word


@functools.lru_cache(maxsize=65536)
def is_english(word: str) -> bool:
    """A word lemminflect knows: a real word is no typo of a schema name."""
    from lemminflect import getAllLemmas

    return bool(getAllLemmas(word.lower()))


@functools.lru_cache(maxsize=65536)
def is_noun(word: str) -> bool:
    """A word that can be a noun (or is unknown): only those are matched by meaning, so
    verbs such as "work" or "live" never become a column."""
    from lemminflect import getAllLemmas

    lemmas_by_pos = getAllLemmas(word.lower())
    return not lemmas_by_pos or "NOUN" in lemmas_by_pos or "PROPN" in lemmas_by_pos


@functools.lru_cache(maxsize=65536)
def can_be_verb(word: str) -> bool:
    from lemminflect import getAllLemmas

    return "VERB" in getAllLemmas(word.lower())


def tokenize(question: str) -> list[Token]:
    tokens: list[Token] = []
    for match in _TOKEN.finditer(question):
        text = match.group(0).replace("’", "'")
        if text.endswith("'s"):
            text = text[:-2]
        elif text.endswith("'"):
            text = text[:-1]
        lower = text.lower()
        tokens.append(Token(text, lower, lemma(lower), match.start(), match.start() + len(text)))
    return tokens


def quoted(question: str) -> list[tuple[str, int, int]]:
    """Strings in quotes: (text, start, end) — literal values the person spelled out."""
    found = []
    for match in _QUOTED.finditer(question):
        inner = match.group(1).strip()
        # an apostrophe pair inside ordinary words ("customer's ... person's") is no quote
        before = question[match.start() - 1] if match.start() else " "
        if match.group(0)[0] == "'" and before.isalpha():
            continue
        if inner:
            found.append((inner, match.start(1), match.end(1)))
    return found


@functools.lru_cache(maxsize=16384)
def split_identifier(name: str) -> tuple[str, ...]:
    """`CustomerName`, `customer_name`, `line2` → lower-case words, abbreviations expanded."""
    words: list[str] = []
    for part in re.split(r"[_\W]+", name):
        for piece in _CAMEL.findall(part):
            piece = piece.lower()
            if piece in ABBREVIATIONS:
                words.extend(ABBREVIATIONS[piece])
            else:
                words.extend(_segment(piece))
    return tuple(words)


@functools.lru_cache(maxsize=16384)
def raw_pieces(name: str) -> frozenset[str]:
    """`weight_kg`, `priceUsd`, `list_price_k` → the lower-case pieces as written, short
    forms unexpanded: where units ("kg", "usd", "k") show."""
    return frozenset(
        piece.lower() for part in re.split(r"[_\W]+", name) for piece in _CAMEL.findall(part)
    )


_SHORT_PIECES = frozenset({"of", "is", "no", "id", "by", "to", "in", "on", "at"})


@functools.lru_cache(maxsize=16384)
def _segment(word: str) -> tuple[str, ...]:
    """A lower-cased run of words ("unitprice", "orderdate") split into known English
    words, fewest pieces first; a word that is English already stays whole."""
    if len(word) < 7 or is_english(word):
        return (word,)
    best: list[tuple[str, ...] | None] = [None] * (len(word) + 1)
    best[0] = ()
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 15), end - 1):
            piece = word[start:end]
            head = best[start]
            if head is None or not (piece in ABBREVIATIONS or is_english(piece)):
                continue
            if len(piece) == 2 and piece not in _SHORT_PIECES:
                continue
            candidate = head + ABBREVIATIONS.get(piece, (piece,))
            if best[end] is None or len(candidate) < len(best[end]):
                best[end] = candidate
    found = best[len(word)]
    return found if found and len(found) <= 3 else (word,)


def lemmas(words: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(lemma(word) for word in words)


def content(words: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(word for word in words if word not in STOP_WORDS)
