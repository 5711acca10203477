"""The expensive part, done once per (schema version, glossary version): word forms of
every table and column, the value index, the glossary's terms."""

from __future__ import annotations

from dataclasses import dataclass, field

from servers.contracts.glossary import Glossary
from servers.parser.domain import ColumnKind, ColumnRef, Samples, SchemaView, TableInfo, Value
from servers.parser.language.glossary import GlossaryTerms, build_terms
from servers.parser.language.linking import CONTENT, Candidate, SchemaIndex, build_index
from servers.parser.language.synonyms import NameEmbeddings, embeddings
from servers.parser.language.values import ValueIndex, build_values
from servers.parser.language.words import lemmas, split_identifier


@dataclass
class Prepared:
    schema: SchemaView
    index: SchemaIndex
    values: ValueIndex
    glossary: Glossary | None
    terms: GlossaryTerms
    schema_words: set[str]
    temporal: list[ColumnRef]
    name_columns: dict[str, ColumnRef | None]
    embeddings: NameEmbeddings = field(repr=False)  # the names, for links by meaning
    # yes/no columns: the stored value meaning yes, and the one meaning no
    flags: dict[ColumnRef, tuple[Value, Value]] = field(default_factory=dict)
    text_columns: frozenset[ColumnRef] = frozenset()  # a verb never names these by its lemma


def _name_column(table: TableInfo) -> ColumnRef | None:
    """The column that names a row: `name`, then `*_name` / `title`, else none."""
    best: tuple[int, str] | None = None
    for column in table.columns:
        if column.kind is not ColumnKind.TEXT:
            continue
        words = split_identifier(column.name)
        rank = None
        if lemmas(words) == lemmas(split_identifier(table.name)):
            rank = 1  # brand.brand: the column named like its table names the row
        elif words == ("name",):
            rank = 0
        elif words and words[-1] == "name" and words[0] not in ("last", "middle", "nick"):
            rank = 1
        elif words and words[-1] == "title":
            rank = 2
        elif "name" in words:
            rank = 3
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, column.name)
    return ColumnRef(table.name, best[1]) if best else None


_YES_NO = (("t", "f"), ("y", "n"), ("yes", "no"), ("true", "false"), ("1", "0"))


def _flags(schema: SchemaView, samples: Samples) -> dict[ColumnRef, tuple[Value, Value]]:
    """Columns that hold yes or no: booleans, and text columns whose sampled values are
    one yes/no pair ('T'/'F', 'Y'/'N', 'yes'/'no')."""
    flags: dict[ColumnRef, tuple[Value, Value]] = {}
    for table in schema.tables:
        for column in table.columns:
            ref = ColumnRef(table.name, column.name)
            if column.kind is ColumnKind.BOOLEAN:
                flags[ref] = (True, False)
                continue
            values = {str(v).strip(): v for v in samples.get(ref, ()) if str(v).strip()}
            lowered = {v.lower(): v for v in values}
            for yes, no in _YES_NO:
                if lowered and set(lowered) <= {yes, no} and yes in lowered:
                    flags[ref] = (
                        lowered[yes],
                        lowered.get(no, no.upper() if lowered[yes].isupper() else no),
                    )
    return flags


def prepare(schema: SchemaView, samples: Samples, glossary: Glossary | None = None) -> Prepared:
    index = build_index(schema)
    words = {w for forms in index.table_words.values() for w in forms}
    words |= {w for forms in index.column_words.values() for w in forms}
    temporal = [
        ColumnRef(table.name, column.name)
        for table in schema.tables
        for column in table.columns
        if column.kind.temporal
    ]
    name_columns = {table.name: _name_column(table) for table in schema.tables}
    for ref in name_columns.values():
        # "the names of authors" where the column is fullName: a lone "name" also means
        # the column that names a table's rows
        if ref is None or "name" not in split_identifier(ref.column):
            continue
        if not any(c.table == ref.table for c in index.exact[("name",)]):
            index.exact[("name",)].append(Candidate(ref.table, ref.column, CONTENT, "exact"))
    prepared = Prepared(
        schema=schema,
        # the names' embeddings now, so the first question pays nothing (the model
        # itself loads once per process)
        embeddings=embeddings(schema),
        flags=_flags(schema, samples),
        index=index,
        values=build_values(samples, glossary.pii_columns if glossary else (),
                            glossary.not_pii_columns if glossary else ()),
        glossary=glossary,
        terms=build_terms(glossary, schema),
        schema_words=words,
        temporal=temporal,
        name_columns=name_columns,
        text_columns=frozenset(
            ColumnRef(t.name, c.name)
            for t in schema.tables
            for c in t.columns
            if c.kind is ColumnKind.TEXT
        ),
    )
    return prepared
