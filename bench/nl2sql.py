"""Natural-language-to-SQL benchmark: the query parser's execution accuracy and parse
latency on a Spider-format directory, through the real mesh.

    .venv/bin/python bench/nl2sql.py [SPIDER_DIR] [--mysql] [--mongo] [--limit N]
                                     [--db NAME ...] [--failures FILE] [--through-gateway]

SPIDER_DIR (default: ../shared/benchmarks/spider beside the repository, found from this
file's location) holds databases/<db>.sqlite, questions/<db>.json and load.py. Each
database is loaded with that load.py into a scratch PostgreSQL database of its own (so a
connection sees exactly its tables), with --mysql also into MariaDB. The connector and
the parser run as processes (`chatdb serve …`) on a scratch platform database; the
prediction service is not started, so the parser answers on its rule path. One
read-only connection per database is registered, and for every question:

  ParseQuery over gRPC (client-measured round trip, after one warm-up parse per
  database) → ExecuteQuery of the returned statement on the connector → the gold query
  on the SQLite file → the two results compared (bench/_nl2sql_compare.py: multisets,
  ordered where the gold query orders at its top level, numbers as numbers, text
  trimmed, NULL equal to NULL, columns in any order).

--through-gateway asks every question through the gateway's Ask instead (`chatdb serve
gateway` beside the parser and the connector; use_cache=false, every page of the answer
read with its next_page_token): the same accuracy, measured where users ask; the parse
latency is then the parse stage as the gateway timed it (AskResponse.timings.parse).

A parse error, a missing statement or an execution error counts as wrong and is tallied
by kind. --mongo runs the questions whose gold SQL reads one table against MongoDB: each
table becomes a collection in the server of CHATDB_TEST_MONGO_URL, else in mongomock
(the connector then runs inside this process, since mongomock lives in memory).
--failures FILE writes each wrong question as a JSON line (question, gold SQL, generated
statement, the error or the result difference). --limit N takes the first N questions
of each database. --self-check sends each gold query itself (translated from SQLite by
sqlglot) instead of a parse: what it gets wrong is the harness's ceiling (ties under
ORDER BY … LIMIT, GROUP BY with bare columns that PostgreSQL refuses, engine collation). Everything created is removed at the end, on errors and Ctrl-C too.

Prints accuracy by hardness, per database, error kinds and parse latency per engine,
then as the last line one JSON object: accuracy_* (fractions 0–1) and parse_p50_ms /
parse_p95_ms for PostgreSQL, the same keys prefixed mysql_ / mongo_ for the others;
with --through-gateway also "through": "gateway".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "gen"))

import grpc  # noqa: E402
import sqlglot  # noqa: E402
from _mesh import ScratchMesh  # noqa: E402
from _nl2sql_compare import compare, orders_result, single_table  # noqa: E402
from _spider import MONGO_URL, Gold, Question, Scratch, database_ids, read_questions  # noqa: E402
from chatdb.connector.v1 import (  # noqa: E402
    connection_pb2,
    connector_service_pb2,
    connector_service_pb2_grpc,
    statement_pb2,
)
from chatdb.gateway.v1 import chat_service_pb2, chat_service_pb2_grpc  # noqa: E402
from chatdb.parser.v1 import (  # noqa: E402
    parsed_query_pb2,
    query_parser_service_pb2,
    query_parser_service_pb2_grpc,
)
from google.protobuf import duration_pb2, json_format  # noqa: E402

from servers.contracts.cells import Json, cell_to_value  # noqa: E402
from servers.runtime.status import details_from_rpc_error  # noqa: E402

HARDNESS = ("easy", "medium", "hard", "extra")
ENGINES = {"postgres": "PostgreSQL", "mysql": "MariaDB", "mongo": "MongoDB"}
KINDS = {
    "postgres": connection_pb2.CONNECTION_KIND_POSTGRES,
    "mysql": connection_pb2.CONNECTION_KIND_MYSQL,
    "mongo": connection_pb2.CONNECTION_KIND_MONGODB,
}
PAGE_SIZE = 10_000
MAX_ROWS = 100_000
EXECUTE_TIMEOUT_S = 20
PARSE_TIMEOUT_S = 30
ASK_PAGE_SIZE = 1000  # the gateway's cap on an Ask page
START_TIMEOUT_S = 180  # the parser loads embeddings and samples values at start


def default_spider_dir() -> Path:
    """../shared/benchmarks/spider beside the repository; from a git worktree, beside
    the main checkout (worktrees live elsewhere, the shared folder sits by the main one)."""
    relative = Path("shared") / "benchmarks" / "spider"
    roots = [ROOT]
    dot_git = ROOT / ".git"
    if dot_git.is_file():  # a worktree: "gitdir: <main>/.git/worktrees/<name>"
        gitdir = Path(dot_git.read_text().split(":", 1)[1].strip())
        gitdir = gitdir if gitdir.is_absolute() else (ROOT / gitdir).resolve()
        roots.append(gitdir.parents[2])
    for root in roots:
        if (root.parent / relative).is_dir():
            return root.parent / relative
    return ROOT.parent / relative


# ----------------------------------------------------------------------------- outcomes


@dataclass
class Outcome:
    question: Question
    engine: str
    right: bool
    kind: str  # "right", "wrong result", "parse INVALID_ARGUMENT", "execute …", …
    parse_ms: float | None = None
    statement: Any = None
    detail: str = ""
    permuted: bool = False
    got_sample: list = field(default_factory=list)


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)
    gold_failed: int = 0

    def accuracy(self, hardness: str | None = None, db_id: str | None = None) -> tuple[int, int]:
        chosen = [o for o in self.outcomes
                  if (hardness is None or o.question.hardness == hardness) and (db_id is None or o.question.db_id == db_id)]
        return sum(o.right for o in chosen), len(chosen)

    def latencies(self) -> list[float]:
        return sorted(o.parse_ms for o in self.outcomes if o.parse_ms is not None)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values; NaN when there are none."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


# ----------------------------------------------------------------------------- calls


def _error_kind(stage: str, error: grpc.aio.AioRpcError) -> tuple[str, str]:
    details = details_from_rpc_error(error)
    kind = f"{stage} {error.code().name}" + (f" ({details.reason})" if details.reason else "")
    return kind, details.message


def _statement_text(statement) -> Any:
    form = statement.WhichOneof("form")
    if form == "sql":
        params = [cell_to_value(c) for c in statement.sql.params]
        return {"sql": statement.sql.sql, "params": [repr(p) for p in params]} if params else statement.sql.sql
    return json_format.MessageToDict(statement)


def _plain(value: Any) -> Any:
    return value.text if isinstance(value, Json) else value


async def execute(stub, connection_id: str, statement) -> tuple[list[tuple], bool]:
    """Every page of the statement's result, and whether a row cap cut it short."""
    rows: list[tuple] = []
    token, truncated = "", False
    while True:
        page = await stub.ExecuteQuery(connector_service_pb2.ExecuteQueryRequest(
            connection_id=connection_id, statement=statement, page_size=PAGE_SIZE, page_token=token,
            max_rows=MAX_ROWS, timeout=duration_pb2.Duration(seconds=EXECUTE_TIMEOUT_S)), timeout=EXECUTE_TIMEOUT_S + 10)
        rows += [tuple(_plain(cell_to_value(c)) for c in row.cells) for row in page.rows]
        truncated = truncated or page.truncated
        token = page.next_page_token
        if not token:
            return rows, truncated


