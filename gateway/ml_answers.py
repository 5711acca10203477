"""Questions about models, answered by the ML services (the MlAnswerer of the core):

    TRAIN         "train a model to predict segment from customers [using age and city]"
                  → CreateTrainingJob on that table of the connection → the job
    PREDICT       "what would the churn model predict for age 31 in Lagos"
                  → Predict on the model's production version → the prediction
    MODEL_STATUS  "how is the churn model doing" → the registry's metrics of that version;
                  "how are the models doing" → each model with its metrics
    ANOMALY       "which orders look unusual?" → the rows an anomaly model of the table
                  flags, training it on first ask (anomalies.py)

The parser has read the question (ParsedQuery: model_name, target, tables, columns as
features, a prediction's inputs as equality filters); this module checks what it names
against the connection's schema and the model's inputs, and says what is missing in
words a person can act on. A service that cannot be reached is Unavailable naming it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from typing import Any

from chatdb.connector.v1 import data_type_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq
from chatdb.registry.v1 import model_version_pb2
from chatdb.training.v1 import job_state_pb2, training_job_pb2

from servers.contracts.cells import cell_to_value
from servers.contracts.clients import (
    ConnectorClient,
    Prediction,
    PredictionClient,
    RegistryClient,
    TrainingClient,
)
from servers.runtime.channels import address_of, open_channel
from servers.runtime.errors import (
    DeadlineExceeded,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unavailable,
    quote,
)
from servers.runtime.names import NAME
from servers.runtime.settings import Settings

from . import ml_dataset
from .anomalies import Anomalies
from .answer import SOURCES, Answer, table

_NUMERIC_INPUTS = frozenset({"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64",
                             "UINT8", "UINT16", "UINT32", "UINT64"})
_FLOAT = data_type_pb2.DATA_TYPE_FLOAT
_TASK_NAMES = {ml_dataset.CLASSIFICATION: "classification", ml_dataset.REGRESSION: "regression"}
_LISTED_MODELS = 10


@contextmanager
def service(name: str) -> Iterator[None]:
    """Calls to the `name` service: when it cannot answer, Unavailable naming it (the
    core and the status page tell "training is down" from "the database is down")."""
    try:
        yield
    except (Unavailable, DeadlineExceeded) as exc:
        raise Unavailable(f"{name} service unavailable: {exc.message}", reason=f"{name.upper()}_UNAVAILABLE",
                          metadata={"service": name}) from None


def model_name_for(table: str, target: str) -> str:
    """"<table>-<target>" under the name rule (lowercase, digits, hyphens, 63 at most)."""
    name = re.sub(r"[^a-z0-9-]+", "-", f"{table}-{target}".lower()).strip("-")
    name = re.sub(r"^[^a-z]+", "", name)[:63].rstrip("-")
    return name or "model"


def _number(value: float) -> str:
    return f"{value:.4g}" if value == 0 or abs(value) >= 0.001 else f"{value:.3g}"


class MlAnswers:
    def __init__(self, settings: Settings, *, training: TrainingClient, prediction: PredictionClient,
                 registry: RegistryClient, connector: ConnectorClient) -> None:
        self.settings = settings
        self.training = training
        self.prediction = prediction
        self.registry = registry
        self.connector = connector
        self.timeout_s = settings.gateway_ml_timeout_s
        self.anomalies = Anomalies(settings, training=training, prediction=prediction, registry=registry,
                                   connector=connector, service=service)

    async def answer(self, parsed: pq.ParsedQuery, *, question: str, connection_id: str) -> Answer:
        started = time.perf_counter()
        if parsed.intent == pq.INTENT_TRAIN:
            answer = await self.train(parsed, connection_id=connection_id)
        elif parsed.intent == pq.INTENT_PREDICT:
            answer = await self.predict(parsed)
        elif parsed.intent == pq.INTENT_MODEL_STATUS:
            answer = await self.model_status(parsed)
        elif parsed.intent == pq.INTENT_ANOMALY:
            answer = await self.anomalies.answer(parsed, connection_id=connection_id)
        else:
            raise InvalidArgument(f"{quote(question)} is not a question about models", field="question")
        answer.execute_s = time.perf_counter() - started  # all of it is spent in the ML services
        return answer

    # --- train ------------------------------------------------------------------------------

    async def train(self, parsed: pq.ParsedQuery, *, connection_id: str) -> Answer:
        if not connection_id:
            raise InvalidArgument("training needs a connection to read the table from", field="connection_id")
        with service("connector"):
            connection = await self.connector.connection(connection_id, timeout_s=self.timeout_s)
            schema = await self.connector.schema(connection_id, timeout_s=self.timeout_s)
        source = ml_dataset.find_table(schema, parsed.tables[0] if parsed.tables else "")
        columns = ml_dataset.training_columns(source, parsed.target, list(parsed.columns))
        target = ml_dataset.column_of(source, columns.target, "target")
        notes = list(columns.notes)
        if ml_dataset.is_sql(connection.kind):
            task, dataset = await self._sql_dataset(connection_id, connection.kind, schema, source, target, columns)
        else:
            task, dataset, read = await self._documents_dataset(connection_id, source.name, target.name, columns)
            notes.append(f"read {read} documents of {source.name} through the connector and sent them inline")
        algorithm = (self.settings.gateway_ml_classification_algorithm if task == ml_dataset.CLASSIFICATION
                     else self.settings.gateway_ml_regression_algorithm)
        model = parsed.model_name if NAME.match(parsed.model_name) else model_name_for(source.name, target.name)
        job = training_job_pb2.TrainingJob(model_name=model, task=task, algorithm=algorithm, dataset=dataset,
                                           target=target.name, features=columns.features)
        with service("training"):
            job = await self.training.create(job, timeout_s=self.timeout_s)
        learns_from = ", ".join(columns.features) if columns.features else "its other columns"
        text = (f"Started training job {job.name} for model {model}: {_TASK_NAMES[task]} ({algorithm}) of "
                f"{target.name} from {learns_from} on {source.name}.")
        names, cells = table(["training_job", "model", "task", "algorithm", "target", "features", "state"], [(
            job.name, model, _TASK_NAMES[task], algorithm, target.name, ", ".join(columns.features) or "(all)",
            job_state_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower(),
        )])
        return Answer(text, SOURCES.ANSWER_SOURCE_TRAINING, names, cells, training_job=job.name, notes=notes)

    async def _sql_dataset(self, connection_id: str, kind: int, schema, source, target,
                           columns: ml_dataset.Columns) -> tuple[int, training_job_pb2.Dataset]:
        """The task (an integer target's distinct values counted on the database) and a
        dataset the worker reads with a SELECT in the connection's dialect."""
        distinct = None
        if target.type == data_type_pb2.DATA_TYPE_INTEGER:
            with service("connector"):
                rows = await self.connector.execute(
                    connection_id, ml_dataset.count_distinct(source, schema, kind, target.name),
                    max_rows=1, timeout_s=self.timeout_s)
            distinct = int(rows[0][0]) if rows else 0
        task = ml_dataset.task_for(target, distinct, self.settings.gateway_ml_max_classes)
        return task, ml_dataset.query_dataset(connection_id, ml_dataset.select_columns(source, schema, kind, columns.read))

    async def _documents_dataset(self, connection_id: str, collection: str, target: str,
                                 columns: ml_dataset.Columns) -> tuple[int, training_job_pb2.Dataset, int]:
        """The task from the target's values and the documents as inline records, at most
        gateway_ml_inline_rows of them; InvalidArgument when the collection holds more (a
        sample would train on a part nobody chose)."""
        cap = self.settings.gateway_ml_inline_rows
        statement = ml_dataset.mongo_find(collection, columns.read, cap + 1)
        with service("connector"):
            names, stream = await self.connector.rows(connection_id, statement, max_rows=cap + 1)
            rows = [row async for row in stream]
        if len(rows) > cap:
            raise InvalidArgument(
                f"{collection} holds more than {cap} documents, the most a training from a MongoDB collection "
                "reads (CHATDB_GATEWAY_ML_INLINE_ROWS)", field="table")
        names = list(names)
        values = [row[names.index(target)] for row in rows] if target in names else []
        task = ml_dataset.task_from_values(values, self.settings.gateway_ml_max_classes)
        return task, ml_dataset.inline_dataset(names, rows), len(rows)

    # --- predict ----------------------------------------------------------------------------

    async def predict(self, parsed: pq.ParsedQuery) -> Answer:
        model = await self._model(parsed.model_name)
        version, alias = await self._serving(model)
        record, unused, missing = prediction_record(parsed.filters, version.inputs)
        if missing:
            raise InvalidArgument(
                f"the {model.name} model needs a value for {', '.join(missing)} to predict "
                f"(its inputs: {', '.join(i.name for i in version.inputs)})",
                violations=[FieldViolation(f"inputs.{name}", f"missing: an input of model {model.name}")
                            for name in missing],
                reason="PREDICTION_INPUTS_MISSING")
        with service("prediction"):
            result = await self.prediction.predict(model.name, [record], version=version.version,
                                                   timeout_s=self.timeout_s)
        notes = [f"not an input of the model, left out: {', '.join(unused)}"] if unused else []
        notes += self._newer(model, version)
        reference = f"models/{model.name}/versions/{result.version}"
        inputs = ", ".join(f"{k} {v}" for k, v in record.items())
        first = result.predictions[0]
        said = f"{first.label}" if first.label is not None else _number(first.value or 0.0)
        if first.probabilities and first.label is not None:
            said += f" (probability {_number(first.probabilities.get(str(first.label), 0.0))})"
        chosen = f"version {result.version}" + (f", {alias}" if alias else ", its newest")
        text = f"The {model.name} model ({chosen}) predicts {said} for {inputs}."
        names, cells = prediction_table(record, result.predictions)
        return Answer(text, SOURCES.ANSWER_SOURCE_PREDICTION, names, cells, model_version=reference, notes=notes)

    # --- how is a model doing ---------------------------------------------------------------

    async def model_status(self, parsed: pq.ParsedQuery) -> Answer:
        if not parsed.model_name:
            return await self.models_overview()
        model = await self._model(parsed.model_name)
        version, alias = await self._serving(model)
        reference = f"models/{model.name}/versions/{version.version}"
        metrics = sorted(version.metrics.items())
        chosen = f"{alias} version {version.version}" if alias else f"newest version {version.version}"
        made = f"{version.task}, trained by job {version.training_job_id}" if version.training_job_id else version.task
        summary = ", ".join(f"{k} {_number(v)}" for k, v in metrics) or "no metrics recorded"
        text = f"The {model.name} model's {chosen}" + (f" ({made})" if made else "") + f": {summary}."
        notes = self._newer(model, version)
        names, cells = table(["metric", "value"], metrics, [data_type_pb2.DATA_TYPE_TEXT, _FLOAT])
        return Answer(text, SOURCES.ANSWER_SOURCE_REGISTRY, names, cells, model_version=reference, notes=notes)

    async def models_overview(self) -> Answer:
        """"how are the models doing": each model (the first few) with the metrics of the
        version it answers with."""
        with service("registry"):
            names = await self.registry.model_names(limit=_LISTED_MODELS + 1, timeout_s=self.timeout_s)
        rows = []
        for name in names[:_LISTED_MODELS]:
            try:
                with service("registry"):
                    model = await self.registry.model(name, timeout_s=self.timeout_s)
                version, alias = await self._serving(model)
            except NotFound:
                continue  # deleted meanwhile, or no ready version yet
            summary = ", ".join(f"{k} {_number(v)}" for k, v in sorted(version.metrics.items()))
            rows.append((model.name, version.version, alias or "newest", version.task, summary))
        notes = [f"the first {_LISTED_MODELS} models; name one to see its own"] if len(names) > _LISTED_MODELS else []
        text = f"{len(rows)} models: " + "; ".join(f"{r[0]} v{r[1]} ({r[4] or 'no metrics'})" for r in rows) \
            if rows else "No model is registered yet: ask to train one (\"train a model to predict … from …\")."
        columns, cells = table(["model", "version", "alias", "task", "metrics"], rows,
                               [data_type_pb2.DATA_TYPE_TEXT, data_type_pb2.DATA_TYPE_INTEGER]
                               + [data_type_pb2.DATA_TYPE_TEXT] * 3)
        return Answer(text, SOURCES.ANSWER_SOURCE_REGISTRY, columns, cells, notes=notes)

    # --- the model a question names ---------------------------------------------------------

    async def _model(self, name: str):
        if not name:
            with service("registry"):
                known = await self.registry.model_names(limit=_LISTED_MODELS, timeout_s=self.timeout_s)
            raise InvalidArgument(f"which model? Known models: {', '.join(known) or 'none yet'}", field="model_name")
        try:
            with service("registry"):
                return await self.registry.model(name, timeout_s=self.timeout_s)
        except NotFound:
            with service("registry"):
                known = await self.registry.model_names(timeout_s=self.timeout_s)
            suggestions = ml_dataset.closest(name, known)
            raise NotFound(
                f"there is no model called {name!r}; known models: {', '.join(suggestions) or 'none yet'}",
                reason="MODEL_NOT_FOUND", metadata={"model": name, "known_models": ",".join(known[:_LISTED_MODELS])},
            ) from None

    def _newer(self, model, version: model_version_pb2.ModelVersion) -> list[str]:
        if model.latest_version <= version.version:
            return []
        alias = self.settings.gateway_ml_alias
        option = "" if alias == "production" else f" --alias {alias}"
        return [f"version {model.latest_version} is newer but not {alias} "
                f"(`chatdb promote {model.name} {model.latest_version}{option}` makes it so)"]

    async def _serving(self, model) -> tuple[model_version_pb2.ModelVersion, str]:
        """The version the alias points to, else the newest ready one ("" as the alias)."""
        alias = self.settings.gateway_ml_alias
        with service("registry"):
            if alias in model.aliases:
                return await self.registry.model_version(model.name, model.aliases[alias], timeout_s=self.timeout_s), alias
            newest = await self.registry.newest_ready_version(model.name, timeout_s=self.timeout_s)
        if newest is None:
            raise NotFound(f"model {model.name!r} has no version ready yet (is its training job still running?)",
                           reason="MODEL_VERSION_NOT_FOUND", metadata={"model": model.name})
        return newest, ""


def open_ml_answers(settings: Settings, stack: AsyncExitStack, *, connector: ConnectorClient | None = None) -> MlAnswers:
    """MlAnswers on channels of its own to training, prediction and the registry (closed
    with `stack`), and to the connector unless the gateway passes its client."""

    def channel(name: str):
        opened = open_channel(settings, name, map_errors=True)
        stack.push_async_callback(opened.close)
        return opened

    return MlAnswers(
        settings,
        training=TrainingClient(channel("training")),
        prediction=PredictionClient(channel("prediction")),
        # A person is waiting: the registry's upload retries are not for this client.
        registry=RegistryClient(channel("registry"), address=address_of(settings, "registry"), retry_s=0),
        connector=connector or ConnectorClient(channel("connector")),
    )


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def prediction_record(
    filters: Sequence[pq.Filter], inputs: Sequence[model_version_pb2.TensorSpec]
) -> tuple[dict[str, Any], list[str], list[str]]:
    """The record for the model from the question's "column = value" inputs: keyed by the
    model's input names (matched exactly, else ignoring case and separators), values in
    the input's type. Returns the record, the inputs the model does not take and the
    model inputs the question did not give."""
    by_key = {_key(spec.name): spec for spec in inputs}
    record: dict[str, Any] = {}
    unused: list[str] = []
    for f in filters:
        if f.operator != pq.FILTER_OPERATOR_EQ or len(f.values) != 1:
            continue
        name = f.column.rsplit(".", 1)[-1]
        spec = next((s for s in inputs if s.name == name), None) or by_key.get(_key(name))
        if spec is None:
            unused.append(name)
            continue
        record[spec.name] = _typed(cell_to_value(f.values[0]), spec.datatype)
    missing = [spec.name for spec in inputs if spec.name not in record]
    return record, unused, missing


def _typed(value: Any, datatype: str) -> Any:
    """`value` as the model input takes it: a number for numeric inputs (when it reads as
    one; the service names it otherwise), text for BYTES."""
    if datatype in _NUMERIC_INPUTS and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if datatype == "BYTES" and not isinstance(value, str):
        return str(value) if not isinstance(value, bool) else str(value).lower()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def prediction_table(record: dict[str, Any], predictions: Sequence[Prediction]):
    """A row per prediction: the inputs, the label or value, and a probability per class."""
    classes = sorted({c for p in predictions for c in p.probabilities})
    names = [*record, "prediction", *(f"probability {c}" for c in classes)]
    numeric = all(p.label is None for p in predictions)
    kinds = [_FLOAT if _is_number(v) else data_type_pb2.DATA_TYPE_TEXT for v in record.values()]
    kinds += [_FLOAT if numeric else data_type_pb2.DATA_TYPE_TEXT] + [_FLOAT] * len(classes)
    inputs = [float(v) if _is_number(v) else str(v) for v in record.values()]
    rows = [[*inputs, p.value if p.label is None else str(p.label), *(p.probabilities.get(c) for c in classes)]
            for p in predictions]
    return table(names, rows, kinds)
