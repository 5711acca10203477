"""TrainingService servicer: translation only; the policy lives in TrainingCore."""

from __future__ import annotations

from chatdb.training.v1 import training_service_pb2 as pb
from chatdb.training.v1 import training_service_pb2_grpc

from servers.runtime.errors import InvalidArgument

from .convert import job_to_proto, spec_from_proto, state_from_proto
from .core import TrainingCore

MAX_REQUEST_ID_CHARS = 128


def _request_id(value: str) -> str:
    if len(value) > MAX_REQUEST_ID_CHARS:
        raise InvalidArgument(f"must be at most {MAX_REQUEST_ID_CHARS} characters", field="request_id")
    return value


def _job_id(value: str) -> str:
    if not value:
        raise InvalidArgument("is required", field="job_id")
    return value.removeprefix("trainingJobs/")


class TrainingServicer(training_service_pb2_grpc.TrainingServiceServicer):
    def __init__(self, core: TrainingCore) -> None:
        self.core = core

    async def CreateTrainingJob(self, request: pb.CreateTrainingJobRequest, context) -> pb.CreateTrainingJobResponse:
        job = await self.core.create(spec_from_proto(request.training_job), _request_id(request.request_id))
        return pb.CreateTrainingJobResponse(training_job=job_to_proto(job))

    async def GetTrainingJob(self, request: pb.GetTrainingJobRequest, context) -> pb.GetTrainingJobResponse:
        return pb.GetTrainingJobResponse(training_job=job_to_proto(await self.core.get(_job_id(request.job_id))))

    async def ListTrainingJobs(self, request: pb.ListTrainingJobsRequest, context) -> pb.ListTrainingJobsResponse:
        jobs, token = await self.core.list(
            requested_page_size=request.page_size,
            page_token=request.page_token,
            state=state_from_proto(request.state),
            model_name=request.model_name or None,
        )
        return pb.ListTrainingJobsResponse(training_jobs=[job_to_proto(j) for j in jobs], next_page_token=token)

    async def CancelTrainingJob(self, request: pb.CancelTrainingJobRequest, context) -> pb.CancelTrainingJobResponse:
        return pb.CancelTrainingJobResponse(training_job=job_to_proto(await self.core.cancel(_job_id(request.job_id))))

    async def WatchTrainingJob(self, request: pb.WatchTrainingJobRequest, context):
        async for job in self.core.watch(_job_id(request.job_id)):
            yield pb.WatchTrainingJobResponse(training_job=job_to_proto(job))
