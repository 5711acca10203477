"""Per-key quotas: questions per minute through a real gateway (connector, parser,
gateway on the shop database) and training jobs per day through the real training
service, each refused with RESOURCE_EXHAUSTED, google.rpc.QuotaFailure, RetryInfo and
a message saying when the quota resets. The caller is the principal the edge would set
(identity headers sent as metadata, as Envoy forwards them after ext_authz)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import uuid

import grpc
import pytest
import redis.asyncio as aioredis
from chatdb.gateway.v1 import chat_service_pb2 as pb
from chatdb.training.v1 import training_job_pb2 as job_pb
from chatdb.training.v1 import training_service_pb2 as training_pb
from google.rpc import error_details_pb2, status_pb2

from servers.contracts.quotas import Quotas, window_of
from servers.runtime.identity import Principal
from tests.gateway.cli_support import shop_gateway
from tests.gateway.support import forget
from tests.training.conftest import open_mesh, write_csv

CONNECTION = "gw-quota"


def principal(**quotas: int) -> Principal:
    key_id = f"ak_{uuid.uuid4().hex[:16]}"
    return Principal(name=f"key:{key_id}", tenant="acme", role="user", api_key_id=key_id, quotas=quotas)


def details(error: grpc.aio.AioRpcError) -> tuple[error_details_pb2.QuotaFailure, error_details_pb2.RetryInfo]:
    [raw] = [v for k, v in error.trailing_metadata() if k == "grpc-status-details-bin"]
    status = status_pb2.Status.FromString(raw)
    failure, retry = error_details_pb2.QuotaFailure(), error_details_pb2.RetryInfo()
    found = {d.type_url.rsplit("/", 1)[1] for d in status.details}
    assert {"google.rpc.QuotaFailure", "google.rpc.RetryInfo", "google.rpc.ErrorInfo"} <= found
    for d in status.details:
        if d.Is(failure.DESCRIPTOR):
            d.Unpack(failure)
        elif d.Is(retry.DESCRIPTOR):
            d.Unpack(retry)
    return failure, retry


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    async with shop_gateway(settings, f"chatdb_test_{run_id}_gw_quota", CONNECTION) as m:
        yield m
        await forget(m.connector, CONNECTION)


async def test_questions_per_minute_through_a_real_gateway(mesh):
    caller = principal(questions_per_minute=2, questions_per_day=100)
    ask = pb.AskRequest(question="how many customers are there", connection_id=CONNECTION)
    answered = [await mesh.stub.Ask(ask, metadata=caller.metadata()) for _ in range(2)]
    assert all(a.rows for a in answered)

    before = dt.datetime.now(dt.UTC)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await mesh.stub.Ask(ask, metadata=caller.metadata())
    error = caught.value
    if window_of("questions_per_minute", before.timestamp()) != window_of(
            "questions_per_minute", dt.datetime.now(dt.UTC).timestamp()):
        pytest.skip("the minute turned during the test")
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    message = error.details()
    assert "questions_per_minute (2)" in message and "resets at" in message
    reset = dt.datetime.strptime(re.search(r"resets at (\S+)", message).group(1), "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.UTC)
    assert reset.second == 0 and dt.timedelta(0) < reset - before <= dt.timedelta(seconds=60)
    failure, retry = details(error)
    [violation] = failure.violations
    assert violation.subject == f"api_key:{caller.api_key_id}" and "questions_per_minute" in violation.description
    assert 0 < retry.retry_delay.ToTimedelta().total_seconds() <= 60

    # Another key is not affected; a caller without a principal is never counted.
    other = principal(questions_per_minute=2)
    assert (await mesh.stub.Ask(ask, metadata=other.metadata())).rows
    for _ in range(3):
        assert (await mesh.stub.Ask(ask)).rows


async def test_the_history_and_audit_record_the_principal_and_key(mesh):
    caller = principal(questions_per_minute=50)
    reply = await mesh.stub.Ask(pb.AskRequest(question="how many products are there", connection_id=CONNECTION),
                                metadata=caller.metadata())
    record = (await mesh.stub.GetQuery(pb.GetQueryRequest(query_id=reply.query_id))).query
    assert record.principal == caller.name and record.api_key_id == caller.api_key_id
    pool = mesh.core.store.pool
    for _ in range(50):
        row = await pool.fetchrow("SELECT principal, api_key_id FROM gateway_audit WHERE query_id = $1", reply.query_id)
        if row is not None:
            break
        await asyncio.sleep(0.1)  # the audit row is written off the response path
    assert row is not None and (row["principal"], row["api_key_id"]) == (caller.name, caller.api_key_id)


async def test_training_jobs_per_day_through_the_real_training_service(settings, tmp_path):
    write_csv(tmp_path / "tiny.csv", ["x", "y"], [(i, i % 2) for i in range(40)])
    caller = principal(training_jobs_per_day=1)
    job = job_pb.TrainingJob(model_name="quota-model", task=job_pb.TASK_CLASSIFICATION,
                             algorithm="logistic_regression", target="y", dataset=job_pb.Dataset(csv_path="tiny.csv"))
    request = training_pb.CreateTrainingJobRequest(training_job=job)
    # A queue of its own; the jobs are cancelled at the end, so no other module's reaper
    # and worker (same platform database) pick them up and fail them.
    async with open_mesh(settings, tmp_path, redis_prefix=f"{settings.redis_prefix}-quota") as training:
        made = []
        try:
            # A job refused as invalid gives its charge back.
            bad = training_pb.CreateTrainingJobRequest(training_job=job_pb.TrainingJob(
                model_name="quota-model", task=job_pb.TASK_CLASSIFICATION, algorithm="logistic_regression",
                target="nope", dataset=job_pb.Dataset(csv_path="tiny.csv")))
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await training.training.CreateTrainingJob(bad, metadata=caller.metadata(), timeout=30)
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            created = await training.training.CreateTrainingJob(request, metadata=caller.metadata(), timeout=30)
            made.append(created.training_job.job_id)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await training.training.CreateTrainingJob(request, metadata=caller.metadata(), timeout=30)
            error = caught.value
            assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
            assert "training_jobs_per_day (1)" in error.details() and f"resets at {tomorrow}" in error.details()
            failure, retry = details(error)
            assert failure.violations[0].subject == f"api_key:{caller.api_key_id}"
            assert 0 < retry.retry_delay.ToTimedelta().total_seconds() <= 86_400
            # An internal caller (no principal) is not counted.
            made.append((await training.training.CreateTrainingJob(request, timeout=30)).training_job.job_id)
        finally:
            for job_id in made:
                await training.training.CancelTrainingJob(training_pb.CancelTrainingJobRequest(job_id=job_id),
                                                          timeout=30)


async def test_refused_calls_give_back_what_they_charged(settings):
    client = aioredis.from_url(settings.redis_url)
    try:
        quotas = Quotas(client, f"{settings.redis_prefix}-refund")
        caller = principal(questions_per_minute=100, questions_per_day=1)
        await quotas.charge(("questions_per_minute", "questions_per_day"), caller)
        for _ in range(3):
            with pytest.raises(Exception) as caught:
                await quotas.charge(("questions_per_minute", "questions_per_day"), caller)
            assert "questions_per_day (1)" in str(caught.value)
        key = f"{settings.redis_prefix}-refund:quota:{caller.api_key_id}:questions_per_minute:"
        [minute] = [k async for k in client.scan_iter(match=key + "*")]
        assert int(await client.get(minute)) == 1  # only the call that was answered
    finally:
        await client.aclose()


async def test_redis_down_means_quotas_are_not_enforced_and_logged_once(caplog):
    client = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        quotas = Quotas(client, "down", retry_after_s=0.0)
        caller = principal(questions_per_minute=1)
        with caplog.at_level(logging.WARNING, logger="chatdb.quotas"):
            for _ in range(3):
                await quotas.charge(("questions_per_minute",), caller)
        assert len([r for r in caplog.records if "not enforced" in r.getMessage()]) == 1
    finally:
        await client.aclose()
