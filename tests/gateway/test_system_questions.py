"""System questions: which questions are about ChatDB itself (no I/O), and their answers
from a real training service with real jobs (queued with no worker, running and failed
with a real `chatdb worker`), and from the status monitor."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime

import grpc
import pytest
from chatdb.training.v1 import job_state_pb2 as states
from chatdb.training.v1 import training_job_pb2 as job_pb
from chatdb.training.v1 import training_service_pb2 as pb
from google.protobuf import json_format, struct_pb2

from gateway import health_probe
from gateway.answer import SOURCES
from gateway.status import StatusMonitor
from gateway.system_questions import SystemQuestions, Topic, open_system_questions, topic_of
from servers.contracts.cells import cell_to_value
from servers.runtime.pg import platform_unavailable
from tests.training.conftest import open_mesh, write_csv

from .mesh_support import wait_for

pytestmark = pytest.mark.timeout(240)

SYSTEM = [
    ("is the system healthy?", Topic.HEALTH),
    ("Is everything OK?", Topic.HEALTH),
    ("is everything ok", Topic.HEALTH),
    ("system status", Topic.HEALTH),
    ("are all services up?", Topic.HEALTH),
    ("what is the degradation level?", Topic.HEALTH),
    ("is the mesh healthy right now?", Topic.HEALTH),
    ("which jobs are running?", Topic.JOBS),
    ("what jobs are queued?", Topic.JOBS),
    ("show me the training jobs", Topic.JOBS),
    ("is any training running?", Topic.JOBS),
    ("what failed today?", Topic.FAILURES),
    ("which jobs failed?", Topic.FAILURES),
    ("any errors today?", Topic.FAILURES),
    ("did anything fail today?", Topic.FAILURES),
    ("which questions failed today?", Topic.FAILURES),
]
DATABASE = [
    "which orders failed delivery?",
    "how many customers are there?",
    "what is the status of order 5?",
    "show orders with status shipped",
    "which payments failed today?",
    "list jobs with salary above 100000",
    "how many employees have the job title engineer?",
    "which servers are healthy in the hosts table?",
    "show all users who are active",
    "total sales by region last month",
    "errors by service in the logs",
]


@pytest.mark.parametrize(("question", "topic"), SYSTEM)
def test_system_questions_are_recognised(question, topic):
    assert topic_of(question) is topic
    assert SystemQuestions(monitor=None, training=None, failed_questions=None).recognises(question)


@pytest.mark.parametrize("question", DATABASE)
def test_database_questions_are_not(question):
    assert topic_of(question) is None
    assert not SystemQuestions(monitor=None, training=None, failed_questions=None).recognises(question)


def spec(model: str, csv_path: str, target: str, **hyper) -> job_pb.TrainingJob:
    job = job_pb.TrainingJob(model_name=model, task=job_pb.TASK_CLASSIFICATION, algorithm="random_forest",
                             dataset=job_pb.Dataset(csv_path=csv_path), target=target)
    for key, value in hyper.items():
        job.hyperparameters[key].CopyFrom(json_format.ParseDict(value, struct_pb2.Value()))
    return job


def rows_of(answer) -> list[dict]:
    names = [c.name for c in answer.columns]
    return [dict(zip(names, (cell_to_value(cell) for cell in row.cells), strict=True)) for row in answer.rows]


class History:
    """Stands in for the core's history query (gateway.core, another helper's part): the
    FAILED asks since a moment, as the core returns them."""

    def __init__(self) -> None:
        self.asked_since: list[datetime] = []

    async def __call__(self, since: datetime) -> list[dict]:
        self.asked_since.append(since)
        return [{"query_id": "q-1", "question": "average price of unicorns", "connection_id": "shop",
                 "error": "INVALID_ARGUMENT: no table or column matches 'unicorns'",
                 "create_time": datetime.now(UTC)}]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sysq-data")
    write_csv(directory / "points.csv", ["a", "b", "label"],
              [(i % 7, (i * 3) % 11, "x" if i % 2 else "y") for i in range(200)])
    write_csv(directory / "doomed.csv", ["a", "b", "label"],
              [(i % 7, (i * 3) % 11, "x" if i % 2 else "y") for i in range(200)])
    write_csv(directory / "big.csv", [f"f{i}" for i in range(10)] + ["y"],
              [(*(((i * 7 + j) % 13) / 13 for j in range(10)), i % 2) for i in range(20000)])
    return directory


@pytest.fixture(scope="module")
async def mesh(settings, data_dir):
    async with open_mesh(settings, data_dir) as mesh:
        yield mesh


@pytest.fixture(scope="module")
async def monitor(mesh):
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{mesh.settings.training_port}")
    monitor = StatusMonitor({"training": health_probe.grpc_health(channel, 0.3)}, timeout_s=0.3, interval_s=0.0,
                            breaker_failures=3, breaker_cooldown_s=0.5)
    yield monitor
    await channel.close()


@pytest.fixture(scope="module")
def history():
    return History()


@pytest.fixture(scope="module")
def questions(mesh, monitor, history):
    return SystemQuestions(monitor=monitor, training=mesh.training, failed_questions=history)


async def create(mesh, job):
    return (await mesh.training.CreateTrainingJob(pb.CreateTrainingJobRequest(training_job=job), timeout=30)).training_job


async def state_of(mesh, job_id):
    return (await mesh.training.GetTrainingJob(pb.GetTrainingJobRequest(job_id=job_id), timeout=10)).training_job.state


async def test_health_question_answers_level_and_components(questions):
    answer = await questions.answer("is the system healthy?")
    assert answer.source == SOURCES.ANSWER_SOURCE_SYSTEM
    assert answer.text.startswith("The system is healthy (level 0)")
    assert rows_of(answer)[0]["component"] == "training" and rows_of(answer)[0]["state"] == "serving"


async def test_queued_jobs_are_listed_without_a_worker(mesh, questions):
    first = await create(mesh, spec("sysq-queued-a", "points.csv", "label"))
    second = await create(mesh, spec("sysq-queued-b", "points.csv", "label"))
    answer = await questions.answer("what jobs are queued?")
    rows = rows_of(answer)
    listed = {row["job"]: row for row in rows}
    assert {first.job_id, second.job_id} <= set(listed)
    assert listed[first.job_id]["model"] == "sysq-queued-a" and listed[first.job_id]["state"] == "queued"
    assert all(row["state"] == "queued" for row in rows)
    assert "queued" in answer.text
    running = await questions.answer("which jobs are running?")
    assert running.text == "No training jobs are running." and running.rows == []
    # Leave the queue empty for the worker test.
    for job in (first, second):
        await mesh.training.CancelTrainingJob(pb.CancelTrainingJobRequest(job_id=job.job_id), timeout=10)


async def test_running_and_failed_jobs_with_a_real_worker(mesh, data_dir, questions, history):
    doomed = await create(mesh, spec("sysq-doomed", "doomed.csv", "label"))
    # The spec was valid when created; the file it reads is gone by the time it runs.
    write_csv(data_dir / "doomed.csv", ["a", "b"], [(1, 2)])
    mesh.start_worker()
    try:
        await wait_for(lambda: _in_state(mesh, doomed.job_id, {states.JOB_STATE_FAILED}), timeout_s=60,
                       what="doomed job FAILED")
        long = await create(mesh, spec("sysq-long", "big.csv", "y", n_estimators=3000))
        await wait_for(lambda: _in_state(mesh, long.job_id, {states.JOB_STATE_RUNNING}), timeout_s=60,
                       what="long job RUNNING")
        running = await questions.answer("which jobs are running?")
        assert [row["job"] for row in rows_of(running)] == [long.job_id]
        assert rows_of(running)[0]["model"] == "sysq-long" and "1 running" in running.text

        failed = await questions.answer("what failed today?")
        rows = rows_of(failed)
        jobs = [row for row in rows if row["kind"] == "training job"]
        assert [row["id"] for row in jobs] == [doomed.job_id]
        assert jobs[0]["what"] == "train sysq-doomed" and jobs[0]["error"]
        assert [row["id"] for row in rows if row["kind"] == "question"] == ["q-1"]
        assert failed.text == "Since midnight 1 training job(s) and 1 question(s) failed."
        since = history.asked_since[-1]
        assert since.hour == 0 and since.minute == 0 and since <= datetime.now(UTC)
        await mesh.training.CancelTrainingJob(pb.CancelTrainingJobRequest(job_id=long.job_id), timeout=10)
    finally:
        mesh.stop_workers()


async def _in_state(mesh, job_id, wanted):
    return await state_of(mesh, job_id) in wanted


async def test_open_system_questions_uses_the_configured_training_service(mesh, monitor, history):
    queued = await create(mesh, spec("sysq-configured", "points.csv", "label"))
    async with AsyncExitStack() as stack:
        questions = open_system_questions(mesh.settings, stack, monitor=monitor, failed_questions=history)
        answer = await questions.answer("which jobs are queued?")
    assert [row["job"] for row in rows_of(answer)] == [queued.job_id]
    await mesh.training.CancelTrainingJob(pb.CancelTrainingJobRequest(job_id=queued.job_id), timeout=10)


async def test_history_down_is_said_and_training_failures_still_listed(mesh, monitor):
    async def history_down(since):
        raise platform_unavailable()  # what the core's history raises while PostgreSQL is away

    questions = SystemQuestions(monitor=monitor, training=mesh.training, failed_questions=history_down)
    answer = await questions.answer("what failed today?")
    assert [row["what"] for row in rows_of(answer)] == ["train sysq-doomed"]
    assert "question history is unavailable" in answer.text


async def test_training_down_is_said_in_the_answer(mesh, monitor, questions):
    await mesh.servers["training"].stop(grace_s=0)
    await wait_for(lambda: _down(monitor), what="training seen down")
    jobs = await questions.answer("which jobs are running?")
    assert jobs.source == SOURCES.ANSWER_SOURCE_SYSTEM
    assert "training service is down" in jobs.text and jobs.rows == []
    failed = await questions.answer("what failed today?")
    assert [row["kind"] for row in rows_of(failed)] == ["question"]
    assert "failed training jobs are not listed: the training service is down" in failed.text and failed.notes
    health = await questions.answer("is the system healthy?")
    assert "level 1: training down" in health.text


async def _down(monitor):
    await monitor.refresh()
    return monitor.is_down("training")
