"""Anomaly questions ("which orders look unusual?") leave the database path as ANOMALY
naming the table, by the cue rules and whatever an older intent model says; a schema
that uses the cue word itself (a column `is_outlier`, `anomaly_score`) keeps the
question on the database, as routing.py does for every other kind. Through the real
parser and connector on PostgreSQL too."""

from __future__ import annotations

import grpc
import pytest
from chatdb.connector.v1 import data_type_pb2, schema_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq
from chatdb.parser.v1 import query_parser_service_pb2 as pb

from servers.parser.domain import (
    ColumnInfo,
    ColumnKind,
    QueryKind,
    SchemaView,
    TableInfo,
    Unresolved,
)
from servers.parser.intent_rules import rule_intent
from servers.parser.ml_questions import understand_ml
from servers.parser.routing import route, schema_words, with_anomaly
from servers.runtime.status import details_from_rpc_error
from tests.parser.service_support import parser_over_shop


def schema(*tables: tuple[str, tuple[str, ...]]) -> SchemaView:
    return SchemaView(tuple(TableInfo(n, tuple(ColumnInfo(c, ColumnKind.NUMBER) for c in cols)) for n, cols in tables))


SHOP = schema(("orders", ("id", "amount", "quantity")), ("customers", ("id", "age")),
              ("payments", ("id", "amount")), ("transactions", ("id", "amount")))
FLAGGED = schema(("orders", ("id", "amount", "is_outlier", "anomaly_score")))

CUES = {
    "which orders look unusual?": "orders",
    "show anomalous transactions": "transactions",
    "any outliers in payments?": "payments",
    "find suspicious orders": "orders",
    "orders that look odd": "orders",
    "which customers stand out": "customers",
    "are there abnormal payment amounts": "payments",
}


def kind_of(question: str, words: frozenset[str], said: QueryKind | None = None) -> QueryKind:
    return with_anomaly(question, said or rule_intent(question).kind, words)


@pytest.mark.parametrize(("question", "table"), CUES.items())
def test_cue_phrases_are_anomaly_questions_naming_their_table(question, table):
    words = schema_words(SHOP)
    assert rule_intent(question).kind is QueryKind.ANOMALY
    assert kind_of(question, words) is QueryKind.ANOMALY
    assert route(question, QueryKind.ANOMALY, words).elsewhere
    understood = understand_ml(question, QueryKind.ANOMALY, SHOP)
    assert understood.kind is QueryKind.ANOMALY and understood.table == table


def test_an_intent_model_that_reads_them_as_listings_is_overruled():
    words = schema_words(SHOP)
    assert kind_of("which orders look unusual?", words, QueryKind.SELECT) is QueryKind.ANOMALY
    assert kind_of("train a model to find unusual orders", words, QueryKind.TRAIN) is QueryKind.ANOMALY
    # questions about models or the system stay what they are
    assert kind_of("is the outlier model doing well", words, QueryKind.MODEL_STATUS) is QueryKind.MODEL_STATUS


@pytest.mark.parametrize("question", [
    "which orders were placed today", "how many orders have an odd quantity", "show the orders",
    "top 5 customers by age", "what is the average amount of payments",
])
def test_questions_without_a_cue_stay_database_questions(question):
    assert kind_of(question, schema_words(SHOP)) is not QueryKind.ANOMALY


@pytest.mark.parametrize("question", ["which orders are anomalous", "list the outliers among orders"])
def test_a_schema_that_uses_the_cue_word_keeps_the_question_on_the_database(question):
    words = schema_words(FLAGGED)
    decision = route(question, kind_of(question, words), words)
    assert not decision.elsewhere
    assert "is a word of this schema" in decision.note
    # the same question on a schema without those columns is an anomaly question
    assert route(question, kind_of(question, schema_words(SHOP)), schema_words(SHOP)).elsewhere
    # a word the schema does not use still routes: "unusual" is no column here
    assert route("which orders look unusual", QueryKind.ANOMALY, words).elsewhere


def test_a_train_question_whose_target_holds_the_cue_word_stays_a_training():
    words = schema_words(FLAGGED)
    assert kind_of("train a model to predict is_outlier from orders", words) is QueryKind.TRAIN


def test_no_table_named_on_a_schema_of_several_is_unresolved_with_the_tables():
    with pytest.raises(Unresolved) as caught:
        understand_ml("anything unusual?", QueryKind.ANOMALY, SHOP)
    assert "orders" in caught.value.suggestions
    only = schema(("orders", ("id", "amount")))
    assert understand_ml("anything unusual?", QueryKind.ANOMALY, only).table == "orders"


# --------------------------------------------------------------------------- the real parser


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    async with parser_over_shop(settings, f"chatdb_test_{run_id}_parser_anomaly", pg="anomaly-shop") as m:
        yield m


async def parse(mesh, question: str, **fields) -> pq.ParsedQuery:
    reply = await mesh.parser.ParseQuery(pb.ParseQueryRequest(question=question, **fields))
    return reply.parsed_query


async def test_the_parser_answers_anomaly_questions_with_the_table_and_no_statement(mesh):
    parsed = await parse(mesh, "which orders look unusual?", connection_id="anomaly-shop")
    assert parsed.intent == pq.INTENT_ANOMALY
    assert list(parsed.tables) == ["orders"]
    assert not parsed.HasField("statement")
    assert "unusual" in parsed.explanation and "orders" in parsed.explanation
    products = await parse(mesh, "any outliers in products?", connection_id="anomaly-shop")
    assert (products.intent, list(products.tables)) == (pq.INTENT_ANOMALY, ["products"])


async def test_the_parser_keeps_a_schema_word_on_the_database_path(mesh):
    inline = schema_pb2.Schema(tables=[schema_pb2.Table(name="orders", columns=[
        schema_pb2.Column(name="id", type=data_type_pb2.DATA_TYPE_INTEGER, primary_key_ordinal=1),
        schema_pb2.Column(name="amount", type=data_type_pb2.DATA_TYPE_DECIMAL),
        schema_pb2.Column(name="is_anomalous", type=data_type_pb2.DATA_TYPE_BOOLEAN),
    ])])
    parsed = await parse(mesh, "which orders are anomalous", schema=inline)
    assert parsed.intent != pq.INTENT_ANOMALY
    assert parsed.HasField("statement") and "is_anomalous" in parsed.statement.sql.sql
    assert any("is a word of this schema" in note for note in parsed.notes)


async def test_an_anomaly_question_naming_no_table_is_not_understood(mesh):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await parse(mesh, "anything unusual?", connection_id="anomaly-shop")
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert details_from_rpc_error(caught.value).reason == "QUESTION_NOT_UNDERSTOOD"
    assert "orders" in caught.value.details()

