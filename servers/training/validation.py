"""SpecValidator: CreateTrainingJob checks the whole spec before anything is queued.

Structural checks first (names, task, dataset source), then the dataset is peeked at —
the CSV file, the inline records, or the first rows of the connection's query through
the connector — and the ML engine's own validation runs against those columns and rows,
so unknown algorithms or hyperparameters, a missing target, a wrong task for the
target's type or an empty dataset all come back at once as INVALID_ARGUMENT.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from servers.contracts.ml.datasets import from_records, load_csv
from servers.contracts.ml.spec import Task, TrainingSpec
from servers.contracts.ml.validation import validate as validate_for_dataset
from servers.runtime import names
from servers.runtime.errors import ChatDBError, FieldViolation, InvalidArgument
from servers.runtime.settings import Settings

from .domain import TASKS, JobSpec

PREFIX = "training_job."
_MODEL_NAME = names.NAME
# Longer than any file name the data directory can hold (NAME_MAX is 255 bytes).
MAX_CSV_PATH_CHARS = 1024
MAX_NAME_BYTES = 255


def training_spec(spec: JobSpec) -> TrainingSpec:
    return TrainingSpec(
        model_name=spec.model_name,
        task=Task(spec.task),
        algorithm=spec.algorithm,
        target=spec.target,
        features=spec.features,
        hyperparameters=spec.hyperparameters,
        test_fraction=spec.test_fraction,
        seed=spec.seed,
    )


def structural_violations(spec: JobSpec) -> list[FieldViolation]:
    violations = []
    if not _MODEL_NAME.match(spec.model_name):
        violations.append(FieldViolation("model_name", "must match ^[a-z][a-z0-9-]{0,62}$ (lowercase letters, digits, dashes)"))
    if spec.task not in TASKS:
        violations.append(FieldViolation("task", "must be TASK_CLASSIFICATION, TASK_REGRESSION, TASK_TEXT_CLASSIFICATION or TASK_ANOMALY_DETECTION"))
    if not spec.algorithm:
        violations.append(FieldViolation("algorithm", "is required"))
    if spec.task == "anomaly_detection":
        if spec.target:
            violations.append(FieldViolation(
                "target", f"anomaly_detection takes no target column; leave target empty (got {spec.target!r})"))
    elif not spec.target:
        violations.append(FieldViolation("target", "is required"))
    source = spec.dataset
    if source.csv_path is not None and (
        len(source.csv_path) > MAX_CSV_PATH_CHARS
        or any(len(part.encode()) > MAX_NAME_BYTES for part in source.csv_path.split("/"))
    ):
        violations.append(FieldViolation(
            "dataset.csv_path",
            f"must be at most {MAX_CSV_PATH_CHARS} characters, each name in it at most {MAX_NAME_BYTES} bytes",
        ))
    if source.csv_path is None and source.records is None and source.connection_id is None:
        violations.append(FieldViolation("dataset", "is required: csv_path, inline_records or connection_query"))
    if source.connection_id is not None and not (source.sql or "").strip():
        violations.append(FieldViolation("dataset.connection_query.sql", "is required"))
    if source.connection_id is not None and not source.connection_id:
        violations.append(FieldViolation("dataset.connection_query.connection_id", "is required"))
    return violations


class SpecValidator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._connector = None

    async def close(self) -> None:
        if self._connector is not None:
            await self._connector[0].close()

    def _connector_client(self):
        from servers.contracts.clients import ConnectorClient
        from servers.runtime.channels import open_channel

        if self._connector is None:
            channel = open_channel(self.settings, "connector", map_errors=True)
            self._connector = (channel, ConnectorClient(channel))
        return self._connector[1]

    async def peek(self, spec: JobSpec) -> tuple[Sequence[str], list[Sequence[Any]]]:
        """Columns and the first rows of the spec's dataset."""
        limit = self.settings.training_validation_sample_rows
        source = spec.dataset
        if source.csv_path is not None:
            dataset = await asyncio.to_thread(load_csv, self.settings.data_dir, source.csv_path, limit=limit)
            return dataset.columns, list(dataset.rows)
        if source.records is not None:
            dataset = from_records(source.records)
            return dataset.columns, list(dataset.rows[:limit])
        columns, rows = await self._connector_client().rows(source.connection_id or "", source.sql or "")
        sample: list[Sequence[Any]] = []
        async for row in rows:
            sample.append(row)
            if len(sample) >= limit:
                break
        await rows.aclose()
        return columns, sample

    async def __call__(self, spec: JobSpec) -> None:
        violations = structural_violations(spec)
        if not violations:
            try:
                columns, sample = await self.peek(spec)
            except InvalidArgument as exc:
                violations += exc.violations or [FieldViolation("dataset", exc.message)]
            except OSError as exc:
                # The path cannot name a file here (too long, a file used as a directory,
                # a loop of links): the caller's path is what is wrong.
                violations.append(FieldViolation("dataset.csv_path", f"cannot be read: {exc.strerror or exc}"))
            except ChatDBError as exc:
                # The dataset cannot be read (file missing, connection unknown, query
                # refused): the spec is what is wrong, so it is the dataset field's fault.
                field = "dataset.csv_path" if spec.dataset.csv_path is not None else "dataset.connection_query"
                violations.append(FieldViolation(field, exc.message))
            else:
                violations += validate_for_dataset(training_spec(spec), columns, sample)
        if violations:
            raise InvalidArgument.from_violations(
                [FieldViolation(PREFIX + v.field, v.description) for v in violations]
            )
