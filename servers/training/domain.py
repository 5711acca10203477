"""Training jobs as plain data: what was asked (JobSpec) and where it stands (Job)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class JobState(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


TASKS = ("classification", "regression", "text_classification", "anomaly_detection")


@dataclass(frozen=True)
class DatasetSource:
    """Exactly one of: a CSV path under the data directory, inline records, or a query."""

    csv_path: str | None = None
    records: tuple[dict[str, Any], ...] | None = None
    connection_id: str | None = None
    sql: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.csv_path is not None:
            return {"csv_path": self.csv_path}
        if self.records is not None:
            return {"records": list(self.records)}
        return {"connection_id": self.connection_id, "sql": self.sql}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DatasetSource:
        if "records" in data:
            return cls(records=tuple(data["records"]))
        return cls(csv_path=data.get("csv_path"), connection_id=data.get("connection_id"), sql=data.get("sql"))


@dataclass(frozen=True)
class JobSpec:
    model_name: str
    task: str
    algorithm: str
    dataset: DatasetSource
    target: str
    features: tuple[str, ...] = ()
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    test_fraction: float = 0.2
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "task": self.task,
            "algorithm": self.algorithm,
            "dataset": self.dataset.to_json(),
            "target": self.target,
            "features": list(self.features),
            "hyperparameters": self.hyperparameters,
            "test_fraction": self.test_fraction,
            "seed": self.seed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobSpec:
        return cls(
            model_name=data["model_name"],
            task=data["task"],
            algorithm=data["algorithm"],
            dataset=DatasetSource.from_json(data["dataset"]),
            target=data["target"],
            features=tuple(data.get("features", ())),
            hyperparameters=dict(data.get("hyperparameters", {})),
            test_fraction=float(data.get("test_fraction", 0.2)),
            seed=int(data.get("seed", 0)),
        )


@dataclass(frozen=True)
class Job:
    job_id: str
    spec: JobSpec
    state: JobState
    fraction: float
    stage: str
    message: str
    metrics: dict[str, float]
    attempts: int
    max_attempts: int
    model_version: int | None
    error_code: int | None
    error_message: str | None
    create_time: datetime
    update_time: datetime
    start_time: datetime | None = None
    end_time: datetime | None = None
    request_id: str | None = None
    worker_id: str | None = None
    # The owning tenant; "" = shared (created by an internal caller), see runtime/tenancy.py.
    tenant: str = ""
