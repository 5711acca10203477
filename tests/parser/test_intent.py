"""The intent of a question: the rule path alone (its accuracy on schemas the rules were
never looked at with), and the model path end to end on the platform — the corpus
trained as a text_classification job by a real worker, registered, promoted, served by
a real prediction service and asked by IntentClassifier — and what happens when that
service is stopped or the model is missing: rules answer, and say why."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass

import grpc
import pytest
from chatdb.registry.v1 import model_registry_service_pb2 as reg_pb

from servers.parser.bootstrap import Outcome, bootstrap_intent
from servers.parser.domain import QueryKind
from servers.parser.intent import IntentClassifier
from servers.parser.intent_corpus import HELD_OUT, generate
from servers.parser.intent_rules import rule_intent
from servers.prediction.app import open_prediction
from servers.runtime.channels import open_channel
from servers.runtime.server import GrpcServer

from ..runtime.test_cli_serve import free_port
from ..training.conftest import open_mesh

ROUTING = {"train", "predict", "model_status", "system_status"}

# --- the rule path alone ---------------------------------------------------------------


def _held_out() -> list:
    return [e for e in generate() if e.domain in HELD_OUT]


def test_rules_route_held_out_questions():
    """Questions about schemas held out of rule-writing: ML / status questions vs.
    database questions (what the parser routes on), and the ten labels."""
    held = _held_out()
    assert len(held) > 500

    def route(label: str) -> str:
        return label if label in ROUTING else "database"

    answers = [(rule_intent(e.text).kind.value, e.label) for e in held]
    routing = sum(route(got) == route(want) for got, want in answers) / len(held)
    exact = sum(got == want for got, want in answers) / len(held)
    assert routing >= 0.9, routing  # measured 0.99
    assert exact >= 0.85, exact  # measured 0.97
    per_label = Counter(want for got, want in answers if got == want)
    assert all(per_label[label] / count >= 0.7 for label, count in Counter(w for _, w in answers).items())


@pytest.mark.parametrize(("question", "kind"), [
    ("Train a classifier that predicts plan from subscribers", QueryKind.TRAIN),
    ("please retrain the upsell model", QueryKind.TRAIN),
    ("which training jobs are stuck", QueryKind.SYSTEM_STATUS),
    ("is the whole system healthy?", QueryKind.SYSTEM_STATUS),
    ("how accurate is the upsell model", QueryKind.MODEL_STATUS),
    ("how is the upsell model doing", QueryKind.MODEL_STATUS),
    ("what would the upsell model predict for tenure 12 in Quito", QueryKind.PREDICT),
    ("forecast plan for a subscriber with tenure 3", QueryKind.PREDICT),
    ("how many subscribers joined this year", QueryKind.COUNT),
    ("how many subscribers per plan", QueryKind.AGGREGATE),
    ("averge tenure of subscribers", QueryKind.AGGREGATE),
    ("top 3 plans by price", QueryKind.TOP_N),
    ("subscribers with tenure at least 12", QueryKind.SELECT),
    ("which columns does subscribers have", QueryKind.DESCRIBE),
    ("list the unique plans", QueryKind.DISTINCT),
    ("show me all subscribers from Quito", QueryKind.SELECT),
    ("the mean model year of buses", QueryKind.AGGREGATE),  # a column called "model year" is no ML model
])
def test_rule_cues(question, kind):
    assert rule_intent(question).kind is kind


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("mapped", [False, True], ids=["plain-channel", "error-mapping-channel"])
async def test_breaker_skips_a_dead_service_then_tries_again(mapped, settings):
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    # The parser's own channel maps errors to the domain tree (open_channel(map_errors=True)).
    channel = open_channel(settings, address=address, map_errors=True) if mapped else grpc.aio.insecure_channel(address)
    clock = FakeClock()
    classifier = IntentClassifier(channel, timeout_s=0.3, breaker_s=5.0, clock=clock)
    try:
        first = await asyncio.wait_for(classifier.classify("how many orders are there"), 5)
        assert (first.kind, first.source) == (QueryKind.COUNT, "rules")
        assert "unavailable" in first.fallback_reason
        clock.now += 1
        second = await classifier.classify("train a model to predict plan from subscribers")
        assert (second.kind, second.source) == (QueryKind.TRAIN, "rules")
        assert "not asked again for 4.0 s" in second.fallback_reason
        clock.now += 10
        third = await asyncio.wait_for(classifier.classify("how many orders are there"), 5)
        assert "not asked again" not in third.fallback_reason  # the model was tried again
        assert "unavailable" in third.fallback_reason
    finally:
        await channel.close()


# --- the model path on the platform ------------------------------------------------------


@dataclass
class Platform:
    settings: object  # settings of the parser side: the mesh's ports, this module's model name
    prediction: GrpcServer
    outcome: Outcome
    stack: AsyncExitStack


async def _start_prediction(settings, stack: AsyncExitStack) -> GrpcServer:
    app = await open_prediction(settings, stack)
    server = GrpcServer(settings, app.bindings, host="127.0.0.1", port=0, ready=False)
    await server.start()
    stack.push_async_callback(server.stop, 0)
    await app.start(server)
    return server


@pytest.fixture(scope="module")
async def platform(settings, tmp_path_factory):
    """Training, registry and connector in process, a real `chatdb worker`, a prediction
    server; then the bootstrap trains the intent model on a slice of the corpus."""
    per_label = int(os.environ.get("CHATDB_TEST_INTENT_PER_LABEL", "60"))
    async with open_mesh(settings, tmp_path_factory.mktemp("intent-data")) as mesh:
        mesh.start_worker()
        async with AsyncExitStack() as stack:
            own = mesh.settings.model_copy(update={"grace_period_s": 0})
            prediction = await _start_prediction(own, stack)
            own = own.model_copy(update={
                "prediction_port": int(prediction.address.rsplit(":", 1)[1]),
                "parser_intent_model": f"query-intent-{uuid.uuid4().hex[:8]}",
            })
            lines: list[str] = []
            outcome = await bootstrap_intent(own, per_label=per_label, say=lines.append)
            print("\n".join(lines))
            yield Platform(own, prediction, outcome, stack)


async def test_bootstrap_trains_promotes_and_then_does_nothing(platform):
    outcome = platform.outcome
    assert outcome.trained and outcome.version == 1 and outcome.rows > 0
    assert outcome.metrics.get("accuracy", 0) >= 0.8
    async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.settings.registry_port}") as channel:
        from chatdb.registry.v1 import model_registry_service_pb2_grpc as reg_grpc

        model = (await reg_grpc.ModelRegistryServiceStub(channel).GetModel(
            reg_pb.GetModelRequest(model=outcome.model), timeout=10)).model
    assert model.aliases["production"] == outcome.version
    again = await bootstrap_intent(platform.settings)
    assert (again.trained, again.version) == (False, outcome.version)


async def test_model_answers_questions(platform):
    name = platform.settings.parser_intent_model
    async with grpc.aio.insecure_channel(platform.prediction.address) as channel:
        classifier = IntentClassifier(channel, model=name, timeout_s=2.0)  # a shared CI machine: generous
        questions = [e for e in generate(seed=99, per_label=8)]
        right = 0
        for example in questions:
            result = await classifier.classify(example.text)
            assert result.source == f"model {name} v{platform.outcome.version}", result.fallback_reason
            assert result.fallback_reason == "" and 0 < result.confidence <= 1
            right += result.kind.value == example.label
    assert right / len(questions) >= 0.8, right / len(questions)


async def test_missing_model_answers_from_rules(platform):
    async with grpc.aio.insecure_channel(platform.prediction.address) as channel:
        classifier = IntentClassifier(channel, model="no-such-intent-model", timeout_s=2.0)
        result = await classifier.classify("how many vans are there")
    assert (result.kind, result.source) == (QueryKind.COUNT, "rules")
    assert "no-such-intent-model has no production version" in result.fallback_reason


async def test_prediction_service_stopped_rules_answer_and_say_so(platform):
    async with AsyncExitStack() as stack:
        server = await _start_prediction(platform.settings, stack)
        channel = grpc.aio.insecure_channel(server.address)
        stack.push_async_callback(channel.close)
        classifier = IntentClassifier(channel, model=platform.settings.parser_intent_model, timeout_s=0.3)
        warm = IntentClassifier(channel, model=platform.settings.parser_intent_model, timeout_s=30)
        assert (await warm.classify("is the system healthy")).source.startswith("model ")
        await server.stop(grace_s=0)
        # Answers, with no exception, and well before a hang could be mistaken for one.
        result = await asyncio.wait_for(classifier.classify("how many vans are there"), 5)
        assert (result.kind, result.source) == (QueryKind.COUNT, "rules")
        assert "prediction service is unavailable" in result.fallback_reason
        assert "answered by rules" in result.fallback_reason


async def test_a_model_answering_no_intent_is_not_believed(platform):
    """A model under the name whose labels are not intents (a wrong upload): rules answer."""
    from chatdb.training.v1 import job_state_pb2 as states
    from chatdb.training.v1 import training_job_pb2 as job_pb
    from chatdb.training.v1 import training_service_pb2 as train_pb
    from chatdb.training.v1 import training_service_pb2_grpc as train_grpc

    from servers.parser.intent_corpus import write_csv
    from servers.parser.intent_corpus.generate import Example

    name = f"not-intents-{uuid.uuid4().hex[:6]}"
    rows = [Example(f"question number {i} about {'cats' if i % 2 else 'dogs'}", "spam" if i % 2 else "ham", "x")
            for i in range(60)]
    write_csv(platform.settings.data_dir / f"{name}.csv", rows)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.settings.training_port}") as channel:
        training = train_grpc.TrainingServiceStub(channel)
        job = (await training.CreateTrainingJob(train_pb.CreateTrainingJobRequest(training_job=job_pb.TrainingJob(
            model_name=name, task=job_pb.TASK_TEXT_CLASSIFICATION, algorithm="logistic_regression",
            dataset=job_pb.Dataset(csv_path=f"{name}.csv"), target="intent", features=["question"])),
            timeout=30)).training_job
        async for message in training.WatchTrainingJob(train_pb.WatchTrainingJobRequest(job_id=job.job_id), timeout=120):
            job = message.training_job
    assert job.state == states.JOB_STATE_SUCCEEDED, job.error.message
    async with grpc.aio.insecure_channel(platform.prediction.address) as channel:
        result = await IntentClassifier(channel, model=name, timeout_s=30).classify("how many vans are there")
    assert (result.kind, result.source) == (QueryKind.COUNT, "rules")
    assert "which is not an intent" in result.fallback_reason
