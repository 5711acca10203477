"""The servicers and their bindings: PredictionService, and the KServe v2 / Open
Inference Protocol servicer (inference.GRPCInferenceService) on the same core, so
tritonclient and other OIP clients work as is. Each: proto → domain, await the core,
domain → proto.

Responses usually leave as bytes written by wire.py; the method handlers are registered
here (not with the generated add_…_to_server) with a serializer that passes bytes through
and serializes messages as usual, and a deserializer that reads many records straight
from the request's bytes into columns (convert.RequestDecoder).
"""

from __future__ import annotations

import grpc
from chatdb.prediction.v1 import prediction_service_pb2 as pb
from chatdb.prediction.v1 import prediction_service_pb2_grpc as pb_grpc
from inference import grpc_service_pb2 as oip_pb
from inference import grpc_service_pb2_grpc as oip_grpc

from servers.runtime.server import ServiceBinding, bind

from . import convert
from .core import PredictionCore

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PredictionService"].full_name
INFERENCE_SERVICE_NAME = oip_pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name

_LIVE = oip_pb.ServerLiveResponse(live=True)


class PredictionServicer(pb_grpc.PredictionServiceServicer):
    def __init__(self, core: PredictionCore) -> None:
        self.core = core

    async def Predict(self, request: pb.PredictRequest | convert.WireRequest, context) -> pb.PredictResponse:
        records = None
        if type(request) is convert.WireRequest:  # records already read from the bytes
            request, records = request.message, request.records
        answer = await self.core.predict(
            request.model, convert.selector_from_proto(request),
            convert.predict_inputs(request) if records is None else records,
            request.include_outputs,
        )
        return convert.predict_response_bytes(answer)

    async def BatchPredict(
        self, request: pb.BatchPredictRequest | convert.WireRequest, context
    ) -> pb.BatchPredictResponse:
        records = None
        if type(request) is convert.WireRequest:
            request, records = request.message, request.records
        view = convert.batch_view(request)
        answer = await self.core.batch_predict(
            request.model, convert.selector_from_proto(request),
            convert.batch_inputs(request) if records is None else records, request.batch_size,
            include_outputs=convert.wants_outputs(view),
        )
        return convert.batch_predict_response_bytes(answer, view)


def _serialize(response: bytes | pb.PredictResponse | pb.BatchPredictResponse) -> bytes:
    return response if type(response) is bytes else response.SerializeToString()


def prediction_binding(core: PredictionCore) -> ServiceBinding:
    servicer = PredictionServicer(core)
    handlers = {
        "Predict": grpc.unary_unary_rpc_method_handler(
            servicer.Predict, request_deserializer=convert.PREDICT_DECODER.decode, response_serializer=_serialize),
        "BatchPredict": grpc.unary_unary_rpc_method_handler(
            servicer.BatchPredict, request_deserializer=convert.BATCH_PREDICT_DECODER.decode,
            response_serializer=_serialize),
    }

    def register(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
        server.add_registered_method_handlers(SERVICE_NAME, handlers)

    # Records are not walked for NUL per request (the single-row hot path); nothing of a
    # prediction request reaches a database or a file path.
    return ServiceBinding(SERVICE_NAME, register, screen_strings=False)


# --- KServe v2 / Open Inference Protocol ----------------------------------------------


class InferenceServicer(oip_grpc.GRPCInferenceServiceServicer):
    def __init__(self, core: PredictionCore) -> None:
        self.core = core

    async def ServerLive(self, request: oip_pb.ServerLiveRequest, context) -> oip_pb.ServerLiveResponse:
        return _LIVE if self.core.server_live() else oip_pb.ServerLiveResponse(live=False)

    async def ServerReady(self, request: oip_pb.ServerReadyRequest, context) -> oip_pb.ServerReadyResponse:
        return oip_pb.ServerReadyResponse(ready=self.core.server_ready())

    async def ModelReady(self, request: oip_pb.ModelReadyRequest, context) -> oip_pb.ModelReadyResponse:
        return oip_pb.ModelReadyResponse(ready=await self.core.model_ready(request.name, request.version))

    async def ServerMetadata(self, request: oip_pb.ServerMetadataRequest, context) -> oip_pb.ServerMetadataResponse:
        return convert.server_metadata_response(self.core.server)

    async def ModelMetadata(self, request: oip_pb.ModelMetadataRequest, context) -> oip_pb.ModelMetadataResponse:
        info, versions = await self.core.model_metadata(request.name, request.version)
        return convert.model_metadata_response(info, versions)

    async def ModelInfer(self, request: oip_pb.ModelInferRequest, context) -> oip_pb.ModelInferResponse:
        answer = await self.core.infer(
            request.model_name, request.model_version, convert.infer_inputs(request), convert.infer_requested(request))
        return convert.infer_response(answer, request)


def inference_binding(core: PredictionCore) -> ServiceBinding:
    # Tensors are not walked for NUL per request (the hot path; see runtime/screening.py).
    return bind(
        INFERENCE_SERVICE_NAME, oip_grpc.add_GRPCInferenceServiceServicer_to_server, InferenceServicer(core),
        screen_strings=False,
    )
