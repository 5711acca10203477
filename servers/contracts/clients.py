"""Typed gRPC clients of the mesh's services, for the services that call each other:

    RegistryClient    the worker uploads versions and moves aliases; the gateway reads
                      models, versions (inputs, metrics) and model names
    ConnectorClient   the worker streams datasets; the parser and the gateway read
                      connections, schemas and rows
    TrainingClient    the gateway creates, reads and lists training jobs
    PredictionClient  the gateway asks a model version for predictions (a few records,
                      or many rows through BatchPredict)

Open their channels with open_channel(..., map_errors=True): a failed call then raises the
runtime's error tree (NotFound, InvalidArgument with field violations, Unavailable …);
the clients also map a plain channel's AioRpcError to it (`_mapped`).

Registry calls are retried on UNAVAILABLE and DEADLINE_EXCEEDED with jittered
exponential backoff for at most `retry_s` (CHATDB_TRAINING_REGISTRY_RETRY_S): a finished
training is not thrown away because the registry restarted. Retrying an upload is safe:
the request_id makes a repeated CreateModelVersion return the version it registered.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from chatdb.connector.v1 import connector_service_pb2, connector_service_pb2_grpc, statement_pb2
from chatdb.prediction.v1 import prediction_service_pb2 as pred_pb
from chatdb.prediction.v1 import prediction_service_pb2_grpc
from chatdb.registry.v1 import model_pb2, model_registry_service_pb2_grpc, model_version_pb2
from chatdb.registry.v1 import model_registry_service_pb2 as reg_pb
from chatdb.training.v1 import training_job_pb2, training_service_pb2, training_service_pb2_grpc
from google.protobuf import json_format

from servers.contracts.cells import cell_to_value
from servers.contracts.glossary import Glossary, glossary_from_pb
from servers.runtime.channels import MAX_RECONNECT_BACKOFF_MS, as_domain_error
from servers.runtime.errors import DeadlineExceeded, NotFound, Unavailable

log = logging.getLogger("chatdb.worker.clients")

CHUNK_BYTES = 256 * 1024
RETRYABLE = (Unavailable, DeadlineExceeded)
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = MAX_RECONNECT_BACKOFF_MS / 1000  # the channel reconnects at least as often
MAX_LISTED = 1000  # most models / jobs a listing reads (pages of the server's maximum)
T = TypeVar("T")


async def _mapped(call: Awaitable[T]) -> T:
    """`call`'s answer; a plain channel's AioRpcError as the runtime's error (a mapping
    channel raises that already)."""
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        raise as_domain_error(exc) from None


class RegistryClient:
    def __init__(self, channel: grpc.aio.Channel, *, address: str = "the configured address", retry_s: float = 120.0) -> None:
        self.stub = model_registry_service_pb2_grpc.ModelRegistryServiceStub(channel)
        self.address = address
        self.retry_s = retry_s

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`, again while the registry answers UNAVAILABLE or DEADLINE_EXCEEDED,
        for at most retry_s; then Unavailable with a message a person can act on."""
        first_failure: float | None = None
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                result = await call()
            except (grpc.aio.AioRpcError, *RETRYABLE) as exc:
                # Domain errors from a channel with the runtime's interceptor (the worker's),
                # AioRpcError from a plain one.
                error = as_domain_error(exc)
                if not isinstance(error, RETRYABLE):
                    raise error from None
                now = time.monotonic()
                if first_failure is None:
                    first_failure = now
                    log.warning("registry unreachable; retrying", extra={
                        "call": what, "registry": self.address, "code": error.code.name, "retry_s": self.retry_s})
                waited = now - first_failure
                if waited >= self.retry_s:
                    raise Unavailable(
                        f"the model registry at {self.address} was unreachable for {waited:.0f} s ({what}: "
                        f"{error.code.name}); the job can be retried",
                        reason="REGISTRY_UNREACHABLE",
                        metadata={"registry": self.address, "call": what},
                    ) from None
                await asyncio.sleep(min(backoff * random.uniform(0.5, 1.0), self.retry_s - waited))
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            if first_failure is not None:
                log.info("registry reachable again", extra={
                    "call": what, "registry": self.address, "waited_s": round(time.monotonic() - first_failure, 1)})
            return result

    async def upload(
        self, model: str, artifact: bytes, version: model_version_pb2.ModelVersion, *, request_id: str, description: str = ""
    ) -> int:
        """Upload a model version in chunks; the registry verifies the sha256. Returns the
        version number (the same one again for a repeated request_id)."""

        def messages():
            yield reg_pb.CreateModelVersionRequest(
                model=model,
                metadata=reg_pb.CreateModelVersionRequest.Metadata(
                    request_id=request_id,
                    expected_sha256=hashlib.sha256(artifact).hexdigest(),
                    expected_size_bytes=len(artifact),
                    model_version=version,
                    model_description=description,
                ),
            )
            for start in range(0, len(artifact), CHUNK_BYTES):
                yield reg_pb.CreateModelVersionRequest(model=model, chunk=artifact[start : start + CHUNK_BYTES])

        response = await self._retrying(
            "CreateModelVersion", lambda: self.stub.CreateModelVersion(messages(), timeout=300)
        )
        return response.model_version.version

    async def version_of_job(self, model: str, training_job_id: str) -> model_version_pb2.ModelVersion | None:
        """The version of `model` that training job `training_job_id` registered, if any
        (newest first: an earlier attempt's version is near the top)."""
        token = ""
        while True:
            request = reg_pb.ListModelVersionsRequest(model=model, page_size=100, page_token=token)
            try:
                reply = await self._retrying("ListModelVersions", lambda r=request: self.stub.ListModelVersions(r, timeout=30))
            except NotFound:
                return None  # no such model yet
            for version in reply.model_versions:
                if version.training_job_id == training_job_id:
                    return version
            token = reply.next_page_token
            if not token:
                return None

    async def set_alias(self, model: str, alias: str, version: int) -> None:
        await self._retrying(
            "SetAlias",
            lambda: self.stub.SetAlias(reg_pb.SetAliasRequest(model=model, alias=alias, version=version), timeout=30),
        )

    # --- reads (the gateway): not retried, a person is waiting for the answer -------------

    async def model(self, model: str, *, timeout_s: float = 10.0) -> model_pb2.Model:
        """The model (latest version number, aliases): NotFound for an unknown name."""
        reply = await _mapped(self.stub.GetModel(reg_pb.GetModelRequest(model=model), timeout=timeout_s))
        return reply.model

    async def model_version(self, model: str, version: int, *, timeout_s: float = 10.0) -> model_version_pb2.ModelVersion:
        """One version with its inputs, outputs, metrics and task: NotFound when missing."""
        reply = await _mapped(self.stub.GetModelVersion(
            reg_pb.GetModelVersionRequest(model=model, version=version), timeout=timeout_s))
        return reply.model_version

    async def newest_ready_version(self, model: str, *, timeout_s: float = 10.0) -> model_version_pb2.ModelVersion | None:
        """The model's newest READY version; None when it has none. NotFound for an
        unknown model."""
        reply = await _mapped(self.stub.ListModelVersions(reg_pb.ListModelVersionsRequest(
            model=model, page_size=1, state=model_version_pb2.MODEL_VERSION_STATE_READY), timeout=timeout_s))
        return reply.model_versions[0] if reply.model_versions else None

    async def model_names(self, *, limit: int = MAX_LISTED, timeout_s: float = 10.0) -> list[str]:
        """Names of the registered models, at most `limit`, in the registry's order."""
        names: list[str] = []
        token = ""
        while len(names) < limit:
            reply = await _mapped(self.stub.ListModels(
                reg_pb.ListModelsRequest(page_size=min(limit - len(names), MAX_LISTED), page_token=token),
                timeout=timeout_s))
            names += [m.name for m in reply.models]
            token = reply.next_page_token
            if not token:
                break
        return names[:limit]


