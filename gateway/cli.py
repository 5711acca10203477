"""The gateway's `chatdb` commands (servers/cli.py wires them in):

    chatdb ask "QUESTION" [--connection ID] [--conversation ID] [--page-size N] [--no-cache] [--json]
    chatdb history [--connection ID] [--conversation ID] [--limit N] [--json]
    chatdb status [--json]
    (each with --address HOST:PORT and --api-key KEY, default $CHATDB_API_KEY, sent as
    x-api-key: what the edge asks for)
    chatdb apikeys create|list|revoke|bootstrap …   (apikeys_cli.py)

`ask` prints the answer, the statement that ran, what it does in English, the rows as a
table, the gateway's notes and the conversation id a follow-up continues with. `history`
lists recent questions, newest first. `status` prints the degradation level and each
component's health; its exit status is the level (0-4), or 5 when no status could be
read (no gateway answers, or it answered an error), so scripts can branch on it.

Every command talks to the gateway at CHATDB_GATEWAY_ADDRESS (default: CHATDB_HOST and
CHATDB_GATEWAY_PORT) or `--address`. `make up` prints its demo answers with `ask_and_show`,
the same path as `chatdb ask`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

import grpc
from chatdb.connector.v1 import result_pb2, statement_pb2
from chatdb.gateway.v1 import (
    chat_service_pb2,
    chat_service_pb2_grpc,
    query_record_pb2,
    system_status_pb2,
)
from google.protobuf import json_format
from rich import box
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from servers.contracts.cells import Json, cell_to_value
from servers.runtime.channels import address_of, open_channel
from servers.runtime.cli_support import chatdb_command, rpc_error_lines
from servers.runtime.settings import Settings

ASK_TIMEOUT_S = 120  # a cold parser prepares the schema's words and samples on its first question
CALL_TIMEOUT_S = 30
UNREACHABLE = 5  # `chatdb status` exit status when no status could be read (0-4 are the levels)


def gateway_address(settings: Settings) -> str:
    return settings.gateway_address or address_of(settings, "gateway")


def add_commands(sub: argparse._SubParsersAction) -> None:
    from .apikeys_cli import add_commands as add_apikeys_commands

    add_apikeys_commands(sub)
    ask = sub.add_parser("ask", help="ask a question in plain English through the gateway")
    ask.add_argument("question")
    ask.add_argument("--connection", default="", help="the connection to ask (optional when there is only one)")
    ask.add_argument("--conversation", default="", help="continue this conversation (a follow-up question)")
    ask.add_argument("--page-size", type=int, default=0, help="most rows to show (the gateway's default: 100)")
    ask.add_argument("--no-cache", action="store_true", help="run the statement even when a cached answer exists")
    ask.add_argument("--json", action="store_true", help="print the whole AskResponse as JSON")
    ask.set_defaults(func=lambda a: asyncio.run(_ask(a)))

    history = sub.add_parser("history", help="recent questions asked through the gateway, newest first")
    history.add_argument("--connection", default="", help="only questions asked of this connection")
    history.add_argument("--conversation", default="", help="only questions of this conversation")
    history.add_argument("--limit", type=int, default=20, help="most questions to list (default 20)")
    history.add_argument("--json", action="store_true", help="print the records as JSON")
    history.set_defaults(func=lambda a: asyncio.run(_history(a)))

    status = sub.add_parser("status", help="the mesh's degradation level (exit status 0-4; 5: gateway unreachable)")
    status.add_argument("--json", action="store_true", help="print the SystemStatus as JSON")
    status.set_defaults(func=lambda a: asyncio.run(_status(a)))

    for command in (ask, history, status):
        command.add_argument("--address", default=None, help="gateway address host:port (default "
                             "CHATDB_GATEWAY_ADDRESS, else CHATDB_HOST:CHATDB_GATEWAY_PORT)")
        command.add_argument("--api-key", default=os.environ.get("CHATDB_API_KEY", ""),
                             help="API key sent as x-api-key (needed through the edge; default $CHATDB_API_KEY)")


def _metadata(args: argparse.Namespace) -> tuple[tuple[str, str], ...] | None:
    return (("x-api-key", args.api_key),) if getattr(args, "api_key", "") else None


# ----------------------------------------------------------------------------- commands


async def _ask(args: argparse.Namespace) -> int:
    request = chat_service_pb2.AskRequest(question=args.question, connection_id=args.connection,
                                          conversation_id=args.conversation, page_size=args.page_size)
    if args.no_cache:
        request.use_cache = False
    return await _call(args, lambda stub: stub.Ask(request, timeout=ASK_TIMEOUT_S, metadata=_metadata(args)),
                       lambda console, reply: show_answer(console, reply))


async def _history(args: argparse.Namespace) -> int:
    request = chat_service_pb2.ListQueriesRequest(page_size=args.limit, connection_id=args.connection,
                                                  conversation_id=args.conversation)
    return await _call(args, lambda stub: stub.ListQueries(request, timeout=CALL_TIMEOUT_S, metadata=_metadata(args)),
                       lambda console, reply: show_history(console, reply.queries))


async def _status(args: argparse.Namespace) -> int:
    settings = Settings()
    address = args.address or gateway_address(settings)
    console = Console()
    try:
        async with open_channel(settings, address=address) as channel:
            reply = await chat_service_pb2_grpc.ChatServiceStub(channel).GetSystemStatus(
                chat_service_pb2.GetSystemStatusRequest(), timeout=CALL_TIMEOUT_S, metadata=_metadata(args))
    except grpc.aio.AioRpcError as exc:
        _print_error(exc, address)
        return UNREACHABLE
    if args.json:
        _print_json(reply.status)
    else:
        show_status(console, reply.status)
    return reply.status.level


async def _call(args: argparse.Namespace, send, show) -> int:
    """One call to the gateway: its reply shown (or as JSON), or its error as the status
    code and message on stderr with exit status 1."""
    settings = Settings()
    address = args.address or gateway_address(settings)
    try:
        async with open_channel(settings, address=address) as channel:
            reply = await send(chat_service_pb2_grpc.ChatServiceStub(channel))
    except grpc.aio.AioRpcError as exc:
        _print_error(exc, address)
        return 1
    if args.json:
        _print_json(reply)
    else:
        show(Console(), reply)
    return 0


def _print_json(message) -> None:
    print(json_format.MessageToJson(message, preserving_proto_field_name=True))


def _print_error(exc: grpc.aio.AioRpcError, address: str) -> None:
    for line in rpc_error_lines(exc):
        print(line, file=sys.stderr)
    if exc.code() is grpc.StatusCode.UNAVAILABLE and "connect" in (exc.details() or "").lower():
        print(f"  no gateway answers at {address}: start the mesh with `make up` (or `{chatdb_command()} serve "
              "gateway`), or point CHATDB_GATEWAY_ADDRESS / --address at it", file=sys.stderr)


# ----------------------------------------------------------------------------- ask


async def ask_and_show(address: str, question: str, *, connection_id: str = "", console: Console | None = None,
                       settings: Settings | None = None, page_size: int = 10) -> chat_service_pb2.AskResponse | None:
    """Asks through the gateway and prints the answer as `chatdb ask` does; an error is
    printed as one line and answers None (for `make up`, which goes on)."""
    console = console or Console()
    settings = settings or Settings()
    request = chat_service_pb2.AskRequest(question=question, connection_id=connection_id, page_size=page_size)
    try:
        async with open_channel(settings, address=address) as channel:
            reply = await chat_service_pb2_grpc.ChatServiceStub(channel).Ask(request, timeout=ASK_TIMEOUT_S)
    except grpc.aio.AioRpcError as exc:
        console.print(Text(f"{connection_id or '-'}: {question!r}: " + " ".join(rpc_error_lines(exc)).removeprefix("error: ")))
        return None
    show_answer(console, reply)
    return reply


def show_answer(console: Console, reply: chat_service_pb2.AskResponse) -> None:
    """The answer as people read it: the sentence, the statement, its explanation, the
    rows, the notes, and how to continue."""
    question = reply.parsed_query.question
    if question:
        console.print(Text(f"? {question}", style="bold"))
    console.print(Text(reply.answer or _row_count(reply), style="bold green"))
    text = statement_text(reply.statement) if reply.HasField("statement") else ""
    if text:
        language = "sql" if reply.statement.WhichOneof("form") == "sql" else "javascript"
        # Not wrapped: the statement and the commands below stay copyable as printed.
        console.print(Syntax(text, language, background_color="default"), soft_wrap=True)
    if reply.explanation:
        console.print(Text(f"-- {reply.explanation}", style="dim"))
    if reply.columns:
        console.print(rows_table(reply.columns, reply.rows))
        more = []
        if reply.next_page_token:
            more.append("more rows on the next page (chatdb ask --json gives the next_page_token)")
        if reply.truncated:
            more.append("cut at the row limit")
        if more:
            console.print(Text(f"({len(reply.rows)} rows shown; {'; '.join(more)})", style="dim"))
    if reply.training_job:
        console.print(f"training job: {reply.training_job}", highlight=False)
    if reply.model_version:
        console.print(f"model version: {reply.model_version}", highlight=False)
    for note in reply.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    console.print(Text(_footer(reply), style="dim"), soft_wrap=True)
    if reply.conversation_id:
        # Under mTLS the command needs the certificates to work as printed.
        tls_dir = Settings().tls_dir
        env = f"CHATDB_TLS_DIR={tls_dir} " if tls_dir else ""
        console.print(Text(f'follow up: {env}{chatdb_command()} ask "…" --conversation {reply.conversation_id}',
                           style="dim"), soft_wrap=True)


def _row_count(reply: chat_service_pb2.AskResponse) -> str:
    return f"{len(reply.rows)} row{'s' if len(reply.rows) != 1 else ''}"


def _footer(reply: chat_service_pb2.AskResponse) -> str:
    source = query_record_pb2.AnswerSource.Name(reply.source).removeprefix("ANSWER_SOURCE_").lower().replace("_", " ")
    parts = [f"query {reply.query_id}" if reply.query_id else "", f"from {source}" if reply.source else "",
             "cached" if reply.cached else ""]
    t = reply.timings
    # A stage that did not run (a cached answer is neither parsed nor executed) is zero.
    stages = [(name, getattr(t, name)) for name in ("parse", "execute", "total")
              if t.HasField(name) and getattr(t, name).ToNanoseconds()]
    if stages:
        parts.append(", ".join(f"{name} {_ms(d):.1f} ms" for name, d in stages))
    elif reply.HasField("duration"):
        parts.append(f"{_ms(reply.duration):.1f} ms")
    if reply.reused_query_id:
        parts.append(f"reuses the accepted answer of {reply.reused_query_id}")
    return " · ".join(p for p in parts if p)


def _ms(duration) -> float:
    return duration.ToNanoseconds() / 1e6


def statement_text(statement: statement_pb2.Statement) -> str:
    """The statement as one would type it: SQL (with its parameters as a comment), or a
    MongoDB shell call."""
    form = statement.WhichOneof("form")
    if form == "sql":
        params = [cell_to_value(c) for c in statement.sql.params]
        return statement.sql.sql + (f"\n-- params: {', '.join(repr(_plain(p)) for p in params)}" if params else "")
    if form == "mongo_find":
        f = statement.mongo_find
        text = f"db.{f.collection}.find({f.filter or '{}'}" + (f", {f.projection}" if f.projection else "") + ")"
        if f.sort:
            text += f".sort({f.sort})"
        if f.skip:
            text += f".skip({f.skip})"
        if f.limit:
            text += f".limit({f.limit})"
        return text
    if form == "mongo_aggregate":
        return f"db.{statement.mongo_aggregate.collection}.aggregate({statement.mongo_aggregate.pipeline})"
    return ""


def rows_table(columns: list[result_pb2.ColumnMeta], rows: list[result_pb2.Row]) -> Table:
    table = Table(show_lines=False, header_style="bold")
    numeric = [_is_numeric(rows, i) for i in range(len(columns))]
    for column, right in zip(columns, numeric, strict=True):
        table.add_column(column.name, justify="right" if right else "left", overflow="fold")
    for row in rows:
        table.add_row(*(_cell_text(cell) for cell in row.cells))
    return table


def _is_numeric(rows: list[result_pb2.Row], index: int) -> bool:
    kinds = {row.cells[index].WhichOneof("value") for row in rows if index < len(row.cells)}
    kinds -= {None, "null_value"}
    return bool(kinds) and kinds <= {"int64_value", "double_value", "decimal_value"}


def _cell_text(cell: result_pb2.Cell) -> Text:
    value = _plain(cell_to_value(cell))
    if value is None:
        return Text("null", style="dim italic")
    if isinstance(value, bytes):
        return Text(f"<{len(value)} bytes>", style="dim")
    if hasattr(value, "isoformat"):
        return Text(value.isoformat())
    return Text(str(value))


def _plain(value: Any) -> Any:
    return value.text if isinstance(value, Json) else value


# ----------------------------------------------------------------------------- history


WIDE = 120  # columns from which history is one table row per question


def show_history(console: Console, records) -> None:
    """A table, one row per question; on a terminal narrower than WIDE a block of three
    lines per question instead, since the ids (what --conversation and feedback take)
    are 32 characters each and must not break."""
    if not records:
        console.print("no questions asked yet", highlight=False)
        return
    if console.width < WIDE:
        for r in records:
            _history_block(console, r)
        return
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    table.add_column("asked (UTC)", no_wrap=True)
    table.add_column("query / conversation", no_wrap=True)
    table.add_column("connection", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("ms", justify="right", no_wrap=True)
    table.add_column("question", overflow="fold", ratio=1)
    for r in records:
        status, style, question = _history_cells(r)
        table.add_row(r.create_time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S"),
                      Text(f"{r.query_id}\n{r.conversation_id}"), r.connection_id, Text(status, style=style),
                      str(r.row_count), f"{_ms(r.duration):.0f}", question)
    console.print(table)


def _history_cells(r: query_record_pb2.QueryRecord) -> tuple[str, str, Text]:
    status = query_record_pb2.QueryStatus.Name(r.status).removeprefix("QUERY_STATUS_").lower()
    failed = r.status == query_record_pb2.QUERY_STATUS_FAILED
    question = Text(r.question)
    if failed and r.error.message:
        question.append(f"\n{r.error.message}", style="red")
    return status + (" (cached)" if r.cached else ""), "red" if failed else "", question


def _history_block(console: Console, r: query_record_pb2.QueryRecord) -> None:
    status, style, question = _history_cells(r)
    head = Text(f"{r.create_time.ToDatetime():%Y-%m-%d %H:%M:%S}  ")
    head.append(status, style=style or "bold")
    head.append(f"  {r.row_count} rows  {_ms(r.duration):.0f} ms  {r.connection_id}")
    console.print(head)
    for line in question.split("\n"):
        console.print(Text("  ") + line)
    console.print(Text(f"  query {r.query_id}  conversation {r.conversation_id}", style="dim"), soft_wrap=True)


# ----------------------------------------------------------------------------- status

_STATE_STYLE = {
    system_status_pb2.COMPONENT_STATE_SERVING: "green",
    system_status_pb2.COMPONENT_STATE_DEGRADED: "yellow",
    system_status_pb2.COMPONENT_STATE_NOT_SERVING: "red",
}


def show_status(console: Console, status: system_status_pb2.SystemStatus) -> None:
    style = "green" if status.level == 0 else "yellow" if status.level < 3 else "red"
    # The monitor's summary already starts with the level ("level 1: training down — …").
    summary = status.summary if status.summary.startswith(f"level {status.level}") else \
        f"level {status.level}: {status.summary}".rstrip(": ")
    console.print(Text(summary, style=f"bold {style}"))
    table = Table(header_style="bold")
    for name, justify in (("component", "left"), ("state", "left"), ("latency ms", "right"), ("message", "left")):
        table.add_column(name, justify=justify, overflow="fold")
    for c in status.components:
        state = system_status_pb2.ComponentState.Name(c.state).removeprefix("COMPONENT_STATE_")
        latency = f"{_ms(c.latency):.1f}" if c.HasField("latency") else "-"
        table.add_row(c.component, Text(state, style=_STATE_STYLE.get(c.state, "dim")), latency, Text(c.message))
    console.print(table)