async def judge(parser, connector, engine: str, connection_id: str, question: Question, gold: list[tuple]) -> Outcome:
    request = query_parser_service_pb2.ParseQueryRequest(question=question.text, connection_id=connection_id)
    started = time.perf_counter()
    try:
        parsed = (await parser.ParseQuery(request, timeout=PARSE_TIMEOUT_S)).parsed_query
    except grpc.aio.AioRpcError as error:
        ms = (time.perf_counter() - started) * 1000
        kind, message = _error_kind("parse", error)
        return Outcome(question, engine, False, kind, ms, detail=message)
    ms = (time.perf_counter() - started) * 1000
    form = parsed.statement.WhichOneof("form")
    if form is None:
        intent = parsed_query_pb2.Intent.Name(parsed.intent)
        return Outcome(question, engine, False, f"no statement ({intent})", ms, detail=parsed.explanation)
    if (form == "sql") != (engine != "mongo"):
        return Outcome(question, engine, False, "statement for another engine", ms, _statement_text(parsed.statement))
    return await run_statement(connector, engine, connection_id, question, gold, parsed.statement, ms)


async def judge_ask(gateway, engine: str, connection_id: str, question: Question, gold: list[tuple]) -> Outcome:
    """--through-gateway: Ask parses and executes; its further pages are Asks with the
    previous answer's next_page_token."""
    request = chat_service_pb2.AskRequest(question=question.text, connection_id=connection_id,
                                          page_size=ASK_PAGE_SIZE, max_rows=MAX_ROWS, use_cache=False)
    timeout = PARSE_TIMEOUT_S + EXECUTE_TIMEOUT_S
    try:
        reply = await gateway.Ask(request, timeout=timeout)
    except grpc.aio.AioRpcError as error:
        # The same kinds as the direct path where the reason says the stage.
        stage = "parse" if details_from_rpc_error(error).reason == "QUESTION_NOT_UNDERSTOOD" else "ask"
        kind, message = _error_kind(stage, error)
        return Outcome(question, engine, False, kind, None, detail=message)
    ms = reply.timings.parse.ToNanoseconds() / 1e6 if reply.timings.HasField("parse") else None
    form = reply.statement.WhichOneof("form")
    if form is None:
        intent = parsed_query_pb2.Intent.Name(reply.parsed_query.intent)
        return Outcome(question, engine, False, f"no statement ({intent})", ms, detail=reply.answer)
    text = _statement_text(reply.statement)
    if (form == "sql") != (engine != "mongo"):
        return Outcome(question, engine, False, "statement for another engine", ms, text)
    rows = [tuple(_plain(cell_to_value(c)) for c in row.cells) for row in reply.rows]
    truncated = reply.truncated
    try:
        while reply.next_page_token:
            request.page_token = reply.next_page_token
            reply = await gateway.Ask(request, timeout=timeout)
            rows += [tuple(_plain(cell_to_value(c)) for c in row.cells) for row in reply.rows]
            truncated = truncated or reply.truncated
    except grpc.aio.AioRpcError as error:
        kind, message = _error_kind("ask next page", error)
        return Outcome(question, engine, False, kind, ms, text, detail=message)
    return verdict_on(question, engine, gold, rows, truncated, ms, text)


