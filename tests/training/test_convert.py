"""Training protos ⇄ the domain, without servers."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from chatdb.training.v1 import job_state_pb2, training_job_pb2
from google.protobuf import struct_pb2

from servers.runtime.errors import InvalidArgument
from servers.training.convert import job_to_proto, spec_from_proto, state_from_proto, task_name
from servers.training.domain import DatasetSource, Job, JobSpec, JobState

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def job(spec: JobSpec, **changes) -> Job:
    fields = {
        "job_id": "job-0123456789abcdef", "spec": spec, "state": JobState.QUEUED, "fraction": 0.0, "stage": "",
        "message": "", "metrics": {}, "attempts": 0, "max_attempts": 3, "model_version": None, "error_code": None,
        "error_message": None, "create_time": T0, "update_time": T0,
    }
    return Job(**{**fields, **changes})


SPECS = [
    JobSpec("churn", "classification", "random_forest", DatasetSource(csv_path="churn.csv"), "label",
            features=("tenure", "spend"), hyperparameters={"n_estimators": 10, "max_depth": None}, test_fraction=0.3, seed=7),
    JobSpec("prices", "regression", "linear_regression",
            DatasetSource(records=({"x": 1.5, "y": 2.0, "tags": ["a", "b"]}, {"x": 2.5, "y": None})), "y"),
    JobSpec("reviews", "text_classification", "tfidf_logistic_regression",
            DatasetSource(connection_id="conn-1", sql="SELECT review, sentiment FROM reviews"), "sentiment"),
]


@pytest.mark.parametrize("spec", SPECS, ids=[s.model_name for s in SPECS])
def test_a_spec_survives_the_round_trip(spec: JobSpec):
    assert spec_from_proto(job_to_proto(job(spec))) == spec


def test_a_job_in_every_field():
    spec = SPECS[0]
    ended = job(
        spec, state=JobState.FAILED, fraction=0.5, stage="fit", message="fitting", metrics={"accuracy": 0.75},
        attempts=2, model_version=4, error_code=13, error_message="boom",
        start_time=T0, end_time=T0.replace(minute=9),
    )
    message = job_to_proto(ended)
    assert message.name == "trainingJobs/job-0123456789abcdef" and message.job_id == ended.job_id
    assert message.task == training_job_pb2.TASK_CLASSIFICATION
    assert message.state == job_state_pb2.JOB_STATE_FAILED
    assert (message.progress.fraction, message.progress.stage, message.progress.message) == (0.5, "fit", "fitting")
    assert dict(message.metrics) == {"accuracy": 0.75}
    assert (message.attempts, message.max_attempts) == (2, 3)
    assert (message.model_version.model, message.model_version.version) == ("churn", 4)
    assert (message.error.code, message.error.message) == (13, "boom")
    assert message.create_time.ToDatetime(UTC) == T0 and message.end_time.ToDatetime(UTC) == T0.replace(minute=9)
    assert message.start_time.ToDatetime(UTC) == T0


def test_an_unset_proto_gets_the_defaults():
    spec = spec_from_proto(training_job_pb2.TrainingJob())
    assert spec == JobSpec("", "", "", DatasetSource(), "", test_fraction=0.2, seed=0)
    assert not job_to_proto(job(SPECS[0])).HasField("model_version")


def test_every_state_and_task_maps_both_ways():
    for state in JobState:
        assert state_from_proto(job_to_proto(job(SPECS[0], state=state)).state) is state
    assert state_from_proto(job_state_pb2.JOB_STATE_UNSPECIFIED) is None
    assert task_name(training_job_pb2.TASK_UNSPECIFIED) == "" and task_name(999) == ""


def test_a_nan_hyperparameter_is_invalid_argument():
    message = training_job_pb2.TrainingJob(model_name="m")
    message.hyperparameters["alpha"].CopyFrom(struct_pb2.Value(number_value=math.nan))
    with pytest.raises(InvalidArgument) as err:
        spec_from_proto(message)
    assert err.value.violations[0].field == "training_job.hyperparameters['alpha']"
