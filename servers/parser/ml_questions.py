"""What a TRAIN, PREDICT or MODEL_STATUS question names, read against the schema.

    "train a model to predict segment from customers using age and city"
        → table customers, target segment, features [age, city]
    "what would the churn model predict for age 31 in Lagos"
        → model churn, inputs {age: 31, city: "Lagos"}
    "how is the churn model doing" → model churn
    "which orders look unusual?" → table orders (ANOMALY)

Every name is linked to a real table or column (identifier words split on case and
underscores, plurals folded, near misses within a small edit distance). A target, table
or feature that the schema does not have is Unresolved, with the closest names as
suggestions, never a guess. Place-like values ("in Lagos") go to the column whose
sampled values hold them, else to the one column whose name says it holds places.
Nothing here names a table, column or value of any particular database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from .domain import (
    ColumnKind,
    QueryKind,
    Samples,
    SchemaView,
    TableInfo,
    Understanding,
    Unresolved,
    Value,
)
from .intent_rules import ANOMALY_AFTER_LOOK, ANOMALY_WORDS
from .language.linking import build_index, link
from .language.words import tokenize

_STOP = frozenset({
    "a", "an", "the", "this", "that", "which", "what", "my", "our", "your", "new", "ml", "machine", "learning",
    "to", "for", "of", "on", "in", "from", "with", "using", "and", "or", "is", "be", "it", "me", "some", "any",
    "whose", "each", "every", "all", "its", "their", "model", "models",
})
_BOUNDARY = r"(?=\s+(?:from|of|in|on|for|using|with|based|by|given|to|over|into)\b|\s*[?.!,;]|\s*$)"
_TARGET = re.compile(
    r"\b(?:predict(?:s|ing)?|forecasts?|estimates?|classify|guess|learns?|learning)\s+"
    r"(?:the\s+|whether\s+|if\s+|a\s+|an\s+)?(?P<target>[\w' -]+?)" + _BOUNDARY, re.I)
_TARGET_ALT = re.compile(r"\b(?:target(?:\s+column)?|label)\s+(?:is\s+|=\s*)?(?P<target>[\w' -]+?)" + _BOUNDARY, re.I)
_TARGET_FOR = re.compile(r"\b(?:classifier|regressor|model|regression)\s+for\s+(?P<target>[\w' -]+?)" + _BOUNDARY, re.I)
_TABLE = re.compile(r"\b(?:from|on|over|in|of)\s+(?:the\s+)?(?P<table>[\w -]+?)(?:\s+(?:table|data|rows|records))?"
                    r"(?=\s+(?:to|using|with|based|for|by|and)\b|\s*[?.!,;]|\s*$)", re.I)
_FEATURES = re.compile(r"\b(?:using|based\s+on|with\s+features?|with\s+columns?|features?|from\s+columns?|given)\s+"
                       r"(?P<features>[\w ,&'-]+?)(?=\s*[?.!;]|\s+(?:from|on|to|in)\b|\s*$)", re.I)
_NAMED = re.compile(r"\b(?:called|named)\s+['\"]?(?P<name>[\w-]+)", re.I)
_X_MODEL = re.compile(r"\b(?P<name>[\w-]+)\s+(?:model|classifier|regressor)\b", re.I)
_MODEL_X = re.compile(r"\bmodel\s+['\"]?(?P<name>[\w-]+)", re.I)
_SPLIT = re.compile(r"\s*(?:,|&|\band\b)\s*", re.I)
_VALUE = re.compile(
    r"\s*(?:=|:|\bis\b|\bof\b|\bat\b|\bequals?\b|\bequal\s+to\b)?\s*"
    r"(?P<v>\"[^\"]*\"|'[^']*'|-?\d+(?:\.\d+)?(?![\w.])|[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*|[\w'-]+)")
_PLACE_VALUE = re.compile(r"\b(?:in|from|at|near)\s+(?P<v>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)")
_AGED = re.compile(r"\baged\s+(?P<v>\d+)\b", re.I)
# Words in a column name that say it holds places.
PLACE_WORDS = frozenset({"city", "town", "country", "region", "state", "location", "place", "area", "province",
                         "county", "district", "village", "address", "hometown", "depot", "branch", "office"})
_SUGGESTIONS = 3


def understand_ml(
    question: str,
    kind: QueryKind,
    schema: SchemaView,
    *,
    models: Sequence[str] = (),
    model_features: Sequence[str] = (),
    samples: Samples | None = None,
) -> Understanding:
    """What `question` names for `kind` (TRAIN, PREDICT, MODEL_STATUS or ANOMALY). `models` are
    the registered model names (matched first); `model_features` the inputs the named
    model takes (they bound PREDICT's inputs); `samples` text values per column."""
    model = _model_name(question, models)
    if kind is QueryKind.TRAIN:
        return _train(question, schema, model)
    if kind is QueryKind.PREDICT:
        return _predict(question, schema, model, model_features, samples)
    if kind is QueryKind.MODEL_STATUS:
        return Understanding(QueryKind.MODEL_STATUS, model_name=model, confidence=0.9 if model else 0.6)
    if kind is QueryKind.ANOMALY:
        return _anomaly(question, schema)
    raise ValueError(f"{kind} is not a question about models")


# ----------------------------------------------------------------------------- names


def words_of(name: str) -> tuple[str, ...]:
    """Identifier or phrase → singular lower-case words ("signupDate" → signup, date)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return tuple(_singular(w) for w in re.findall(r"[a-z0-9]+", spaced.lower()))


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _closest(phrase: str, names: Iterable[str]) -> list[str]:
    """The names most like `phrase`; when none is close, the first few names, so the
    user still learns what there is to ask for."""
    choices = list(names)
    found = process.extract(phrase, choices, scorer=fuzz.WRatio, limit=_SUGGESTIONS, score_cutoff=70)
    return [name for name, _score, _i in found] or choices[:5]


def _link(phrase: str, names: Iterable[str]) -> str | None:
    """The name among `names` that `phrase` means: same words, else a near miss."""
    key = " ".join(words_of(phrase))
    if not key:
        return None
    by_key = {" ".join(words_of(n)): n for n in names}
    if key in by_key:
        return by_key[key]
    match = process.extractOne(key, list(by_key), scorer=fuzz.ratio, score_cutoff=86)
    return by_key[match[0]] if match else None


def _strip(phrase: str) -> str:
    words = [w for w in phrase.split() if w.lower() not in ("the", "a", "an", "column", "field")]
    return " ".join(words)


def _model_name(question: str, models: Sequence[str]) -> str:
    lowered = " ".join(words_of(question.replace("-", " ")))
    for name in sorted(models, key=len, reverse=True):
        if re.search(rf"\b{re.escape(' '.join(words_of(name.replace('-', ' '))))}\b", lowered):
            return name
    for pattern in (_NAMED, _X_MODEL, _MODEL_X):
        for match in pattern.finditer(question):
            name = match.group("name").lower()
            if name not in _STOP and not name.isdigit():
                return name
    return ""


# ----------------------------------------------------------------------------- train


def _train(question: str, schema: SchemaView, model: str) -> Understanding:
    notes: list[str] = []
    target_phrase = _first(question, _TARGET, "target") or _first(question, _TARGET_ALT, "target") \
        or _first(question, _TARGET_FOR, "target")
    table = _train_table(question, schema, target_phrase)
    target = ""
    if target_phrase:
        target, table = _train_target(target_phrase, schema, table, notes)
    features: list[str] = []
    features_phrase = _first(question, _FEATURES, "features")
    if features_phrase and table is not None:
        for part in _SPLIT.split(features_phrase):
            part = _strip(part)
            if not part:
                continue
            column = _link(part, [c.name for c in table.columns])
            if column is None:
                raise Unresolved(f"feature {part!r} is not a column of {table.name}",
                                 [f"{table.name}.{c}" for c in _closest(part, [c.name for c in table.columns])])
            if column != target and column not in features:
                features.append(column)
    if not model and target and table is not None:
        model = f"{table.name}-{target}".lower().replace("_", "-")
        notes.append(f"no model name given: it will be called {model}")
    return Understanding(QueryKind.TRAIN, confidence=0.9 if target else 0.6, notes=notes, model_name=model,
                         target=target, table=table.name if table else "", features=features)


def _first(question: str, pattern: re.Pattern[str], group: str) -> str:
    match = pattern.search(question)
    return _strip(match.group(group).strip()) if match else ""


def _train_table(question: str, schema: SchemaView, target_phrase: str) -> TableInfo | None:
    """The table named after from / on / over / in / of; Unresolved when a phrase there
    looks like a table but is none."""
    names = [t.name for t in schema.tables]
    unknown = ""
    for match in _TABLE.finditer(question):
        phrase = _strip(match.group("table"))
        if not phrase or phrase.lower() == target_phrase.lower():
            continue
        name = _link(phrase, names)
        if name is not None:
            return schema.table(name)
        unknown = unknown or phrase
    if unknown and _looks_like_table(question, unknown):
        raise Unresolved(f"table {unknown!r} does not exist", _closest(unknown, names))
    return None


def _looks_like_table(question: str, phrase: str) -> bool:
    """"from customerz" names a table; "in the last year" does not: only a phrase
    straight after from / on / over counts as a table name the user meant."""
    return re.search(rf"\b(?:from|on|over)\s+(?:the\s+)?{re.escape(phrase)}\b", question, re.I) is not None


def _train_target(phrase: str, schema: SchemaView, table: TableInfo | None, notes: list[str]) -> tuple[str, TableInfo | None]:
    if table is not None:
        column = _link(phrase, [c.name for c in table.columns])
        if column is None:
            raise Unresolved(f"target {phrase!r} is not a column of {table.name}",
                             [f"{table.name}.{c}" for c in _closest(phrase, [c.name for c in table.columns])])
        return column, table
    holders = [(t, c) for t in schema.tables if (c := _column(t, phrase))]
    if not holders:
        every = [f"{t.name}.{c.name}" for t in schema.tables for c in t.columns]
        raise Unresolved(f"target {phrase!r} is not a column of any table", _closest(phrase, every))
    if len(holders) > 1:
        notes.append(f"{phrase!r} is a column of {', '.join(t.name for t, _ in holders)}; trained on {holders[0][0].name}")
    return holders[0][1], holders[0][0]


def _column(table: TableInfo, phrase: str) -> str | None:
    return _link(phrase, [c.name for c in table.columns])


# ----------------------------------------------------------------------------- anomaly


def _anomaly(question: str, schema: SchemaView) -> Understanding:
    """The table whose unusual rows are asked for, linked as the database path links
    names (words of table names, one word of a longer name, near-miss spellings); a
    column named links its table. The cue words themselves never link. With nothing
    named, the one table of a one-table schema; else Unresolved listing the tables."""
    tokens = tokenize(question)
    blocked = {i for i, t in enumerate(tokens) if t.lower in ANOMALY_WORDS or t.lower in ANOMALY_AFTER_LOOK}
    mentions = link(tokens, build_index(schema), blocked)
    tables = [c.table for m in mentions for c in m.tables] or [c.table for m in mentions for c in m.columns]
    names = [t.name for t in schema.tables]
    if tables:
        table, notes = tables[0], []
        others = sorted(set(tables) - {table})
        if others:
            notes.append(f"unusual rows of {table} (the first table named; also named: {', '.join(others)})")
    elif len(names) == 1:
        table, notes = names[0], [f"no table named: {names[0]} is the only one"]
    else:
        raise Unresolved("which table's unusual rows? No table is named", names[:10])
    return Understanding(QueryKind.ANOMALY, confidence=0.85, notes=notes, table=table)


# ----------------------------------------------------------------------------- predict


@dataclass(frozen=True)
class _Candidate:
    name: str
    kind: ColumnKind


def _candidates(schema: SchemaView, model_features: Sequence[str]) -> list[_Candidate]:
    kinds: dict[str, ColumnKind] = {}
    for table in schema.tables:
        for column in table.columns:
            kinds.setdefault(column.name, column.kind)
    if model_features:
        return [_Candidate(f, kinds.get(f, ColumnKind.OTHER)) for f in model_features]
    return [_Candidate(name, kind) for name, kind in kinds.items()]


def _predict(question: str, schema: SchemaView, model: str, model_features: Sequence[str],
             samples: Samples | None) -> Understanding:
    notes: list[str] = []
    candidates = _candidates(schema, model_features)
    inputs: dict[str, Value] = {}
    taken: list[tuple[int, int]] = []  # spans of the question already read
    model_span = _model_span(question, model)
    if model_span:
        taken.append(model_span)
    # Longest names first, so "signup date" is read before "date".
    for candidate in sorted(candidates, key=lambda c: -len(" ".join(words_of(c.name)))):
        found = _mention(question, candidate.name, taken)
        if found is None:
            continue
        start, end = found
        value_match = _VALUE.match(question, end)
        if value_match is None:
            continue
        raw = value_match.group("v")
        if raw.lower() in _STOP or _is_column_word(raw, candidates):
            continue
        value = _typed(raw, candidate.kind)
        if value is None:
            continue
        inputs[candidate.name] = value
        taken += [(start, end), value_match.span("v")]
    aged = _AGED.search(question)
    if aged and not _overlaps(aged.span(), taken):
        age = next((c for c in candidates if "age" in words_of(c.name) and c.name not in inputs), None)
        if age is not None:
            inputs[age.name] = int(aged.group("v"))
            taken.append(aged.span())
    for match in _PLACE_VALUE.finditer(question):
        if _overlaps(match.span("v"), taken):
            continue
        value = match.group("v")
        column = _place_column(value, candidates, inputs, samples)
        if column is None:
            notes.append(f"{value!r} was not matched to an input")
            continue
        inputs[column] = value
        taken.append(match.span("v"))
    target_phrase = _first(question, _TARGET, "target")
    target = ""
    if target_phrase:
        target = next((t for t in (_column(table, target_phrase) for table in schema.tables) if t), "")
    confidence = 0.9 if model and inputs else 0.6
    return Understanding(QueryKind.PREDICT, confidence=confidence, notes=notes, model_name=model, target=target,
                         predict_inputs=inputs)


def _model_span(question: str, model: str) -> tuple[int, int] | None:
    if not model:
        return None
    pattern = r"[\s-]+".join(re.escape(w) for w in re.split(r"[\s_-]+", model))
    match = re.search(rf"\b{pattern}\b", question, re.I)
    return match.span() if match else None


def _mention(question: str, name: str, taken: list[tuple[int, int]]) -> tuple[int, int] | None:
    """Where the question names column `name` (its words, singular or plural)."""
    words = words_of(name)
    if not words:
        return None
    pattern = r"[\s_-]+".join(re.escape(w) + (r"(?:e?s)?" if i == len(words) - 1 else r"s?")
                              for i, w in enumerate(words))
    for match in re.finditer(rf"\b{pattern}\b", question, re.I):
        if not _overlaps(match.span(), taken):
            return match.span()
    return None


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in taken)


def _is_column_word(raw: str, candidates: list[_Candidate]) -> bool:
    key = words_of(raw)
    return any(words_of(c.name)[:1] == key[:1] for c in candidates) if key else False


def _typed(raw: str, kind: ColumnKind) -> Value | None:
    text = raw.strip("\"'")
    number = re.fullmatch(r"-?\d+(?:\.\d+)?", text)
    if kind.numeric or (kind is ColumnKind.OTHER and number):
        if not number:
            return None
        return float(text) if "." in text or kind is ColumnKind.NUMBER and "." in text else int(text)
    if kind is ColumnKind.BOOLEAN:
        lowered = text.lower()
        return True if lowered in ("true", "yes", "1") else False if lowered in ("false", "no", "0") else None
    return text


def _place_column(value: str, candidates: list[_Candidate], inputs: dict[str, Value],
                  samples: Samples | None) -> str | None:
    free = [c for c in candidates if c.name not in inputs and c.kind in (ColumnKind.TEXT, ColumnKind.OTHER)]
    if samples:
        lowered = value.lower()
        for ref, values in samples.items():
            if ref.column in {c.name for c in free} and any(str(v).lower() == lowered for v in values):
                return ref.column
    places = [c.name for c in free if set(words_of(c.name)) & PLACE_WORDS]
    return places[0] if len(places) == 1 else None
