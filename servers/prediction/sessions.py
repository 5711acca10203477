"""The cache of model versions in memory (each a LoadedModel, loaded.py): an LRU bounded
by count and bytes, alias tables kept current by the registry's events, and atomic swaps.

    lookup(model, selector)  the hot path: two dict reads and an LRU touch, no await
    get(model, selector)     lookup, else resolve the alias and load (single-flight)

Tenancy: versions are loaded as an internal caller (what is cached serves every
tenant), each keeping its model's tenant from the registry; lookup() and get() answer
a caller whose tenant may not see the model (runtime/tenancy.py) NOT_FOUND, with the
message of a missing model. For a shared model that costs one attribute read.
    preload(aliases)         load every model's `production` (…) version at start
    watch()                  follow WatchModelEvents forever (resuming after the last
                             sequence seen): load what appears or what an alias moves to
                             in the background, then swap the alias; re-read the followed
                             aliases now and then as a backstop

Models are served from a rewritten copy of their graph (graph.py): numeric models take
one [n, k] matrix instead of k [n, 1] inputs, and classifiers give their label as an
index into their classes rather than as text; the public interface does not change.

A swap is one dict assignment in the event loop: a request holds the LoadedModel it
looked up, so a request in flight finishes on the old version while the next one gets
the new. The old version stays in the LRU (explicit `version` requests may use it)
until it is evicted. Eviction takes the least recently used version that no followed
alias points to; only when every cached version is an alias target does it take one
of those. Size is the ONNX artifact's size, a proxy for the session's memory.

A version that fails to load (bad ONNX, larger than the whole cache) is remembered with
the reason for `failed_retry_s`: requests get FAILED_PRECONDITION saying why. When an
alias moves to a version that fails, the alias keeps serving its previous version.
No grpc here: the registry is reached through a ModelSource (source.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from servers.runtime.errors import ChatDBError, FailedPrecondition, NotFound, Unavailable, quote
from servers.runtime.identity import current_tenant, reset_principal, set_principal
from servers.runtime.tenancy import visible_to

from .domain import PRODUCTION, Artifact, EventType, ModelEvent, Selector, TensorInfo, invalid
from .graph import fuse_numeric_inputs, index_labels
from .loaded import LABEL, BatchOptions, LoadedModel, SessionOptions, create_session, model_info

log = logging.getLogger("chatdb.prediction.models")

Key = tuple[str, int]
# Defaults, built once (as a default argument would be).
DEFAULT_SESSIONS, DEFAULT_BATCHING = SessionOptions(), BatchOptions()


class ModelSource(Protocol):
    """Where versions come from (the registry; tests may fake it)."""

    async def download(self, model: str, version: int) -> Artifact:
        """The version's bytes; NotFound for an unknown model or version."""
        ...

    async def alias_target(self, model: str, alias: str) -> int:
        """The version `alias` points to; NotFound for an unknown model or alias."""
        ...

    async def alias_targets(self, alias: str) -> list[tuple[str, int]]:
        """(model, version) for every model that has `alias`."""
        ...

    async def versions(self, model: str) -> list[int]:
        """The versions of `model` that may be served (not archived), ascending."""
        ...

    def events(self, since_sequence: int | None) -> AsyncIterator[ModelEvent]:
        """Registry events after `since_sequence` (None: from now on), forever."""
        ...



@dataclass(frozen=True)
class _Failure:
    reason: str
    at: float


