"""Anomaly questions ("which orders look unusual?", "any outliers in payments?"),
answered by an anomaly_detection model of the table the parser linked:

    model <connection>-<table>-anomalies with a READY version whose inputs are the
    table's numeric columns now ─ yes ─────────────────────────────────────────┐
        └ no ─ a queued / running job of that model, else CreateTrainingJob        │
               (isolation_forest on the table's first `max_rows` rows)            │
               ─ wait for it up to CHATDB_GATEWAY_ANOMALY_WAIT_S                  │
                   └ not done: the job and "ask again" (an answer, not an error)  │
    the table's first `max_rows` rows (by key) ─ BatchPredict on that version ◄───┘
    ─ the rows flagged is_anomaly, highest score first, with an anomaly_score column

The rows are read first, through the connector as the caller: personal data the
connector masks for a non-admin (servers/connector/pii.py) is shown masked, said in the
answer, and never a feature (a masked value cannot be scored).

The model belongs to the caller's tenant like every Ask-trained one (the training job
is created as the caller). On a shared connection asked by a tenant the name carries a
short digest of the tenant, so two tenants never train into one name (names are global,
a version of another tenant's model is PERMISSION_DENIED); a shared model of the table
(no digest: trained by an internal caller) is used when the tenant has none of its own.
With training, its worker, the queue or the platform database down, a table with no
ready model is refused UNAVAILABLE at once rather than queued; a ready model still
answers.

A table whose row count has moved more than CHATDB_GATEWAY_ANOMALY_RETRAIN_CHANGE (20%)
away from the rows its model learnt from (the version's `dataset_rows` metric) is still
answered by that model at once, and a new version is trained in the background: asking
again after it is READY scores with it. Rows changed in place, count unchanged, do not
retrain.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from chatdb.connector.v1 import data_type_pb2
from chatdb.gateway.v1 import system_status_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq
from chatdb.registry.v1 import model_version_pb2
from chatdb.training.v1 import job_state_pb2, training_job_pb2
from google.protobuf import struct_pb2

from servers.contracts.clients import (
    ConnectorClient,
    PredictionClient,
    RegistryClient,
    TrainingClient,
)
from servers.contracts.ml.spec import Task, reserved_names
from servers.runtime import tenancy
from servers.runtime.errors import (
    ChatDBError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
    quote,
)
from servers.runtime.settings import Settings

from . import ml_dataset
from .answer import SOURCES, Answer, table
from .core import masking_note
from .domain import StatusReader

ALGORITHM = "isolation_forest"
SCORE_COLUMN = "anomaly_score"
# Components a training job needs (the status monitor's names); the rest of the level
# (parser, user databases, ML serving) does not stop one.
_TRAINING_NEEDS = ("training", "worker", "redis", "platform-db")
_NOT_SERVING = system_status_pb2.ComponentState.COMPONENT_STATE_NOT_SERVING
_TASK = Task.ANOMALY_DETECTION.value
_IN_FLIGHT = (job_state_pb2.JOB_STATE_QUEUED, job_state_pb2.JOB_STATE_RUNNING)
_POLL_S = 0.5
_SHOWN = 5  # flagged rows named in the answer's sentence


def anomaly_model_name(connection_id: str, table_name: str, tenant_suffix: str = "") -> str:
    """"<connection>-<table>-anomalies" under the name rule (lowercase, digits, hyphens,
    63 at most), the tenant's digest kept whole when the rest is cut."""
    tail = "-anomalies" + (f"-{tenant_suffix}" if tenant_suffix else "")
    base = re.sub(r"[^a-z0-9-]+", "-", f"{connection_id}-{table_name}".lower()).strip("-")
    base = re.sub(r"^[^a-z]+", "", base)[: 63 - len(tail)].rstrip("-")
    return (base or "table") + tail


def tenant_suffix(connection_tenant: str, caller_tenant: str) -> str:
    """A digest of the caller's tenant when it asks on a shared connection, else ""."""
    if connection_tenant or not caller_tenant:
        return ""
    return hashlib.sha256(caller_tenant.encode()).hexdigest()[:6]


