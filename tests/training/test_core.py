"""The training core without a transport: the session's real PostgreSQL (the job of
record) and Redis (the arq queue), no gRPC and no worker."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack

import pytest
from arq.constants import job_key_prefix

from servers.runtime.errors import InvalidArgument, NotFound
from servers.training.app import open_core
from servers.training.core import TrainingCore
from servers.training.domain import DatasetSource, JobSpec, JobState
from servers.training.queue import arq_job_id

from .conftest import write_csv


@pytest.fixture(scope="module")
async def core(settings, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("core-data")
    write_csv(data_dir / "small.csv", ["x", "label"], [(i, "a" if i % 2 else "b") for i in range(40)])
    core_settings = settings.model_copy(update={"data_dir": data_dir, "redis_prefix": f"{settings.redis_prefix}-core"})
    async with AsyncExitStack() as stack:
        core = await open_core(core_settings, stack)
        yield core
        # arq's job keys are not under the prefix: remove the entries no worker will take.
        jobs = await core.store.list(limit=1000, after=None, state=None, model_name=None)
        keys = [job_key_prefix + arq_job_id(job.job_id, 1) for job in jobs]
        if keys:
            await core.queue.redis.delete(*keys)


def unique() -> str:
    return f"core-{uuid.uuid4().hex[:8]}"


def spec(model_name: str, **changes) -> JobSpec:
    fields = {
        "model_name": model_name, "task": "classification", "algorithm": "logistic_regression",
        "dataset": DatasetSource(csv_path="small.csv"), "target": "label",
    }
    return JobSpec(**{**fields, **changes})


async def test_create_writes_the_job_of_record_then_queues_it(core: TrainingCore):
    job = await core.create(spec(name := unique()), None)
    assert job.job_id.startswith("job-")
    assert job.state is JobState.QUEUED and job.attempts == 0
    assert job.spec == spec(name)
    assert job.max_attempts == core.options.max_attempts
    assert await core.queue.present(job.job_id, 1)
    assert await core.get(job.job_id) == job


async def test_a_repeated_request_id_returns_the_first_job(core: TrainingCore):
    name, request_id = unique(), uuid.uuid4().hex
    first = await core.create(spec(name), request_id)
    again = await core.create(spec(name), request_id)
    assert again.job_id == first.job_id and again.request_id == request_id
    jobs, _ = await core.list(requested_page_size=10, page_token="", state=None, model_name=name)
    assert [j.job_id for j in jobs] == [first.job_id]


async def test_an_invalid_spec_is_invalid_argument_and_writes_nothing(core: TrainingCore):
    name = unique()
    with pytest.raises(InvalidArgument) as err:
        await core.create(spec(name, algorithm="", target=""), None)
    assert {v.field for v in err.value.violations} == {"training_job.algorithm", "training_job.target"}
    with pytest.raises(InvalidArgument) as err:
        await core.create(spec(name, algorithm="nope"), None)
    assert "training_job.algorithm" in {v.field for v in err.value.violations}
    with pytest.raises(InvalidArgument) as err:
        await core.create(spec(name, dataset=DatasetSource(csv_path="missing.csv")), None)
    assert [v.field for v in err.value.violations] == ["training_job.dataset.csv_path"]
    jobs, _ = await core.list(requested_page_size=10, page_token="", state=None, model_name=name)
    assert jobs == []


async def test_list_pages_through_one_model_and_one_state(core: TrainingCore):
    name = unique()
    created = [(await core.create(spec(name), None)).job_id for _ in range(3)]
    await core.cancel(created[0])
    seen, token = [], ""
    while True:
        jobs, token = await core.list(requested_page_size=2, page_token=token, state=None, model_name=name)
        seen += [j.job_id for j in jobs]
        if not token:
            break
    assert sorted(seen) == sorted(created)
    queued, _ = await core.list(requested_page_size=10, page_token="", state=JobState.QUEUED, model_name=name)
    assert sorted(j.job_id for j in queued) == sorted(created[1:])
    with pytest.raises(InvalidArgument):
        await core.list(requested_page_size=2, page_token="Zm9v", state=None, model_name=name)


async def test_cancel_a_queued_job_ends_it_at_once(core: TrainingCore):
    job = await core.create(spec(unique()), None)
    cancelled = await core.cancel(job.job_id)
    assert cancelled.state is JobState.CANCELLED and cancelled.end_time is not None
    assert (await core.cancel(job.job_id)).state is JobState.CANCELLED  # again: unchanged
    assert (await core.get(job.job_id)).state is JobState.CANCELLED


async def test_an_unknown_job_is_not_found(core: TrainingCore):
    with pytest.raises(NotFound):
        await core.get("job-0000000000000000")
    with pytest.raises(NotFound):
        await core.cancel("job-0000000000000000")