async def judge_gold(connector, engine: str, connection_id: str, question: Question, gold: list[tuple]) -> Outcome:
    """--self-check: the gold query itself, translated by sqlglot, instead of a parse;
    what it gets right is the ceiling the loading and the comparison allow."""
    try:
        sql = _translate_gold(question.gold, engine)
    except sqlglot.errors.SqlglotError as error:
        return Outcome(question, engine, False, "gold does not translate", detail=str(error)[:300])
    statement = statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql=sql))
    return await run_statement(connector, engine, connection_id, question, gold, statement, None)


def _translate_gold(sql: str, engine: str) -> str:
    """SQLite gold SQL for `engine`, with SQLite's leniencies made explicit: a
    double-quoted word that names no table is a string, identifiers are lower-case (as
    load.py creates them; MariaDB compares table names case-sensitively), LIKE ignores
    case."""
    from sqlglot import exp

    def fix(node):
        if isinstance(node, exp.Column) and not node.table and node.this.quoted:
            return exp.Literal.string(node.name)
        if isinstance(node, exp.Identifier):
            return exp.to_identifier(node.name.lower())
        if isinstance(node, exp.Like) and engine == "postgres":
            return exp.ILike(this=node.this, expression=node.expression)
        return node

    tree = sqlglot.parse_one(sql, read="sqlite").transform(fix)
    return tree.sql(dialect=engine)


