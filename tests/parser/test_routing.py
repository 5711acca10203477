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


def test_a_failure_asked_about_alone_is_a_question_about_the_system():
    from servers.parser.intent_rules import rule_intent
    from servers.parser.routing import reclassified

    words = schema_words(SHOP)
    for question in ("what failed today?", "which jobs failed?", "what broke today?", "did anything fail yesterday?"):
        assert rule_intent(question).kind is QueryKind.SYSTEM_STATUS, question
        assert route(question, QueryKind.SYSTEM_STATUS, words).elsewhere, question
    # whatever an intent model trained before these questions says
    assert reclassified("what failed today?", QueryKind.SELECT) is QueryKind.SYSTEM_STATUS
    assert reclassified("what broke today?", QueryKind.COUNT) is QueryKind.SYSTEM_STATUS


def test_a_failure_of_something_named_stays_on_the_database():
    from servers.parser.intent_rules import rule_intent
    from servers.parser.routing import reclassified

    assert rule_intent("which orders failed today").kind is not QueryKind.SYSTEM_STATUS
    assert reclassified("how many payments failed last week", QueryKind.COUNT) is QueryKind.COUNT
    # a schema that keeps failures itself: the question is about its rows
    runs = schema_words(schema(("runs", ("id", "failed", "started_at"))))
    decision = route("what failed today?", QueryKind.SYSTEM_STATUS, runs)
    assert not decision.elsewhere and "'fail' is a word of this schema" in decision.note
