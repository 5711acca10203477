""""Which orders look unusual?" through the gateway's Ask, wired as `chatdb serve gateway`
wires it: the real parser reads it as an anomaly question on orders, the gateway trains
an anomaly model of the table on first ask (a real `chatdb worker`, isolation_forest,
from PostgreSQL through the connector), waits for it, scores the table's rows through
the real prediction service and answers with the flagged rows, most unusual first. A
second ask reuses the model; a table without numbers is refused; a gateway whose status
monitor sees the worker down refuses to train rather than queue."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import asyncpg
import grpc
import numpy as np
import pytest
from chatdb.connector.v1 import connection_pb2, data_type_pb2, schema_pb2
from chatdb.gateway.v1 import chat_service_pb2 as pb
from chatdb.gateway.v1 import query_record_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq
from chatdb.parser.v1 import query_parser_service_pb2 as pq_service
from chatdb.training.v1 import job_state_pb2
from mongomock_motor import AsyncMongoMockClient

from gateway.anomalies import Anomalies, anomaly_model_name, tenant_suffix
from gateway.ml_answers import service
from gateway.ml_dataset import anomaly_columns
from servers.contracts.cells import cell_to_value
from servers.contracts.clients import ConnectorClient
from servers.contracts.ml.spec import Task, reserved_names
from servers.runtime.identity import Principal
from servers.runtime.status import details_from_rpc_error
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.support import forget
from tests.mongo_support import mongomock_opener
from tests.parser.service_support import register, running_parser
from tests.runtime.test_cli_serve import free_port

from .ml_support import ml_mesh, rows_of, serve_gateway

pytestmark = pytest.mark.timeout(300)
SOURCES = query_record_pb2.AnswerSource
CONNECTION = "anomaly-shop"
ROWS = 400
IN_FLIGHT = (job_state_pb2.JOB_STATE_QUEUED, job_state_pb2.JOB_STATE_RUNNING)
ACCOUNTS_PLANTED = (7, 150)
PLANTED = {12: (2400.0, 90), 98: (1900.0, 1), 231: (-500.0, 70), 302: (3100.0, 120)}


async def create_tables(dsn: str) -> None:
    """orders(id, customer_id, amount, quantity, channel): amounts around 60 and 1–5
    items, but the PLANTED ids; notes(id, author, body): no numbers but the key;
    baskets(id, weight), parcels(id, weight), readings(id, level): more tables to train."""
    rng = np.random.default_rng(5)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, "
                           "amount NUMERIC(10, 2), quantity INTEGER, channel TEXT)")
        rows = []
        for i in range(1, ROWS + 1):
            amount, quantity = PLANTED.get(i, (round(float(rng.normal(60, 6)), 2), int(rng.integers(1, 6))))
            rows.append((i, int(rng.integers(1, 50)), amount, quantity, str(rng.choice(["web", "store"]))))
        await conn.executemany("INSERT INTO orders VALUES ($1, $2, $3, $4, $5)", rows)
        await conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, author TEXT, body TEXT)")
        await conn.executemany("INSERT INTO notes VALUES ($1, $2, $3)", [(i, "ann", f"note {i}") for i in range(20)])
        await conn.execute("CREATE TABLE baskets (id INTEGER PRIMARY KEY, weight DOUBLE PRECISION)")
        await conn.executemany("INSERT INTO baskets VALUES ($1, $2)", [(i, float(rng.normal(5, 1))) for i in range(60)])
        await conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT, phone BIGINT, "
                           "spend NUMERIC(10, 2))")
        await conn.executemany("INSERT INTO accounts VALUES ($1, $2, $3, $4)", [
            (i, f"user{i}@example.com", 4915100000000 + i, 9999.0 if i in ACCOUNTS_PLANTED
             else round(float(rng.normal(40, 4)), 2)) for i in range(1, 201)])
        await conn.execute("CREATE TABLE readings (id INTEGER PRIMARY KEY, level DOUBLE PRECISION)")
        await conn.executemany("INSERT INTO readings VALUES ($1, $2)", [
            (i, 90.0 if i == 40 else float(rng.normal(20, 2))) for i in range(1, 101)])
        await conn.execute("CREATE TABLE parcels (id INTEGER PRIMARY KEY, weight DOUBLE PRECISION)")
        await conn.executemany("INSERT INTO parcels VALUES ($1, $2)", [(i, float(rng.normal(5, 1))) for i in range(60)])
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def shop(run_id):
    """The DSN of this module's PostgreSQL database, with create_tables' tables."""
    database = f"chatdb_test_{run_id}_anomaly"
    await drop_pg_database(database)
    dsn = await create_pg_database(database)
    try:
        await create_tables(dsn)
        yield dsn
    finally:
        await drop_pg_database(database)


@pytest.fixture(scope="module")
async def chat(settings, tmp_path_factory, shop):
    async with ml_mesh(settings, tmp_path_factory.mktemp("ask-anomalies")) as mesh, AsyncExitStack() as stack:
        await mesh.register(CONNECTION, shop)
        # the status monitor checks the worker this mesh started (level 0); the first
        # training waits for the worker's cold start on a shared machine
        worker_port = next(iter(mesh.training_mesh.worker_ports.values()))
        stub = await serve_gateway(mesh, stack, worker_port=worker_port, gateway_anomaly_wait_s=200.0)
        yield mesh, stub, stack
        await forget(mesh.connector, CONNECTION)


async def ask(stub, question: str) -> pb.AskResponse:
    return await stub.Ask(pb.AskRequest(question=question, connection_id=CONNECTION), timeout=240)


async def jobs_of(mesh, model: str):
    return await mesh.training.jobs(model_name=model)


async def succeeded(mesh, job_name: str):
    """The training job once it has ended, which must be in success."""
    deadline = asyncio.get_running_loop().time() + 200
    while (job := await mesh.training.job(job_name)).state in IN_FLIGHT:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.2)
    assert job.state == job_state_pb2.JOB_STATE_SUCCEEDED, job.error.message
    return job


def anomalies(mesh, connector=None, **settings) -> Anomalies:
    """The gateway's anomaly answerer on this mesh with some settings changed."""
    return Anomalies(mesh.settings.model_copy(update=settings), training=mesh.training, prediction=mesh.prediction,
                     registry=mesh.registry, connector=connector or mesh.connector, service=service)