async def run_statement(connector, engine: str, connection_id: str, question: Question, gold: list[tuple],
                        statement, ms: float | None) -> Outcome:
    text = _statement_text(statement)
    try:
        rows, truncated = await execute(connector, connection_id, statement)
    except grpc.aio.AioRpcError as error:
        kind, message = _error_kind("execute", error)
        return Outcome(question, engine, False, kind, ms, text, detail=message)
    return verdict_on(question, engine, gold, rows, truncated, ms, text)


def verdict_on(question: Question, engine: str, gold: list[tuple], rows: list[tuple], truncated: bool,
               ms: float | None, text: Any) -> Outcome:
    if truncated:
        return Outcome(question, engine, False, "result truncated", ms, text,
                       detail=f"more than {MAX_ROWS} rows", got_sample=[list(r) for r in rows[:5]])
    verdict = compare(gold, rows, ordered=orders_result(question.gold))
    if verdict.same:
        return Outcome(question, engine, True, "right", ms, text, permuted=verdict.permuted)
    return Outcome(question, engine, False, "wrong result", ms, text, detail=verdict.reason,
                   got_sample=[list(r) for r in rows[:5]])


# ----------------------------------------------------------------------------- mesh


@contextlib.asynccontextmanager
async def in_process_connector(mesh: ScratchMesh, mongo_client):
    """The connector in this process, serving MONGODB connections from the in-memory
    mongomock client (and the others from their real servers)."""
    from servers.connector.app import build_core
    from servers.connector.domain import ConnectionKind
    from servers.connector.drivers import open_driver
    from servers.connector.drivers.mongo import MongoDriver
    from servers.connector.service import SERVICE_NAME, ConnectorServicer
    from servers.runtime.server import GrpcServer, bind
    from servers.runtime.settings import Settings

    def opener(config):
        if config.kind is ConnectionKind.MONGODB:
            return MongoDriver(config, client=mongo_client)
        return open_driver(config)

    settings = Settings(database_url=mesh.env["CHATDB_DATABASE_URL"], redis_prefix=mesh.prefix, log_level="WARNING")
    async with contextlib.AsyncExitStack() as stack:
        core = await build_core(settings, stack, opener=opener)
        binding = bind(SERVICE_NAME, connector_service_pb2_grpc.add_ConnectorServiceServicer_to_server,
                       ConnectorServicer(core))
        server = GrpcServer(settings, [binding], host="127.0.0.1", port=mesh.ports["connector"])
        await server.start()
        stack.push_async_callback(server.stop, 0, 0)
        yield


def connection_id(engine: str, db_id: str, taken: set[str]) -> str:
    base = "spider-" + {"postgres": "pg", "mysql": "my", "mongo": "mongo"}[engine] + "-"
    slug = "".join(c if c.isalnum() else "-" for c in db_id.lower()).strip("-")
    name = (base + slug)[:60].rstrip("-")
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    taken.add(candidate)
    return candidate


async def register(stub, cid: str, engine: str, dsn: str) -> None:
    connection = connection_pb2.Connection(kind=KINDS[engine], dsn=dsn, read_only=True,
                                           display_name=f"Spider {cid}")
    connection.options.max_rows = MAX_ROWS
    connection.options.statement_timeout.FromSeconds(EXECUTE_TIMEOUT_S)
    await stub.CreateConnection(connector_service_pb2.CreateConnectionRequest(
        connection_id=cid, connection=connection), timeout=30)


# ----------------------------------------------------------------------------- report


def _pct(right: int, total: int) -> str:
    return f"{right:>5} / {total:<5} {100 * right / total:6.1f} %" if total else f"{'-':>5}   {'':<5} {'-':>6}"


