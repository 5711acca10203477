"""The KServe v2 / Open Inference Protocol servicer (inference.GRPCInferenceService), on
the same core as PredictionService, so tritonclient and other OIP clients work as is."""

from __future__ import annotations

from inference import grpc_service_pb2 as pb
from inference import grpc_service_pb2_grpc as pb_grpc

from servers.runtime.server import ServiceBinding, bind

from . import convert
from .core import PredictionCore

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name

_LIVE = pb.ServerLiveResponse(live=True)


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, core: PredictionCore) -> None:
        self.core = core

    async def ServerLive(self, request: pb.ServerLiveRequest, context) -> pb.ServerLiveResponse:
        return _LIVE if self.core.server_live() else pb.ServerLiveResponse(live=False)

    async def ServerReady(self, request: pb.ServerReadyRequest, context) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self.core.server_ready())

    async def ModelReady(self, request: pb.ModelReadyRequest, context) -> pb.ModelReadyResponse:
        return pb.ModelReadyResponse(ready=await self.core.model_ready(request.name, request.version))

    async def ServerMetadata(self, request: pb.ServerMetadataRequest, context) -> pb.ServerMetadataResponse:
        return convert.server_metadata_response(self.core.server)

    async def ModelMetadata(self, request: pb.ModelMetadataRequest, context) -> pb.ModelMetadataResponse:
        info, versions = await self.core.model_metadata(request.name, request.version)
        return convert.model_metadata_response(info, versions)

    async def ModelInfer(self, request: pb.ModelInferRequest, context) -> pb.ModelInferResponse:
        answer = await self.core.infer(
            request.model_name, request.model_version, convert.infer_inputs(request), convert.infer_requested(request))
        return convert.infer_response(answer, request)


def inference_binding(core: PredictionCore) -> ServiceBinding:
    # Tensors are not walked for NUL per request (the hot path; see runtime/screening.py).
    return bind(
        SERVICE_NAME, pb_grpc.add_GRPCInferenceServiceServicer_to_server, InferenceServicer(core), screen_strings=False
    )
