"""The SELECT-only database user the demo connections log in as.

`make up` registers demo-postgres and demo-mysql as read-only connections. The guard
refuses anything but reads, and the database itself should too: these functions create
(or repair) a user that may only connect to the demo database and SELECT from its
tables, the setup README.md recommends for every read-only connection. Identifiers and
passwords go through the server's own quoting (PostgreSQL's format() with %I/%L, MySQL
driver parameters), never spliced by hand.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ensure_reader_postgres", "ensure_reader_mysql"]


async def ensure_reader_postgres(admin_dsn: str, database: str, user: str, password: str) -> None:
    """Create role `user` (LOGIN, no other attribute) if missing, and grant it CONNECT on
    `database` and SELECT on the tables of its public schema. An existing role that is a
    superuser is left alone and reported: granting could not make it read-only."""
    import asyncpg

    admin = await asyncpg.connect(admin_dsn)
    try:
        role = await admin.fetchrow("SELECT rolsuper FROM pg_roles WHERE rolname = $1", user)
        if role is not None and role["rolsuper"]:
            raise ValueError(f"PostgreSQL user {user!r} is a superuser; the demo connections need a SELECT-only user")
        verb = "ALTER" if role is not None else "CREATE"
        await _run_formatted(
            admin, f"{verb} ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD %L", user, password
        )
        await _run_formatted(admin, "GRANT CONNECT ON DATABASE %I TO %I", database, user)
        await _run_formatted(admin, "ALTER ROLE %I SET default_transaction_read_only = on", user)
    finally:
        await admin.close()
    conn = await asyncpg.connect(admin_dsn, database=database)
    try:
        await _run_formatted(conn, "REVOKE CREATE ON SCHEMA public FROM %I", user)
        await _run_formatted(conn, "GRANT USAGE ON SCHEMA public TO %I", user)
        await _run_formatted(conn, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO %I", user)
    finally:
        await conn.close()


async def _run_formatted(conn: Any, template: str, *args: str) -> None:
    params = ", ".join(f"${i}::text" for i in range(1, len(args) + 1))
    await conn.execute(await conn.fetchval(f"SELECT format('{template}', {params})", *args))


async def ensure_reader_mysql(
    host: str, port: int, admin_user: str, admin_password: str, database: str, user: str, password: str
) -> None:
    """Create `user` (from any host and from localhost) if missing, set its password, and
    grant it SELECT on `database` only."""
    import aiomysql

    from .data import validate_identifier

    db = "`" + validate_identifier(database) + "`"
    conn = await aiomysql.connect(host=host, port=int(port), user=admin_user, password=admin_password, autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SET SESSION sql_notes = 0")  # "user exists" notes are not news
            for user_host in ("%", "localhost"):
                await cur.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, user_host, password))
                await cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, user_host, password))
                await cur.execute(f"GRANT SELECT ON {db}.* TO %s@%s", (user, user_host))
    finally:
        conn.close()
