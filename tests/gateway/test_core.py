"""The gateway's core with no network: the parser, the connector and the store are
fakes, so routing, validation, degradation and the history writer's guarantees are
checked on their own."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from chatdb.connector.v1 import connector_service_pb2 as cpb
from chatdb.connector.v1 import result_pb2, statement_pb2
from chatdb.gateway.v1 import query_record_pb2 as qr
from chatdb.parser.v1 import parsed_query_pb2 as pq

from gateway.accepted import AcceptedAnswers, same_meaning_words
from gateway.answer import SOURCES, Answer
from gateway.convert import query_record, statement_text
from gateway.core import Gateway
from gateway.domain import (
    PARSER_UNAVAILABLE,
    STATUS_FAILED,
    STATUS_SUCCEEDED,
    AskRequest,
    Caller,
    QueryRecord,
    Versions,
)
from gateway.history import HistoryWriter
from gateway.normalise import normalise
from servers.contracts.cells import value_to_cell
from servers.runtime.errors import InvalidArgument, NotFound, Unavailable
from servers.runtime.paging import PageTokens

SELECT = statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql="SELECT 1"))


class FakeStore:
    def __init__(self) -> None:
        self.records: dict[str, QueryRecord] = {}
        self.conversations: set[str] = set()
        self.down = 0  # writes that fail as an outage before one succeeds
        self.writes = 0

    async def write(self, conversations, records) -> None:
        if self.down:
            self.down -= 1
            raise Unavailable("platform database down", reason="PLATFORM_DATABASE_UNAVAILABLE")
        self.writes += 1
        self.conversations |= {c[0] for c in conversations}
        self.records.update({r.query_id: r for r in records})

    async def get(self, query_id):
        return self.records.get(query_id)

    async def conversation_exists(self, conversation_id):
        return conversation_id in self.conversations

    async def last_answered(self, conversation_id):
        found = [r for r in self.records.values() if r.conversation_id == conversation_id and r.parsed]
        return max(found, key=lambda r: r.create_time) if found else None

    async def accepted(self, connection_id):
        return []

    async def failed_since(self, since, limit=100):
        return [r for r in self.records.values() if r.status == STATUS_FAILED and r.create_time >= since]


class FakeParser:
    def __init__(self, parsed: pq.ParsedQuery | None = None, error: Exception | None = None) -> None:
        self.parsed, self.error, self.calls = parsed, error, []

    async def parse(self, question, connection_id, *, reference_time, context):
        self.calls.append((question, connection_id, context))
        if self.error is not None:
            raise self.error
        return self.parsed


class FakeConnector:
    def __init__(self, connections=("only",), down: bool = False) -> None:
        self.connections, self.down, self.executed = list(connections), down, []

    async def execute(self, connection_id, statement, *, page_size, page_token="", max_rows):
        if self.down:
            raise Unavailable("database down", reason="DATABASE_UNAVAILABLE")
        self.executed.append((connection_id, statement, page_size, max_rows))
        row = result_pb2.Row(cells=[value_to_cell(1)])
        return cpb.ExecuteQueryResponse(columns=[result_pb2.ColumnMeta(name="n")], rows=[row])

    async def connection_ids(self, limit):
        if self.down:
            raise Unavailable("connector down")
        return self.connections[:limit]

    async def versions(self, connection_id):
        if self.down:
            raise Unavailable("connector down")
        return Versions("s1", "g1")


WRITERS: list[HistoryWriter] = []


@pytest.fixture(autouse=True)
async def close_writers():
    yield
    while WRITERS:
        await WRITERS.pop().close(timeout_s=1)


def gateway(parser=None, connector=None, store=None) -> Gateway:
    store = store or FakeStore()
    history = HistoryWriter(store, retry_s=0.01)
    history.start()
    WRITERS.append(history)
    return Gateway(
        parser=parser or FakeParser(pq.ParsedQuery(intent=pq.INTENT_SELECT, statement=SELECT, explanation="e")),
        connector=connector or FakeConnector(), store=store, history=history, cache=None,
        accepted=AcceptedAnswers(store), tokens=PageTokens(b"k" * 32),
    )


async def test_the_one_connection_is_used_when_none_is_named():
    core = gateway()
    result = await core.ask(AskRequest(question="how many"))
    assert core.connector.executed[0][0] == "only"
    assert result.answer.text == "1 row"


async def test_no_connection_at_all_is_invalid():
    core = gateway(connector=FakeConnector(connections=()))
    with pytest.raises(InvalidArgument) as err:
        await core.ask(AskRequest(question="how many"))
    assert [v.field for v in err.value.violations] == ["connection_id"]


class System:
    def recognises(self, question):
        return question.startswith("is the system")

    async def answer(self, question, parsed=None):
        return Answer(text="level 3: databases down", source=SOURCES.ANSWER_SOURCE_SYSTEM)


async def test_a_system_question_is_answered_before_the_parser_and_without_the_connector():
    parser = FakeParser(error=AssertionError("the parser must not be asked"))
    core = gateway(parser=parser, connector=FakeConnector(down=True))
    core.system = System()
    result = await core.ask(AskRequest(question="is the system healthy?"))
    assert result.answer.source == SOURCES.ANSWER_SOURCE_SYSTEM
    assert parser.calls == []
    await core.history.flush()
    assert core.store.records[result.query_id].status == STATUS_SUCCEEDED


class Ml:
    async def answer(self, parsed, *, question, connection_id):
        return Answer(text="Started training job trainingJobs/j1 for churn", source=SOURCES.ANSWER_SOURCE_TRAINING,
                      training_job="trainingJobs/j1", execute_s=0.25)


async def test_model_questions_go_to_the_ml_answerer_or_are_unavailable_without_one():
    core = gateway(parser=FakeParser(pq.ParsedQuery(intent=pq.INTENT_TRAIN, model_name="churn")))
    with pytest.raises(Unavailable):
        await core.ask(AskRequest(question="train a model", connection_id="c"))
    core.ml = Ml()
    result = await core.ask(AskRequest(question="train a model", connection_id="c"))
    assert result.answer.training_job == "trainingJobs/j1"
    assert result.timings.execute_s == 0.25
    assert core.connector.executed == []


async def test_a_schema_question_is_the_parsers_answer():
    parsed = pq.ParsedQuery(intent=pq.INTENT_DESCRIBE, tables=["customers"], columns=["id", "name"],
                            explanation="customers has 2 columns")
    result = await gateway(parser=FakeParser(parsed)).ask(AskRequest(question="describe customers", connection_id="c"))
    assert result.answer.source == SOURCES.ANSWER_SOURCE_SCHEMA
    assert result.answer.text == "customers has 2 columns"
    assert len(result.answer.rows) == 2


async def test_a_follow_up_is_noted_with_the_question_it_follows():
    core = gateway()
    first = await core.ask(AskRequest(question="show customers", connection_id="c"))
    core.parser.parsed = pq.ParsedQuery(intent=pq.INTENT_SELECT, statement=SELECT, follow_up=True)
    second = await core.ask(AskRequest(question="only those in 2024", connection_id="c",
                                       conversation_id=first.conversation_id))
    assert core.parser.calls[-1][2].statement == SELECT  # the previous parsed query as context
    assert f"read as a follow-up of {first.query_id}" in second.answer.notes


async def test_an_unknown_conversation_is_not_found_and_recorded_as_failed():
    core = gateway()
    with pytest.raises(NotFound):
        await core.ask(AskRequest(question="show customers", connection_id="c", conversation_id="nope"))
    await core.history.flush()
    [record] = core.store.records.values()
    assert record.status == STATUS_FAILED and record.error.code == 5


async def test_the_parser_down_is_unavailable_naming_it():
    error = Unavailable("the query parser is unavailable: connection refused", reason=PARSER_UNAVAILABLE)
    with pytest.raises(Unavailable) as err:
        await gateway(parser=FakeParser(error=error)).ask(AskRequest(question="show customers", connection_id="c"))
    assert "query parser" in err.value.message


async def test_the_database_down_without_a_cache_is_unavailable_with_the_reason():
    core = gateway()
    core.connector.down = True
    with pytest.raises(Unavailable) as err:
        await core.ask(AskRequest(question="show customers", connection_id="c"))
    assert err.value.reason == "DATABASES_UNAVAILABLE"
    assert "database down" in err.value.message or "connector down" in err.value.message


async def test_history_waits_while_the_database_is_down_and_is_written_after():
    store = FakeStore()
    store.down = 3
    core = gateway(store=store)
    result = await core.ask(AskRequest(question="show customers", connection_id="c"))
    assert (await core.get_query(result.query_id)).query_id == result.query_id  # from memory meanwhile
    await core.history.flush()
    assert result.query_id in store.records and store.down == 0


async def test_past_its_bound_the_writer_drops_the_oldest_with_a_log_line(caplog):
    store = FakeStore()
    store.down = 10**6
    writer = HistoryWriter(store, bound=2, retry_s=0.01)
    now = dt.datetime.now(dt.UTC)
    with caplog.at_level(logging.ERROR, logger="chatdb.gateway.history"):
        for n in range(3):
            writer.record(QueryRecord(query_id=f"q{n}", question="x", normalised="x", connection_id="c",
                                      conversation_id="", status=STATUS_SUCCEEDED, create_time=now))
    assert writer.pending("q0") is None and writer.pending("q2") is not None
    assert writer.dropped == 1
    assert ["history queue full" in r.message for r in caplog.records] == [True]


async def test_close_writes_what_waits():
    store = FakeStore()
    store.down = 2
    writer = HistoryWriter(store, retry_s=0.01)
    writer.start()
    WRITERS.append(writer)
    writer.record(QueryRecord(query_id="q", question="x", normalised="x", connection_id="c", conversation_id="",
                              status=STATUS_SUCCEEDED, create_time=dt.datetime.now(dt.UTC)))
    await writer.close()
    assert "q" in store.records


async def test_failed_questions_since_a_time():
    core = gateway(connector=FakeConnector(down=True))
    with pytest.raises(Unavailable):
        await core.ask(AskRequest(question="show customers", connection_id="c"))
    failed = await core.failed_questions(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    assert [f["question"] for f in failed] == ["show customers"]
    assert failed[0]["error"] and failed[0]["connection_id"] == "c"


def test_normal_forms():
    assert normalise("  Show me ALL customers from New York?? ") == "show me all customers from new york"
    assert normalise("price > 3.5") != normalise("price < 3.5")
    assert normalise("price > 3.5") != normalise("price > 35")
    assert normalise("top-10 products") == normalise("top 10 products")
    assert normalise("Ünïcode café") == "ünïcode café"


def test_a_match_by_meaning_keeps_numbers_and_negations():
    assert same_meaning_words("show the customers older than 30", "list customers older than 30")
    assert not same_meaning_words("customers older than 30", "customers older than 40")
    assert not same_meaning_words("customers not from texas", "customers from texas")
    assert not same_meaning_words("top 5 products", "bottom 5 products")


def test_the_record_converts_with_its_error_and_statement():
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    record = QueryRecord(query_id="q", question="x", normalised="x", connection_id="c", conversation_id="v",
                         status=STATUS_SUCCEEDED, create_time=now, statement=SELECT, source=SOURCES.ANSWER_SOURCE_CACHE)
    out = query_record(record)
    assert out.statement == SELECT and out.create_time.ToDatetime(tzinfo=dt.UTC) == now
    assert out.source == qr.ANSWER_SOURCE_CACHE and not out.HasField("error")


def test_statement_text_of_mongo_is_json():
    find = statement_pb2.Statement(mongo_find=statement_pb2.MongoFind(collection="customers"))
    assert statement_text(find) == '{"mongo_find":{"collection":"customers"}}'
    assert statement_text(SELECT) == "SELECT 1"
    assert statement_text(None) == ""


def test_caller_defaults_to_anonymous():
    assert Caller().principal == "anonymous"


class DownStore(FakeStore):
    """The platform database down for every read and write."""

    def __init__(self) -> None:
        super().__init__()
        self.down = 10**6

    async def _down(self, *args, **kwargs):
        raise Unavailable("platform database down", reason="PLATFORM_DATABASE_UNAVAILABLE")

    accepted = conversation_exists = last_answered = get = _down


async def test_questions_are_answered_while_the_platform_database_is_down():
    core = gateway(store=DownStore())
    first = await core.ask(AskRequest(question="show customers", connection_id="c"))
    assert first.answer.text == "1 row"
    assert core.history.pending(first.query_id) is not None  # waits to be written
    # a conversation whose start is already written cannot be read: answered on its own
    core.history._conversations.clear()
    core.history._records.clear()
    second = await core.ask(AskRequest(question="only in 2024", connection_id="c",
                                       conversation_id=first.conversation_id))
    assert any("conversation history unavailable" in n for n in second.answer.notes)
    core.history._records.clear()  # nothing to write at teardown
    core.history._conversations.clear()
