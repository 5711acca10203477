"""Glossary terms, matched before anything else: a metric's name or synonyms become its
measure, a segment's name its condition, a synonym the table or column it stands for."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from servers.contracts.glossary import Glossary, Metric, Segment
from servers.parser.domain import ColumnRef, Expression, SchemaView
from servers.parser.language.words import Token, lemmas

_QUALIFIED = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\.[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # lemmas
    metric: Metric | None = None
    segment: Segment | None = None
    table: str = ""  # a synonym for a table
    column: ColumnRef | None = None  # a synonym for a column


@dataclass
class GlossaryTerms:
    terms: list[Term] = field(default_factory=list)


@dataclass(frozen=True)
class TermHit:
    start: int
    end: int
    term: Term


def tables_of(sql: str, schema: SchemaView) -> tuple[str, ...]:
    names = dict.fromkeys(m.group(1).lower() for m in _QUALIFIED.finditer(sql))
    return tuple(name for name in names if schema.table(name))


def expression(sql: str, schema: SchemaView, *, aggregated: bool = False) -> Expression:
    return Expression(sql=sql, tables=tables_of(sql, schema), aggregated=aggregated)


def _forms(text: str) -> tuple[str, ...]:
    return lemmas(tuple(re.findall(r"[a-z0-9]+", text.lower())))


def build_terms(glossary: Glossary | None, schema: SchemaView) -> GlossaryTerms:
    out = GlossaryTerms()
    if glossary is None or glossary.empty:
        return out
    for metric in glossary.metrics:
        for name in (metric.name, *metric.synonyms):
            out.terms.append(Term(_forms(name), metric=metric))
    for segment in glossary.segments:
        for name in (segment.name, *segment.synonyms):
            out.terms.append(Term(_forms(name), segment=segment))
    for synonym in glossary.synonyms:
        if "." in synonym.target:
            table, column = synonym.target.split(".", 1)
            out.terms.append(Term(_forms(synonym.term), column=ColumnRef(table, column)))
        else:
            out.terms.append(Term(_forms(synonym.term), table=synonym.target))
    out.terms.sort(key=lambda term: -len(term.words))
    return out


def find_terms(tokens: list[Token], terms: GlossaryTerms) -> list[TermHit]:
    hits: list[TermHit] = []
    used: set[int] = set()
    lem = [token.lemma for token in tokens]
    for term in terms.terms:
        n = len(term.words)
        if not n:
            continue
        for i in range(0, len(tokens) - n + 1):
            if tuple(lem[i : i + n]) == term.words and not used.intersection(range(i, i + n)):
                hits.append(TermHit(i, i + n, term))
                used.update(range(i, i + n))
    hits.sort(key=lambda hit: hit.start)
    return hits