async def test_unusual_orders_train_a_model_on_first_ask_and_reuse_it_after(chat):
    mesh, stub, _ = chat
    model = anomaly_model_name(CONNECTION, "orders")
    first = await ask(stub, "which orders look unusual?")
    assert first.parsed_query.intent == pq.INTENT_ANOMALY
    assert first.source == SOURCES.ANSWER_SOURCE_PREDICTION
    assert first.training_job.startswith("trainingJobs/")
    assert first.model_version == f"models/{model}/versions/1"
    flagged = rows_of(first)
    assert {r["id"] for r in flagged[: len(PLANTED)]} == set(PLANTED)  # the planted ones on top
    scores = [r["anomaly_score"] for r in flagged]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert len(flagged) < ROWS * 0.05
    assert [c.name for c in first.columns] == ["id", "customer_id", "amount", "quantity", "channel", "anomaly_score"]
    assert f"{len(flagged)} of {ROWS} rows of orders look unusual" in first.answer
    assert model in first.answer and "amount, quantity" in first.answer
    assert any("customer_id (a key)" in n for n in first.notes)  # an id's size says nothing
    [job] = await jobs_of(mesh, model)
    assert job.state == job_state_pb2.JOB_STATE_SUCCEEDED and list(job.features) == ["amount", "quantity"]

    again = await ask(stub, "any outliers in orders?")
    assert again.model_version == first.model_version
    assert not again.training_job
    assert [r["id"] for r in rows_of(again)] == [r["id"] for r in flagged]
    assert len(await jobs_of(mesh, model)) == 1  # no new training


async def test_a_table_that_grew_is_answered_at_once_and_its_model_retrained_for_later(chat, shop):
    mesh, stub, _ = chat
    model = anomaly_model_name(CONNECTION, "readings")
    first = await ask(stub, "which readings look unusual?")
    assert first.model_version == f"models/{model}/versions/1" and 40 in {r["id"] for r in rows_of(first)}
    [trained] = await jobs_of(mesh, model)
    same = await ask(stub, "any outliers in readings?")  # nothing changed: no training
    assert same.model_version == first.model_version and not same.training_job
    assert len(await jobs_of(mesh, model)) == 1

    # 60 rows more (60% > CHATDB_GATEWAY_ANOMALY_RETRAIN_CHANGE's 20%), one far out
    conn = await asyncpg.connect(shop)
    try:
        rng = np.random.default_rng(11)
        await conn.executemany("INSERT INTO readings VALUES ($1, $2)", [
            (i, -70.0 if i == 150 else float(rng.normal(20, 2))) for i in range(101, 161)])
    finally:
        await conn.close()
    grown = await ask(stub, "find suspicious readings")
    assert grown.model_version == first.model_version  # answered now, by the model it had
    assert {40, 150} <= {r["id"] for r in rows_of(grown)}
    assert grown.training_job and grown.training_job != trained.name
    assert any("160 rows to score" in n and "learnt from 100" in n and grown.training_job in n for n in grown.notes)

    await succeeded(mesh, grown.training_job)
    later = await ask(stub, "show anomalous readings")
    assert later.model_version == f"models/{model}/versions/2" and not later.training_job
    assert not any("rows to score" in n for n in later.notes)
    assert len(await jobs_of(mesh, model)) == 2