def report(engine: str, tally: Tally, dbs: list[str], note: str,
           latency_label: str = "ParseQuery round trip") -> dict[str, Any]:
    right, total = tally.accuracy()
    latencies = tally.latencies()
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    print(f"\n== {ENGINES[engine]}: {total} questions{note}")
    print(f"{'hardness':10} {'right / questions   accuracy':>28}")
    for hardness in HARDNESS:
        print(f"{hardness:10} {_pct(*tally.accuracy(hardness)):>28}")
    print(f"{'overall':10} {_pct(right, total):>28}")
    print(f"\n{'database':26} {'right / questions   accuracy':>28}")
    for db_id in dbs:
        if tally.accuracy(db_id=db_id)[1]:
            print(f"{db_id:26} {_pct(*tally.accuracy(db_id=db_id)):>28}")
    kinds = Counter(o.kind for o in tally.outcomes if not o.right)
    print(f"\n{'outcome':52} {'count':>6}")
    print(f"{'right':52} {right:>6}" + (f"   ({sum(o.permuted for o in tally.outcomes)} with columns in another order)"
                                        if any(o.permuted for o in tally.outcomes) else ""))
    for kind, count in kinds.most_common():
        print(f"{kind[:52]:52} {count:>6}")
    if tally.gold_failed:
        print(f"{'(not counted: gold query failed on SQLite)':52} {tally.gold_failed:>6}")
    if latencies:
        print(f"\n{latency_label} over {len(latencies)} calls: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
              f"max {latencies[-1]:.1f} ms")
    figures: dict[str, Any] = {f"accuracy_{h}": _fraction(*tally.accuracy(h)) for h in HARDNESS}
    figures["accuracy_overall"] = _fraction(right, total)
    figures.update(parse_p50_ms=_ms(p50), parse_p95_ms=_ms(p95), questions=total, right=right)
    figures["errors"] = dict(kinds.most_common())
    figures["databases"] = {db: _fraction(*tally.accuracy(db_id=db)) for db in dbs if tally.accuracy(db_id=db)[1]}
    return figures


def _same_questions(reference: Tally, subset: Tally) -> tuple[int, int]:
    """`reference`'s right answers on the questions `subset` asked."""
    asked = {(o.question.db_id, o.question.index) for o in subset.outcomes}
    chosen = [o for o in reference.outcomes if (o.question.db_id, o.question.index) in asked]
    return sum(o.right for o in chosen), len(chosen)


def _fraction(right: int, total: int) -> float | None:
    return round(right / total, 4) if total else None


def _ms(value: float) -> float | None:
    return None if value != value else round(value, 2)


