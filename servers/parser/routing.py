"""Whether a question that the intent step calls TRAIN / PREDICT / MODEL_STATUS /
SYSTEM_STATUS really is one, given the schema it is asked on.

The intent step (model or rules) sees only words, and the words that mark a question
about models or about ChatDB are ordinary words in many schemas: "performance",
"version" and "production" are tables and columns as often as they are model metrics;
"teach", "score" and "jobs" are data. A question leaves the database path only when it
holds an *anchor* of its kind — a word that names the ML platform or ChatDB itself —
that is not also a word of the schema's table and column names. Otherwise the database
path answers, and the note says why.

Anomaly questions ("which orders look unusual?") follow the same rule on their cue
words, compared by family ("anomalous" is the word of a column `anomaly_score`,
"outliers" of `is_outlier`); since an intent model trained before them reads them as
listings, a cue the schema does not use makes the question ANOMALY (with_anomaly).
"""

from __future__ import annotations

from dataclasses import dataclass

from servers.contracts.glossary import Glossary

from .domain import QueryKind, SchemaView
from .intent_rules import anomaly_cues, anomaly_family, failure_alone
from .language.words import lemma, split_identifier, tokenize

_MODEL = frozenset({"model", "classifier", "regressor"})
ANCHORS: dict[QueryKind, frozenset[str]] = {
    QueryKind.TRAIN: _MODEL | {"train", "retrain", "training", "learn"},
    QueryKind.PREDICT: _MODEL | {"predict", "prediction", "forecast"},
    QueryKind.MODEL_STATUS: _MODEL,
    QueryKind.SYSTEM_STATUS: frozenset({
        "system", "healthy", "health", "chatdb", "service", "job", "queue", "worker", "degrade", "degraded",
        "outage", "platform", "uptime",
    }),
}


# Lemmas of the failure words: anchors of SYSTEM_STATUS only when the question names
# nothing that failed ("what failed today?"); "which orders failed" stays a database
# question whatever the intent step says.
FAILURE_ANCHORS = frozenset({"fail", "failing", "failure", "break", "crash", "error", "errored", "wrong"})  # lemmas


def reclassified(question: str, kind: QueryKind) -> QueryKind:
    """SYSTEM_STATUS for a failure asked about alone, whatever the intent step said (an
    intent model trained before such questions were in its corpus reads them as data)."""
    if kind not in ANCHORS and failure_alone(question):
        return QueryKind.SYSTEM_STATUS
    return kind


def with_anomaly(question: str, kind: QueryKind, vocabulary: frozenset[str]) -> QueryKind:
    """ANOMALY for a question with an anomaly cue ("which orders look unusual?") that the
    schema's names do not use, whatever the intent step said (an intent model trained
    before anomaly questions were in its corpus reads them as listings), unless it asks
    about models or the system. `vocabulary` is schema_words() of the schema asked."""
    if kind in (QueryKind.SYSTEM_STATUS, QueryKind.MODEL_STATUS, QueryKind.ANOMALY):
        return kind
    if anomaly_cues(question) - _anomaly_families(vocabulary):
        return QueryKind.ANOMALY
    return kind


def _anomaly_families(vocabulary: frozenset[str]) -> frozenset[str]:
    return frozenset(f for f in map(anomaly_family, vocabulary) if f) | (vocabulary & {"odd", "off", "ordinary"})


def schema_words(schema: SchemaView, glossary: Glossary | None = None) -> frozenset[str]:
    """Lemmas of every word of the schema's table and column names, and of the
    glossary's terms ("worker" as a synonym of employees is data, not the ML worker)."""
    names: list[str] = []
    for table in schema.tables:
        names += [table.name, *(c.name for c in table.columns)]
    if glossary is not None:
        names += [m.name for m in glossary.metrics] + [t for m in glossary.metrics for t in m.synonyms]
        names += [s.name for s in glossary.segments] + [t for s in glossary.segments for t in s.synonyms]
        names += [s.term for s in glossary.synonyms]
    return frozenset(lemma(word) for name in names for word in split_identifier(name))


@dataclass(frozen=True)
class Route:
    elsewhere: bool
    note: str = ""


def route(question: str, kind: QueryKind, vocabulary: frozenset[str]) -> Route:
    """Route `question` (classified `kind`) away from the database only on an anchor the
    schema does not use; `vocabulary` is schema_words() of the schema asked."""
    if kind is QueryKind.ANOMALY:
        found = set(anomaly_cues(question))
        if found - _anomaly_families(vocabulary):
            return Route(True)
        return _database(kind, found)
    anchors = ANCHORS.get(kind)
    if anchors is None:
        return Route(False)
    words = {t.lemma for t in tokenize(question)} | {t.lower for t in tokenize(question)}
    found = words & anchors
    if kind is QueryKind.SYSTEM_STATUS and failure_alone(question):
        found |= {t.lemma for t in tokenize(question)} & FAILURE_ANCHORS
    if found - vocabulary:
        return Route(True)
    return _database(kind, found)


def _database(kind: QueryKind, found: set[str]) -> Route:
    reason = (
        f"'{sorted(found)[0]}' is a word of this schema" if found else f"no word naming {kind.value.replace('_', ' ')} work"
    )
    return Route(False, f"read as a database question, not {kind.value.replace('_', ' ')}: {reason}")
