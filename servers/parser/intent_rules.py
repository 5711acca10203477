"""The intent from cue words alone: the parser's answer when the intent model cannot be
asked (prediction service down, model missing, answer unusable), and good enough to
route on by itself.

A decision list, most specific first, because the cues overlap: "train a model to
predict churn" names predict but asks to train; "which training jobs failed" names
training but asks about the system; "how many students per major" counts but groups.

    1 train        an imperative to train (train, retrain, fit, teach, "start a training")
    2 system       health, services, jobs / queue / workers in a status question; a
                   failure with nothing named that failed ("what failed today?")
    2a anomaly     unusual, anomalous, outliers, suspicious …; "look odd", "stand out"
    3 model status metrics, versions, production; "the … model" with how / status words
    4 predict      predict, forecast, estimate, score, "what would the … model"
    5 describe     tables, columns, schema, fields
    6 top n        top / bottom / superlatives (unless "… value", which aggregates)
    7 count        how many, number of, count (grouped → aggregate)
    8 aggregate    average, sum, total, max, min; per / each / grouped
    9 distinct     distinct, unique, different, kinds, possible
   10 select       anything else

Typos: a word of six letters or more that is not a cue but within one edit
(transpositions count one) of a cue is read as that cue ("averge", "predcit").
No cue names a table, column or value of any database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

from .domain import QueryKind

_WORD = re.compile(r"[a-z0-9]+")

TRAIN_VERBS = frozenset({"train", "retrain", "teach", "fit"})
TRAIN_STARTS = frozenset({"start", "kick", "run", "launch", "begin", "submit", "new"})
MODEL_NOUNS = frozenset({"model", "models", "classifier", "regression", "regressor"})
BUILD_VERBS = frozenset({"build", "create", "make", "want", "setup", "set", "need"})

SYSTEM_WORDS = frozenset({
    "system", "healthy", "health", "degraded", "degradation", "uptime", "chatdb", "platform", "alive",
    "reachable", "unreachable", "outage", "services",
})
SERVICE_NAMES = frozenset({"service", "registry", "connector", "parser", "gateway", "worker", "workers", "server"})
JOB_WORDS = frozenset({"job", "jobs", "queue", "queued", "workers", "worker"})
STATE_WORDS = frozenset({
    "running", "failed", "queued", "waiting", "finish", "finished", "busy", "alive", "stuck", "pending",
    "status", "up", "down", "available", "working", "ok", "slow", "done", "complete", "completed",
})

# "what failed today?", "what broke?": a failure with nothing named that failed asks
# about ChatDB's own jobs and services — the question holds only these and FAILURE_FRAME.
FAILURE_WORDS = frozenset({
    "fail", "failed", "fails", "failing", "failure", "failures", "broke", "broken", "break", "crashed", "crash",
    "crashes", "errored", "errors", "wrong",
})
FAILURE_FRAME = frozenset({
    "what", "which", "anything", "something", "has", "have", "had", "did", "does", "do", "is", "are", "was", "were",
    "went", "go", "gone", "got", "get", "today", "yesterday", "tonight", "this", "last", "morning", "afternoon",
    "evening", "night", "week", "hour", "hours", "day", "days", "recently", "lately", "so", "far", "in", "the",
    "past", "since", "any", "there", "ever", "just", "else", "a", "of", "s", "things", "stuff",
})


def failure_alone(question: str) -> bool:
    """A failure asked about with nothing named that failed ("what failed today?")."""
    s = set(_WORD.findall(question.lower()))
    return bool(s & FAILURE_WORDS) and s <= FAILURE_WORDS | FAILURE_FRAME


# "which orders look unusual?": each cue word → its family (the word the schema's own
# names are compared on in routing.py: a column `is_outlier` or `anomaly_score` makes
# "outliers" and "anomalous" words of the schema).
ANOMALY_WORDS: dict[str, str] = {
    "anomaly": "anomaly", "anomalies": "anomaly", "anomalous": "anomaly", "anomalously": "anomaly",
    "outlier": "outlier", "outliers": "outlier", "outlying": "outlier",
    "unusual": "unusual", "unusually": "unusual",
    "suspicious": "suspicious", "suspiciously": "suspicious",
    "abnormal": "abnormal", "abnormally": "abnormal", "atypical": "atypical",
    "weird": "weird", "strange": "strange", "fishy": "fishy",
    "irregular": "irregular", "irregularity": "irregular", "irregularities": "irregular",
}
# Words that are cues only after a verb of appearance: "orders that look odd", "seem off".
ANOMALY_AFTER_LOOK = frozenset({"odd", "off", "weird", "strange", "unusual", "suspicious"})
LOOK_VERBS = frozenset({"look", "looks", "looking", "seem", "seems", "seeming", "appear", "appears", "feel", "feels"})


def anomaly_cues(question: str) -> frozenset[str]:
    """The anomaly families the question's words name: "which orders look unusual?" →
    {unusual}, "orders that look odd" → {odd}, "what stands out" → {stand out}."""
    w = _WORD.findall(question.lower())
    found = {ANOMALY_WORDS[t] for t in w if t in ANOMALY_WORDS}
    found |= {t for a, t in zip(w, w[1:], strict=False) if a in LOOK_VERBS and t in ANOMALY_AFTER_LOOK}
    if any(a in ("stand", "stands", "standing") and b == "out" for a, b in zip(w, w[1:], strict=False)):
        found.add("stand out")
    if _has_phrase(w, "out", "of", "the", "ordinary"):
        found.add("ordinary")
    return frozenset(found)


def anomaly_family(word: str) -> str | None:
    """The family of one word of a schema name ("outliers" → outlier), or None."""
    return ANOMALY_WORDS.get(word)


METRIC_WORDS = frozenset({
    "accuracy", "accurate", "precision", "recall", "f1", "metrics", "metric", "evaluation", "evaluate", "auc",
    "perform", "performs", "performing", "performance", "deployed", "registered", "version", "versions",
    "production", "algorithm",
})
MODEL_STATUS_WORDS = frozenset({
    "how", "doing", "good", "well", "status", "list", "which", "when", "trained", "compare", "better", "worse",
    "use", "uses", "features", "latest", "what", "show",
})

PREDICT_WORDS = frozenset({
    "predict", "predicts", "predicted", "predicting", "prediction", "predictions", "forecast", "infer", "classify",
    "estimate", "score",
})
PREDICT_WITH_MODEL = frozenset({"would", "will", "use", "run", "ask", "apply", "say", "says", "output"})

DESCRIBE_WORDS = frozenset({
    "table", "tables", "schema", "schemas", "column", "columns", "field", "fields", "structure", "describe",
    "database", "foreign",
})

SUPERLATIVES = frozenset({
    "top", "bottom", "highest", "lowest", "most", "least", "fewest", "best", "worst", "biggest", "smallest",
    "largest", "latest", "newest", "earliest", "oldest", "youngest", "recent", "cheapest", "rank", "ranked",
    "longest", "shortest",
})
COUNT_WORDS = frozenset({"count", "counts"})
AGGREGATE_WORDS = frozenset({
    "average", "avg", "mean", "sum", "total", "totals", "maximum", "max", "minimum", "min", "overall",
})
GROUPING_WORDS = frozenset({"per", "each", "grouped", "every"})
DISTINCT_WORDS = frozenset({
    "distinct", "unique", "different", "kinds", "possible", "options", "repeats", "duplicates", "varieties",
    "appear",
})

_CUES = sorted(
    w for w in (TRAIN_VERBS | SYSTEM_WORDS | SERVICE_NAMES | JOB_WORDS | METRIC_WORDS | PREDICT_WORDS
                | DESCRIBE_WORDS | SUPERLATIVES | AGGREGATE_WORDS | DISTINCT_WORDS | MODEL_NOUNS
                | {"training", "number", "count", "many"})
    if len(w) >= 6  # shorter words sit one edit from too many others ("store" / "score")
)


@dataclass(frozen=True)
class RuleIntent:
    kind: QueryKind
    confidence: float
    cue: str  # the words that decided, for explanations and fallback notes


def words(question: str) -> list[str]:
    """Lower-case word tokens, each typo within one edit of a cue read as the cue. A
    "model" that starts a compound noun ("model year", "model number") is a column's
    word, not a machine-learning model, and is dropped from the cues."""
    tokens = [_corrected(w) for w in _WORD.findall(question.lower())]
    for i in range(1, len(tokens)):
        if tokens[i - 1] == "how" and tokens[i] != "many" and OSA.distance(tokens[i], "many") == 1:
            tokens[i] = "many"  # "how mny", "how mnay"
    return [t for i, t in enumerate(tokens)
            if not (t in ("model", "models") and i + 1 < len(tokens) and tokens[i + 1] in _COMPOUND_TAILS)]


# Nouns that make "model" part of a column name rather than an ML model.
_COMPOUND_TAILS = frozenset({"year", "years", "number", "numbers", "name", "names", "code", "codes", "type", "types", "id"})


# Short cues worth a typo check of their own: one edit away, and the same first letter
# (so "town" never becomes "down").
_SHORT_CUES = ("train", "count", "jobs", "model", "models", "tables", "table", "trained")


@lru_cache(maxsize=4096)
def _corrected(word: str) -> str:
    if word in _CUE_SET or word.isdigit() or len(word) < 4:
        return word
    if len(word) < 6:
        for cue in _SHORT_CUES:
            if cue[0] == word[0] and word != cue and OSA.distance(word, cue) == 1:
                return cue
        return word
    match = process.extractOne(word, _CUES, scorer=OSA.distance, score_cutoff=1)
    return match[0] if match else word


_CUE_SET = frozenset(_CUES)


def rule_intent(question: str) -> RuleIntent:
    """The intent of `question` by cue words (see the module docstring)."""
    w = words(question)
    s = set(w)
    for decide in (_train, _system, _anomaly, _model_status, _predict, _describe, _top_n, _count, _aggregate, _distinct):
        found = decide(w, s)
        if found is not None:
            return found
    return RuleIntent(QueryKind.SELECT, 0.5, "no cue: a plain listing")


def _has_phrase(w: list[str], *phrase: str) -> bool:
    n = len(phrase)
    return any(tuple(w[i:i + n]) == phrase for i in range(len(w) - n + 1))


def _train(w: list[str], s: set[str]) -> RuleIntent | None:
    verbs = s & TRAIN_VERBS
    if verbs and not ({"when", "was"} <= s):
        return RuleIntent(QueryKind.TRAIN, 0.9, sorted(verbs)[0])
    if "training" in s and s & TRAIN_STARTS and not s & {"failed", "running", "queued", "waiting", "finish", "finished"}:
        return RuleIntent(QueryKind.TRAIN, 0.85, "start … training")
    if "learn" in s or _has_phrase(w, "machine", "learning"):
        return RuleIntent(QueryKind.TRAIN, 0.75, "learn")
    if s & BUILD_VERBS and s & MODEL_NOUNS and not s & PREDICT_WITH_MODEL - {"want"} and "which" not in s:
        return RuleIntent(QueryKind.TRAIN, 0.7, "build … model")
    return None


def _system(w: list[str], s: set[str]) -> RuleIntent | None:
    if s & FAILURE_WORDS and s <= FAILURE_WORDS | FAILURE_FRAME:
        return RuleIntent(QueryKind.SYSTEM_STATUS, 0.8, "what failed")
    if s & SYSTEM_WORDS:
        return RuleIntent(QueryKind.SYSTEM_STATUS, 0.9, sorted(s & SYSTEM_WORDS)[0])
    if s & JOB_WORDS and (s & STATE_WORDS or s & {"which", "any", "list", "show", "did", "how"}):
        return RuleIntent(QueryKind.SYSTEM_STATUS, 0.85, "jobs / queue")
    if s & SERVICE_NAMES and s & STATE_WORDS:
        return RuleIntent(QueryKind.SYSTEM_STATUS, 0.85, "service state")
    if w and w[0] in ("is", "are") and s & {"down", "up", "working", "slow"} and not s & MODEL_NOUNS:
        return RuleIntent(QueryKind.SYSTEM_STATUS, 0.75, "is … up / down")
    if "connection" in s and s & {"ok", "working", "healthy", "up", "down"}:
        return RuleIntent(QueryKind.SYSTEM_STATUS, 0.75, "connection state")
    return None


def _anomaly(w: list[str], s: set[str]) -> RuleIntent | None:
    found = anomaly_cues(" ".join(w))
    if found:
        return RuleIntent(QueryKind.ANOMALY, 0.85, sorted(found)[0])
    return None


def _model_status(w: list[str], s: set[str]) -> RuleIntent | None:
    if _has_phrase(w, "how", "good") or _has_phrase(w, "how", "well") or _has_phrase(w, "how", "accurate"):
        if s & MODEL_NOUNS or s & PREDICT_WORDS or "perform" in s:
            return RuleIntent(QueryKind.MODEL_STATUS, 0.85, "how good / how well")
    metrics = s & METRIC_WORDS
    if metrics and not (s & PREDICT_WORDS and not s & {"accuracy", "accurate", "precision", "recall", "f1", "metrics"}):
        return RuleIntent(QueryKind.MODEL_STATUS, 0.85, sorted(metrics)[0])
    if s & MODEL_NOUNS:
        if _has_phrase(w, "which", "model") or _has_phrase(w, "which", "models"):
            return RuleIntent(QueryKind.MODEL_STATUS, 0.75, "which model")
        if s & MODEL_STATUS_WORDS and not s & PREDICT_WORDS and not s & (PREDICT_WITH_MODEL - {"use", "uses"}) \
                and not _model_used_on_input(w):
            return RuleIntent(QueryKind.MODEL_STATUS, 0.8, "model + status word")
    return None


def _model_used_on_input(w: list[str]) -> bool:
    """"use the … model on age 31": a model applied to values is a prediction."""
    return "use" in w and any(t.isdigit() for t in w)


def _predict(w: list[str], s: set[str]) -> RuleIntent | None:
    found = s & PREDICT_WORDS
    if found:
        return RuleIntent(QueryKind.PREDICT, 0.9, sorted(found)[0])
    if s & MODEL_NOUNS and s & PREDICT_WITH_MODEL:
        return RuleIntent(QueryKind.PREDICT, 0.8, "model applied to inputs")
    if "would" in s and "be" in s and any(t.isdigit() for t in w):
        return RuleIntent(QueryKind.PREDICT, 0.6, "would … be")
    return None


def _describe(w: list[str], s: set[str]) -> RuleIntent | None:
    found = s & DESCRIBE_WORDS
    if found:
        return RuleIntent(QueryKind.DESCRIBE, 0.85, sorted(found)[0])
    if _has_phrase(w, "what", "data") or _has_phrase(w, "can", "i", "ask") or ("information" in s and "store" in s) \
            or _has_phrase(w, "related", "to"):
        return RuleIntent(QueryKind.DESCRIBE, 0.7, "what data")
    return None


def _grouped(w: list[str], s: set[str]) -> bool:
    return bool(s & GROUPING_WORDS) or _has_phrase(w, "break", "down")


def _top_n(w: list[str], s: set[str]) -> RuleIntent | None:
    found = s & SUPERLATIVES
    if "least" in found and _has_phrase(w, "at", "least") and not _has_phrase(w, "the", "least"):
        found = found - {"least"}  # "at least 25" compares, picks no top
    first_n = any(a == "first" and (b.isdigit() or b in _NUMBER_WORDS) for a, b in zip(w, w[1:], strict=False))
    if not found and not first_n:
        return None
    if "value" in s or "values" in s:  # "the largest price value": computes, picks no row
        return None
    if s & AGGREGATE_WORDS and _grouped(w, s) and "top" not in s:
        return None
    return RuleIntent(QueryKind.TOP_N, 0.85, sorted(found)[0] if found else "first N")


_NUMBER_WORDS = frozenset({"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"})


def _count(w: list[str], s: set[str]) -> RuleIntent | None:
    counted = _has_phrase(w, "how", "many") or _has_phrase(w, "number", "of") or bool(s & COUNT_WORDS)
    if not counted:
        return None
    if _grouped(w, s) or ("by" in s and not s & {"where", "with"}) or "in each" in " ".join(w):
        return RuleIntent(QueryKind.AGGREGATE, 0.8, "count … per")
    return RuleIntent(QueryKind.COUNT, 0.9, "how many / number of / count")


def _aggregate(w: list[str], s: set[str]) -> RuleIntent | None:
    found = s & AGGREGATE_WORDS
    if found:
        return RuleIntent(QueryKind.AGGREGATE, 0.85, sorted(found)[0])
    if s & {"smallest", "largest"} or _has_phrase(w, "how", "much"):
        return RuleIntent(QueryKind.AGGREGATE, 0.7, "how much")
    if _has_phrase(w, "more", "than") or _has_phrase(w, "have", "over"):
        if w and w[0] in ("which", "what") and _grouped(w, s):
            return RuleIntent(QueryKind.AGGREGATE, 0.6, "groups with more than")
    if s & {"per", "grouped"}:
        return RuleIntent(QueryKind.AGGREGATE, 0.7, "per")
    return None


def _distinct(w: list[str], s: set[str]) -> RuleIntent | None:
    found = s & DISTINCT_WORDS
    if found:
        return RuleIntent(QueryKind.DISTINCT, 0.85, sorted(found)[0])
    return None
