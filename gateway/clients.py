"""The parser and the connector as the gateway's core sees them (domain.ParserPort,
domain.ConnectorPort), over channels that map failed calls to the runtime's error tree.

Every call carries the request id of the Ask it serves (x-request-id), so the parser's
and the connector's log lines of one question share the gateway's request id (and, as
their channels send the traceparent, its trace id: runtime/tracing.py). A service
that is down is named in the error: "the query parser is unavailable …", so a person
knows which part to look at.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import grpc
from chatdb.connector.v1 import connector_service_pb2 as cpb
from chatdb.connector.v1 import connector_service_pb2_grpc, statement_pb2
from chatdb.parser.v1 import parsed_query_pb2, query_parser_service_pb2_grpc
from chatdb.parser.v1 import query_parser_service_pb2 as ppb

from servers.runtime.errors import DeadlineExceeded, Unavailable
from servers.runtime.interceptors import REQUEST_ID_KEY
from servers.runtime.logs import request_id_var

from .domain import CONNECTOR_UNAVAILABLE, PARSER_UNAVAILABLE, Versions


def _metadata() -> tuple[tuple[str, str], ...] | None:
    rid = request_id_var.get()
    return ((REQUEST_ID_KEY, rid),) if rid else None


class ParserClient:
    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float = 30.0) -> None:
        self.stub = query_parser_service_pb2_grpc.QueryParserServiceStub(channel)
        self.timeout_s = timeout_s

    async def parse(
        self,
        question: str,
        connection_id: str,
        *,
        reference_time: dt.datetime | None,
        context: parsed_query_pb2.ParsedQuery | None,
    ) -> parsed_query_pb2.ParsedQuery:
        request = ppb.ParseQueryRequest(question=question, connection_id=connection_id)
        if reference_time is not None:
            request.reference_time.FromDatetime(reference_time)
        if context is not None:
            request.context.CopyFrom(context)
        try:
            reply = await self.stub.ParseQuery(request, timeout=self.timeout_s, metadata=_metadata())
        except Unavailable as exc:
            # The parser itself is down (nothing answered), or it passed on the connector's
            # UNAVAILABLE: keep the latter's reason, name the parser for the former.
            if exc.reason == "UNAVAILABLE":
                raise Unavailable(
                    f"the query parser is unavailable: {exc.message}", reason=PARSER_UNAVAILABLE,
                    metadata={"service": "parser"},
                ) from None
            raise
        return reply.parsed_query


class ConnectorGateway:
    """The connector's calls the gateway makes: execute a statement, list connection
    ids, and the versions of a connection's schema and glossary."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float = 30.0) -> None:
        self.stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
        self.timeout_s = timeout_s

    async def execute(
        self,
        connection_id: str,
        statement: statement_pb2.Statement,
        *,
        page_size: int,
        page_token: str = "",
        max_rows: int,
    ) -> cpb.ExecuteQueryResponse:
        return await self._call(
            self.stub.ExecuteQuery,
            cpb.ExecuteQueryRequest(
                connection_id=connection_id, statement=statement, page_size=page_size,
                page_token=page_token, max_rows=max_rows,
            ),
        )

    async def connection_ids(self, limit: int) -> list[str]:
        reply = await self._call(self.stub.ListConnections, cpb.ListConnectionsRequest(page_size=limit))
        return [c.connection_id for c in reply.connections]

    async def versions(self, connection_id: str) -> Versions:
        schema, glossary = await asyncio.gather(
            self._call(self.stub.GetSchema, cpb.GetSchemaRequest(connection_id=connection_id)),
            self._call(self.stub.GetGlossary, cpb.GetGlossaryRequest(connection_id=connection_id)),
        )
        return Versions(schema=schema.schema.schema_version, glossary=glossary.glossary.version)

    async def _call(self, method, request):
        try:
            return await method(request, timeout=self.timeout_s, metadata=_metadata())
        except (Unavailable, DeadlineExceeded) as exc:
            if exc.reason in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                # Nothing of the connector's own answered: the connector process is down.
                raise Unavailable(
                    f"the db connector is unavailable: {exc.message}", reason=CONNECTOR_UNAVAILABLE,
                    metadata={"service": "connector"},
                ) from None
            raise
