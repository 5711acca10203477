"""ChatService servicer: proto → the core's types, the core, proto back. The caller is
the runtime's `current_principal()`: the server interceptor read it from the identity
headers (x-chatdb-principal, x-chatdb-api-key-id, …) the Envoy edge sets after its
ext_authz check of the API key (authz.py) — trusted only behind the edge, which strips
them from clients; a client that reaches the gateway directly could claim any name."""

from __future__ import annotations

from chatdb.gateway.v1 import chat_service_pb2 as pb
from chatdb.gateway.v1 import chat_service_pb2_grpc as pb_grpc

from servers.runtime import tracing
from servers.runtime.identity import current_principal
from servers.runtime.logs import request_id_var
from servers.runtime.server import ServiceBinding, bind

from . import convert
from .core import Gateway
from .domain import Caller

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ChatService"].full_name


def current_caller() -> Caller:
    """The caller of the call being served, for the history and audit rows; an internal
    caller (no principal) is "anonymous". Its trace id is the OpenTelemetry trace of the
    call (32 hex digits; a traceparent the client or Envoy sent is continued), which
    finds every span of the question in the mesh and its log lines."""
    trace_id = tracing.current_trace_id() or request_id_var.get() or ""
    principal = current_principal()
    if principal is None:
        return Caller(trace_id=trace_id)
    return Caller(principal=principal.name, trace_id=trace_id, api_key_id=principal.api_key_id)


class ChatServicer(pb_grpc.ChatServiceServicer):
    def __init__(self, core: Gateway) -> None:
        self.core = core

    async def Ask(self, request: pb.AskRequest, context) -> pb.AskResponse:
        return convert.ask_response(await self.core.ask(convert.ask_request(request), current_caller()))

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
            request.comment, current_caller(),
        )
        return pb.SubmitFeedbackResponse(query=convert.query_record(record))


def chat_binding(core: Gateway) -> ServiceBinding:
    return bind(SERVICE_NAME, pb_grpc.add_ChatServiceServicer_to_server, ChatServicer(core))
