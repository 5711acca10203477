"""The data side of bench/nl2sql.py: a Spider-format directory (databases/*.sqlite,
questions/*.json, load.py), its gold answers, and scratch copies of its databases in
PostgreSQL, MariaDB and MongoDB that are all dropped again by `Scratch.drop_all()`.

Only load.py's command line is relied on (`load.py DB.sqlite --dialect D`), so another
Spider-format directory with its own load.py works unchanged. MongoDB collections are
copied from the PostgreSQL copy, so they carry the same types load.py chose.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import sys
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiomysql
import asyncpg
from pymysql.constants import CLIENT

PG_ADMIN = os.environ.get("CHATDB_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL = {
    "host": os.environ.get("CHATDB_BENCH_MYSQL_HOST", "127.0.0.1"),
    "port": int(os.environ.get("CHATDB_BENCH_MYSQL_PORT", "3306")),
    "user": os.environ.get("CHATDB_BENCH_MYSQL_USER", "root"),
    "password": os.environ.get("CHATDB_BENCH_MYSQL_PASSWORD", ""),
}
MONGO_URL = os.environ.get("CHATDB_TEST_MONGO_URL", "")


@dataclass(frozen=True)
class Question:
    db_id: str
    index: int  # dev_index: the question's place in Spider's dev split
    text: str
    gold: str  # SQLite SQL
    hardness: str  # easy / medium / hard / extra


def database_ids(spider: Path) -> list[str]:
    """Databases that have both a SQLite file and questions."""
    return sorted(p.stem for p in (spider / "databases").glob("*.sqlite") if (spider / "questions" / f"{p.stem}.json").is_file())


def read_questions(spider: Path, db_id: str, limit: int = 0) -> list[Question]:
    items = json.loads((spider / "questions" / f"{db_id}.json").read_text(encoding="utf-8"))
    questions = [
        Question(db_id=item.get("db_id", db_id), index=int(item.get("dev_index", i)), text=item["question"],
                 gold=item["query"], hardness=item.get("hardness", "unknown"))
        for i, item in enumerate(items)
    ]
    return questions[:limit] if limit else questions


class Gold:
    """Gold queries run on the SQLite files they were written for, read-only."""

    def __init__(self, spider: Path) -> None:
        self.spider = spider
        self._connections: dict[str, sqlite3.Connection] = {}

    def rows(self, db_id: str, sql: str) -> list[tuple]:
        conn = self._connections.get(db_id)
        if conn is None:
            path = self.spider / "databases" / f"{db_id}.sqlite"
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            conn.text_factory = _decode  # bad UTF-8 in a few Spider files must not stop the run
            self._connections[db_id] = conn
        return conn.execute(sql).fetchall()

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


async def load_script(spider: Path, db_id: str, dialect: str) -> str:
    """The CREATE/INSERT text the directory's own load.py writes for one database."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(spider / "load.py"), str(spider / "databases" / f"{db_id}.sqlite"), "--dialect", dialect,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await proc.communicate()
    except BaseException:  # cancelled (Ctrl-C): leave no converter writing to a dead pipe
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode:
        raise RuntimeError(f"load.py failed on {db_id} ({dialect}): {err.decode(errors='replace')[-2000:]}")
    return out.decode("utf-8")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


