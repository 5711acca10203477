"""Versioned SQL migrations for the platform PostgreSQL database.

Files are named `NNNN_description.sql` in a component's migrations folder. Each is
applied once, in order, in its own transaction, and recorded with its checksum in
`schema_migrations`. A session-level advisory lock serialises processes that start at
once; a migration edited after it was applied is refused rather than silently skipped.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from .errors import FailedPrecondition, Unavailable
from .pg import PLATFORM_DATABASE_UNAVAILABLE

log = logging.getLogger("chatdb.migrations")

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Any constant works; it only has to be the same in every process of every version.
_LOCK_KEY = 0x43484154_4442  # "CHATDB"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    found = []
    for path in sorted(Path(directory).glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name!r} is not named NNNN_description.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {directory}")
    return found


async def ensure_database(dsn: str) -> None:
    """Create the database named in `dsn` when it does not exist yet (race-safe)."""
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    if not _DB_NAME.match(name):
        raise ValueError(f"database name {name!r} must match {_DB_NAME.pattern}")
    admin = urlunsplit(parts._replace(path="/postgres"))
    try:
        conn = await asyncpg.connect(admin)
    except (OSError, asyncpg.PostgresError) as exc:
        raise Unavailable(f"platform database unreachable: {exc}", reason=PLATFORM_DATABASE_UNAVAILABLE) from exc
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return
        try:
            # Identifiers cannot be bound as parameters; the name was validated above.
            await conn.execute(f'CREATE DATABASE "{name}"')
            log.info("database created", extra={"database": name})
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
            pass  # another process created it between our check and our create
    finally:
        await conn.close()


_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component  text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)
"""


async def migrate(conn: asyncpg.Connection, component: str, migrations: list[Migration]) -> list[int]:
    """Apply the missing migrations of `component`; return the versions applied now."""
    applied_now: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_TABLE)
        rows = await conn.fetch(
            "SELECT version, checksum FROM schema_migrations WHERE component = $1", component
        )
        done = {r["version"]: r["checksum"] for r in rows}
        for migration in migrations:
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise FailedPrecondition(
                        f"migration {component}/{migration.version:04d}_{migration.name} changed after it was applied",
                        reason="MIGRATION_CHECKSUM_MISMATCH",
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (component, version, name, checksum) VALUES ($1, $2, $3, $4)",
                    component, migration.version, migration.name, migration.checksum,
                )
            applied_now.append(migration.version)
            log.info("migration applied", extra={"component": component, "version": migration.version, "migration": migration.name})
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now


async def migrate_dsn(dsn: str, component: str, directory: Path) -> list[int]:
    """Create the database if needed and apply `directory`'s migrations for `component`."""
    await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn, component, load_migrations(directory))
    finally:
        await conn.close()
