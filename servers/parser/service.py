"""QueryParserService servicer: proto → ParseRequest, the core, ParsedQuery back.
Errors are the core's domain errors; the shared interceptor maps them."""

from __future__ import annotations

from chatdb.parser.v1 import query_parser_service_pb2 as pb
from chatdb.parser.v1 import query_parser_service_pb2_grpc as pb_grpc

from servers.runtime.server import ServiceBinding, bind

from . import convert
from .core import Parser, ParseRequest

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["QueryParserService"].full_name


class QueryParserServicer(pb_grpc.QueryParserServiceServicer):
    def __init__(self, parser: Parser) -> None:
        self.parser = parser

    async def ParseQuery(self, request: pb.ParseQueryRequest, context) -> pb.ParseQueryResponse:
        parsed = await self.parser.parse(
            ParseRequest(
                question=request.question,
                connection_id=request.connection_id,
                dialect=request.dialect,
                schema=request.schema if request.HasField("schema") else None,
                reference_time=convert.reference_time(request.reference_time, None)
                if request.HasField("reference_time")
                else None,
                context=request.context if request.HasField("context") else None,
            )
        )
        return pb.ParseQueryResponse(parsed_query=parsed)


def parser_binding(parser: Parser) -> ServiceBinding:
    return bind(SERVICE_NAME, pb_grpc.add_QueryParserServiceServicer_to_server, QueryParserServicer(parser))
