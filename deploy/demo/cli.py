"""The `chatdb demo-data` command (servers/cli.py wires it in):

    chatdb demo-data [--mongo-url URL] ...   load chatdb_demo into PostgreSQL and MySQL
                                             (and MongoDB when --mongo-url is given)

and make the users the demo connections log in as SELECT-only on it; then register the
demo connections (demo-postgres, demo-mysql) on the connector and set their glossary
(deploy/demo/glossary.yaml), when the connector answers.
"""

from __future__ import annotations

import argparse
import asyncio
from urllib.parse import unquote, urlsplit, urlunsplit

from servers.runtime.settings import Settings


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    settings = Settings()
    # The demo DSNs name the SELECT-only reader; loading needs the servers' administrators.
    pg_admin = _admin_dsn(settings.connector_demo_postgres_dsn)
    my = urlsplit(settings.connector_demo_mysql_dsn)

    demo = subparsers.add_parser(
        "demo-data", help="load the chatdb_demo sample database into PostgreSQL, MySQL (and MongoDB)",
        description="(Re)create the deterministic demo database (customers, products, orders, order items, "
                    "sales, employees; ~53,000 rows over the last three years) on each server. A database "
                    "that already holds the same data set (checksum marker and row counts) is left as it is.",
    )
    demo.add_argument("--database", default="chatdb_demo", help="database name to (re)create (default chatdb_demo)")
    demo.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives the same rows")
    demo.add_argument("--scale", type=float, default=1.0, help="multiplies every table's row count")
    demo.add_argument("--pg-dsn", default=pg_admin,
                      help=f"DSN of a maintenance database on the PostgreSQL server (default {pg_admin})")
    demo.add_argument("--mysql-host", default=my.hostname or "127.0.0.1")
    demo.add_argument("--mysql-port", type=int, default=my.port or 3306)
    demo.add_argument("--mysql-user", default="root", help="MySQL administrator that loads the data (default root)")
    demo.add_argument("--mysql-password", default="")
    demo.add_argument("--mongo-url", default=None, help="also load into this MongoDB (e.g. mongodb://127.0.0.1:27017)")
    demo.add_argument("--skip-postgres", action="store_true")
    demo.add_argument("--skip-mysql", action="store_true")
    demo.add_argument("--force", action="store_true",
                      help="drop and reload even a database that already holds this data set")
    demo.add_argument("--connector", default=f"{settings.host}:{settings.connector_port}",
                      help="connector to register the demo connections and their glossary on "
                           f"(default {settings.host}:{settings.connector_port})")
    demo.add_argument("--no-connections", action="store_true",
                      help="only load the data: register no connection, set no glossary")
    demo.set_defaults(func=_demo_data)


def _admin_dsn(dsn: str) -> str:
    """The `postgres` maintenance database on the server of `dsn`, as user postgres."""
    parts = urlsplit(dsn)
    netloc = "postgres@" + parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc, path="/postgres"))


def _reader(dsn: str) -> tuple[str, str] | None:
    """(user, password) of a demo DSN, or None when it has no user of its own."""
    parts = urlsplit(dsn)
    return (unquote(parts.username), unquote(parts.password or "")) if parts.username else None


def _demo_data(args: argparse.Namespace) -> int:
    from .data import DemoSpec, load_mongo_url, load_mysql, load_postgres
    from .glossary import connect_demo
    from .reader import ensure_reader_mysql, ensure_reader_postgres

    settings = Settings()
    spec = DemoSpec(seed=args.seed, scale=args.scale, database=args.database)
    pg_reader = _reader(settings.connector_demo_postgres_dsn)
    my_reader = _reader(settings.connector_demo_mysql_dsn)

    async def run() -> None:
        targets = []
        if not args.skip_postgres:
            targets.append(("PostgreSQL", load_postgres(args.pg_dsn, spec, force=args.force)))
        if not args.skip_mysql:
            targets.append(("MySQL", load_mysql(args.mysql_host, args.mysql_port, args.mysql_user,
                                                args.mysql_password, spec, force=args.force)))
        if args.mongo_url:
            targets.append(("MongoDB", load_mongo_url(args.mongo_url, spec)))
        for name, load in targets:
            counts = await load
            detail = ", ".join(f"{table} {n:,}" for table, n in counts.items())
            done = "loaded" if getattr(counts, "reloaded", True) else "already loaded, left as it is"
            print(f"{name}: {spec.database} {done} ({sum(counts.values()):,} rows: {detail})")
        # After every load: a reload drops the tables and with them their grants.
        if not args.skip_postgres and pg_reader and pg_reader[0] != "postgres":
            await ensure_reader_postgres(args.pg_dsn, spec.database, *pg_reader)
            print(f"PostgreSQL: user {pg_reader[0]} may only read {spec.database} (the demo-postgres connection)")
        if not args.skip_mysql and my_reader and my_reader[0] != args.mysql_user:
            await ensure_reader_mysql(args.mysql_host, args.mysql_port, args.mysql_user, args.mysql_password,
                                      spec.database, *my_reader)
            print(f"MySQL: user {my_reader[0]} may only read {spec.database} (the demo-mysql connection)")
        # The connections read the database the settings name: only when that is the one loaded.
        loaded = [cid for cid, skipped, dsn in (
            ("demo-postgres", args.skip_postgres, settings.connector_demo_postgres_dsn),
            ("demo-mysql", args.skip_mysql, settings.connector_demo_mysql_dsn),
        ) if not skipped and urlsplit(dsn).path.lstrip("/") == spec.database]
        if not args.no_connections:
            await connect_demo(args.connector, loaded, settings=settings)

    asyncio.run(run())
    return 0