class ConnectorClient:
    """The connector as its clients use it: datasets streamed for the worker, schemas
    and sampled values for the parser. Its channel maps failed calls to the error tree
    (open_channel(..., map_errors=True))."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)

    async def connection(self, connection_id: str, *, timeout_s: float = 10.0):
        """The connection record (without secrets): NotFound for an unknown id."""
        reply = await self.stub.GetConnection(
            connector_service_pb2.GetConnectionRequest(connection_id=connection_id), timeout=timeout_s
        )
        return reply.connection

    async def schema(self, connection_id: str, *, timeout_s: float = 30.0):
        """The connection's schema, from the connector's cache when it has one."""
        reply = await self.stub.GetSchema(
            connector_service_pb2.GetSchemaRequest(connection_id=connection_id), timeout=timeout_s
        )
        return reply.schema

    async def glossary(self, connection_id: str, *, timeout_s: float = 10.0) -> Glossary | None:
        """The connection's glossary; None when it has none."""
        reply = await self.stub.GetGlossary(
            connector_service_pb2.GetGlossaryRequest(connection_id=connection_id), timeout=timeout_s
        )
        return glossary_from_pb(reply.glossary) if reply.glossary.version else None

    async def execute(
        self, connection_id: str, statement: statement_pb2.Statement, *, max_rows: int, timeout_s: float = 10.0
    ) -> list[tuple[Any, ...]]:
        """The rows of one statement, first page only (at most max_rows)."""
        reply = await self.stub.ExecuteQuery(
            connector_service_pb2.ExecuteQueryRequest(
                connection_id=connection_id, statement=statement, page_size=max_rows, max_rows=max_rows
            ),
            timeout=timeout_s,
        )
        return [tuple(cell_to_value(c) for c in row.cells) for row in reply.rows]

    async def rows(
        self, connection_id: str, sql: str | statement_pb2.Statement, *, max_rows: int = 0
    ) -> tuple[Sequence[str], AsyncIterator[tuple[Any, ...]]]:
        """Column names and an iterator of rows of the query (SQL text, or any statement:
        a MongoDB find too), read through StreamQuery; `max_rows` 0 is the connection's cap."""
        header, rows = await self.stream(connection_id, sql, max_rows=max_rows)
        return [c.name for c in header.columns], rows

    async def stream(
        self, connection_id: str, sql: str | statement_pb2.Statement, *, max_rows: int = 0
    ) -> tuple[connector_service_pb2.StreamQueryResponse.Header, AsyncIterator[tuple[Any, ...]]]:
        """`rows` with the whole header: the columns' types and the columns the connector
        masked for this caller (personal data)."""
        statement = sql if isinstance(sql, statement_pb2.Statement) else \
            statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql=sql))
        call = self.stub.StreamQuery(
            connector_service_pb2.StreamQueryRequest(connection_id=connection_id, statement=statement, max_rows=max_rows)
        )
        header = connector_service_pb2.StreamQueryResponse.Header()
        async for message in call:
            kind = message.WhichOneof("payload")
            if kind == "header":
                header = message.header
                break

        async def rest() -> AsyncIterator[tuple[Any, ...]]:
            try:
                async for message in call:
                    if message.WhichOneof("payload") == "batch":
                        for row in message.batch.rows:
                            yield tuple(cell_to_value(c) for c in row.cells)
            finally:
                call.cancel()  # a reader that stops early stops the query too

        return header, rest()