async def test_a_table_past_the_row_bound_is_scored_on_its_first_rows_and_says_so(chat):
    mesh, _, _ = chat
    bounded = anomalies(mesh, gateway_anomaly_max_rows=100)
    parsed = await mesh.parse("which orders look unusual?", CONNECTION)
    answer = await bounded.answer(parsed, connection_id=CONNECTION)
    names = [c.name for c in answer.columns]
    ids = [dict(zip(names, (cell_to_value(c) for c in row.cells), strict=True))["id"] for row in answer.rows]
    assert set(ids[:2]) == {12, 98} and all(i <= 100 for i in ids)  # the planted ones among ids 1–100
    assert "of 100 rows of orders" in answer.text and "the first 100 rows by id" in answer.text
    assert any("holds more than 100 rows" in n and "CHATDB_GATEWAY_ANOMALY_MAX_ROWS" in n for n in answer.notes)


async def test_a_table_without_numbers_is_refused_as_not_understood(chat):
    mesh, stub, _ = chat
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ask(stub, "find suspicious notes")
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    details = details_from_rpc_error(caught.value)
    assert details.reason == "QUESTION_NOT_UNDERSTOOD"
    assert "notes has no numeric columns" in caught.value.details()
    assert not await jobs_of(mesh, anomaly_model_name(CONNECTION, "notes"))


async def test_a_training_that_outlasts_the_wait_answers_with_the_job_to_ask_again(chat):
    mesh, _, _ = chat
    impatient = anomalies(mesh, gateway_anomaly_wait_s=0.0)
    parsed = await mesh.parse("show anomalous baskets", CONNECTION)
    answer = await impatient.answer(parsed, connection_id=CONNECTION)
    assert answer.source == SOURCES.ANSWER_SOURCE_TRAINING
    assert answer.training_job.startswith("trainingJobs/")
    assert answer.training_job in answer.text and "ask again" in answer.text
    # asked again meanwhile: the same job, not a second one
    again = await impatient.answer(parsed, connection_id=CONNECTION)
    jobs = await jobs_of(mesh, anomaly_model_name(CONNECTION, "baskets"))
    assert len(jobs) == 1 and (again.training_job in ("", jobs[0].name))
    # once it has finished, asking again answers from its version (and no job is left
    # running into the next module's "what failed today?")
    job = await succeeded(mesh, jobs[0].name)
    done = await impatient.answer(parsed, connection_id=CONNECTION)
    assert done.source == SOURCES.ANSWER_SOURCE_PREDICTION and not done.training_job
    assert done.model_version == f"models/{jobs[0].model_name}/versions/{job.model_version.version}"


async def test_with_the_worker_down_a_table_without_a_model_is_unavailable(chat):
    mesh, _, stack = chat
    down = await serve_gateway(mesh, stack, worker_port=free_port())  # nothing answers its health checks
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await down.Ask(pb.AskRequest(question="any outliers in parcels?", connection_id=CONNECTION), timeout=60)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert details_from_rpc_error(caught.value).reason == "TRAINING_UNAVAILABLE"
    assert "worker down" in caught.value.details()
    assert not await jobs_of(mesh, anomaly_model_name(CONNECTION, "parcels"))  # nothing queued
    # a table with a ready model is still answered with the worker down
    answered = await down.Ask(pb.AskRequest(question="which orders look unusual?", connection_id=CONNECTION),
                              timeout=60)
    assert {r["id"] for r in rows_of(answered)[: len(PLANTED)]} == set(PLANTED)


async def test_a_tenant_uses_the_shared_model_of_a_shared_connection(chat):
    mesh, stub, _ = chat
    shared = anomaly_model_name(CONNECTION, "orders")
    tenant = Principal("key:a", tenant="tenant-a", role="user").metadata()
    answered = await stub.Ask(pb.AskRequest(question="find suspicious orders", connection_id=CONNECTION),
                              metadata=tenant, timeout=240)
    assert answered.model_version.startswith(f"models/{shared}/versions/")
    assert not answered.training_job and len(await jobs_of(mesh, shared)) == 1
    assert {r["id"] for r in rows_of(answered)[: len(PLANTED)]} == set(PLANTED)


