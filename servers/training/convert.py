"""Pure converters between training protos and the domain."""

from __future__ import annotations

from chatdb.training.v1 import job_state_pb2, training_job_pb2
from google.protobuf import json_format, struct_pb2
from google.rpc import status_pb2

from servers.runtime.errors import InvalidArgument, quote

from .domain import DatasetSource, Job, JobSpec, JobState

_TASKS = {
    training_job_pb2.TASK_CLASSIFICATION: "classification",
    training_job_pb2.TASK_REGRESSION: "regression",
    training_job_pb2.TASK_TEXT_CLASSIFICATION: "text_classification",
    training_job_pb2.TASK_ANOMALY_DETECTION: "anomaly_detection",
}
_TASK_ENUM = {v: k for k, v in _TASKS.items()}
_STATES = {
    JobState.QUEUED: job_state_pb2.JOB_STATE_QUEUED,
    JobState.RUNNING: job_state_pb2.JOB_STATE_RUNNING,
    JobState.SUCCEEDED: job_state_pb2.JOB_STATE_SUCCEEDED,
    JobState.FAILED: job_state_pb2.JOB_STATE_FAILED,
    JobState.CANCELLING: job_state_pb2.JOB_STATE_CANCELLING,
    JobState.CANCELLED: job_state_pb2.JOB_STATE_CANCELLED,
}
_STATE_FROM_PROTO = {v: k for k, v in _STATES.items()}


def task_name(task: int) -> str:
    """'' for TASK_UNSPECIFIED or an unknown number (validation reports it)."""
    return _TASKS.get(task, "")


def state_from_proto(state: int) -> JobState | None:
    return _STATE_FROM_PROTO.get(state)


def _json(message, field: str):
    """A Struct / Value as plain JSON data; values JSON cannot carry (NaN, infinities)
    or nesting too deep to convert are the caller's INVALID_ARGUMENT."""
    try:
        return json_format.MessageToDict(message)
    except (ValueError, RecursionError) as exc:
        reason = "is nested too deeply" if isinstance(exc, RecursionError) else "holds NaN or an infinity, which JSON cannot carry"
        raise InvalidArgument(reason, field=field) from None


def spec_from_proto(job: training_job_pb2.TrainingJob) -> JobSpec:
    source = job.dataset.WhichOneof("source")
    if source == "csv_path":
        dataset = DatasetSource(csv_path=job.dataset.csv_path)
    elif source == "inline_records":
        dataset = DatasetSource(
            records=tuple(
                _json(r, f"training_job.dataset.inline_records.records[{i}]")
                for i, r in enumerate(job.dataset.inline_records.records)
            )
        )
    elif source == "connection_query":
        query = job.dataset.connection_query
        dataset = DatasetSource(connection_id=query.connection_id, sql=query.sql)
    else:
        dataset = DatasetSource()
    return JobSpec(
        model_name=job.model_name,
        task=task_name(job.task),
        algorithm=job.algorithm,
        dataset=dataset,
        target=job.target,
        features=tuple(job.features),
        hyperparameters={
            k: _json(v, f"training_job.hyperparameters[{quote(k, 64)}]") for k, v in job.hyperparameters.items()
        },
        test_fraction=job.test_fraction or 0.2,
        seed=job.seed if job.HasField("seed") else 0,
    )


def job_to_proto(job: Job) -> training_job_pb2.TrainingJob:
    spec = job.spec
    message = training_job_pb2.TrainingJob(
        name=f"trainingJobs/{job.job_id}",
        job_id=job.job_id,
        model_name=spec.model_name,
        task=_TASK_ENUM.get(spec.task, training_job_pb2.TASK_UNSPECIFIED),
        algorithm=spec.algorithm,
        target=spec.target,
        features=list(spec.features),
        test_fraction=spec.test_fraction,
        seed=spec.seed,
        state=_STATES[job.state],
        progress=training_job_pb2.TrainingProgress(fraction=job.fraction, stage=job.stage, message=job.message),
        metrics=job.metrics,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        tenant=job.tenant,
    )
    for key, value in spec.hyperparameters.items():
        message.hyperparameters[key].CopyFrom(json_format.ParseDict(value, struct_pb2.Value()))
    source = spec.dataset
    if source.csv_path is not None:
        message.dataset.csv_path = source.csv_path
    elif source.records is not None:
        for record in source.records:
            json_format.ParseDict(record, message.dataset.inline_records.records.add())
    elif source.connection_id is not None:
        message.dataset.connection_query.connection_id = source.connection_id
        message.dataset.connection_query.sql = source.sql or ""
    if job.model_version is not None:
        message.model_version.model = spec.model_name
        message.model_version.version = job.model_version
    message.create_time.FromDatetime(job.create_time)
    message.update_time.FromDatetime(job.update_time)
    if job.start_time:
        message.start_time.FromDatetime(job.start_time)
    if job.end_time:
        message.end_time.FromDatetime(job.end_time)
    if job.error_code is not None:
        message.error.CopyFrom(status_pb2.Status(code=job.error_code, message=job.error_message or ""))
    return message
