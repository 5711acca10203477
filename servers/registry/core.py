"""The model registry's core: plain async logic on dataclasses, no grpc, no protobuf.

It owns every rule of the registry — names, paging, version numbering, idempotency,
aliases, what events are emitted — and leaves SQL to `store.RegistryStore`, bytes to an
`artifacts.ArtifactStore` and live wake-ups to `store.EventNotifier`. Its types (domain.py)
are shared with the store, which therefore imports domain.py, never this module.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING

from servers.runtime import names, paging, tenancy
from servers.runtime.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    quote,
)

from .artifacts import DEFAULT_READ_CHUNK_BYTES, SHA256_HEX, ArtifactStore
from .domain import (
    AliasChange,
    Artifact,
    EventType,
    Model,
    ModelEvent,
    ModelVersion,
    NewEvent,
    Page,
    Selector,
    TensorSpec,
    UploadMetadata,
    VersionState,
)
from .formats import check_artifact

if TYPE_CHECKING:
    from .store import EventNotifier, RegistryStore


NAME = names.NAME
FORMAT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
PRODUCTION = "production"
DATATYPES = frozenset(
    {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
     "FP16", "FP32", "FP64", "BF16", "BYTES"}
)
TASKS = frozenset({"classification", "regression", "text_classification", "anomaly_detection"})
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_REQUEST_ID_CHARS = 128
MAX_TEXT_CHARS = 4096
MAX_CHUNK_BYTES = 1024 * 1024  # the proto's limit on an upload or download chunk


# --- validation helpers ------------------------------------------------------------------


def _check_name(value: str, field_name: str, what: str) -> None:
    if not NAME.match(value or ""):
        raise InvalidArgument(
            f"{what} {quote(value)} must be 1-63 lowercase letters, digits and hyphens, starting with a letter",
            field=field_name,
        )


def _page_size(requested: int) -> int:
    return paging.page_size(requested, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)


def _query_digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def encode_page_token(tokens: paging.PageTokens, after: str | int, query: str) -> str:
    """Signed AIP-158 token (runtime.paging): the last key of the page, bound to a digest
    of the filters."""
    return tokens.issue("registry", {"a": after, "q": query})


def decode_page_token(tokens: paging.PageTokens, token: str, query: str, key_type: type) -> str | int | None:
    data = tokens.open_optional(token, "registry", bound_to={"q": query})
    if data is None:
        return None
    after = data.get("a")
    if not isinstance(after, key_type) or isinstance(after, bool):
        raise paging.invalid_token()
    return after


def _validate_specs(specs: tuple[TensorSpec, ...], prefix: str, violations: list[FieldViolation]) -> None:
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        where = f"{prefix}[{i}]"
        if not spec.name:
            violations.append(FieldViolation(f"{where}.name", "is required"))
        elif spec.name in seen:
            violations.append(FieldViolation(f"{where}.name", f"{quote(spec.name)} appears twice"))
        seen.add(spec.name)
        if spec.datatype and spec.datatype not in DATATYPES:
            violations.append(
                FieldViolation(f"{where}.datatype", f"must be one of {', '.join(sorted(DATATYPES))}")
            )
        if any(d < -1 for d in spec.shape):
            violations.append(FieldViolation(f"{where}.shape", "dimensions must be >= -1"))


def validate_upload(meta: UploadMetadata) -> None:
    """Every problem of an upload's metadata at once, as one InvalidArgument."""
    violations: list[FieldViolation] = []
    if not NAME.match(meta.model or ""):
        violations.append(
            FieldViolation("model", "must be 1-63 lowercase letters, digits and hyphens, starting with a letter")
        )
    if not SHA256_HEX.match(meta.expected_sha256 or ""):
        violations.append(FieldViolation("metadata.expected_sha256", "must be 64 lowercase hex digits"))
    if meta.expected_size_bytes is not None and meta.expected_size_bytes < 0:
        violations.append(FieldViolation("metadata.expected_size_bytes", "must not be negative"))
    if len(meta.request_id) > MAX_REQUEST_ID_CHARS:
        violations.append(FieldViolation("metadata.request_id", f"must be at most {MAX_REQUEST_ID_CHARS} characters"))
    if len(meta.model_description) > MAX_TEXT_CHARS:
        violations.append(FieldViolation("metadata.model_description", f"must be at most {MAX_TEXT_CHARS} characters"))
    spec, base = meta.spec, "metadata.model_version"
    _validate_specs(spec.inputs, f"{base}.inputs", violations)
    _validate_specs(spec.outputs, f"{base}.outputs", violations)
    if spec.task and spec.task not in TASKS:
        violations.append(FieldViolation(f"{base}.task", f"must be one of {', '.join(sorted(TASKS))}"))
    if not FORMAT.match(spec.format):
        violations.append(FieldViolation(f"{base}.artifact.format", "must be a short lowercase name such as 'onnx'"))
    for name in spec.metrics:
        if not name:
            violations.append(FieldViolation(f"{base}.metrics", "metric names must not be empty"))
    for name in spec.library_versions:
        if not name:
            violations.append(FieldViolation(f"{base}.library_versions", "library names must not be empty"))
    for fname in ("description", "dataset_fingerprint", "training_job_id"):
        if len(getattr(spec, fname)) > MAX_TEXT_CHARS:
            violations.append(FieldViolation(f"{base}.{fname}", f"must be at most {MAX_TEXT_CHARS} characters"))
    if violations:
        raise InvalidArgument.from_violations(violations)


