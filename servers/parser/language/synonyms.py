"""Words nothing else linked, matched to table and column names by meaning.

wordllama's static embeddings ship inside its wheel (servers/contracts/embeddings.py
loads them once per process, lazily), and the names of a schema are embedded once per prepared schema. A word links
only when its best name is similar enough (THRESHOLD) and clearly ahead of the best
name of any other table (MARGIN: a table and its own columns do not compete), and only
nouns are tried: chosen on the project's own test schemas (tests/parser/language_support.py
and generalise_support.py), where "wage" → salary (0.39), "town" → city, "staff" → emp,
"writer" → author, "medicine" → drug pass and "people", "records", "things", "ones",
"value", "money" stay out on all nine schemas; 0.45 lost "wage". Embeddings miss some
synonyms outright ("patron" ↔ member −0.06, "club" → league before team): those need a
glossary synonym.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from servers.contracts.embeddings import model
from servers.parser.language.linking import MEANING, Candidate
from servers.parser.language.words import split_identifier

if TYPE_CHECKING:
    import numpy as np

    from servers.parser.domain import SchemaView

THRESHOLD = 0.38
MARGIN = 0.08


@dataclass
class NameEmbeddings:
    candidates: list[Candidate]
    matrix: np.ndarray


def embeddings(schema: SchemaView) -> NameEmbeddings:
    """Every table and column name (or its comment) embedded once, for one schema."""
    candidates: list[Candidate] = []
    phrases: list[str] = []
    for table in schema.tables:
        candidates.append(Candidate(table.name, None, MEANING, "meaning"))
        phrases.append(" ".join(split_identifier(table.name)))
        for column in table.columns:
            words = split_identifier(column.name)
            if words in (("id",),):
                continue
            candidates.append(Candidate(table.name, column.name, MEANING, "meaning"))
            phrases.append(" ".join(words) if not column.comment else column.comment)
    matrix = model().embed(phrases, norm=True) if phrases else None
    return NameEmbeddings(candidates, matrix)


@functools.lru_cache(maxsize=8192)
def _vector(word: str):  # noqa: ANN202
    return model().embed([word], norm=True)[0]


def by_meaning(word: str, names: NameEmbeddings) -> tuple[Candidate, float] | None:
    if names.matrix is None or not len(names.candidates):
        return None
    scores = names.matrix @ _vector(word)
    order = scores.argsort()[::-1]
    best = float(scores[order[0]])
    # the runner-up is of another table: a table and its own columns ("employee",
    # "employee name") agree on where the word points
    chosen = names.candidates[int(order[0])].table
    runner_up = next(
        (float(scores[k]) for k in order[1:] if names.candidates[int(k)].table != chosen), 0.0
    )
    if best < THRESHOLD or best - runner_up < MARGIN:
        return None
    return names.candidates[int(order[0])], best


def closest(word: str, names: NameEmbeddings, limit: int) -> list[str]:
    """The names nearest in meaning, for suggestions."""
    if names.matrix is None:
        return []
    scores = names.matrix @ _vector(word)
    out = []
    for k in scores.argsort()[::-1][:limit]:
        candidate = names.candidates[int(k)]
        out.append(f"{candidate.table}.{candidate.column}" if candidate.column else candidate.table)
    return out


def similarity(a: str, b: str) -> float:
    """Cosine similarity of two phrases (the vectors are normalised)."""
    return float(_vector(a) @ _vector(b))
