"""Make sure the intent model exists: `chatdb parser bootstrap-intent`, and `make up`.

    query-intent has a `production` version → nothing to do
    else: write the corpus CSV into the data directory → CreateTrainingJob
          (text_classification, TF-IDF over word 1–2-grams + logistic regression) →
          follow the job → point `production` at its version → one warm-up Predict,
          so the first question does not pay for loading the model

Everything goes through the platform's public gRPC APIs (training, registry,
prediction), as any user's model would. The job's request_id is derived from the
corpus, so running this twice (or two launchers at once) trains once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
from chatdb.prediction.v1 import prediction_service_pb2 as pred_pb
from chatdb.prediction.v1 import prediction_service_pb2_grpc as pred_grpc
from chatdb.registry.v1 import model_registry_service_pb2 as reg_pb
from chatdb.registry.v1 import model_registry_service_pb2_grpc as reg_grpc
from chatdb.training.v1 import job_state_pb2 as states
from chatdb.training.v1 import training_job_pb2 as job_pb
from chatdb.training.v1 import training_service_pb2 as train_pb
from chatdb.training.v1 import training_service_pb2_grpc as train_grpc
from google.protobuf import struct_pb2

from servers.runtime.channels import open_channel
from servers.runtime.settings import Settings

from .intent import ALIAS
from .intent_corpus import LABEL_COLUMN, TEXT_COLUMN, generate, write_csv

ALGORITHM = "logistic_regression"
# Word 1–2-grams and C=10: 98 % on questions about schemas held out of training
# (fleet, clinic), against 96 % for single words at C=1 (measured with scikit-learn).
HYPERPARAMETERS = {"ngram_max": 2, "C": 10.0, "max_iter": 2000}
SEED = 13
_TERMINAL = {states.JOB_STATE_SUCCEEDED, states.JOB_STATE_FAILED, states.JOB_STATE_CANCELLED}


class BootstrapFailed(Exception):
    """The intent model could not be made ready; the message says what to do."""


@dataclass
class Outcome:
    model: str
    version: int
    trained: bool  # False: a production version existed already
    seconds: float = 0.0  # from submitting the job to its end
    rows: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    job_id: str = ""


async def bootstrap_intent(
    settings: Settings,
    *,
    per_label: int | None = None,
    timeout_s: float = 900.0,
    say: Callable[[str], None] = lambda line: None,
) -> Outcome:
    """Ensure `settings.parser_intent_model` has a production version (see the module
    docstring); `per_label` trains on a smaller corpus (tests)."""
    model = settings.parser_intent_model
    async with open_channel(settings, "registry") as registry_channel:
        registry = reg_grpc.ModelRegistryServiceStub(registry_channel)
        existing = await _production(registry, model)
        if existing is not None:
            say(f"{model}: production is version {existing}; nothing to train")
            return Outcome(model, existing, trained=False)
        examples = generate(seed=SEED) if per_label is None else generate(seed=SEED, per_label=per_label)
        # Named by what is trained (rows, algorithm, hyperparameters): the same training
        # is the same job (request_id), a changed corpus or recipe a new one.
        recipe = json.dumps([ALGORITHM, HYPERPARAMETERS, SEED], sort_keys=True)
        digest = hashlib.sha256("\n".join([recipe, *(f"{e.text}\t{e.label}" for e in examples)]).encode()).hexdigest()[:12]
        relative = f"parser/{model}-{digest}.csv"
        rows = write_csv(settings.data_dir / relative, examples)
        say(f"{model}: no production version; training on {rows} questions ({relative} in {settings.data_dir})")
        async with open_channel(settings, "training") as training_channel:
            training = train_grpc.TrainingServiceStub(training_channel)
            started = time.monotonic()
            job = await _train(training, model, relative, f"bootstrap-{model}-{digest}", timeout_s)
            seconds = time.monotonic() - started
        if job.state != states.JOB_STATE_SUCCEEDED or not job.HasField("model_version"):
            state = states.JobState.Name(job.state).removeprefix("JOB_STATE_")
            raise BootstrapFailed(f"training job {job.job_id} for {model} ended {state}: {job.error.message or 'no version'}")
        version = job.model_version.version
        if await _production(registry, model) != version:
            await registry.SetAlias(reg_pb.SetAliasRequest(model=model, alias=ALIAS, version=version), timeout=30)
    metrics = dict(job.metrics)
    accuracy = f", held-out accuracy {metrics['accuracy']:.3f}" if "accuracy" in metrics else ""
    say(f"{model}: version {version} is production (trained in {seconds:.1f} s{accuracy})")
    await _warm_up(settings, model, say)
    return Outcome(model, version, trained=True, seconds=seconds, rows=rows, metrics=metrics, job_id=job.job_id)


async def _production(registry: reg_grpc.ModelRegistryServiceStub, model: str) -> int | None:
    try:
        reply = await registry.GetModel(reg_pb.GetModelRequest(model=model), timeout=30)
    except grpc.aio.AioRpcError as exc:
        if exc.code() is grpc.StatusCode.NOT_FOUND:
            return None
        raise
    version = reply.model.aliases.get(ALIAS)
    return int(version) if version else None


async def _train(
    training: train_grpc.TrainingServiceStub, model: str, csv_path: str, request_id: str, timeout_s: float
) -> job_pb.TrainingJob:
    spec = job_pb.TrainingJob(
        model_name=model,
        task=job_pb.TASK_TEXT_CLASSIFICATION,
        algorithm=ALGORITHM,
        dataset=job_pb.Dataset(csv_path=csv_path),
        target=LABEL_COLUMN,
        features=[TEXT_COLUMN],
        test_fraction=0.2,
        seed=SEED,
    )
    for key, value in HYPERPARAMETERS.items():
        spec.hyperparameters[key].CopyFrom(struct_pb2.Value(number_value=float(value)))
    created = await training.CreateTrainingJob(
        train_pb.CreateTrainingJobRequest(training_job=spec, request_id=request_id), timeout=120)
    job = created.training_job
    if job.state in _TERMINAL:
        return job
    async for message in training.WatchTrainingJob(train_pb.WatchTrainingJobRequest(job_id=job.job_id),
                                                   timeout=timeout_s):
        job = message.training_job
        if job.state in _TERMINAL:
            break
    return job


async def _warm_up(settings: Settings, model: str, say: Callable[[str], None]) -> None:
    """One Predict with a generous deadline: the prediction service loads the version now,
    not on the first question (whose deadline is a fraction of a second)."""
    record = struct_pb2.Struct()
    record.update({TEXT_COLUMN: "how many rows are there"})
    try:
        async with open_channel(settings, "prediction") as channel:
            reply = await pred_grpc.PredictionServiceStub(channel).Predict(
                pred_pb.PredictRequest(model=model, alias=ALIAS, records=[record]), timeout=60)
        say(f"{model}: the prediction service answers (v{reply.version})")
    except grpc.aio.AioRpcError as exc:
        say(f"{model}: warm-up prediction failed ({exc.code().name}: {exc.details()}); it loads on first use")
