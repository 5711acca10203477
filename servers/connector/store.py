"""ConnectionStore: connection records in the platform PostgreSQL (asyncpg pool).

Secrets are stored, never returned: the row keeps the masked DSN for display and the
real one in `secret_dsn`, sealed by a SecretBox. With a Fernet key configured
(CHATDB_CONNECTOR_SECRETS_KEY) the secret is encrypted at rest ("fernet:<token>");
without one it is stored in clear ("plain:<dsn>") and the platform database's own
access control is the only protection. The prefix lets a deployment turn encryption on
later: old rows still open, new rows are encrypted.

asyncpg errors are translated at this boundary: a lost platform database is
UNAVAILABLE, everything the core needs to act on is a domain error.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from cryptography.fernet import Fernet, InvalidToken

from servers.contracts.glossary import Glossary, glossary_from_mapping, glossary_to_mapping
from servers.runtime.errors import AlreadyExists, FailedPrecondition, NotFound
from servers.runtime.pg import platform_errors

from .domain import Connection, ConnectionKind, ConnectionOptions
from .glossary import StoredGlossary

T = TypeVar("T")

_COLUMNS = (
    "connection_id, display_name, kind, dsn, secret_dsn, host, port, username, "
    "database_name, has_password, read_only, options, create_time, update_time, tenant"
)


class SecretBox:
    """Seals and opens the stored secret DSN; Fernet when a key is given."""

    def __init__(self, key: str | None) -> None:
        try:
            self._fernet = Fernet(key.encode()) if key else None
        except (ValueError, TypeError) as exc:
            raise FailedPrecondition(
                "CHATDB_CONNECTOR_SECRETS_KEY is not a Fernet key (32 bytes, urlsafe base64)",
                reason="BAD_SECRETS_KEY",
            ) from exc

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            return "plain:" + secret
        return "fernet:" + self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        scheme, _, body = sealed.partition(":")
        if scheme == "plain":
            return body
        if scheme == "fernet":
            if self._fernet is None:
                raise FailedPrecondition(
                    "the connection's secret is encrypted but CHATDB_CONNECTOR_SECRETS_KEY is not set",
                    reason="SECRETS_KEY_MISSING",
                )
            try:
                return self._fernet.decrypt(body.encode()).decode()
            except InvalidToken:
                raise FailedPrecondition(
                    "the connection's secret cannot be decrypted with CHATDB_CONNECTOR_SECRETS_KEY "
                    "(was the key changed?)",
                    reason="SECRETS_KEY_MISMATCH",
                ) from None
        raise FailedPrecondition("the connection's stored secret is unreadable", reason="SECRET_CORRUPT")


def _options_json(options: ConnectionOptions) -> str:
    return json.dumps({
        "pool_min_size": options.pool_min_size,
        "pool_max_size": options.pool_max_size,
        "connect_timeout_s": options.connect_timeout_s,
        "statement_timeout_s": options.statement_timeout_s,
        "max_rows": options.max_rows,
        "driver_options": dict(options.driver_options),
    })


def _options_from(raw: Any) -> ConnectionOptions:
    data = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    return ConnectionOptions(
        pool_min_size=int(data.get("pool_min_size", 0)),
        pool_max_size=int(data.get("pool_max_size", 0)),
        connect_timeout_s=float(data.get("connect_timeout_s", 0.0)),
        statement_timeout_s=float(data.get("statement_timeout_s", 0.0)),
        max_rows=int(data.get("max_rows", 0)),
        driver_options=dict(data.get("driver_options") or {}),
    )


class ConnectionStore:
    def __init__(self, pool: asyncpg.Pool, secrets: SecretBox) -> None:
        self._pool = pool
        self._secrets = secrets

    def _record(self, row: asyncpg.Record, with_secret: bool = True) -> Connection:
        # Only calls that connect open the secret: listing or showing a connection must
        # work (and cost no decryption) even when its secret cannot be opened.
        return Connection(
            connection_id=row["connection_id"],
            display_name=row["display_name"],
            kind=ConnectionKind(row["kind"]),
            dsn=row["dsn"],
            secret_dsn=self._secrets.open(row["secret_dsn"]) if with_secret else "",
            host=row["host"],
            port=row["port"],
            user=row["username"],
            database=row["database_name"],
            has_password=row["has_password"],
            read_only=row["read_only"],
            options=_options_from(row["options"]),
            create_time=row["create_time"],
            update_time=row["update_time"],
            tenant=row["tenant"],
        )

    async def _run(self, op: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        with platform_errors():
            async with self._pool.acquire() as conn:
                return await op(conn)

    async def insert(self, connection: Connection, request_id: str | None) -> Connection | None:
        """Store a new connection. ALREADY_EXISTS when the id is taken; None when
        `request_id` was already used (the caller looks up what it created)."""
        c = connection

        async def op(conn: asyncpg.Connection) -> Connection | None:
            try:
                row = await conn.fetchrow(
                    f"""
                    INSERT INTO connector_connections
                        (connection_id, display_name, kind, dsn, secret_dsn, host, port,
                         username, database_name, has_password, read_only, options, request_id, tenant)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14)
                    ON CONFLICT (request_id) DO NOTHING
                    RETURNING {_COLUMNS}
                    """,
                    c.connection_id, c.display_name, c.kind.value, c.dsn,
                    self._secrets.seal(c.secret_dsn), c.host, c.port, c.user, c.database,
                    c.has_password, c.read_only, _options_json(c.options), request_id or None, c.tenant,
                )
            except asyncpg.UniqueViolationError:
                raise AlreadyExists(
                    f"connection {c.connection_id!r} already exists",
                    reason="CONNECTION_EXISTS",
                    metadata={"connection_id": c.connection_id},
                ) from None
            return None if row is None else self._record(row)

        return await self._run(op)

    async def get(self, connection_id: str, *, with_secret: bool = True) -> Connection:
        """The connection; its `secret_dsn` is "" unless `with_secret`."""
        row = await self._run(lambda conn: conn.fetchrow(
            f"SELECT {_COLUMNS} FROM connector_connections WHERE connection_id = $1", connection_id
        ))
        if row is None:
            raise NotFound(f"connection {connection_id!r} not found", reason="CONNECTION_NOT_FOUND",
                           metadata={"connection_id": connection_id})
        return self._record(row, with_secret)

    async def exists(self, connection_id: str) -> bool:
        return bool(await self._run(lambda conn: conn.fetchval(
            "SELECT 1 FROM connector_connections WHERE connection_id = $1", connection_id
        )))

    async def get_by_request_id(self, request_id: str) -> Connection | None:
        row = await self._run(lambda conn: conn.fetchrow(
            f"SELECT {_COLUMNS} FROM connector_connections WHERE request_id = $1", request_id
        ))
        return None if row is None else self._record(row)

    async def list(self, *, limit: int, after: str = "", kind: ConnectionKind | None = None,
                   tenant: str | None = None) -> list[Connection]:
        """Up to `limit` connections with an id greater than `after`, ordered by id
        (without their secrets); with `tenant`, only that tenant's and shared ones."""
        rows = await self._run(lambda conn: conn.fetch(
            f"""
            SELECT {_COLUMNS} FROM connector_connections
            WHERE connection_id > $1 AND ($2::text IS NULL OR kind = $2)
              AND ($4::text IS NULL OR tenant = '' OR tenant = $4)
            ORDER BY connection_id
            LIMIT $3
            """,
            after, kind.value if kind else None, limit, tenant,
        ))
        return [self._record(r, with_secret=False) for r in rows]

    async def delete(self, connection_id: str) -> bool:
        status = await self._run(lambda conn: conn.execute(
            "DELETE FROM connector_connections WHERE connection_id = $1", connection_id
        ))
        return status.endswith(" 1")

    # ----------------------------------------------------------------- glossaries

    async def get_glossary(self, connection_id: str) -> StoredGlossary:
        """The connection's glossary; an empty one when none was set. NOT_FOUND for an
        unknown connection."""
        row = await self._run(lambda conn: conn.fetchrow(
            """
            SELECT g.content, g.version, g.update_time
            FROM connector_connections c LEFT JOIN connector_glossaries g USING (connection_id)
            WHERE c.connection_id = $1
            """, connection_id,
        ))
        if row is None:
            raise _not_found(connection_id)
        if row["content"] is None:
            return StoredGlossary(Glossary())
        content = json.loads(row["content"]) if isinstance(row["content"], str) else row["content"]
        glossary = dataclasses.replace(glossary_from_mapping(content), version=row["version"])
        return StoredGlossary(glossary, row["update_time"])

    async def put_glossary(self, connection_id: str, glossary: Glossary) -> StoredGlossary:
        """Replace the connection's glossary (an empty one removes it). NOT_FOUND for an
        unknown connection, also one deleted while the glossary was validated."""

        async def op(conn: asyncpg.Connection) -> StoredGlossary:
            if glossary.empty:
                async with conn.transaction():
                    if not await conn.fetchval("SELECT 1 FROM connector_connections WHERE connection_id = $1",
                                               connection_id):
                        raise _not_found(connection_id)
                    await conn.execute("DELETE FROM connector_glossaries WHERE connection_id = $1", connection_id)
                return StoredGlossary(dataclasses.replace(glossary, version=""))
            try:
                update_time = await conn.fetchval(
                    """
                    INSERT INTO connector_glossaries (connection_id, content, version)
                    VALUES ($1, $2::json, $3)
                    ON CONFLICT (connection_id) DO UPDATE
                        SET content = EXCLUDED.content, version = EXCLUDED.version, update_time = now()
                    RETURNING update_time
                    """,
                    connection_id, json.dumps(glossary_to_mapping(glossary)), glossary.version,
                )
            except asyncpg.ForeignKeyViolationError:
                raise _not_found(connection_id) from None
            return StoredGlossary(glossary, update_time)

        return await self._run(op)


def _not_found(connection_id: str) -> NotFound:
    return NotFound(f"connection {connection_id!r} not found", reason="CONNECTION_NOT_FOUND",
                    metadata={"connection_id": connection_id})
