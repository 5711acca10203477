"""The gateway_api_keys table (migrations/0002_api_keys.sql). Connection loss is
Unavailable (runtime/pg.py). The secret's hash is read only by `active_keys`, for the
authz key table; nothing that lists keys selects it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import asyncpg

from servers.runtime.pg import platform_errors

from .api_keys import (
    ACTIVE,
    EXPIRED,
    REVOKED,
    ActiveKey,
    ApiKeyRecord,
    MintCollision,
    Minted,
    NewApiKey,
)

_COLUMNS = """key_id, prefix, display_name, owner, tenant, role, questions_per_minute, questions_per_day,
    training_jobs_per_day, revoked, create_time, expire_time, revoke_time, last_use_time"""


def _quotas(row: Mapping[str, Any]) -> dict[str, int]:
    names = ("questions_per_minute", "questions_per_day", "training_jobs_per_day")
    return {n: row[n] for n in names if row[n]}


def _record(row: asyncpg.Record) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=row["key_id"], prefix=row["prefix"], display_name=row["display_name"], owner=row["owner"],
        tenant=row["tenant"], role=row["role"], quotas=_quotas(row), revoked=row["revoked"],
        create_time=row["create_time"], expire_time=row["expire_time"], revoke_time=row["revoke_time"],
        last_use_time=row["last_use_time"],
    )


class ApiKeyStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def insert(self, minted: Minted, new: NewApiKey, request_id: str | None,
                     now: dt.datetime) -> tuple[ApiKeyRecord, bool]:
        """The new key, True; or the key an earlier create with `request_id` made, False."""
        q = new.quotas
        with platform_errors():
            try:
                row = await self.pool.fetchrow(
                    f"""INSERT INTO gateway_api_keys (key_id, prefix, secret_hash, display_name, owner, tenant,
                            role, questions_per_minute, questions_per_day, training_jobs_per_day, request_id,
                            create_time, expire_time)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                        ON CONFLICT (request_id) DO NOTHING
                        RETURNING {_COLUMNS}""",
                    minted.key_id, minted.prefix, minted.secret_hash, new.display_name, new.owner, new.tenant,
                    new.role, q.get("questions_per_minute", 0), q.get("questions_per_day", 0),
                    q.get("training_jobs_per_day", 0), request_id, now, new.expire_time,
                )
            except asyncpg.UniqueViolationError as exc:
                # A prefix (32 bits) shared with an earlier key: the caller mints again.
                raise MintCollision(str(exc)) from exc
            if row is not None:
                return _record(row), True
            earlier = await self.by_request_id(request_id or "")
        assert earlier is not None  # the conflict was on request_id, whose row exists
        return earlier, False

    async def by_request_id(self, request_id: str) -> ApiKeyRecord | None:
        with platform_errors():
            row = await self.pool.fetchrow(f"SELECT {_COLUMNS} FROM gateway_api_keys WHERE request_id = $1", request_id)
        return _record(row) if row else None

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        with platform_errors():
            row = await self.pool.fetchrow(f"SELECT {_COLUMNS} FROM gateway_api_keys WHERE key_id = $1", key_id)
        return _record(row) if row else None

    async def list(self, *, limit: int, after: tuple[dt.datetime, str] | None, state: str | None) -> list[ApiKeyRecord]:
        clauses, args = [], []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if state == REVOKED:
            clauses.append("revoked")
        elif state == ACTIVE:
            clauses.append("NOT revoked AND (expire_time IS NULL OR expire_time > now())")
        elif state == EXPIRED:
            clauses.append("NOT revoked AND expire_time <= now()")
        if after is not None:
            clauses.append(f"(create_time, key_id) < ({arg(after[0])}, {arg(after[1])})")
        sql = (f"SELECT {_COLUMNS} FROM gateway_api_keys" + (" WHERE " + " AND ".join(clauses) if clauses else "")
               + f" ORDER BY create_time DESC, key_id DESC LIMIT {arg(limit)}")
        with platform_errors():
            rows = await self.pool.fetch(sql, *args)
        return [_record(r) for r in rows]

    async def revoke(self, key_id: str) -> ApiKeyRecord | None:
        """The key, revoked now unless it already was; None when there is no such key."""
        with platform_errors():
            row = await self.pool.fetchrow(
                f"""UPDATE gateway_api_keys SET revoked = true, revoke_time = coalesce(revoke_time, now())
                    WHERE key_id = $1 RETURNING {_COLUMNS}""",
                key_id,
            )
        return _record(row) if row else None

    async def active_keys(self) -> list[ActiveKey]:
        """Every key not revoked nor expired, with its hash (the authz table's snapshot)."""
        with platform_errors():
            rows = await self.pool.fetch(
                """SELECT key_id, secret_hash, tenant, role, questions_per_minute, questions_per_day,
                          training_jobs_per_day, expire_time
                   FROM gateway_api_keys WHERE NOT revoked AND (expire_time IS NULL OR expire_time > now())""")
        return [ActiveKey(r["key_id"], bytes(r["secret_hash"]), r["tenant"], r["role"], _quotas(r), r["expire_time"])
                for r in rows]

    async def any_active_admin(self) -> bool:
        with platform_errors():
            return bool(await self.pool.fetchval(
                """SELECT 1 FROM gateway_api_keys WHERE role = 'admin' AND NOT revoked
                   AND (expire_time IS NULL OR expire_time > now()) LIMIT 1"""))

    async def touch(self, last_use: Mapping[str, dt.datetime]) -> None:
        """Record when keys were last used, in one statement (batched by the authz server)."""
        if not last_use:
            return
        ids, times = zip(*last_use.items(), strict=True)
        with platform_errors():
            await self.pool.execute(
                """UPDATE gateway_api_keys k SET last_use_time = u.t
                   FROM unnest($1::text[], $2::timestamptz[]) AS u(id, t)
                   WHERE k.key_id = u.id AND (k.last_use_time IS NULL OR k.last_use_time < u.t)""",
                list(ids), list(times),
            )