class ModelManager:
    """The cache of loaded versions and the alias tables, kept current by events."""

    def __init__(
        self,
        source: ModelSource,
        *,
        max_models: int = 32,
        max_bytes: int = 2 * 1024**3,
        sessions: SessionOptions = DEFAULT_SESSIONS,
        batching: BatchOptions = DEFAULT_BATCHING,
        follow_aliases: Iterable[str] = (PRODUCTION,),
        failed_retry_s: float = 30.0,
        session_factory: Callable[[bytes, SessionOptions], Any] = create_session,
        rewrite_graphs: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_models < 1 or max_bytes < 1:
            raise ValueError("the cache needs room for at least one model")
        self._source = source
        self.max_models = max_models
        self.max_bytes = max_bytes
        self._sessions = sessions
        self._batching = batching
        self._session_factory = session_factory
        self._rewrite_graphs = rewrite_graphs  # graph.py: serve a faster, equivalent graph
        self._clock = clock
        self._failed_retry_s = failed_retry_s
        self._loaded: OrderedDict[Key, LoadedModel] = OrderedDict()
        self._bytes = 0
        self._aliases: dict[tuple[str, str], int] = {}
        self._followed: set[str] = set(follow_aliases)
        self._alias_sequence: dict[tuple[str, str], int] = {}
        self._loading: dict[Key, asyncio.Future[LoadedModel]] = {}
        self._failed: dict[Key, _Failure] = {}
        self._background: set[asyncio.Task] = set()
        self.last_sequence: int | None = None
        self.loads = 0  # versions loaded since start (tests, metrics)
        self.evictions = 0

    # --- reads ---------------------------------------------------------------------------

    @property
    def loaded_keys(self) -> list[Key]:
        """Cached versions, least recently used first."""
        return list(self._loaded)

    @property
    def loaded_bytes(self) -> int:
        return self._bytes

    def alias(self, model: str, alias: str) -> int | None:
        return self._aliases.get((model, alias))

    def failure(self, model: str, version: int) -> str | None:
        """Why the version failed to load, while that is remembered."""
        failed = self._failed.get((model, version))
        return failed.reason if failed else None

    def lookup(self, model: str, selector: Selector) -> LoadedModel | None:
        """The loaded version a request names, or None (then `get` it). No I/O."""
        version = selector.version
        if version is None:
            version = self._aliases.get((model, selector.alias or PRODUCTION))
            if version is None:
                return None
        key = (model, version)
        found = self._loaded.get(key)
        if found is not None:
            self._loaded.move_to_end(key)
            if found.tenant:  # a tenant's model (shared ones cost only this read)
                caller = current_tenant()
                if caller is not None and caller != found.tenant:
                    raise _hidden(model)
        return found

    def loaded_versions(self, model: str) -> list[int]:
        return sorted(v for m, v in self._loaded if m == model)

    async def servable_versions(self, model: str) -> list[int]:
        """Every version a request may name: the registry's unarchived versions, less
        those that failed to load here. Only the loaded ones when the registry is out
        of reach (metadata should not fail because the registry is down)."""
        try:
            versions = await self._source.versions(model)
        except Unavailable:
            return self.loaded_versions(model)
        return [v for v in versions if self.failure(model, v) is None]

    async def get(self, model: str, selector: Selector) -> LoadedModel:
        tenant = current_tenant()
        # Resolve and load as the platform: a load shared by callers of several tenants
        # must not fail (or be refused by the registry) for the one that started it.
        internal = set_principal(None)
        try:
            loaded = await self._get(model, selector)
        finally:
            reset_principal(internal)
        if loaded.tenant and not visible_to(loaded.tenant, tenant):
            raise _hidden(model)
        return loaded

    async def _get(self, model: str, selector: Selector) -> LoadedModel:
        found = self.lookup(model, selector)
        if found is not None:
            return found
        if not model:
            raise invalid("model", "is required")
        if selector.version is not None:
            if selector.version < 1:
                raise invalid("version", "must be a version number (1 or more)")
            return await self.load(model, selector.version)
        alias = selector.alias or PRODUCTION
        key = (model, alias)
        version = self._aliases.get(key)
        if version is None:
            version = await self._source.alias_target(model, alias)
            # Follow the alias from now on: its moves are loaded ahead of requests.
            self._followed.add(alias)
            self._aliases.setdefault(key, version)
            version = self._aliases[key]
        return await self.load(model, version)

    # --- loading -------------------------------------------------------------------------

    async def load(self, model: str, version: int) -> LoadedModel:
        """The version, loaded once however many callers ask at the same time."""
        key = (model, version)
        found = self._loaded.get(key)
        if found is not None:
            self._loaded.move_to_end(key)
            return found
        failure = self._failed.get(key)
        if failure is not None:
            if self._clock() - failure.at < self._failed_retry_s:
                raise _load_failed(model, version, failure.reason)
            del self._failed[key]
        future = self._loading.get(key)
        if future is None:
            future = asyncio.ensure_future(self._load(model, version))
            self._loading[key] = future
            future.add_done_callback(lambda _f: self._loading.pop(key, None))
        # Shielded: a caller that gives up does not cancel the load for the others.
        return await asyncio.shield(future)

    async def _load(self, model: str, version: int) -> LoadedModel:
        artifact = await self._source.download(model, version)
        if artifact.archived:
            raise FailedPrecondition(
                f"model {model!r} version {version} is archived and no longer served",
                reason="MODEL_VERSION_ARCHIVED", metadata={"model": model, "version": str(version)})
        size = len(artifact.data)
        if size > self.max_bytes:
            reason = f"the model is {size} bytes, more than the whole cache holds ({self.max_bytes} bytes)"
            self._fail(model, version, reason)
            raise _load_failed(model, version, reason)
        try:
            loaded = await asyncio.to_thread(self._build, model, version, artifact)
        except Exception as exc:  # noqa: BLE001 - onnxruntime's errors, or a model we cannot serve
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self._fail(model, version, reason)
            log.error("model failed to load", extra={"model": model, "version": version, "reason": reason})
            raise _load_failed(model, version, reason) from None
        self._insert(loaded)
        self.loads += 1
        log.info("model loaded", extra={"model": model, "version": version, "bytes": size})
        return loaded

    def _build(self, model: str, version: int, artifact: Artifact) -> LoadedModel:
        data = artifact.data
        fused = indexed = None
        if self._rewrite_graphs:
            fused = fuse_numeric_inputs(data)
            data = fused.model if fused else data
            indexed = index_labels(data)
            data = indexed.model if indexed else data
        session = self._session_factory(data, self._sessions)
        info = model_info(model, version, session, len(artifact.data), artifact.task)
        # The public interface stays the exported one: one [-1, 1] FP32 input per feature,
        # labels as BYTES.
        if fused is not None:
            info = dataclasses.replace(info, inputs=tuple(TensorInfo(name, "FP32", (-1, 1)) for name in fused.inputs))
        if indexed is not None:
            info = dataclasses.replace(info, outputs=tuple(
                dataclasses.replace(o, datatype="BYTES") if o.name == LABEL else o for o in info.outputs))
        return LoadedModel(info, session, self._batching, fused, indexed.classes if indexed else None,
                           tenant=artifact.tenant)

    def _fail(self, model: str, version: int, reason: str) -> None:
        self._failed[(model, version)] = _Failure(reason, self._clock())
        if len(self._failed) > 1000:  # bounded memory of failures
            self._failed.pop(next(iter(self._failed)))

    def _insert(self, loaded: LoadedModel) -> None:
        key = (loaded.name, loaded.version)
        if key in self._loaded:
            return
        self._loaded[key] = loaded
        self._bytes += loaded.info.size_bytes
        self._evict(protect=key)

    def _evict(self, protect: Key) -> None:
        while len(self._loaded) > self.max_models or self._bytes > self.max_bytes:
            pinned = {(m, v) for (m, a), v in self._aliases.items() if a in self._followed}
            victim = next((k for k in self._loaded if k != protect and k not in pinned), None)
            if victim is None:
                victim = next((k for k in self._loaded if k != protect), None)
            if victim is None:
                return
            self._drop(victim)
            self.evictions += 1
            log.info("model evicted", extra={"model": victim[0], "version": victim[1]})

    def _drop(self, key: Key) -> None:
        dropped = self._loaded.pop(key, None)
        if dropped is not None:
            self._bytes -= dropped.info.size_bytes

    # --- preload, events -------------------------------------------------------------------

    async def preload(self, aliases: Iterable[str], *, registry_wait_s: float = 5.0) -> None:
        """Load the version each alias points to, for every model (`production` at start).
        An unreachable registry is retried for `registry_wait_s`; then the service starts
        without the models (the watcher loads them when the registry comes back)."""
        deadline = self._clock() + registry_wait_s
        for alias in aliases:
            self._followed.add(alias)
            while True:
                try:
                    targets = await self._source.alias_targets(alias)
                    break
                except Unavailable as exc:
                    if self._clock() >= deadline:
                        log.warning("registry unreachable: starting without preloaded models",
                                    extra={"reason": exc.message})
                        return
                    await asyncio.sleep(0.2)
            for model, version in targets:
                self._aliases[(model, alias)] = version
            for model, version in targets:
                try:
                    await self.load(model, version)
                except ChatDBError as exc:
                    log.error("preload failed", extra={"model": model, "version": version, "reason": exc.message})

    async def resync(self) -> None:
        """Re-read the targets of every followed alias and load what moved (after a
        reconnect that could not resume, and now and then as a backstop)."""
        for alias in sorted(self._followed):
            for model, version in await self._source.alias_targets(alias):
                if self._aliases.get((model, alias)) != version:
                    self._spawn(self._move_alias(model, alias, version, self._alias_sequence.get((model, alias), 0)))

    async def handle(self, event: ModelEvent) -> None:
        """Apply one registry event (loads run in the background)."""
        self.last_sequence = event.sequence
        if event.type is EventType.ALIAS_MOVED:
            key = (event.model, event.alias)
            self._alias_sequence[key] = event.sequence
            if event.alias in self._followed or key in self._aliases:
                self._spawn(self._move_alias(event.model, event.alias, event.version, event.sequence))
        elif event.type is EventType.VERSION_CREATED:
            if self._active(event.model):
                self._spawn(self._warm(event.model, event.version))
        elif event.type is EventType.VERSION_ARCHIVED:
            self._drop((event.model, event.version))

    async def watch(self, retry_s: float = 1.0, resync_interval_s: float = 60.0) -> None:
        """Follow the registry's events forever, resuming after the last one seen; when
        there is nothing to resume from, re-read the followed aliases instead. Every
        `resync_interval_s` the followed aliases are re-read anyway (a backstop)."""
        self._spawn(self._resync_every(resync_interval_s))
        delay = retry_s
        while True:
            since = self.last_sequence
            try:
                if since is None:
                    self._spawn(self._resync_quietly())
                async for event in self._source.events(since):
                    delay = retry_s
                    await self.handle(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect whatever broke the stream
                log.warning("model event stream broke; reconnecting",
                            extra={"reason": getattr(exc, "message", str(exc)), "retry_s": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _resync_every(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self._resync_quietly()

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(BaseException):
                await task

    def _active(self, model: str) -> bool:
        return any(m == model for m, _ in self._loaded) or any(m == model for m, _ in self._aliases)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _resync_quietly(self) -> None:
        try:
            await self.resync()
        except ChatDBError as exc:
            log.warning("alias resync failed", extra={"reason": exc.message})

    async def _move_alias(self, model: str, alias: str, version: int, sequence: int) -> None:
        key = (model, alias)
        try:
            await self.load(model, version)
        except ChatDBError as exc:
            log.error("alias target failed to load", extra={
                "model": model, "alias": alias, "version": version, "reason": exc.message})
            if key in self._aliases:
                return  # keep serving the previous target
        if self._alias_sequence.get(key, 0) > sequence:
            return  # the alias moved again meanwhile; that move decides
        previous = self._aliases.get(key)
        self._aliases[key] = version
        if previous != version:
            log.info("alias moved", extra={"model": model, "alias": alias, "version": version, "previous": previous})

    async def _warm(self, model: str, version: int) -> None:
        try:
            await self.load(model, version)
        except ChatDBError as exc:
            log.warning("new version failed to load", extra={"model": model, "version": version, "reason": exc.message})


def _load_failed(model: str, version: int, reason: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"model {model!r} version {version} failed to load: {reason}",
        reason="MODEL_LOAD_FAILED",
        metadata={"model": model, "version": str(version)},
    )


def _hidden(model: str) -> NotFound:
    """Another tenant's model, reported as the registry reports a missing one."""
    return NotFound(f"model {quote(model)} not found", reason="MODEL_NOT_FOUND", metadata={"model": model})
