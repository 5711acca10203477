"""The prediction service's core: plain async logic on domain types, no grpc, no
protobuf. Both transports (PredictionService, the KServe v2 GRPCInferenceService) call
the same instance, so every policy — which version answers, limits, readiness — lives
here once.

Single rows are the hot path: the loaded version is found with two dict reads, the record
is checked and coerced by the version's precomputed input plan into buffers it owns, and
the model runs on the event loop (10–50 µs; a thread hop would cost more). Batches above
`inline_rows` run in a worker thread (ONNX Runtime releases the GIL) so the loop keeps
serving other calls.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

import numpy as np

from servers.runtime import names
from servers.runtime.errors import ChatDBError, InvalidArgument

from .domain import (
    Columns,
    InferOutputs,
    ModelInfo,
    Predictions,
    RecordColumns,
    Records,
    Selector,
    TensorInfo,
    Tensors,
    invalid,
)
from .loaded import LoadedModel
from .sessions import ModelManager

_VERSION = re.compile(r"^[0-9]+$")
_ALIAS = names.NAME


@dataclass(frozen=True)
class Limits:
    max_predict_rows: int = 1000  # rows per Predict / ModelInfer
    max_batch_rows: int = 100_000  # rows per BatchPredict
    default_batch_size: int = 1024  # rows per model run in BatchPredict
    max_batch_size: int = 8192
    inline_rows: int = 64  # larger runs go to a worker thread, unless
    inline_run_s: float = 0.0003  # they are expected to take less than this


@dataclass(frozen=True)
class ServerInfo:
    name: str
    version: str
    extensions: tuple[str, ...] = field(default_factory=tuple)


class PredictionCore:
    def __init__(self, models: ModelManager, limits: Limits = Limits(), server: ServerInfo | None = None) -> None:
        self.models = models
        self.limits = limits
        self.server = server or ServerInfo("chatdb-prediction", "0.1.0")
        self._ready = False

    # --- readiness -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once the preload is done (ServerReady, and health once it is wired)."""
        return self._ready

    def set_ready(self, ready: bool = True) -> None:
        self._ready = ready

    # --- PredictionService ---------------------------------------------------------------

    async def predict(
        self, model: str, selector: Selector, inputs: Records | RecordColumns | Tensors, include_outputs: bool = False
    ) -> Predictions:
        """A few rows, for latency. Records are coerced by the model's input schema."""
        n = len(inputs)
        kind = type(inputs)
        if kind is Records or kind is RecordColumns:
            if n == 1 and kind is Records:
                loaded = self.models.lookup(model, selector) or await self.models.get(model, selector)
                row = loaded.plan.record_row(inputs.rows[0])
                if loaded.batcher is not None and not include_outputs:
                    return await loaded.batcher.submit(row)
                return loaded.predict(loaded.plan.single_feeds(row), 1, include_outputs)
            self._check_rows(n, self.limits.max_predict_rows, "records", "Predict", "use BatchPredict")
            loaded = self.models.lookup(model, selector) or await self.models.get(model, selector)
            feeds = loaded.plan.records_feeds(inputs)
        else:
            if not n:
                raise invalid("records", "is empty: give at least one record (or tensors)")
            self._check_rows(_leading(inputs), self.limits.max_predict_rows, inputs.field, "Predict", "use BatchPredict")
            loaded = self.models.lookup(model, selector) or await self.models.get(model, selector)
            feeds, n = loaded.plan.tensors_feeds(inputs)
        return await self._run(loaded, feeds, n, include_outputs)

    async def batch_predict(
        self, model: str, selector: Selector, inputs: Records | RecordColumns | Columns | Tensors, batch_size: int = 0,
        *, include_outputs: bool = False,
    ) -> Predictions:
        """Many rows, run `batch_size` at a time; with `include_outputs`, the model's
        output tensors over all rows too."""
        kind = type(inputs)
        if kind is Tensors:
            if not len(inputs):
                raise invalid("tensors", "is empty: give at least one row")
            n = _leading(inputs)
            name = inputs.field
        else:
            n = len(inputs)
            name = "records" if kind is Records or kind is RecordColumns else "rows"
        self._check_rows(n, self.limits.max_batch_rows, name, "BatchPredict", "split the rows over several calls")
        if batch_size < 0:
            raise invalid("batch_size", "must not be negative")
        size = min(batch_size or self.limits.default_batch_size, self.limits.max_batch_size)
        loaded = self.models.lookup(model, selector) or await self.models.get(model, selector)
        plan = loaded.plan
        if kind is Tensors:
            feeds, n = plan.tensors_feeds(inputs)
        else:
            feeds = plan.columns_feeds(inputs) if kind is Columns else plan.records_feeds(inputs)
        if n <= size:
            return await self._run(loaded, feeds, n, include_outputs)
        parts = []
        for start in range(0, n, size):
            end = min(start + size, n)
            parts.append(await self._run(loaded, {k: v[start:end] for k, v in feeds.items()}, end - start,
                                         include_outputs))
        return _concat(parts)

    # --- KServe v2 -----------------------------------------------------------------------

    def server_live(self) -> bool:
        return True

    def server_ready(self) -> bool:
        return self._ready

    async def model_ready(self, model: str, version: str) -> bool:
        """Whether the version can answer now (loading it if it exists)."""
        selector = parse_version(version)
        try:
            await self._loaded(model, selector)
        except InvalidArgument:
            raise
        except ChatDBError:
            return False
        return True

    async def model_metadata(self, model: str, version: str) -> tuple[ModelInfo, list[int]]:
        """The version's interface, and every version of the model that can be served."""
        loaded = await self._loaded(model, parse_version(version))
        return loaded.info, await self.models.servable_versions(model)

    async def infer(self, model: str, version: str, inputs: Tensors, requested: list[str]) -> InferOutputs:
        """ModelInfer: tensors in, the requested outputs (all when none) out."""
        if not len(inputs):
            raise invalid("inputs", "is empty: give the model's input tensors")
        self._check_rows(_leading(inputs), self.limits.max_predict_rows, "inputs", "ModelInfer", "split the batch")
        loaded = await self._loaded(model, parse_version(version))
        feeds, n = loaded.plan.tensors_feeds(inputs)
        outputs = {o.name: o for o in loaded.info.outputs}
        names = requested or list(outputs)
        for i, name in enumerate(names):
            if name not in outputs:
                raise invalid(f"outputs[{i}].name", f"{name!r} is not an output of model {model!r} (outputs: {', '.join(outputs)})")
        if n <= self.limits.inline_rows:
            arrays = loaded.run(names, feeds)
        else:
            arrays = await asyncio.to_thread(loaded.run, names, feeds)
        loaded.count_rows(n)
        return InferOutputs(
            loaded.name, loaded.version,
            [(TensorInfo(name, outputs[name].datatype, tuple(a.shape)), a) for name, a in zip(names, arrays, strict=True)],
        )

    # --- helpers -------------------------------------------------------------------------

    async def _loaded(self, model: str, selector: Selector) -> LoadedModel:
        return self.models.lookup(model, selector) or await self.models.get(model, selector)

    async def _run(self, loaded: LoadedModel, feeds, n: int, include_outputs: bool) -> Predictions:
        # A worker thread lets the loop serve other calls during a long run (ONNX Runtime
        # releases the GIL) but costs a hop; below ~0.3 ms of model time (1,024 rows of a
        # logistic regression) the hop costs more than it frees: inline, BatchPredict of
        # the logistic regression used ~10% less server CPU per call for ~5% more rows/s,
        # while a forest or a text model ran ~35% fewer rows/s.
        if n <= self.limits.inline_rows or loaded.seconds_per_row * n < self.limits.inline_run_s:
            return loaded.predict(feeds, n, include_outputs)
        return await asyncio.to_thread(loaded.predict, feeds, n, include_outputs)

    @staticmethod
    def _check_rows(n: int, limit: int, field: str, rpc: str, hint: str) -> None:
        if n == 0:
            raise invalid(field, "is empty: give at least one row")
        if n > limit:
            raise invalid(field, f"has {n} rows; {rpc} takes at most {limit} ({hint})")


