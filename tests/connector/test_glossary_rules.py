"""glossary.validate without a transport: the rules that depend on the dialect or the
schema's shape (MySQL quoting and functions, names that need quotes, namespaces,
ambiguity inside subqueries, MongoDB's smaller language)."""

from __future__ import annotations

import pytest

from servers.connector.domain import ColumnInfo, ConnectionKind, DataType, SchemaInfo, TableInfo
from servers.connector.glossary import validate
from servers.contracts.glossary import Glossary, Metric, Segment, Synonym
from servers.runtime.errors import InvalidArgument


def _table(name: str, *columns: tuple[str, DataType], schema: str = "public") -> TableInfo:
    cols = tuple(ColumnInfo(n, t, t.value, True, ordinal=i + 1) for i, (n, t) in enumerate(columns))
    return TableInfo(name, schema, "table", cols, (), (), "", 0)


SCHOOL = SchemaInfo("school", (
    _table("pupils", ("id", DataType.INTEGER), ("FullName", DataType.TEXT), ("year", DataType.INTEGER),
           ("enrolled_on", DataType.DATE)),
    _table("marks", ("pupil_id", DataType.INTEGER), ("subject", DataType.TEXT), ("score", DataType.FLOAT),
           ("year", DataType.INTEGER)),
    _table("pupils", ("legacy", DataType.TEXT), schema="archive"),
))


def _violations(glossary: Glossary, kind: ConnectionKind = ConnectionKind.POSTGRES) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        validate(glossary, SCHOOL, kind, "school")
    return {v.field: v.description for v in caught.value.violations}


def test_mysql_fragments_are_read_in_mysql_and_stored_neutral():
    g = validate(Glossary(
        metrics=(Metric("average score", "marks", "avg(`score`)", filters=("IFNULL(subject, '') <> ''",)),),
        segments=(Segment("named pupil", "pupils", "`FullName` LIKE 'A%' AND CHAR_LENGTH(`FullName`) > 3"),),
    ), SCHOOL, ConnectionKind.MYSQL, "school")
    assert g.metrics[0].expression == "AVG(marks.score)"
    assert g.metrics[0].filters == ("COALESCE(marks.subject, '') <> ''",)
    assert g.segments[0].condition == 'pupils."FullName" LIKE \'A%\' AND LENGTH(pupils."FullName") > 3'


def test_what_the_stored_form_would_run_is_what_the_guard_checks():
    # MySQL's REGEXP operator is stored as REGEXP_LIKE(), which MariaDB lacks and the
    # guard does not allow: refused now rather than failing at every question
    found = _violations(Glossary(segments=(Segment("s", "pupils", "`FullName` REGEXP '^A'"),)), ConnectionKind.MYSQL)
    assert "regexp_like" in found["glossary.segments[0].condition"]


def test_a_name_that_needs_quotes_keeps_its_case():
    g = validate(Glossary(synonyms=(Synonym("name", "pupils.fullname"),),
                          segments=(Segment("x", "pupils", "fullname IS NOT NULL"),)),
                 SCHOOL, ConnectionKind.POSTGRES)
    assert g.synonyms[0].target == "pupils.FullName"
    assert g.segments[0].condition == 'pupils."FullName" IS NOT NULL'


def test_a_table_in_two_namespaces_is_public_s():
    g = validate(Glossary(metrics=(Metric("pupils", "pupils", "count(*)", time_column="enrolled_on"),)),
                 SCHOOL, ConnectionKind.POSTGRES)
    assert g.metrics[0].time_column == "pupils.enrolled_on"


def test_a_column_of_two_subquery_tables_must_be_qualified():
    found = _violations(Glossary(segments=(Segment(
        "scored", "pupils", "id IN (SELECT pupil_id FROM marks, pupils p WHERE year = 2024)"),)))
    assert found == {"glossary.segments[0].condition":
                     "column year is ambiguous: it is in marks, p; write table.column"}


def test_mongodb_language_is_smaller():
    kind = ConnectionKind.MONGODB
    ok = validate(Glossary(metrics=(Metric("entries", "marks", "count(*)", filters=("score >= 50",)),)), SCHOOL, kind)
    assert ok.metrics[0].filters == ("marks.score >= 50",)
    found = _violations(Glossary(
        metrics=(Metric("a", "marks", "avg(*)"), Metric("b", "marks", "sum(score) / count(*)")),
        segments=(Segment("c", "marks", "score BETWEEN 1 AND 2"),),
    ), kind)
    assert set(found) == {"glossary.metrics[0].expression", "glossary.metrics[1].expression",
                          "glossary.segments[0].condition"}


def test_limits():
    found = _violations(Glossary(
        metrics=(Metric("x" * 200, "marks", "count(*)"),),
        segments=(Segment("long", "marks", "score > " + "+".join(["1"] * 3000)),),
    ))
    assert "at most 128 characters" in found["glossary.metrics[0].name"]
    assert "at most 4000 characters" in found["glossary.segments[0].condition"]