def test_model_names_follow_the_name_rule_and_keep_tenants_apart():
    assert anomaly_model_name("Shop_PG", "Order Items") == "shop-pg-order-items-anomalies"
    long = anomaly_model_name("c" * 40, "t" * 40, tenant_suffix("", "tenant-a"))
    assert len(long) <= 63 and long.endswith("-anomalies-" + tenant_suffix("", "tenant-a"))
    assert tenant_suffix("", "tenant-a") != tenant_suffix("", "tenant-b")
    assert tenant_suffix("tenant-a", "tenant-a") == "" and tenant_suffix("", "") == ""


def test_features_are_numeric_columns_but_keys_and_output_names():
    table = schema_pb2.Table(name="orders", primary_key=["order_id"], columns=[
        schema_pb2.Column(name="order_id", type=data_type_pb2.DATA_TYPE_INTEGER, primary_key_ordinal=1),
        schema_pb2.Column(name="shop", type=data_type_pb2.DATA_TYPE_INTEGER),
        schema_pb2.Column(name="customerId", type=data_type_pb2.DATA_TYPE_INTEGER),
        schema_pb2.Column(name="total", type=data_type_pb2.DATA_TYPE_DECIMAL),
        schema_pb2.Column(name="score", type=data_type_pb2.DATA_TYPE_FLOAT),
        schema_pb2.Column(name="note", type=data_type_pb2.DATA_TYPE_TEXT),
    ], foreign_keys=[schema_pb2.ForeignKey(columns=["shop"], referenced_table="shops", referenced_columns=["id"])])
    found = anomaly_columns(table, reserved_names(Task.ANOMALY_DETECTION))
    assert found.features == ["total"] and found.key == ["order_id"]
    assert found.left_out == ["order_id (a key)", "shop (a key)", "customerId (a key)",
                              "score (the name of a model output)"]


async def test_personal_data_is_masked_in_the_answer_and_never_a_feature_for_a_user(chat):
    mesh, stub, _ = chat
    user = Principal("key:u", tenant="tenant-u", role="user").metadata()
    answered = await stub.Ask(pb.AskRequest(question="find suspicious accounts", connection_id=CONNECTION),
                              metadata=user, timeout=240)
    assert {"email", "phone"} <= set(answered.masked_columns)
    assert any("phone (personal data, masked)" in n for n in answered.notes)
    rows = rows_of(answered)
    assert {r["id"] for r in rows[: len(ACCOUNTS_PLANTED)]} == set(ACCOUNTS_PLANTED)
    assert all(r["email"].startswith("***@") and r["phone"] == "***" for r in rows)
    job = await mesh.training.job(answered.training_job)
    assert list(job.features) == ["spend"]


@pytest.fixture(scope="module")
async def mongo(settings, chat):
    """A MongoDB connection (mongomock-motor behind a real connector) with orders
    documents, the same PLANTED outliers among them, and a real parser reading it. Its
    tests come last: the status monitor's probe of it (through the mesh's connector,
    which has no mongomock) does not answer, and that reads as level 3."""
    client = AsyncMongoMockClient(tz_aware=True)
    rng = np.random.default_rng(9)
    documents = []
    for i in range(1, ROWS + 1):
        amount, quantity = PLANTED.get(i, (round(float(rng.normal(60, 6)), 2), int(rng.integers(1, 6))))
        documents.append({"_id": i, "amount": amount, "quantity": quantity})
    await client["shop"]["orders"].insert_many(documents)

    opener = mongomock_opener(client)

    async with running_parser(settings, opener=opener, prediction_port=free_port()) as parser:
        await register(parser.connector, "anomaly-mongo", connection_pb2.CONNECTION_KIND_MONGODB,
                       "mongodb://127.0.0.1:27017/shop")
        yield parser
        # the mesh's own connector cannot reach mongomock: its health probe would hang
        await forget(parser.connector, "anomaly-mongo")


async def test_a_mongodb_collection_is_read_through_the_connector_and_sent_inline(chat, mongo):
    mesh, _, _ = chat
    parsed = (await mongo.parser.ParseQuery(pq_service.ParseQueryRequest(
        question="which orders look unusual?", connection_id="anomaly-mongo"), timeout=30)).parsed_query
    patient = anomalies(mesh, ConnectorClient(mongo.connector.channel), gateway_anomaly_wait_s=200.0)
    answer = await patient.answer(parsed, connection_id="anomaly-mongo")
    job = await mesh.training.job(answer.training_job)
    assert len(job.dataset.inline_records.records) == ROWS and list(job.features) == ["amount", "quantity"]
    names = [c.name for c in answer.columns]
    top = [dict(zip(names, (cell_to_value(c) for c in row.cells), strict=True)) for row in answer.rows]
    assert {r["_id"] for r in top[: len(PLANTED)]} == set(PLANTED)