def _not_found_model(name: str) -> NotFound:
    return NotFound(f"model {quote(name)} not found", reason="MODEL_NOT_FOUND", metadata={"model": name})


def _not_found_version(name: str, version: int) -> NotFound:
    return NotFound(
        f"model {quote(name)} has no version {version}",
        reason="MODEL_VERSION_NOT_FOUND",
        metadata={"model": name, "version": str(version)},
    )


def _check_may_add_version(model: Model) -> None:
    """Model names are global (one namespace, as connection ids are). A version of
    another tenant's model is PERMISSION_DENIED, not NOT_FOUND: the caller is creating,
    and for a name nobody holds the same call succeeds, so NOT_FOUND would hide nothing
    and only mislead (retrying cannot help; another name can). Nothing of the other
    tenant's model (versions, aliases, metrics) is told. A shared model takes new
    versions from admins and internal callers only."""
    if not tenancy.visible(model.tenant):
        raise PermissionDenied(
            f"model name {quote(model.name)} is taken by another tenant; choose another name",
            reason="MODEL_NAME_TAKEN", metadata={"model": model.name},
        )
    tenancy.check_modify(model.tenant, f"model {quote(model.name)}")


# --- the core ----------------------------------------------------------------------------


class Registry:
    """Models, versions, aliases and events; the one place their rules live."""

    def __init__(
        self,
        store: RegistryStore,
        artifacts: ArtifactStore,
        notifier: EventNotifier,
        *,
        download_chunk_bytes: int = DEFAULT_READ_CHUNK_BYTES,
        watch_poll_s: float = 1.0,
        watch_batch: int = 500,
        page_tokens: paging.PageTokens | None = None,
    ) -> None:
        if not 0 < download_chunk_bytes <= MAX_CHUNK_BYTES:
            raise ValueError(f"download_chunk_bytes must be between 1 and {MAX_CHUNK_BYTES}")
        self._store = store
        self._artifacts = artifacts
        self._notifier = notifier
        self._download_chunk_bytes = download_chunk_bytes
        self._watch_poll_s = watch_poll_s
        self._watch_batch = watch_batch
        self._drain = asyncio.Event()
        self._tokens = page_tokens or paging.PageTokens(paging.key_from(None))

    def end_watches(self) -> None:
        """Let every watch stream finish within one poll interval (the server is
        draining); subscribers resume from their last sequence elsewhere."""
        # Only the streams open now end: a core can outlive one server (tests), and
        # watches opened after this are unaffected.
        self._drain.set()
        self._drain = asyncio.Event()

    # --- reads ---------------------------------------------------------------------

    async def list_models(self, page_size: int = 0, page_token: str = "", name_prefix: str = "") -> Page[Model]:
        limit = _page_size(page_size)
        query = _query_digest("models", name_prefix)
        after = decode_page_token(self._tokens, page_token, query, str)
        models = await self._store.list_models(after=after, name_prefix=name_prefix, limit=limit + 1,
                                               tenant=tenancy.filter_tenant())
        more = len(models) > limit
        models = models[:limit]
        token = encode_page_token(self._tokens, models[-1].name, query) if more else ""
        return Page(models, token)

    async def get_model(self, name: str) -> Model:
        _check_name(name, "model", "model name")
        model = await self._store.get_model(name)
        if model is None or not tenancy.visible(model.tenant):
            raise _not_found_model(name)
        return model

    async def _check_visible(self, name: str) -> None:
        """NOT_FOUND, as for a missing model, when the caller's tenant may not see the
        model (runtime/tenancy.py). Costs a read only for calls with a principal."""
        if tenancy.filter_tenant() is not None:
            model = await self._store.get_model(name)
            if model is not None and not tenancy.visible(model.tenant):
                raise _not_found_model(name)

    async def list_versions(
        self, model: str, page_size: int = 0, page_token: str = "", state: VersionState | None = None
    ) -> Page[ModelVersion]:
        _check_name(model, "model", "model name")
        limit = _page_size(page_size)
        query = _query_digest("versions", model, state.value if state else None)
        before = decode_page_token(self._tokens, page_token, query, int)
        await self.get_model(model)
        versions = await self._store.list_versions(model, before=before, state=state, limit=limit + 1)
        more = len(versions) > limit
        versions = versions[:limit]
        token = encode_page_token(self._tokens, versions[-1].version, query) if more else ""
        return Page(versions, token)

    async def get_version(self, model: str, version: int) -> ModelVersion:
        _check_name(model, "model", "model name")
        if version < 1:
            raise InvalidArgument("must be a version number (1 or more)", field="version")
        await self._check_visible(model)
        found = await self._store.get_version(model, version)
        if found is None:
            if await self._store.get_model(model) is None:
                raise _not_found_model(model)
            raise _not_found_version(model, version)
        return found

    async def resolve(self, model: str, selector: Selector) -> ModelVersion:
        """The version a selector names: by number, by alias, or the latest READY one."""
        _check_name(model, "model", "model name")
        await self._check_visible(model)
        if selector.version is not None:
            return await self.get_version(model, selector.version)
        if selector.alias is not None:
            _check_name(selector.alias, "alias", "alias")
            number = await self._store.alias_target(model, selector.alias)
            if number is None:
                if await self._store.get_model(model) is None:
                    raise _not_found_model(model)
                raise NotFound(
                    f"model {quote(model)} has no alias {quote(selector.alias)}",
                    reason="ALIAS_NOT_FOUND",
                    metadata={"model": model, "alias": selector.alias},
                )
            return await self.get_version(model, number)
        latest = await self._store.latest_ready_version(model)
        if latest is None:
            if await self._store.get_model(model) is None:
                raise _not_found_model(model)
            raise NotFound(f"model {quote(model)} has no READY version", reason="MODEL_VERSION_NOT_FOUND", metadata={"model": model})
        return latest

    async def open_download(self, model: str, selector: Selector) -> tuple[ModelVersion, AsyncGenerator[bytes, None]]:
        """The version and its artifact's bytes; fails before any byte if either is missing."""
        version = await self.resolve(model, selector)
        if not await self._artifacts.exists(version.artifact.sha256):
            raise FailedPrecondition(
                f"the artifact of {quote(model)} version {version.version} is missing from the artifact store",
                reason="ARTIFACT_MISSING",
                metadata={"model": model, "version": str(version.version), "sha256": version.artifact.sha256},
            )
        return version, self._artifacts.open(version.artifact.sha256, self._download_chunk_bytes)

    # --- writes --------------------------------------------------------------------

    async def create_version(self, meta: UploadMetadata, chunks: AsyncIterator[bytes]) -> ModelVersion:
        """Store the artifact (verified), then register the version in one transaction:
        the model row (created on first use) is locked, the number is latest + 1, and the
        events are appended. The model's first version also becomes `production`.
        A repeated request_id returns the version it registered before. Bytes that cannot
        be a model (empty; not ONNX when the format says onnx) are refused before they
        are stored (formats.py)."""
        validate_upload(meta)
        ref = await self._artifacts.put(
            chunks,
            meta.expected_sha256,
            meta.expected_size_bytes,
            verify=lambda path, size: check_artifact(meta.spec.format, path, size),
        )
        artifact = Artifact(ref.sha256, ref.size_bytes, meta.spec.format, ref.uri)
        owner = tenancy.owner()
        async with self._store.transaction() as tx:
            model = await tx.lock_or_create_model(meta.model, meta.model_description, owner)
            _check_may_add_version(model)
            if meta.request_id:
                existing = await tx.version_by_request_id(meta.model, meta.request_id)
                if existing is not None:
                    if existing.artifact.sha256 != artifact.sha256:
                        raise InvalidArgument(
                            f"request_id was already used for version {existing.version}, whose artifact differs",
                            field="metadata.request_id",
                        )
                    return existing
            number = model.latest_version + 1
            created = await tx.insert_version(meta.model, number, artifact, meta.spec, meta.request_id or None,
                                              model.tenant)
            await tx.update_model(meta.model, latest_version=number, description=meta.model_description or None)
            await tx.append_event(NewEvent(EventType.VERSION_CREATED, meta.model, number))
            if number == 1:
                previous = await tx.put_alias(meta.model, PRODUCTION, number)
                await tx.append_event(NewEvent(EventType.ALIAS_MOVED, meta.model, number, PRODUCTION, previous))
        return created

    async def set_alias(self, model: str, alias: str, version: int) -> AliasChange:
        """Point `alias` at `version` atomically. Emits ALIAS_MOVED when it changes;
        setting an alias to where it already points changes nothing and emits nothing."""
        violations = []
        if not NAME.match(model or ""):
            violations.append(FieldViolation("model", "must be 1-63 lowercase letters, digits and hyphens, starting with a letter"))
        if not NAME.match(alias or ""):
            violations.append(FieldViolation("alias", "must be 1-63 lowercase letters, digits and hyphens, starting with a letter"))
        if version < 1:
            violations.append(FieldViolation("version", "must be a version number (1 or more)"))
        if violations:
            raise InvalidArgument.from_violations(violations)
        async with self._store.transaction() as tx:
            locked = await tx.lock_model(model)
            if locked is None or not tenancy.visible(locked.tenant):
                raise _not_found_model(model)
            tenancy.check_modify(locked.tenant, f"model {quote(model)}")
            target = await tx.get_version(model, version)
            if target is None:
                raise _not_found_version(model, version)
            if target.state is VersionState.ARCHIVED:
                raise FailedPrecondition(
                    f"version {version} of {quote(model)} is archived; aliases cannot point to it",
                    reason="MODEL_VERSION_ARCHIVED",
                    metadata={"model": model, "version": str(version)},
                )
            previous = await tx.put_alias(model, alias, version)
            if previous != version:
                await tx.update_model(model)
                await tx.append_event(NewEvent(EventType.ALIAS_MOVED, model, version, alias, previous))
            after = await tx.get_model(model)
        assert after is not None
        return AliasChange(after, previous)

    async def archive_version(self, model: str, version: int) -> ModelVersion:
        """Retire a version (kept for lineage, no longer served); emits VERSION_ARCHIVED.
        FAILED_PRECONDITION while an alias points to it. Archiving twice is a no-op."""
        _check_name(model, "model", "model name")
        async with self._store.transaction() as tx:
            locked = await tx.lock_model(model)
            if locked is None or not tenancy.visible(locked.tenant):
                raise _not_found_model(model)
            tenancy.check_modify(locked.tenant, f"model {quote(model)}")
            target = await tx.get_version(model, version)
            if target is None:
                raise _not_found_version(model, version)
            if target.state is VersionState.ARCHIVED:
                return target
            aliases = sorted(a for a, v in (await tx.aliases(model)).items() if v == version)
            if aliases:
                raise FailedPrecondition(
                    f"version {version} of {quote(model)} is the target of {', '.join(aliases)}; move the aliases first",
                    reason="MODEL_VERSION_IN_USE",
                    metadata={"model": model, "version": str(version), "aliases": ",".join(aliases)},
                )
            archived = await tx.set_version_state(model, version, VersionState.ARCHIVED)
            await tx.update_model(model)
            await tx.append_event(NewEvent(EventType.VERSION_ARCHIVED, model, version))
        return archived

    # --- events --------------------------------------------------------------------

    async def last_sequence(self) -> int:
        """The sequence number of the newest event (0 when there is none)."""
        return await self._store.last_sequence()

    @property
    def watchers(self) -> int:
        """How many watch() iterators of this process are open."""
        return self._notifier.subscriber_count

    async def watch(self, since_sequence: int | None = None, model: str | None = None) -> AsyncGenerator[ModelEvent, None]:
        """Events in sequence order: those after `since_sequence` (None: from now on),
        then live ones, forever. Closing the iterator releases the subscription.

        The subscription is taken before the starting point is read, so an event that
        commits in between is still seen; each wake-up (NOTIFY, or the poll backstop)
        re-reads `sequence > last seen`, which is complete because the store makes
        sequence numbers visible strictly in order (see store.EventTransaction)."""
        if since_sequence is not None and since_sequence < 0:
            raise InvalidArgument("must not be negative", field="since_sequence")
        if model:
            _check_name(model, "model", "model name")
        drain = self._drain
        tenant = tenancy.filter_tenant()  # events of models this caller may see (None: all)
        with self._notifier.subscribe() as wake:
            last = since_sequence if since_sequence is not None else await self._store.last_sequence()
            while not drain.is_set():
                wake.clear()
                batch = await self._store.events_after(last, model or None, self._watch_batch, tenant)
                for event in batch:
                    yield event
                    last = event.sequence
                if len(batch) < self._watch_batch:
                    try:
                        await asyncio.wait_for(wake.wait(), self._watch_poll_s)
                    except TimeoutError:
                        pass