@dataclass
class Scratch:
    """Scratch databases of one run, named chatdb_nl2sql_<tag>_<db>, and their removal."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    pg: dict[str, str] = field(default_factory=dict)  # db_id → database name
    mysql: dict[str, str] = field(default_factory=dict)
    mongo: dict[str, str] = field(default_factory=dict)
    mongo_client: Any = None

    def name(self, db_id: str) -> str:
        return f"chatdb_nl2sql_{self.tag}_{_slug(db_id)}"[:63]

    # --- PostgreSQL ------------------------------------------------------------------

    def pg_dsn(self, db_id: str) -> str:
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + self.pg[db_id]

    async def load_postgres(self, spider: Path, db_id: str) -> None:
        script = await load_script(spider, db_id, "postgres")
        name = self.name(db_id)
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        self.pg[db_id] = name  # recorded before loading, so a failed load is dropped too
        conn = await asyncpg.connect(self.pg_dsn(db_id))
        try:
            await conn.execute(script)  # the simple protocol runs the whole script
        finally:
            await conn.close()

    # --- MariaDB / MySQL -------------------------------------------------------------

    def mysql_dsn(self, db_id: str) -> str:
        auth = MYSQL["user"] + (f":{MYSQL['password']}" if MYSQL["password"] else "")
        return f"mysql://{auth}@{MYSQL['host']}:{MYSQL['port']}/{self.mysql[db_id]}"

    async def load_mysql(self, spider: Path, db_id: str) -> None:
        script = await load_script(spider, db_id, "mysql")
        name = self.name(db_id)
        await self._mysql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        self.mysql[db_id] = name
        await self._mysql(script, database=name)

    async def _mysql(self, sql: str, *, database: str | None = None) -> None:
        conn = await aiomysql.connect(**MYSQL, db=database, autocommit=True, charset="utf8mb4",
                                      client_flag=CLIENT.MULTI_STATEMENTS)
        try:
            async with conn.cursor() as cur:
                await cur.execute(sql)
                while await cur.nextset():
                    pass
        finally:
            conn.close()

    # --- MongoDB ---------------------------------------------------------------------

    def mongo_dsn(self, db_id: str) -> str:
        if MONGO_URL:
            base = MONGO_URL.split("?", 1)[0].rstrip("/")
            if base.count("/") > 2:  # the URL names a database: replace it
                base = base.rsplit("/", 1)[0]
            return f"{base}/{self.mongo[db_id]}"
        return f"mongodb://127.0.0.1:27017/{self.mongo[db_id]}"  # mongomock: never dialled

    async def load_mongo(self, db_id: str) -> None:
        """One collection per table, copied from the PostgreSQL copy (load.py's types);
        NULL is stored as null so a projection still shows the field."""
        name = self.name(db_id)
        self.mongo[db_id] = name
        database = self.mongo_client[name]
        conn = await asyncpg.connect(self.pg_dsn(db_id))
        try:
            tables = await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")
            for (table,) in tables:
                records = await conn.fetch(f'SELECT * FROM "{table}"')
                documents = [{key: _bson_value(value) for key, value in record.items()} for record in records]
                if documents:
                    await database[table].insert_many(documents)
                else:
                    await database.create_collection(table)
        finally:
            await conn.close()

    # --- removal ---------------------------------------------------------------------

    async def drop_all(self) -> list[str]:
        """Drop everything created; problems are returned, never raised, so one failed
        drop does not leave the others behind."""
        problems = []
        if self.pg:
            try:
                admin = await asyncpg.connect(PG_ADMIN)
                try:
                    for name in self.pg.values():
                        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                finally:
                    await admin.close()
            except Exception as exc:  # noqa: BLE001 - reported to the user
                problems.append(f"PostgreSQL: {exc!r}")
        for name in self.mysql.values():
            try:
                await self._mysql(f"DROP DATABASE IF EXISTS `{name}`")
            except Exception as exc:  # noqa: BLE001
                problems.append(f"MariaDB {name}: {exc!r}")
        if self.mongo_client is not None:
            for name in self.mongo.values():
                try:
                    await self.mongo_client.drop_database(name)
                except Exception as exc:  # noqa: BLE001
                    problems.append(f"MongoDB {name}: {exc!r}")
        self.pg.clear()
        self.mysql.clear()
        self.mongo.clear()
        return problems


def _bson_value(value: Any) -> Any:
    # BSON has no Decimal without Decimal128, which mongomock lacks; load.py's NUMERIC
    # columns are money-like amounts a double holds to the compared 6 digits.
    if isinstance(value, Decimal):
        return float(value)
    return value
