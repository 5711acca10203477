"""Questions about models, end to end on the real ML side of the mesh: the real parser
reads the question, MlAnswers submits a training job that a real `chatdb worker` trains
from a PostgreSQL table and registers, the real prediction service answers from that
version, and the registry's metrics answer "how is it doing"."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import aiomysql
import numpy as np
import pytest
from chatdb.connector.v1 import connection_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq
from chatdb.parser.v1.query_parser_service_pb2 import ParseQueryRequest
from chatdb.training.v1 import job_state_pb2, training_job_pb2
from mongomock_motor import AsyncMongoMockClient

from gateway.answer import SOURCES
from gateway.ml_answers import MlAnswers, open_ml_answers
from servers.contracts.cells import cell_to_value
from servers.contracts.clients import (
    ConnectorClient,
    PredictionClient,
    RegistryClient,
    TrainingClient,
)
from servers.runtime.channels import open_channel
from servers.runtime.errors import InvalidArgument, NotFound, Unavailable
from tests.conftest import MYSQL
from tests.connector.service_support import mysql_dsn
from tests.mongo_support import mongomock_opener
from tests.parser.service_support import register, running_parser
from tests.runtime.test_cli_serve import free_port

from .ml_support import CITIES, MlMesh, create_customers, ml_mesh, segment_of

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
async def mesh(settings, tmp_path_factory, pg_database):
    await create_customers(pg_database)
    async with ml_mesh(settings, tmp_path_factory.mktemp("ml-data")) as mesh:
        await mesh.register("ml-answers-shop", pg_database)
        yield mesh


def answers(mesh: MlMesh, **clients) -> MlAnswers:
    parts = {"training": mesh.training, "prediction": mesh.prediction, "registry": mesh.registry,
             "connector": mesh.connector, **clients}
    return MlAnswers(mesh.settings, **parts)


async def ask(mesh: MlMesh, question: str, ml: MlAnswers | None = None):
    parsed = await mesh.parse(question, "ml-answers-shop")
    return parsed, await (ml or answers(mesh)).answer(parsed, question=question, connection_id="ml-answers-shop")


async def finished(mesh: MlMesh, job_name: str, timeout_s: float = 180.0) -> training_job_pb2.TrainingJob:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        job = await mesh.training.job(job_name)
        if job.state in (job_state_pb2.JOB_STATE_SUCCEEDED, job_state_pb2.JOB_STATE_FAILED,
                         job_state_pb2.JOB_STATE_CANCELLED):
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job still {job.state}"
        await asyncio.sleep(0.2)


def rows_of(answer) -> list[dict]:
    names = [c.name for c in answer.columns]
    return [dict(zip(names, (cell_to_value(c) for c in row.cells), strict=True)) for row in answer.rows]


async def test_train_then_predict_then_how_is_it_doing(mesh):
    parsed, trained = await ask(mesh, "train a model to predict segment from customers using age and city")
    assert parsed.intent == pq.INTENT_TRAIN
    assert trained.source == SOURCES.ANSWER_SOURCE_TRAINING
    assert trained.training_job.startswith("trainingJobs/")
    assert trained.text.startswith(f"Started training job {trained.training_job} for model customers-segment")
    assert rows_of(trained)[0]["task"] == "classification"

    job = await finished(mesh, trained.training_job)
    assert job.state == job_state_pb2.JOB_STATE_SUCCEEDED, job.error.message
    assert (job.model_name, job.target, list(job.features)) == ("customers-segment", "segment", ["age", "city"])
    assert job.dataset.connection_query.connection_id == "ml-answers-shop"
    version = job.model_version.version

    parsed, predicted = await ask(mesh, "what would the customers-segment model predict for age 31 in Lagos")
    assert parsed.intent == pq.INTENT_PREDICT
    assert predicted.source == SOURCES.ANSWER_SOURCE_PREDICTION
    assert predicted.model_version == f"models/customers-segment/versions/{version}"
    row = rows_of(predicted)[0]
    assert (row["age"], row["city"]) == (31.0, "Lagos")
    assert row["prediction"] == segment_of(31, "Lagos") == "silver"
    assert "probability silver" in row and 0.5 < row["probability silver"] <= 1.0
    assert "predicts silver" in predicted.text

    parsed, status = await ask(mesh, "how is the customers-segment model doing")
    assert parsed.intent == pq.INTENT_MODEL_STATUS
    assert status.source == SOURCES.ANSWER_SOURCE_REGISTRY
    assert status.model_version == f"models/customers-segment/versions/{version}"
    metrics = {r["metric"]: r["value"] for r in rows_of(status)}
    assert metrics == pytest.approx(dict(job.metrics))
    assert metrics["accuracy"] > 0.8  # the pattern is learnable
    assert "accuracy" in status.text

    parsed, accuracy = await ask(mesh, "what's the accuracy of the customers-segment model")
    assert parsed.intent == pq.INTENT_MODEL_STATUS
    assert accuracy.model_version == status.model_version and rows_of(accuracy) == rows_of(status)


async def test_a_numeric_target_trains_a_regression_from_every_column_but_the_key(mesh):
    parsed, trained = await ask(mesh, "train a model called score-all to predict score from customers")
    row = rows_of(trained)[0]
    assert (row["model"], row["task"], row["features"]) == ("score-all", "regression", "(all)")
    job = await mesh.training.job(trained.training_job)
    sql = job.dataset.connection_query.sql
    assert '"score"' in sql and '"age"' in sql and '"id"' not in sql  # the key says nothing about a row
    assert any("but id" in note for note in trained.notes)


async def test_an_unknown_column_names_the_closest_ones(mesh):
    # A hand-made parse: the real parser already refuses an unknown column, and MlAnswers
    # must not trust what it is given either.
    parsed = pq.ParsedQuery(intent=pq.INTENT_TRAIN, tables=["customers"], target="segmnt", columns=["age"])
    with pytest.raises(InvalidArgument) as caught:
        await answers(mesh).answer(parsed, question="train", connection_id="ml-answers-shop")
    assert "segment" in caught.value.message
    assert caught.value.violations[0].field == "target"


async def test_an_unknown_model_is_not_found_with_the_known_ones(mesh):
    await ensure_model(mesh)
    with pytest.raises(NotFound) as caught:
        await ask(mesh, "how is the customers-segmnt model doing")
    assert "customers-segment" in caught.value.message


async def test_missing_inputs_are_named(mesh):
    await ensure_model(mesh)
    with pytest.raises(InvalidArgument) as caught:
        await ask(mesh, "what would the customers-segment model predict for age 31")
    assert "city" in caught.value.message
    assert [v.field for v in caught.value.violations] == ["inputs.city"]


async def test_a_service_that_is_down_is_named(mesh):
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    channel = open_channel(mesh.settings, address=closed, map_errors=True)
    try:
        down = answers(mesh, training=TrainingClient(channel))
        with pytest.raises(Unavailable) as caught:
            await ask(mesh, "train a model to predict segment from customers", down)
        assert caught.value.message.startswith("training service unavailable")
        assert caught.value.metadata["service"] == "training"

        await ensure_model(mesh)
        down = answers(mesh, prediction=PredictionClient(channel))
        with pytest.raises(Unavailable) as caught:
            await ask(mesh, "what would the customers-segment model predict for age 31 in Lagos", down)
        assert caught.value.message.startswith("prediction service unavailable")

        down = answers(mesh, registry=RegistryClient(channel, retry_s=0))
        with pytest.raises(Unavailable) as caught:
            await ask(mesh, "how is the customers-segment model doing", down)
        assert caught.value.message.startswith("registry service unavailable")
    finally:
        await channel.close()



async def ensure_model(mesh: MlMesh) -> None:
    """customers-segment registered (trained by the first test, or here when run alone)."""
    try:
        await mesh.registry.model("customers-segment")
        if await mesh.registry.newest_ready_version("customers-segment") is not None:
            return
    except NotFound:
        pass
    _, trained = await ask(mesh, "train a model to predict segment from customers using age and city")
    job = await finished(mesh, trained.training_job)
    assert job.state == job_state_pb2.JOB_STATE_SUCCEEDED, job.error.message



@pytest.fixture(scope="module")
async def mongo(settings, mesh):
    """A MongoDB connection (mongomock-motor behind the real connector) with customers
    documents, and a real parser reading it."""
    client = AsyncMongoMockClient(tz_aware=True)
    rng = np.random.default_rng(5)
    documents = []
    for i in range(240):
        age, city = int(rng.integers(18, 80)), str(rng.choice(CITIES))
        documents.append({"_id": i + 1, "age": age, "city": city, "segment": segment_of(age, city)})
    await client["shop"]["customers"].insert_many(documents)

    opener = mongomock_opener(client)

    async with running_parser(settings, opener=opener, prediction_port=free_port()) as parser:
        await register(parser.connector, "ml-answers-mongo", connection_pb2.CONNECTION_KIND_MONGODB,
                       "mongodb://127.0.0.1:27017/shop")
        yield parser


async def test_a_mongodb_collection_is_sent_inline_and_trains(mesh, mongo):
    question = "train a model called mongo-segment to predict segment from customers using age and city"
    parsed = (await mongo.parser.ParseQuery(
        ParseQueryRequest(question=question, connection_id="ml-answers-mongo"), timeout=30)).parsed_query
    connector = ConnectorClient(mongo.connector.channel)
    answer = await answers(mesh, connector=connector).answer(parsed, question=question, connection_id="ml-answers-mongo")
    assert any("read 240 documents of customers" in note for note in answer.notes)
    job = await finished(mesh, answer.training_job)
    assert job.state == job_state_pb2.JOB_STATE_SUCCEEDED, job.error.message
    assert len(job.dataset.inline_records.records) == 240 and job.model_name == "mongo-segment"

    small = answers(mesh, connector=connector)
    small.settings = mesh.settings.model_copy(update={"gateway_ml_inline_rows": 100})
    with pytest.raises(InvalidArgument) as caught:
        await small.answer(parsed, question=question, connection_id="ml-answers-mongo")
    assert "more than 100 documents" in caught.value.message


async def test_a_regression_predicts_a_number(mesh):
    _, trained = await ask(mesh, "train a model called score-model to predict score from customers using age")
    assert rows_of(trained)[0]["task"] == "regression"
    job = await finished(mesh, trained.training_job)
    assert job.state == job_state_pb2.JOB_STATE_SUCCEEDED, job.error.message
    _, predicted = await ask(mesh, "what would the score-model model predict for age 50")
    value = rows_of(predicted)[0]["prediction"]
    assert value == pytest.approx(75, abs=5)  # score is about 1.5 × age
    assert predicted.model_version == f"models/score-model/versions/{job.model_version.version}"


async def test_a_mysql_table_trains_through_its_own_dialect(mesh, mysql_database):
    conn = await aiomysql.connect(**MYSQL, db=mysql_database, autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute("CREATE TABLE members (member_id INT PRIMARY KEY, age INT, city VARCHAR(20), "
                              "`tier level` VARCHAR(10))")
            rng = np.random.default_rng(9)
            rows = []
            for i in range(200):
                age, city = int(rng.integers(18, 80)), str(rng.choice(CITIES))
                rows.append((i + 1, age, city, segment_of(age, city)))
            await cur.executemany("INSERT INTO members VALUES (%s, %s, %s, %s)", rows)
    finally:
        conn.close()
    await mesh.register("club", mysql_dsn(mysql_database), kind=connection_pb2.CONNECTION_KIND_MYSQL)
    question = "train a model to predict tier level from members"
    parsed = await mesh.parse(question, "club")
    answer = await answers(mesh).answer(parsed, question=question, connection_id="club")
    job = await finished(mesh, answer.training_job)
    assert job.state == job_state_pb2.JOB_STATE_SUCCEEDED, job.error.message
    assert job.dataset.connection_query.sql == "SELECT `tier level`, `age`, `city` FROM `members`"
    assert job.model_name == "members-tier-level" and job.metrics["accuracy"] > 0.8


async def test_a_retrained_model_answers_from_production_and_says_a_newer_version_waits(mesh):
    question = "train a model called retrained to predict segment from customers using age and city"
    first = await finished(mesh, (await ask(mesh, question))[1].training_job)
    second = await finished(mesh, (await ask(mesh, question))[1].training_job)
    assert second.state == job_state_pb2.JOB_STATE_SUCCEEDED, second.error.message
    _, status = await ask(mesh, "how is the retrained model doing")
    assert status.model_version == f"models/retrained/versions/{first.model_version.version}"
    newer = second.model_version.version
    assert status.notes == [f"version {newer} is newer but not production (`chatdb promote retrained {newer}` makes it so)"]


async def test_open_ml_answers_reaches_every_service_from_settings(mesh):
    await ensure_model(mesh)
    async with AsyncExitStack() as stack:
        ml = open_ml_answers(mesh.settings, stack)
        _, status = await ask(mesh, "how is the customers-segment model doing", ml)
        _, predicted = await ask(mesh, "what would the customers-segment model predict for age 60 in Lima", ml)
    assert status.source == SOURCES.ANSWER_SOURCE_REGISTRY
    assert rows_of(predicted)[0]["prediction"] == "gold"


async def test_status_without_a_model_name_lists_the_models(mesh):
    await ensure_model(mesh)
    parsed, overview = await ask(mesh, "how are the models doing")
    assert parsed.intent == pq.INTENT_MODEL_STATUS and not parsed.model_name
    assert overview.source == SOURCES.ANSWER_SOURCE_REGISTRY
    listed = {r["model"]: r for r in rows_of(overview)}
    assert listed["customers-segment"]["alias"] == "production" and "accuracy" in listed["customers-segment"]["metrics"]