class TrainingClient:
    """The training orchestrator: create a job, read one, list them."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.stub = training_service_pb2_grpc.TrainingServiceStub(channel)

    async def create(
        self, job: training_job_pb2.TrainingJob, *, request_id: str = "", timeout_s: float = 30.0
    ) -> training_job_pb2.TrainingJob:
        """Create (and queue) `job`; the orchestrator validates it against the dataset
        first (InvalidArgument with field violations). A repeated `request_id` returns
        the job it created the first time."""
        reply = await _mapped(self.stub.CreateTrainingJob(
            training_service_pb2.CreateTrainingJobRequest(training_job=job, request_id=request_id), timeout=timeout_s))
        return reply.training_job

    async def job(self, job_id: str, *, timeout_s: float = 10.0) -> training_job_pb2.TrainingJob:
        """One job (accepts "trainingJobs/{id}" too): NotFound for an unknown id."""
        reply = await _mapped(self.stub.GetTrainingJob(
            training_service_pb2.GetTrainingJobRequest(job_id=job_id.removeprefix("trainingJobs/")), timeout=timeout_s))
        return reply.training_job

    async def jobs(
        self, *, state: int = 0, model_name: str = "", limit: int = 100, timeout_s: float = 10.0
    ) -> list[training_job_pb2.TrainingJob]:
        """Jobs newest first, at most `limit`; `state` a JobState to keep only those."""
        found: list[training_job_pb2.TrainingJob] = []
        token = ""
        while len(found) < limit:
            reply = await _mapped(self.stub.ListTrainingJobs(training_service_pb2.ListTrainingJobsRequest(
                page_size=min(limit - len(found), MAX_LISTED), page_token=token, state=state, model_name=model_name),
                timeout=timeout_s))
            found += reply.training_jobs
            token = reply.next_page_token
            if not token:
                break
        return found[:limit]


@dataclass(frozen=True)
class Prediction:
    """A model's answer for one record: `label` for classification (with `probabilities`
    by class when the model gives them), `value` for regression, `score` (higher = more
    unusual) and `is_anomaly` for anomaly detection."""

    label: Any = None
    value: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    is_anomaly: bool | None = None


@dataclass(frozen=True)
class Predictions:
    model: str
    version: int
    predictions: list[Prediction]


class PredictionClient:
    """The prediction service: predictions for a few records from one model version."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

    async def predict(
        self, model: str, records: Sequence[Mapping[str, Any]], *, version: int | None = None,
        alias: str | None = None, timeout_s: float = 10.0,
    ) -> Predictions:
        """One prediction per record, in order, from `version`, else `alias`, else the
        service's default (production). Values must be JSON-like (str, number, bool, None)."""
        request = pred_pb.PredictRequest(model=model)
        if version is not None:
            request.version = version
        elif alias:
            request.alias = alias
        for record in records:
            json_format.ParseDict(dict(record), request.records.add())
        reply = await _mapped(self.stub.Predict(request, timeout=timeout_s))
        return Predictions(reply.model, reply.version, [_prediction(p) for p in reply.predictions])

    async def batch_predict(
        self, model: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, version: int,
        timeout_s: float = 30.0,
    ) -> Predictions:
        """One prediction per row (values in the order of `columns`, JSON-like), in order,
        from `version`, through BatchPredict (many rows, split into model runs there)."""
        request = pred_pb.BatchPredictRequest(model=model, version=version, columns=list(columns))
        for row in rows:
            request.rows.add().extend(row)
        reply = await _mapped(self.stub.BatchPredict(request, timeout=timeout_s))
        return Predictions(reply.model, reply.version, [_prediction(p) for p in reply.predictions])


def _prediction(p: Any) -> Prediction:
    label = json_format.MessageToDict(p.label) if p.HasField("label") else None
    return Prediction(
        label=label,
        value=p.value if p.HasField("value") else None,
        probabilities=dict(p.probabilities),
        score=p.score if p.HasField("score") else None,
        is_anomaly=p.is_anomaly if p.HasField("is_anomaly") else None,
    )
