"""Migrations: applied once each, in order, even when several processes start at once."""

from __future__ import annotations

import asyncio
import sys
import textwrap

import asyncpg
import pytest

from servers.runtime.errors import FailedPrecondition
from servers.runtime.migrations import migrate_dsn

from ..conftest import drop_pg_database, pg_dsn_for


@pytest.fixture
async def fresh_dsn(run_id):
    name = f"chatdb_test_{run_id}_mig"
    await drop_pg_database(name)
    yield pg_dsn_for(name)
    await drop_pg_database(name)


@pytest.fixture
def migrations_dir(tmp_path):
    (tmp_path / "0001_counter.sql").write_text(
        "CREATE TABLE counter (n integer NOT NULL);\n"
        # Deliberately not idempotent: a second application would add a second row.
        "INSERT INTO counter VALUES (1);\n"
    )
    (tmp_path / "0002_more.sql").write_text(
        "INSERT INTO counter VALUES (2);\nCREATE TABLE widgets (id bigserial PRIMARY KEY);\n"
    )
    return tmp_path


async def rows(dsn: str, sql: str):
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


async def test_concurrent_starts_apply_each_migration_once(fresh_dsn, migrations_dir):
    # Eight in-process starters and three separate OS processes, all at once, on a
    # database that does not exist yet.
    script = textwrap.dedent(
        f"""
        import asyncio
        from pathlib import Path
        from servers.runtime.migrations import migrate_dsn
        asyncio.run(migrate_dsn({fresh_dsn!r}, "demo", Path({str(migrations_dir)!r})))
        """
    )
    procs = [await asyncio.create_subprocess_exec(sys.executable, "-c", script) for _ in range(3)]
    results = await asyncio.gather(*(migrate_dsn(fresh_dsn, "demo", migrations_dir) for _ in range(8)))
    codes = [await p.wait() for p in procs]
    assert codes == [0, 0, 0]
    assert [r["n"] for r in await rows(fresh_dsn, "SELECT n FROM counter ORDER BY n")] == [1, 2]
    recorded = await rows(fresh_dsn, "SELECT version FROM schema_migrations WHERE component = 'demo' ORDER BY version")
    assert [r["version"] for r in recorded] == [1, 2]
    # Each in-process starter either applied something or found it done; none applied twice.
    applied = [v for r in results for v in r]
    assert sorted(applied) in ([1, 2], [1], [2], [])


async def test_later_migrations_apply_on_next_start(fresh_dsn, migrations_dir):
    (migrations_dir / "0002_more.sql").rename(migrations_dir / "hold.txt")
    assert await migrate_dsn(fresh_dsn, "demo", migrations_dir) == [1]
    (migrations_dir / "hold.txt").rename(migrations_dir / "0002_more.sql")
    assert await migrate_dsn(fresh_dsn, "demo", migrations_dir) == [2]
    assert await migrate_dsn(fresh_dsn, "demo", migrations_dir) == []


async def test_a_migration_edited_after_applying_is_refused(fresh_dsn, migrations_dir):
    await migrate_dsn(fresh_dsn, "demo", migrations_dir)
    (migrations_dir / "0001_counter.sql").write_text("CREATE TABLE counter (n bigint);\n")
    with pytest.raises(FailedPrecondition, match="changed after it was applied"):
        await migrate_dsn(fresh_dsn, "demo", migrations_dir)


async def test_a_failing_migration_rolls_back_and_is_not_recorded(fresh_dsn, migrations_dir):
    (migrations_dir / "0003_broken.sql").write_text("CREATE TABLE half (id int);\nSELECT no_such_function();\n")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate_dsn(fresh_dsn, "demo", migrations_dir)
    assert await rows(fresh_dsn, "SELECT 1 FROM pg_tables WHERE tablename = 'half'") == []
    recorded = await rows(fresh_dsn, "SELECT version FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in recorded] == [1, 2]
