"""What `make up` shows once the mesh is up: each capability that has landed, answering."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import grpc
from chatdb.connector.v1 import connector_service_pb2 as conn_pb
from chatdb.connector.v1 import connector_service_pb2_grpc, statement_pb2
from chatdb.training.v1 import job_state_pb2, training_service_pb2_grpc
from chatdb.training.v1 import training_job_pb2 as job_pb
from chatdb.training.v1 import training_service_pb2 as training_pb

from deploy.commands import cli_line
from gateway.cli import ask_and_show, gateway_address
from servers.runtime.channels import open_channel
from servers.runtime.settings import Settings

BIN = Path(sys.executable).parent

# Asked in plain English on each demo database through the gateway's Ask: the parser
# writes the statement, the connector runs it read-only, the gateway answers.
DEMO_QUESTIONS = {
    "demo-postgres": "total sales by region last month",
    "demo-mysql": "what is the average salary per department",
    "demo-mongo": "how many customers are there in each segment",  # only when a demo-mongo connection exists
}


async def show(settings: Settings, *, skip: set[str] = frozenset()) -> None:
    """The capabilities answering, on the demo connections `chatdb demo-data` registered
    (those in `skip`, whose server is absent, left out)."""
    address = f"127.0.0.1:{settings.connector_port}"
    async with open_channel(settings, address=address) as channel:
        stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
        refused = stub.ExecuteQuery(
            conn_pb.ExecuteQueryRequest(
                connection_id="demo-postgres",
                statement=statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql="DELETE FROM sales")),
            ),
            timeout=30,
        )
        try:
            await refused
        except grpc.aio.AioRpcError as exc:
            print(f"DELETE FROM sales on a read-only connection: {exc.code().name}: {exc.details()}")
        connections = [c for c in await demo_connections(stub) if c not in skip]
    version = await show_training(settings)
    if version:
        await show_prediction(settings, *version)
    await show_questions(settings, connections)
    await show_status()


async def demo_connections(stub: connector_service_pb2_grpc.ConnectorServiceStub) -> list[str]:
    """The demo connections that exist, in DEMO_QUESTIONS' order (demo-mongo only when
    someone registered it: `make up` loads no MongoDB)."""
    found, token = set(), ""
    while True:
        page = await stub.ListConnections(conn_pb.ListConnectionsRequest(page_size=1000, page_token=token), timeout=30)
        found |= {c.connection_id for c in page.connections}
        token = page.next_page_token
        if not token:
            return [cid for cid in DEMO_QUESTIONS if cid in found]


async def show_questions(settings: Settings, connections: list[str]) -> None:
    """One question in plain English per demo database, through the gateway, printed as
    `chatdb ask` prints it."""
    print("\n== gateway: questions in plain English on the demo databases (`chatdb ask`)")
    address = gateway_address(settings)
    for connection_id in connections:
        print(f"\n[{connection_id}]")
        await ask_and_show(address, DEMO_QUESTIONS[connection_id], connection_id=connection_id, settings=settings)


async def show_status() -> int:
    """`chatdb status` as it prints; its exit status is the degradation level."""
    print("\n== gateway: the mesh's degradation level (`chatdb status`)")
    status = await asyncio.create_subprocess_exec(str(BIN / "chatdb"), "status")
    level = await status.wait()
    print(f"chatdb status: exit status {level}" + (" (gateway unreachable)" if level == 5 else f" = level {level}"))
    return level


DEMO_MODEL = "demo-product-category"
DEMO_REQUEST_ID = "make-up-demo-model-v2"  # fixed: running `make up` again shows the same job
MAX_RETRAINS = 3


def _demo_job() -> job_pb.TrainingJob:
    job = job_pb.TrainingJob(
        model_name=DEMO_MODEL,
        task=job_pb.TASK_CLASSIFICATION,
        algorithm="random_forest",
        target="category",
        dataset=job_pb.Dataset(connection_query=job_pb.Dataset.ConnectionQuery(
            connection_id="demo-postgres",
            sql="SELECT p.category, oi.quantity, oi.unit_price FROM order_items oi JOIN products p USING (product_id)",
        )),
    )
    job.hyperparameters["n_estimators"].number_value = 30
    return job


async def _run_job(settings: Settings, request_id: str) -> job_pb.TrainingJob:
    async with open_channel(settings, "training") as channel:
        stub = training_service_pb2_grpc.TrainingServiceStub(channel)
        created = (await stub.CreateTrainingJob(
            training_pb.CreateTrainingJobRequest(training_job=_demo_job(), request_id=request_id), timeout=60,
        )).training_job
        done = created
        async for message in stub.WatchTrainingJob(training_pb.WatchTrainingJobRequest(job_id=created.job_id), timeout=300):
            done = message.training_job
    return done


async def artifact_missing(settings: Settings, model: str, version: int) -> bool:
    """Whether the registry lists `version` but its artifact store lacks the file (a
    platform database shared by checkouts with different artifact stores, or a store
    that was wiped): the registry answers FAILED_PRECONDITION ARTIFACT_MISSING before
    sending any byte."""
    from chatdb.registry.v1 import model_registry_service_pb2 as reg_pb
    from chatdb.registry.v1 import model_registry_service_pb2_grpc

    from servers.runtime.status import details_from_rpc_error

    async with open_channel(settings, "registry") as channel:
        stub = model_registry_service_pb2_grpc.ModelRegistryServiceStub(channel)
        # Read to the end: cancelling the download stream midway crashed the registry
        # process (segfault in grpc's cygrpc, grpcio of this checkout).
        try:
            async for _ in stub.DownloadModelVersion(reg_pb.DownloadModelVersionRequest(model=model, version=version),
                                                     timeout=60):
                pass
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.FAILED_PRECONDITION and details_from_rpc_error(exc).reason == "ARTIFACT_MISSING":
                return True
            raise
    return False


async def show_training(settings: Settings) -> tuple[str, int] | None:
    """A model trained from the demo database as a background job, then registered; the
    (model, version) it produced, or None when there is none to show. A registered
    version whose artifact is missing here is trained again (one warning line), not
    shown failing."""
    print("\n== ML platform: train a model from demo-postgres, as a job on the worker queue")
    request_id = DEMO_REQUEST_ID
    try:
        for _ in range(MAX_RETRAINS + 1):
            done = await _run_job(settings, request_id)
            state = job_state_pb2.JobState.Name(done.state).removeprefix("JOB_STATE_")
            metrics = ", ".join(f"{k} {v:.3f}" for k, v in sorted(done.metrics.items()))
            print(f"job {done.job_id}: {state} after {done.attempts} attempt(s); {metrics}")
            if not done.HasField("model_version"):
                print(f"warning: the demo training job ended {state} without a model version; skipping the prediction demo"
                      + (f" ({done.error.message})" if done.error.message else ""))
                return None
            model, version = done.model_version.model, done.model_version.version
            if not await artifact_missing(settings, model, version):
                print(f"registered as {model} version {version} (`{cli_line('models', service='registry')}`)")
                return model, version
            print(f"warning: {model} version {version} is registered but its artifact is missing from "
                  f"{settings.artifact_dir} (platform database shared with another checkout, or the store was wiped); "
                  "training it again here")
            # Named after the missing version: the next `make up` finds this job again.
            request_id = f"{DEMO_REQUEST_ID}-after-v{version}"
    except grpc.aio.AioRpcError as exc:
        print(f"warning: the training demo is skipped: {exc.code().name}: {exc.details()}")
        return None
    print(f"warning: {DEMO_MODEL}: no version with its artifact after {MAX_RETRAINS} retrainings; skipping the prediction demo")
    return None


async def show_prediction(settings: Settings, model: str, version: int) -> None:
    """The registered version answering through the prediction service (loaded from the
    registry on first use)."""
    from chatdb.prediction.v1 import prediction_service_pb2 as pred_pb
    from chatdb.prediction.v1 import prediction_service_pb2_grpc
    from google.protobuf import struct_pb2

    record = {"quantity": 3, "unit_price": 19.99}
    command = cli_line("predict", model, "--version", str(version), "--record", json.dumps(record), service="prediction")
    print(f"\n== prediction: the new version answering (`{command}`)")
    row = struct_pb2.Struct()
    row.update(record)
    try:
        async with open_channel(settings, "prediction") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            reply = await stub.Predict(pred_pb.PredictRequest(model=model, version=version, records=[row]), timeout=60)
    except grpc.aio.AioRpcError as exc:
        print(f"warning: the prediction demo is skipped: {exc.code().name}: {exc.details()}")
        return
    answer = reply.predictions[0]
    top = sorted(answer.probabilities.items(), key=lambda kv: -kv[1])[:3]
    print(f"{model} v{reply.version} {record}: {answer.label.string_value} "
          f"({', '.join(f'{label} {p:.2f}' for label, p in top)})")