def write_failures(path: Path, tallies: dict[str, Tally]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for engine, tally in tallies.items():
            for o in tally.outcomes:
                if o.right:
                    continue
                out.write(json.dumps({
                    "engine": engine, "db_id": o.question.db_id, "dev_index": o.question.index,
                    "hardness": o.question.hardness, "question": o.question.text, "gold": o.question.gold,
                    "kind": o.kind, "statement": o.statement, "detail": o.detail,
                    "got_rows": o.got_sample, "parse_ms": None if o.parse_ms is None else round(o.parse_ms, 2),
                }, default=repr, ensure_ascii=False) + "\n")
                count += 1
    return count


# ----------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spider_dir", nargs="?", type=Path, default=None,
                        help="a Spider-format directory (default: ../shared/benchmarks/spider)")
    parser.add_argument("--mysql", action="store_true", help="also load into MariaDB and run there")
    parser.add_argument("--mongo", action="store_true", help="also run the single-table questions on MongoDB")
    parser.add_argument("--limit", type=int, default=0, help="first N questions of each database")
    parser.add_argument("--db", nargs="+", action="extend", default=[], metavar="NAME", help="only these databases")
    parser.add_argument("--failures", type=Path, help="write every wrong question here as JSON lines")
    parser.add_argument("--self-check", action="store_true",
                        help="run each gold query (translated by sqlglot) instead of parsing: checks the loading "
                             "and the comparison; its accuracy is the harness's ceiling (not with --mongo)")
    parser.add_argument("--through-gateway", action="store_true",
                        help="ask through the gateway's Ask (parse + execute by the gateway) instead of "
                             "ParseQuery + ExecuteQuery")
    return parser.parse_args()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    spider = (args.spider_dir or default_spider_dir()).resolve()
    if not (spider / "load.py").is_file() or not (spider / "databases").is_dir():
        raise SystemExit(f"{spider} is not a Spider-format directory (databases/, questions/, load.py)")
    dbs = database_ids(spider)
    if args.db:
        unknown = sorted(set(args.db) - set(dbs))
        if unknown:
            raise SystemExit(f"no such database in {spider}: {', '.join(unknown)}")
        dbs = [d for d in dbs if d in args.db]
    questions = {db: read_questions(spider, db, args.limit) for db in dbs}
    if args.self_check and args.mongo:
        raise SystemExit("--self-check translates gold SQL; it has no MongoDB form")
    if args.self_check and args.through_gateway:
        raise SystemExit("--self-check runs no question; there is nothing to ask through the gateway")
    engines = ["postgres"] + ["mysql"] * args.mysql + ["mongo"] * args.mongo
    mongomock = args.mongo and not MONGO_URL

    work = Path(tempfile.mkdtemp(prefix="chatdb-bench-nl2sql-"))
    (work / "data").mkdir()
    # prediction and registry get ports nothing listens on: the parser must not reach
    # a developer's running mesh, and answers on its rule path.
    mesh = ScratchMesh(work, ports=("connector", "parser", "prediction", "registry")
                       + (("gateway", "training") if args.through_gateway else ()))
    scratch = Scratch()
    gold = Gold(spider)
    tallies = {engine: Tally() for engine in engines}
    python_path = {"PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}
    try:
        async with contextlib.AsyncExitStack() as stack:
            if args.mongo:
                scratch.mongo_client = _mongo_client()
                stack.callback(_close_mongo, scratch.mongo_client)
            print(f"loading {len(dbs)} databases from {spider} into {', '.join(ENGINES[e] for e in engines)} ...",
                  file=sys.stderr, flush=True)
            for db_id in dbs:
                await scratch.load_postgres(spider, db_id)
                if args.mysql:
                    await scratch.load_mysql(spider, db_id)
                if args.mongo:
                    await scratch.load_mongo(db_id)
            if mongomock:
                await stack.enter_async_context(in_process_connector(mesh, scratch.mongo_client))
            else:
                mesh.spawn("connector", ["serve", "connector"], **python_path)
            await mesh.wait_serving(mesh.ports["connector"], timeout_s=START_TIMEOUT_S)
            if not args.self_check:
                mesh.spawn("parser", ["serve", "parser"], **python_path)
                await mesh.wait_serving(mesh.ports["parser"], timeout_s=START_TIMEOUT_S)
            if args.through_gateway:
                # Its row cap must not cut a result the direct path would read whole.
                mesh.spawn("gateway", ["serve", "gateway"], **python_path, CHATDB_GATEWAY_MAX_ROWS=str(MAX_ROWS))
                await mesh.wait_serving(mesh.ports["gateway"], timeout_s=START_TIMEOUT_S)
            connector_channel = await stack.enter_async_context(grpc.aio.insecure_channel(
                f"127.0.0.1:{mesh.ports['connector']}", options=[("grpc.max_receive_message_length", 256 << 20)]))
            parser_channel = await stack.enter_async_context(
                grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports['parser']}"))
            connector = connector_service_pb2_grpc.ConnectorServiceStub(connector_channel)
            parser = query_parser_service_pb2_grpc.QueryParserServiceStub(parser_channel)
            gateway = None
            if args.through_gateway:
                gateway_channel = await stack.enter_async_context(grpc.aio.insecure_channel(
                    f"127.0.0.1:{mesh.ports['gateway']}", options=[("grpc.max_receive_message_length", 256 << 20)]))
                gateway = chat_service_pb2_grpc.ChatServiceStub(gateway_channel)

            taken: set[str] = set()
            dsn = {"postgres": scratch.pg_dsn, "mysql": scratch.mysql_dsn, "mongo": scratch.mongo_dsn}
            ids = {}
            for engine in engines:
                for db_id in dbs:
                    ids[engine, db_id] = connection_id(engine, db_id, taken)
                    await register(connector, ids[engine, db_id], engine, dsn[engine](db_id))

            gold_rows: dict[tuple[str, int], list[tuple] | None] = {}
            for engine in engines:
                print(f"asking {ENGINES[engine]} ...", file=sys.stderr, flush=True)
                for db_id in dbs:
                    chosen = [q for q in questions[db_id] if engine != "mongo" or single_table(q.gold)]
                    if not chosen:
                        continue
                    cid = ids[engine, db_id]
                    if gateway is not None:  # warm-up: the gateway's clients, the parser's schema
                        with contextlib.suppress(grpc.aio.AioRpcError):
                            await gateway.Ask(chat_service_pb2.AskRequest(
                                question=chosen[0].text, connection_id=cid, page_size=1, use_cache=False),
                                timeout=PARSE_TIMEOUT_S + EXECUTE_TIMEOUT_S)
                    elif not args.self_check:  # warm-up: schema, samples, caches
                        with contextlib.suppress(grpc.aio.AioRpcError):
                            await parser.ParseQuery(query_parser_service_pb2.ParseQueryRequest(
                                question=chosen[0].text, connection_id=cid), timeout=PARSE_TIMEOUT_S)
                    for q in chosen:
                        key = (db_id, q.index)
                        if key not in gold_rows:
                            try:
                                gold_rows[key] = gold.rows(db_id, q.gold)
                            except Exception:  # noqa: BLE001 - a broken gold query is not the parser's
                                gold_rows[key] = None
                        if gold_rows[key] is None:
                            tallies[engine].gold_failed += 1
                            continue
                        if args.self_check:
                            outcome = await judge_gold(connector, engine, cid, q, gold_rows[key])
                        elif gateway is not None:
                            outcome = await judge_ask(gateway, engine, cid, q, gold_rows[key])
                        else:
                            outcome = await judge(parser, connector, engine, cid, q, gold_rows[key])
                        tallies[engine].outcomes.append(outcome)
    finally:
        gold.close()
        await mesh.stop()
        problems = await scratch.drop_all()
        shutil.rmtree(work, ignore_errors=True)
        for problem in problems:
            print(f"cleanup: could not drop {problem}", file=sys.stderr)

    total = sum(len(q) for q in questions.values())
    print(f"Spider-format directory {spider}: {len(dbs)} databases, {total} questions")
    if args.self_check:
        print("SELF-CHECK: the gold queries translated by sqlglot, no parser: the ceiling of loading and comparing")
    elif args.through_gateway:
        print("through the gateway: Ask (chatdb serve gateway → parser → connector), use_cache=false; prediction "
              "service not started: intent on the parser's rule path; parse latency = Ask's parse stage")
    else:
        print("parser: chatdb serve parser; prediction service not started: intent on the parser's rule path")
    figures: dict[str, Any] = {}
    for engine in engines:
        note = {"postgres": "", "mysql": "", "mongo": " (gold SQL reads one table; "
                + ("mongomock, connector in process)" if mongomock else "MongoDB server)")}[engine]
        engine_figures = report(engine, tallies[engine], dbs, note, *(
            ["Ask's parse stage"] if args.through_gateway else []))
        if engine == "mongo":
            same = _same_questions(tallies["postgres"], tallies["mongo"])
            print(f"PostgreSQL on the same {same[1]} questions: {_pct(*same).strip()}")
            engine_figures["postgres_same_questions_accuracy"] = _fraction(*same)
        prefix = "" if engine == "postgres" else f"{engine}_"
        figures.update({prefix + k: v for k, v in engine_figures.items()})
    if args.failures:
        count = write_failures(args.failures, tallies)
        print(f"\n{count} wrong questions written to {args.failures}")
    figures["self_check"] = args.self_check
    if args.through_gateway:
        figures["through"] = "gateway"
    figures["spider_dir"] = str(spider)
    return figures


def _mongo_client():
    if MONGO_URL:
        from motor.motor_asyncio import AsyncIOMotorClient

        return AsyncIOMotorClient(MONGO_URL, tz_aware=True)
    from mongomock_motor import AsyncMongoMockClient

    return AsyncMongoMockClient(tz_aware=True)


def _close_mongo(client) -> None:
    close = getattr(client, "close", None)
    if close is not None:
        close()


async def main() -> int:
    args = parse_args()
    # SIGTERM cleans up like Ctrl-C: the run is cancelled and its finally blocks drop
    # the scratch databases and stop the processes.
    task = asyncio.current_task()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    figures = await run(args)
    print(json.dumps(figures, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit(130)
