"""ChatService servicer: proto → the core's types, the core, proto back. The caller's
identity is read here from metadata (the core never sees grpc): `x-chatdb-principal`,
which the Envoy edge sets after it checked the API key — trusted only behind the edge,
which overwrites it; a client that reaches the gateway directly could claim any name."""

from __future__ import annotations

from chatdb.gateway.v1 import chat_service_pb2 as pb
from chatdb.gateway.v1 import chat_service_pb2_grpc as pb_grpc

from servers.runtime.logs import request_id_var
from servers.runtime.server import ServiceBinding, bind

from . import convert
from .core import Gateway
from .domain import Caller

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ChatService"].full_name
PRINCIPAL_KEY = "x-chatdb-principal"
API_KEY_ID_KEY = "x-chatdb-api-key-id"
MAX_PRINCIPAL_CHARS = 256


def caller_of(context) -> Caller:
    principal, key_id = "", ""
    for key, value in context.invocation_metadata() or ():
        if key == PRINCIPAL_KEY and isinstance(value, str):
            principal = value[:MAX_PRINCIPAL_CHARS]
        elif key == API_KEY_ID_KEY and isinstance(value, str):
            key_id = value[:MAX_PRINCIPAL_CHARS]
    return Caller(principal=principal or "anonymous", trace_id=request_id_var.get() or "", api_key_id=key_id)


class ChatServicer(pb_grpc.ChatServiceServicer):
    def __init__(self, core: Gateway) -> None:
        self.core = core

    async def Ask(self, request: pb.AskRequest, context) -> pb.AskResponse:
        return convert.ask_response(await self.core.ask(convert.ask_request(request), caller_of(context)))

    async def GetQuery(self, request: pb.GetQueryRequest, context) -> pb.GetQueryResponse:
        return pb.GetQueryResponse(query=convert.query_record(await self.core.get_query(request.query_id)))

    async def ListQueries(self, request: pb.ListQueriesRequest, context) -> pb.ListQueriesResponse:
        records, token = await self.core.list_queries(
            convert.query_filter(request), size=request.page_size, token=request.page_token)
        return pb.ListQueriesResponse(queries=[convert.query_record(r) for r in records], next_page_token=token)

    async def GetSystemStatus(self, request: pb.GetSystemStatusRequest, context) -> pb.GetSystemStatusResponse:
        return pb.GetSystemStatusResponse(status=await self.core.system_status())

    async def SubmitFeedback(self, request: pb.SubmitFeedbackRequest, context) -> pb.SubmitFeedbackResponse:
        record = await self.core.submit_feedback(
            request.query_id, request.verdict,
            request.corrected_statement if request.HasField("corrected_statement") else None,
            request.comment, caller_of(context),
        )
        return pb.SubmitFeedbackResponse(query=convert.query_record(record))


def chat_binding(core: Gateway) -> ServiceBinding:
    return bind(SERVICE_NAME, pb_grpc.add_ChatServiceServicer_to_server, ChatServicer(core))
