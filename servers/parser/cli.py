"""The query parser's `chatdb` commands (servers/cli.py wires them in):

    chatdb parse "QUESTION" --connection ID [--after "PREVIOUS QUESTION"]... [--dialect postgres|mysql]
                 [--at ISO-TIME] [--run] [--json]
    chatdb parser bootstrap-intent [--per-label N] [--timeout S]

`parse` prints what the parser made of a question: the statement, what it does in plain
English, and how the words were linked; `--run` also runs the statement read-only
through the connector and prints the first rows. `--after` (repeatable, oldest first)
asks the questions of a conversation before it, each with the previous parse as its
context, as the gateway does, so a follow-up ("only those in 2024") can be tried alone.

`bootstrap-intent` makes sure the intent model (`query-intent`, alias production)
exists: nothing when it does, else it trains it from the project's own corpus as a
background job on the platform, promotes it and warms it up (bootstrap.py). `make up`
runs it once the mesh is up.
"""

from __future__ import annotations

import argparse
import asyncio

from servers.runtime.cli_support import CliError
from servers.runtime.settings import Settings


def add_commands(sub: argparse._SubParsersAction) -> None:
    parse = sub.add_parser("parse", help="turn a question into a statement (and run it with --run)")
    parse.add_argument("question")
    parse.add_argument("--connection", required=True, help="the connection to ask")
    parse.add_argument("--after", action="append", default=[], metavar="QUESTION",
                       help="a question asked before this one in the same conversation (repeatable, oldest first)")
    parse.add_argument("--dialect", choices=["postgres", "mysql"], help="SQL dialect (default: the connection's)")
    parse.add_argument("--at", help="the time 'last month' and 'this year' are relative to (ISO 8601; default: now)")
    parse.add_argument("--run", action="store_true", help="run the statement read-only and print the first rows")
    parse.add_argument("--json", action="store_true", help="print the ParsedQuery as JSON")
    parse.set_defaults(func=lambda a: asyncio.run(_parse(a)))

    parser = sub.add_parser("parser", help="query parser tooling (the intent model)")
    commands = parser.add_subparsers(dest="parser_command", required=True)
    boot = commands.add_parser("bootstrap-intent", help="train and promote the intent model when it is missing")
    boot.add_argument("--per-label", type=int, default=None, help="questions per intent (default: the whole corpus)")
    boot.add_argument("--timeout", type=float, default=900.0, help="longest wait for the training job (seconds)")
    boot.set_defaults(func=_bootstrap)


def _bootstrap(args: argparse.Namespace) -> int:
    from .bootstrap import BootstrapFailed, bootstrap_intent

    try:
        asyncio.run(bootstrap_intent(Settings(), per_label=args.per_label, timeout_s=args.timeout,
                                     say=lambda line: print(line, flush=True)))
    except BootstrapFailed as exc:
        raise CliError(str(exc)) from None
    return 0




async def _parse(args: argparse.Namespace) -> int:
    import datetime as dt

    import grpc
    from chatdb.connector.v1 import connector_service_pb2, connector_service_pb2_grpc, statement_pb2
    from chatdb.parser.v1 import query_parser_service_pb2 as pb
    from chatdb.parser.v1 import query_parser_service_pb2_grpc as pb_grpc
    from google.protobuf import json_format

    from servers.contracts.cells import cell_to_value
    from servers.runtime.channels import open_channel
    from servers.runtime.cli_support import print_rpc_error

    settings = Settings()
    request = pb.ParseQueryRequest(question=args.question, connection_id=args.connection)
    if args.dialect:
        request.dialect = {"postgres": statement_pb2.SQL_DIALECT_POSTGRES, "mysql": statement_pb2.SQL_DIALECT_MYSQL}[args.dialect]
    if args.at:
        try:
            moment = dt.datetime.fromisoformat(args.at)
        except ValueError:
            raise CliError(f"--at {args.at!r} is not an ISO 8601 time such as 2026-12-03 or 2026-12-03T12:00:00Z") from None
        request.reference_time.FromDatetime(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC))
    async with open_channel(settings, "parser") as channel:
        stub = pb_grpc.QueryParserServiceStub(channel)
        try:
            context = None
            for earlier in [*args.after, args.question]:
                step = pb.ParseQueryRequest()
                step.CopyFrom(request)
                step.question = earlier
                if context is not None:
                    step.context.CopyFrom(context)
                context = parsed = (await stub.ParseQuery(step, timeout=30)).parsed_query
        except grpc.aio.AioRpcError as exc:
            return print_rpc_error(exc)
    if args.json:
        print(json_format.MessageToJson(parsed, preserving_proto_field_name=True))
    else:
        statement = parsed.statement
        form = statement.WhichOneof("form")
        if form == "sql":
            print(statement.sql.sql)
        elif form == "mongo_find":
            f = statement.mongo_find
            print(f"db.{f.collection}.find({f.filter or '{}'}, {f.projection or '{}'})"
                  + (f".sort({f.sort})" if f.sort else "") + (f".limit({f.limit})" if f.limit else ""))
        elif form == "mongo_aggregate":
            print(f"db.{statement.mongo_aggregate.collection}.aggregate({statement.mongo_aggregate.pipeline})")
        if parsed.follow_up:
            print(f"-- follow-up of: {' → '.join(parsed.conversation[:-1])}")
        print(f"-- {parsed.explanation}")
        for note in parsed.notes:
            print(f"-- {note}")
        print(f"-- intent {_intent_name(parsed.intent)} ({parsed.intent_source}), "
              f"parsed in {parsed.parse_duration.ToMicroseconds() / 1000:.1f} ms")
    if not args.run or not parsed.HasField("statement"):
        return 0
    async with open_channel(settings, "connector") as channel:
        try:
            reply = await connector_service_pb2_grpc.ConnectorServiceStub(channel).ExecuteQuery(
                connector_service_pb2.ExecuteQueryRequest(
                    connection_id=args.connection, statement=parsed.statement, page_size=20
                ),
                timeout=60,
            )
        except grpc.aio.AioRpcError as exc:
            return print_rpc_error(exc)
    names = [c.name for c in reply.columns]
    rows = [[str(cell_to_value(c)) for c in row.cells] for row in reply.rows]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    print("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    more = " (more rows: use the connector or --json)" if reply.next_page_token else ""
    print(f"({reply.rows_returned} rows{more})")
    return 0


def _intent_name(intent: int) -> str:
    from chatdb.parser.v1 import parsed_query_pb2

    return parsed_query_pb2.Intent.Name(intent).removeprefix("INTENT_").lower()