class Anomalies:
    def __init__(self, settings: Settings, *, training: TrainingClient, prediction: PredictionClient,
                 registry: RegistryClient, connector: ConnectorClient,
                 service: Callable[[str], AbstractContextManager[None]]) -> None:
        self.settings = settings
        self.training = training
        self.prediction = prediction
        self.registry = registry
        self.connector = connector
        self.service = service  # ml_answers.service: a failed call → Unavailable naming the service
        self.timeout_s = settings.gateway_ml_timeout_s
        self.status_reader: StatusReader | None = None  # set by app.wire_answerers

    async def answer(self, parsed: pq.ParsedQuery, *, connection_id: str) -> Answer:
        if not connection_id:
            raise InvalidArgument("finding unusual rows needs a connection to read the table from",
                                  field="connection_id")
        with self.service("connector"):
            connection = await self.connector.connection(connection_id, timeout_s=self.timeout_s)
            schema = await self.connector.schema(connection_id, timeout_s=self.timeout_s)
        source = ml_dataset.find_table(schema, parsed.tables[0] if parsed.tables else "")
        columns = ml_dataset.anomaly_columns(source, reserved_names(Task.ANOMALY_DETECTION))
        if not columns.features:
            raise _no_numbers(source, columns.left_out)
        cap = self.settings.gateway_anomaly_max_rows
        statement = ml_dataset.select_rows(source, schema, connection.kind, [c.name for c in source.columns],
                                           columns.key, cap + 1)
        # Read as the caller: the connector masks personal data for non-admins, and a
        # masked column can be neither shown nor scored.
        header, rows = await self._read(connection_id, statement)
        names = [c.name for c in header.columns]
        masked = list(header.masked_columns)
        features = [f for f in columns.features if f not in masked and f in names]
        left_out = columns.left_out + [f"{f} (personal data, masked)" for f in columns.features if f in masked]
        if not features:
            raise _no_numbers(source, left_out)
        suffix = tenant_suffix(connection.tenant, tenancy.owner())
        model = own_model = anomaly_model_name(connection_id, source.name, suffix)
        notes = [f"left out: {', '.join(left_out)}"] if left_out else []
        if masked:
            notes.append(masking_note(masked))

        version, why = await self._ready_version(model, features)
        if version is None and suffix:
            # the shared model of the table (trained by the platform itself) serves every tenant
            shared = anomaly_model_name(connection_id, source.name)
            version, _ = await self._ready_version(shared, features)
            if version is not None:
                model, why = shared, ""
        trained_by = retrained_by = ""
        inline = None if ml_dataset.is_sql(connection.kind) else (names, rows)
        if version is None:
            await self._refuse_when_degraded(source.name)
            if why:
                notes.append(why)
            job = await self._training_job(model, connection_id, connection.kind, schema, source, features,
                                           columns.key, inline)
            trained_by = job.name
            version = await self._wait(model, job)
            if version is None:
                waited = self.settings.gateway_anomaly_wait_s
                text = (f"Training anomaly model {model} for {source.name} (job {job.name}) has not finished "
                        f"within {waited:g} s; ask again in a minute and the rows it flags will be answered.")
                names, cells = table(["training_job", "model", "task", "algorithm", "features", "state"], [(
                    job.name, model, _TASK, ALGORITHM, ", ".join(features),
                    job_state_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower())])
                return Answer(text, SOURCES.ANSWER_SOURCE_TRAINING, names, cells, training_job=job.name, notes=notes)
        elif (moved := self._rows_moved(version, min(len(rows), cap))) is not None:
            # The current version answers now; the next question gets one that learnt
            # from the table as it is (a training of this caller's own model, joined if
            # one is already running).
            learnt, now = moved
            try:
                await self._refuse_when_degraded(source.name)
                job = await self._training_job(own_model, connection_id, connection.kind, schema, source, features,
                                               columns.key, inline)
            except ChatDBError as exc:
                notes.append(f"{source.name} has {now} rows to score and version {version.version} of {model} "
                             f"learnt from {learnt}; it was not retrained: {exc.message}")
            else:
                retrained_by = job.name
                notes.append(f"{source.name} has {now} rows to score and version {version.version} of {model} "
                             f"learnt from {learnt}: a new version is training ({job.name}) for later questions "
                             "(CHATDB_GATEWAY_ANOMALY_RETRAIN_CHANGE)")
        more = len(rows) > cap
        rows = rows[:cap]
        features = [i.name for i in version.inputs]
        at = {name: names.index(name) for name in features}
        with self.service("prediction"):
            result = await self.prediction.batch_predict(
                model, features, [[ml_dataset.json_like(row[at[f]]) for f in features] for row in rows],
                version=version.version, timeout_s=max(self.timeout_s, 30.0))
        flagged = sorted(
            ((p.score or 0.0, row) for p, row in zip(result.predictions, rows, strict=True) if p.is_anomaly),
            key=lambda pair: -pair[0])
        reference = f"models/{model}/versions/{result.version}"
        used = f"anomaly model {model} version {result.version} ({ALGORITHM} on {', '.join(features)}" + (
            f", trained now by {trained_by})" if trained_by else ")")
        read = f"the first {cap} rows by {', '.join(columns.key)}" if more and columns.key else (
            f"{cap} rows" if more else f"all {len(rows)} rows")
        if more:
            notes.append(f"{source.name} holds more than {cap} rows: only {read} were scored "
                         "(CHATDB_GATEWAY_ANOMALY_MAX_ROWS)")
        if flagged:
            shown = ", ".join(_row_name(row, names, columns.key) for _, row in flagged[:_SHOWN])
            text = (f"{len(flagged)} of {len(rows)} rows of {source.name} look unusual, most unusual first: "
                    f"{shown}{' …' if len(flagged) > _SHOWN else ''}. Scored by {used} over {read}.")
        else:
            text = f"None of the {len(rows)} rows of {source.name} looks unusual to {used}, scored over {read}."
        notes.append(f"{SCORE_COLUMN}: the IsolationForest anomaly score in (0, 1], higher = more unusual")
        types = [c.type for c in header.columns] + [data_type_pb2.DATA_TYPE_FLOAT]
        shown_columns, cells = table([*names, SCORE_COLUMN], [[*row, score] for score, row in flagged], types)
        return Answer(text, SOURCES.ANSWER_SOURCE_PREDICTION, shown_columns, cells, model_version=reference,
                      training_job=trained_by or retrained_by, notes=notes, masked_columns=masked)

    # --- the model -------------------------------------------------------------------------

    async def _ready_version(self, model: str, features: Sequence[str]
                             ) -> tuple[model_version_pb2.ModelVersion | None, str]:
        """The model's newest READY version when it learnt from exactly `features` (None
        and why not otherwise: no model yet, or the table's columns changed since)."""
        try:
            with self.service("registry"):
                newest = await self.registry.newest_ready_version(model, timeout_s=self.timeout_s)
        except NotFound:
            return None, ""
        if newest is None:
            return None, ""
        inputs = sorted(i.name for i in newest.inputs)
        if newest.task == _TASK and inputs == sorted(features):
            return newest, ""
        return None, (f"version {newest.version} of {model} learnt from {', '.join(inputs)}; the table's numeric "
                      f"columns are now {', '.join(features)}: trained again")

    def _rows_moved(self, version: model_version_pb2.ModelVersion, now: int) -> tuple[int, int] | None:
        """(rows the version learnt from, rows to score now) when they differ by more than
        gateway_anomaly_retrain_change, both read up to gateway_anomaly_max_rows; None
        otherwise, and for a version that did not record its rows."""
        share = self.settings.gateway_anomaly_retrain_change
        learnt = int(version.metrics.get("dataset_rows", 0))
        if share <= 0 or learnt <= 0:
            return None
        bounded = min(learnt, self.settings.gateway_anomaly_max_rows)
        return (learnt, now) if abs(now - bounded) > share * bounded else None

    async def _refuse_when_degraded(self, table_name: str) -> None:
        if self.status_reader is None:
            return
        status = await self.status_reader()
        # Only what training needs decides: the rows were just read, so a "databases"
        # reading from a slow status check must not refuse a job that would run.
        down = [c.component for c in status.components
                if c.component in _TRAINING_NEEDS and c.state == _NOT_SERVING]
        if down:
            raise Unavailable(
                f"no anomaly model of {table_name} is ready and none can be trained now: {', '.join(down)} down "
                f"({status.summary or f'level {status.level}'}); ask again when `chatdb status` shows level 0",
                reason="TRAINING_UNAVAILABLE", metadata={"service": down[0], "level": str(status.level)})

    async def _training_job(self, model: str, connection_id: str, kind: int, schema, source,
                            features: list[str], key: list[str],
                            inline: tuple[list[str], list[tuple[Any, ...]]] | None) -> training_job_pb2.TrainingJob:
        """The model's queued or running job (another ask started it), else a new one: on
        a SQL connection the worker reads the table's first rows itself, a MongoDB
        collection's rows (`inline`: names, rows as read) are sent in the job."""
        with self.service("training"):
            for job in await self.training.jobs(model_name=model, limit=10, timeout_s=self.timeout_s):
                if job.state in _IN_FLIGHT:
                    return job
        cap = self.settings.gateway_anomaly_max_rows
        if inline is None:
            sql = ml_dataset.select_rows(source, schema, kind, features, key, cap).sql.sql
            dataset = ml_dataset.query_dataset(connection_id, sql)
        else:
            names, rows = inline
            at = [names.index(f) for f in features]
            dataset = ml_dataset.inline_dataset(features, [[row[i] for i in at] for row in rows[:cap]])
        job = training_job_pb2.TrainingJob(
            model_name=model, task=training_job_pb2.TASK_ANOMALY_DETECTION, algorithm=ALGORITHM, dataset=dataset,
            features=features)
        job.hyperparameters["contamination"].CopyFrom(
            struct_pb2.Value(number_value=self.settings.gateway_anomaly_contamination))
        with self.service("training"):
            return await self.training.create(job, timeout_s=self.timeout_s)

    async def _wait(self, model: str, job: training_job_pb2.TrainingJob) -> model_version_pb2.ModelVersion | None:
        """The version `job` registers, once it has; None when it is still going after
        gateway_anomaly_wait_s. A failed or cancelled job is FailedPrecondition with why."""
        deadline = time.monotonic() + self.settings.gateway_anomaly_wait_s
        while True:
            if job.state == job_state_pb2.JOB_STATE_SUCCEEDED:
                with self.service("registry"):
                    return await self.registry.model_version(model, job.model_version.version,
                                                             timeout_s=self.timeout_s)
            if job.state in (job_state_pb2.JOB_STATE_FAILED, job_state_pb2.JOB_STATE_CANCELLED):
                state = job_state_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
                raise FailedPrecondition(
                    f"training anomaly model {model} (job {job.name}) {state}: "
                    f"{job.error.message or 'no reason given'}; asking again starts a new training",
                    reason="ANOMALY_TRAINING_FAILED", metadata={"training_job": job.name, "model": model})
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(min(_POLL_S, max(deadline - time.monotonic(), 0.0)))
            with self.service("training"):
                job = await self.training.job(job.name, timeout_s=self.timeout_s)

    async def _read(self, connection_id: str, statement):
        with self.service("connector"):
            header, stream = await self.connector.stream(connection_id, statement)
            return header, [row async for row in stream]


def _no_numbers(source, left_out: Sequence[str]) -> InvalidArgument:
    kept_out = f" ({', '.join(left_out)} left out)" if left_out else ""
    return InvalidArgument(
        f"{source.name} has no numeric columns to find unusual rows by{kept_out}; an anomaly model "
        f"learns from numbers. Columns: {', '.join(c.name for c in source.columns)}",
        field="question", reason="QUESTION_NOT_UNDERSTOOD", metadata={"table": source.name})


def _row_name(row: Sequence[Any], names: Sequence[str], key: Sequence[str]) -> str:
    """A flagged row as the sentence names it: its key ("id 12"), else its first value."""
    if key:
        return ", ".join(f"{k} {row[names.index(k)]}" for k in key)
    return quote(str(row[0]), 40) if row else "?"
