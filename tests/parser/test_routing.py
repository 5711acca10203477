"""A question leaves the database path for the ML services or the status report only on
a word that names them and that the schema does not use itself."""

from __future__ import annotations

from servers.parser.domain import ColumnInfo, ColumnKind, QueryKind, SchemaView, TableInfo
from servers.parser.routing import route, schema_words


def schema(*tables: tuple[str, tuple[str, ...]]) -> SchemaView:
    return SchemaView(tuple(TableInfo(n, tuple(ColumnInfo(c, ColumnKind.TEXT) for c in cols)) for n, cols in tables))


SHOP = schema(("customers", ("id", "name", "city", "segment")), ("orders", ("id", "total")))
HR = schema(("employees", ("id", "name", "job_title")), ("jobs", ("id", "title")), ("performance", ("id", "score", "version")))


def test_questions_about_models_and_the_system_route_away():
    words = schema_words(SHOP)
    assert route("train a model to predict segment from customers", QueryKind.TRAIN, words).elsewhere
    assert route("what would the churn model predict for age 31", QueryKind.PREDICT, words).elsewhere
    assert route("how is the churn model doing", QueryKind.MODEL_STATUS, words).elsewhere
    assert route("is the system healthy?", QueryKind.SYSTEM_STATUS, words).elsewhere
    assert route("which jobs are running?", QueryKind.SYSTEM_STATUS, words).elsewhere


def test_schema_words_keep_a_question_on_the_database():
    words = schema_words(HR)
    decision = route("which jobs have more than 3 employees", QueryKind.SYSTEM_STATUS, words)
    assert not decision.elsewhere and "'job' is a word of this schema" in decision.note
    assert not route("show the latest version of each performance", QueryKind.MODEL_STATUS, words).elsewhere
    assert not route("list names of people who teach", QueryKind.TRAIN, words).elsewhere


def test_database_kinds_are_never_routed():
    assert not route("how many customers", QueryKind.COUNT, schema_words(SHOP)).elsewhere


def test_glossary_terms_are_schema_words():
    from servers.contracts.glossary import Glossary, Synonym

    glossary = Glossary(synonyms=(Synonym("worker", "customers"),), version="g")
    assert route("which workers are down", QueryKind.SYSTEM_STATUS, schema_words(SHOP)).elsewhere
    assert not route("which workers are down", QueryKind.SYSTEM_STATUS, schema_words(SHOP, glossary)).elsewhere
