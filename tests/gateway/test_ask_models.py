"""Questions about models through the gateway's Ask, wired as `chatdb serve gateway` wires
them (app.wire_answerers): the real parser routes them, the ML side of the mesh answers
(a real worker trains from PostgreSQL, the real prediction service predicts), and the
history keeps what answered."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import grpc
import pytest
from chatdb.gateway.v1 import chat_service_pb2 as pb
from chatdb.gateway.v1 import query_record_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq
from chatdb.training.v1 import job_state_pb2

from .ml_support import create_customers, ml_mesh, rows_of, serve_gateway

pytestmark = pytest.mark.timeout(300)
SOURCES = query_record_pb2.AnswerSource


@pytest.fixture(scope="module")
async def chat(settings, tmp_path_factory, pg_database):
    await create_customers(pg_database)
    async with ml_mesh(settings, tmp_path_factory.mktemp("ask-models")) as mesh, AsyncExitStack() as stack:
        await mesh.register("ask-models-shop", pg_database)
        yield mesh, await serve_gateway(mesh, stack)


async def ask(stub, question: str) -> pb.AskResponse:
    return await stub.Ask(pb.AskRequest(question=question, connection_id="ask-models-shop"), timeout=60)


async def test_train_predict_and_status_through_ask(chat):
    mesh, stub = chat
    trained = await ask(stub, "train a model called shop-churn to predict segment from customers using age and city")
    assert trained.source == SOURCES.ANSWER_SOURCE_TRAINING
    assert trained.parsed_query.intent == pq.INTENT_TRAIN
    assert trained.training_job.startswith("trainingJobs/")
    assert trained.answer.startswith(f"Started training job {trained.training_job} for model shop-churn")

    deadline = asyncio.get_running_loop().time() + 180
    while (job := await mesh.training.job(trained.training_job)).state not in (
            job_state_pb2.JOB_STATE_SUCCEEDED, job_state_pb2.JOB_STATE_FAILED):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.2)
    assert job.state == job_state_pb2.JOB_STATE_SUCCEEDED, job.error.message

    predicted = await ask(stub, "what would the shop-churn model predict for age 31 in Lagos")
    assert predicted.source == SOURCES.ANSWER_SOURCE_PREDICTION
    assert predicted.model_version == f"models/shop-churn/versions/{job.model_version.version}"
    assert rows_of(predicted)[0]["prediction"] == "silver"

    status = await ask(stub, "how is the shop-churn model doing")
    assert status.source == SOURCES.ANSWER_SOURCE_REGISTRY
    assert {r["metric"] for r in rows_of(status)} == set(job.metrics)

    recorded = await stub.GetQuery(pb.GetQueryRequest(query_id=predicted.query_id), timeout=10)
    assert recorded.query.question == "what would the shop-churn model predict for age 31 in Lagos"


async def test_an_unknown_model_is_not_found_through_ask(chat):
    _, stub = chat
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ask(stub, "how is the no-such-thing model doing")
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    assert "no model called 'no-such-thing'" in caught.value.details()
