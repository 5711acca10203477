"""SubmitFeedback: an answer marked right, or wrong with a corrected statement, is reused
for the same question on the same connection (and for a question very close to it by
meaning, but not for one that differs in a number or a negation); bad feedback is refused
with the field to fix, and a corrected statement that would write never runs."""

from __future__ import annotations

import grpc
import pytest
from chatdb.connector.v1 import connection_pb2, statement_pb2
from chatdb.gateway.v1 import chat_service_pb2 as pb
from chatdb.gateway.v1 import query_record_pb2 as qr

from servers.runtime.status import details_from_rpc_error
from tests.conftest import drop_pg_database
from tests.connector.service_support import pg_checksums
from tests.gateway.support import forget, rows_of, running_gateway
from tests.parser.service_support import create_shop_pg, register

QUESTION = "show the names of customers from new york"


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    database = f"chatdb_test_{run_id}_gw_feedback"
    dsn = await create_shop_pg(database)
    try:
        async with running_gateway(settings) as m:
            for n in range(1, 6):
                await register(m.connector, f"gw-fb-{n}", connection_pb2.CONNECTION_KIND_POSTGRES, dsn)
            m.dsn = dsn
            yield m
            await forget(m.connector, *(f"gw-fb-{n}" for n in range(1, 6)))
    finally:
        await drop_pg_database(database)


def sql(text: str) -> statement_pb2.Statement:
    return statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql=text))


async def feedback(mesh, query_id: str, verdict: int, corrected: statement_pb2.Statement | None = None,
                   **fields) -> qr.QueryRecord:
    request = pb.SubmitFeedbackRequest(query_id=query_id, verdict=verdict, **fields)
    if corrected is not None:
        request.corrected_statement.CopyFrom(corrected)
    # The questions here are asked without a principal (shared): feedback on them, which
    # changes the answers every tenant gets, is an admin's (tenancy).
    metadata = (("x-chatdb-principal", "reviewer"), ("x-chatdb-role", "admin"))
    return (await mesh.stub.SubmitFeedback(request, metadata=metadata)).query


async def refused(call) -> tuple[grpc.StatusCode, list[str]]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value.code(), [v.field for v in details_from_rpc_error(err.value).violations]


async def test_a_correct_answer_is_reused_and_says_so(mesh):
    first = await mesh.ask(QUESTION, "gw-fb-1")
    record = await feedback(mesh, first.query_id, qr.FEEDBACK_VERDICT_CORRECT, comment="right")
    assert record.feedback.verdict == qr.FEEDBACK_VERDICT_CORRECT
    assert record.feedback.principal == "reviewer" and record.feedback.comment == "right"
    again = await mesh.ask("Show the names of customers from New York!", "gw-fb-1")
    assert again.source == qr.ANSWER_SOURCE_ACCEPTED_ANSWER
    assert again.reused_query_id == first.query_id
    assert any(f"answer reused from accepted query {first.query_id}" in n for n in again.notes)
    assert again.statement == first.statement
    assert sorted(rows_of(again)) == sorted(rows_of(first))
    stored = (await mesh.stub.GetQuery(pb.GetQueryRequest(query_id=again.query_id))).query
    assert stored.source == qr.ANSWER_SOURCE_ACCEPTED_ANSWER and stored.reused_query_id == first.query_id


async def test_a_corrected_statement_answers_from_then_on(mesh):
    first = await mesh.ask(QUESTION, "gw-fb-2")
    corrected = sql("SELECT name FROM customers WHERE city = 'Berlin'")
    record = await feedback(mesh, first.query_id, qr.FEEDBACK_VERDICT_INCORRECT, corrected)
    assert record.feedback.corrected_statement == corrected
    again = await mesh.ask(QUESTION, "gw-fb-2")
    assert again.source == qr.ANSWER_SOURCE_ACCEPTED_ANSWER
    assert rows_of(again) == [("Di Eze",)]
    # only on that connection
    other = await mesh.ask(QUESTION, "gw-fb-3")
    assert other.source != qr.ANSWER_SOURCE_ACCEPTED_ANSWER


async def test_a_question_close_by_meaning_reuses_it_but_not_one_with_another_number(mesh):
    first = await mesh.ask("show customers older than 30", "gw-fb-4")
    await feedback(mesh, first.query_id, qr.FEEDBACK_VERDICT_INCORRECT,
                   sql("SELECT name FROM customers WHERE age > 30 ORDER BY name"))
    close = await mesh.ask("show the customers older than 30", "gw-fb-4")
    assert close.source == qr.ANSWER_SOURCE_ACCEPTED_ANSWER and close.reused_query_id == first.query_id
    assert rows_of(close) == [("Ada Obi",), ("Cy Diaz",)]
    assert (await mesh.ask("show customers older than 40", "gw-fb-4")).source != qr.ANSWER_SOURCE_ACCEPTED_ANSWER
    assert (await mesh.ask("show customers not older than 30", "gw-fb-4")).source != qr.ANSWER_SOURCE_ACCEPTED_ANSWER


async def test_bad_feedback_is_refused_with_the_field_to_fix(mesh):
    first = await mesh.ask(QUESTION, "gw-fb-5")
    assert await refused(feedback(mesh, "no-such-query", qr.FEEDBACK_VERDICT_CORRECT)) == (
        grpc.StatusCode.NOT_FOUND, [])
    assert await refused(feedback(mesh, first.query_id, qr.FEEDBACK_VERDICT_UNSPECIFIED)) == (
        grpc.StatusCode.INVALID_ARGUMENT, ["verdict"])
    assert await refused(feedback(mesh, first.query_id, qr.FEEDBACK_VERDICT_INCORRECT)) == (
        grpc.StatusCode.INVALID_ARGUMENT, ["corrected_statement"])
    mongo = statement_pb2.Statement(mongo_find=statement_pb2.MongoFind(collection="customers"))
    assert await refused(feedback(mesh, first.query_id, qr.FEEDBACK_VERDICT_INCORRECT, mongo)) == (
        grpc.StatusCode.INVALID_ARGUMENT, ["corrected_statement"])
    assert await refused(feedback(mesh, first.query_id, qr.FEEDBACK_VERDICT_INCORRECT, sql("SELEC name FRM x"))) == (
        grpc.StatusCode.INVALID_ARGUMENT, ["corrected_statement"])
    before = await pg_checksums(mesh.dsn)
    for write in ("DELETE FROM customers", "UPDATE products SET price = 0", "DROP TABLE orders",
                  "SELECT 1; DELETE FROM customers", "WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d"):
        assert await refused(feedback(mesh, first.query_id, qr.FEEDBACK_VERDICT_INCORRECT, sql(write))) == (
            grpc.StatusCode.INVALID_ARGUMENT, ["corrected_statement"]), write
    assert await pg_checksums(mesh.dsn) == before
    # nothing was accepted by any of it
    assert (await mesh.ask(QUESTION, "gw-fb-5")).source != qr.ANSWER_SOURCE_ACCEPTED_ANSWER
    assert await refused(feedback(mesh, first.query_id, qr.FEEDBACK_VERDICT_CORRECT, comment="x" * 2001)) == (
        grpc.StatusCode.INVALID_ARGUMENT, ["comment"])
