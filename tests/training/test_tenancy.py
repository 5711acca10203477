"""Tenancy on TrainingService through the real training mesh (orchestrator, registry,
connector in-process; a `chatdb worker` process): a job belongs to its creator's tenant,
another tenant's job is NOT_FOUND on Get/Cancel/Watch and absent from List, and the
worker registers the job's model version as the job's tenant — so the model is that
tenant's, and a job cannot add versions to another tenant's model nor read another
tenant's connection."""

from __future__ import annotations

import uuid

import grpc
import pytest
from chatdb.connector.v1 import connection_pb2, connector_service_pb2, connector_service_pb2_grpc
from chatdb.registry.v1 import model_registry_service_pb2 as reg_pb
from chatdb.training.v1 import job_state_pb2 as states
from chatdb.training.v1 import training_job_pb2 as job_pb
from chatdb.training.v1 import training_service_pb2 as pb

from servers.runtime.identity import Principal
from servers.runtime.status import details_from_rpc_error

from .test_service import TERMINAL, spec, wait_for

A = Principal("key:a", tenant="tenant-a", role="user").metadata()
B = Principal("key:b", tenant="tenant-b", role="user").metadata()


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _create(mesh, job, metadata, request_id: str = "") -> job_pb.TrainingJob:
    reply = await mesh.training.CreateTrainingJob(
        pb.CreateTrainingJobRequest(training_job=job, request_id=request_id), metadata=metadata, timeout=30)
    return reply.training_job


async def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        if hasattr(call, "__aiter__"):
            async for _ in call:
                pass
        else:
            await call
    return info.value.code()


async def _listed(mesh, metadata) -> set[str]:
    out, token = set(), ""
    while True:
        r = await mesh.training.ListTrainingJobs(
            pb.ListTrainingJobsRequest(page_size=100, page_token=token), metadata=metadata)
        out.update(j.job_id for j in r.training_jobs)
        token = r.next_page_token
        if not token:
            return out


async def test_jobs_and_their_models_belong_to_the_creating_tenant(worker):
    mesh = worker
    model = _name("tenant-churn")
    job = await _create(mesh, spec(model, dataset=job_pb.Dataset(csv_path="churn.csv"), target="label"), A)
    assert job.tenant == "tenant-a"
    shared = await _create(mesh, spec(_name("shared-churn"), dataset=job_pb.Dataset(csv_path="churn.csv"),
                                      target="label"), None)
    assert shared.tenant == ""

    # B cannot see or touch A's job; A and internal callers can.
    for call in (
        mesh.training.GetTrainingJob(pb.GetTrainingJobRequest(job_id=job.job_id), metadata=B),
        mesh.training.CancelTrainingJob(pb.CancelTrainingJobRequest(job_id=job.job_id), metadata=B),
        mesh.training.WatchTrainingJob(pb.WatchTrainingJobRequest(job_id=job.job_id), metadata=B),
    ):
        assert await _code(call) is grpc.StatusCode.NOT_FOUND
    seen_b, seen_a = await _listed(mesh, B), await _listed(mesh, A)
    assert job.job_id not in seen_b and shared.job_id in seen_b
    assert {job.job_id, shared.job_id} <= seen_a
    # A shared job: visible, but only admins cancel it.
    assert await _code(mesh.training.CancelTrainingJob(
        pb.CancelTrainingJobRequest(job_id=shared.job_id), metadata=A)) is grpc.StatusCode.PERMISSION_DENIED
    # A request id reused by another tenant does not replay A's job to B.
    rid = _name("rid")
    await _create(mesh, spec(_name("rid-model"), dataset=job_pb.Dataset(csv_path="churn.csv"), target="label"), A, rid)
    assert await _code(_create(mesh, spec(_name("rid-model"), dataset=job_pb.Dataset(csv_path="churn.csv"),
                                          target="label"), B, rid)) is grpc.StatusCode.INVALID_ARGUMENT

    done = await wait_for(mesh, job.job_id, TERMINAL)
    assert done.state == states.JOB_STATE_SUCCEEDED, done.error
    assert done.tenant == "tenant-a"
    # The worker registered the version as the job's tenant.
    registered = (await mesh.registry.GetModel(reg_pb.GetModelRequest(model=model), timeout=10)).model
    assert registered.tenant == "tenant-a" and registered.aliases["staging"] == done.model_version.version
    assert await _code(mesh.registry.GetModel(reg_pb.GetModelRequest(model=model), metadata=B)) \
        is grpc.StatusCode.NOT_FOUND
    assert (await wait_for(mesh, shared.job_id, TERMINAL)).state == states.JOB_STATE_SUCCEEDED

    # B's job on A's model name: the registry refuses the version, the job fails saying so.
    theirs = await _create(mesh, spec(model, dataset=job_pb.Dataset(csv_path="churn.csv"), target="label"), B)
    failed = await wait_for(mesh, theirs.job_id, TERMINAL)
    assert failed.state == states.JOB_STATE_FAILED
    assert failed.error.code == grpc.StatusCode.PERMISSION_DENIED.value[0], failed.error
    versions = (await mesh.registry.ListModelVersions(reg_pb.ListModelVersionsRequest(model=model))).model_versions
    assert [v.version for v in versions] == [done.model_version.version]


async def test_a_job_cannot_read_another_tenants_connection(mesh, pg_database):
    cid = _name("tenant-conn")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.settings.connector_port}") as channel:
        stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
        await stub.CreateConnection(connector_service_pb2.CreateConnectionRequest(
            connection_id=cid,
            connection=connection_pb2.Connection(kind=connection_pb2.CONNECTION_KIND_POSTGRES, dsn=pg_database),
        ), metadata=A, timeout=30)
        try:
            query = job_pb.Dataset(connection_query=job_pb.Dataset.ConnectionQuery(
                connection_id=cid, sql="SELECT 1 AS x, 1 AS y"))
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await _create(mesh, spec(_name("peek"), dataset=query, target="y"), B)
            assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            described = {v.field: v.description for v in details_from_rpc_error(err.value).violations}
            assert "not found" in described["training_job.dataset.connection_query"]
        finally:
            await stub.DeleteConnection(connector_service_pb2.DeleteConnectionRequest(connection_id=cid))
