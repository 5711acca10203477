"""What `make up` shows once the mesh is up: each capability that has landed, answering."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import grpc
from chatdb.connector.v1 import connector_service_pb2 as conn_pb
from chatdb.connector.v1 import connector_service_pb2_grpc, statement_pb2
from chatdb.training.v1 import job_state_pb2, training_service_pb2_grpc
from chatdb.training.v1 import training_job_pb2 as job_pb
from chatdb.training.v1 import training_service_pb2 as training_pb

from servers.connector.cli import register_demo_connections
from servers.connector.convert import cell_to_value
from servers.runtime.settings import Settings

BIN = Path(sys.executable).parent

# "Total sales by region last month", as the connector runs it (read-only, bound dates).
SALES_BY_REGION = {
    "demo-postgres": (
        "SELECT region, count(*) AS sales, sum(amount) AS total FROM sales "
        "WHERE sale_date >= date_trunc('month', current_date) - interval '1 month' "
        "AND sale_date < date_trunc('month', current_date) GROUP BY region ORDER BY total DESC"
    ),
    "demo-mysql": (
        "SELECT region, count(*) AS sales, sum(amount) AS total FROM sales "
        "WHERE sale_date >= DATE_FORMAT(CURRENT_DATE - INTERVAL 1 MONTH, '%Y-%m-01') "
        "AND sale_date < DATE_FORMAT(CURRENT_DATE, '%Y-%m-01') GROUP BY region ORDER BY total DESC"
    ),
}


async def show(settings: Settings) -> None:
    print("\n== connector: demo databases and a question's SQL")
    loader = await asyncio.create_subprocess_exec(str(BIN / "chatdb"), "demo-data")
    if await loader.wait() != 0:
        raise SystemExit("chatdb demo-data failed")
    address = f"127.0.0.1:{settings.connector_port}"
    await register_demo_connections(address, settings=settings)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
        for connection_id, sql in SALES_BY_REGION.items():
            reply = await stub.ExecuteQuery(
                conn_pb.ExecuteQueryRequest(
                    connection_id=connection_id,
                    statement=statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql=sql)),
                ),
                timeout=30,
            )
            print(f"\n{connection_id}: total sales by region last month "
                  f"({reply.rows_returned} rows, {reply.execution_time.ToMilliseconds()} ms)")
            names = [c.name for c in reply.columns]
            print("  " + "  ".join(f"{n:>14}" for n in names))
            for row in reply.rows:
                print("  " + "  ".join(f"{str(cell_to_value(c)):>14}" for c in row.cells))
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
            print(f"\nDELETE FROM sales on a read-only connection: {exc.code().name}: {exc.details()}")
    version = await show_training(settings)
    if version:
        await show_prediction(settings, *version)


async def show_training(settings: Settings) -> tuple[str, int] | None:
    """A model trained from the demo database as a background job, then registered; the
    (model, version) it produced."""
    print("\n== ML platform: train a model from demo-postgres, as a job on the worker queue")
    job = job_pb.TrainingJob(
        model_name="demo-product-category",
        task=job_pb.TASK_CLASSIFICATION,
        algorithm="random_forest",
        target="category",
        dataset=job_pb.Dataset(connection_query=job_pb.Dataset.ConnectionQuery(
            connection_id="demo-postgres",
            sql="SELECT p.category, oi.quantity, oi.unit_price FROM order_items oi JOIN products p USING (product_id)",
        )),
    )
    job.hyperparameters["n_estimators"].number_value = 30
    async with grpc.aio.insecure_channel(f"127.0.0.1:{settings.training_port}") as channel:
        stub = training_service_pb2_grpc.TrainingServiceStub(channel)
        # A fixed request id: running `make up` again shows the same job, not a new one.
        created = (await stub.CreateTrainingJob(
            training_pb.CreateTrainingJobRequest(training_job=job, request_id="make-up-demo-model-v2"), timeout=60,
        )).training_job
        async for message in stub.WatchTrainingJob(training_pb.WatchTrainingJobRequest(job_id=created.job_id), timeout=300):
            done = message.training_job
    state = job_state_pb2.JobState.Name(done.state).removeprefix("JOB_STATE_")
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in sorted(done.metrics.items()))
    print(f"job {done.job_id}: {state} after {done.attempts} attempt(s); {metrics}")
    if not done.HasField("model_version"):
        return None
    print(f"registered as {done.model_version.model} version {done.model_version.version} (`chatdb models`)")
    return done.model_version.model, done.model_version.version


async def show_prediction(settings: Settings, model: str, version: int) -> None:
    """The registered version answering through the prediction service (loaded from the
    registry on first use)."""
    from chatdb.prediction.v1 import prediction_service_pb2 as pred_pb
    from chatdb.prediction.v1 import prediction_service_pb2_grpc
    from google.protobuf import struct_pb2

    print("\n== prediction: the new version answering (`chatdb predict`)")
    record = {"quantity": 3, "unit_price": 19.99}
    row = struct_pb2.Struct()
    row.update(record)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{settings.prediction_port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        reply = await stub.Predict(pred_pb.PredictRequest(model=model, version=version, records=[row]), timeout=60)
    answer = reply.predictions[0]
    top = sorted(answer.probabilities.items(), key=lambda kv: -kv[1])[:3]
    print(f"{model} v{reply.version} {record}: {answer.label.string_value} "
          f"({', '.join(f'{label} {p:.2f}' for label, p in top)})")