def parse_version(version: str) -> Selector:
    """A KServe `model_version`: empty → production, digits → that version, else an alias."""
    if not version:
        return Selector()
    if _VERSION.match(version):
        return Selector(version=int(version))
    if _ALIAS.match(version):
        return Selector(alias=version)
    raise invalid("model_version", "must be a version number or an alias such as 'production'")


def _leading(inputs: Tensors) -> int:
    """Rows of a tensor request, from its first tensor's shape (checked fully later)."""
    shape = inputs.tensors[0].shape
    return int(shape[0]) if shape else 1


def _concat(parts: list[Predictions]) -> Predictions:
    first = parts[0]

    def join(name: str) -> np.ndarray | None:
        arrays = [getattr(p, name) for p in parts]
        return None if arrays[0] is None else np.concatenate(arrays)

    return Predictions(
        model=first.model, version=first.version, rows=sum(p.rows for p in parts),
        labels=join("labels"), probabilities=join("probabilities"), classes=first.classes,
        values=join("values"), scores=join("scores"), anomalies=join("anomalies"),
        inference_s=sum(p.inference_s for p in parts),
        label_codes=None if any(p.label_codes is None for p in parts) else join("label_codes"),
        outputs={name: np.concatenate([p.outputs[name] for p in parts]) for name in first.outputs},
    )
