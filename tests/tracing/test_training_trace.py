"""A training job is one trace across processes: CreateTrainingJob's SERVER span (the
orchestrator, in this process) → the real `chatdb worker`'s attempt span (another
process, its spans in its file exporter's JSON lines) → the worker's CLIENT call →
the registry's CreateModelVersion SERVER span (in this process)."""

from __future__ import annotations

import asyncio

from chatdb.training.v1 import job_state_pb2 as states
from chatdb.training.v1 import training_job_pb2 as job_pb

from servers.runtime.tracing import read_spans
from tests.training.conftest import open_mesh, write_csv
from tests.training.test_service import TERMINAL, create, spec, wait_for

CREATE = "chatdb.training.v1.TrainingService/CreateTrainingJob"
UPLOAD = "chatdb.registry.v1.ModelRegistryService/CreateModelVersion"


def hex_trace(span) -> str:
    return format(span.context.trace_id, "032x")


async def test_a_training_job_is_one_trace_from_create_to_the_registry(settings, tmp_path, spans):
    write_csv(tmp_path / "data" / "tiny.csv", ["x", "y"], [(i, i % 2) for i in range(40)])
    trace_dir = tmp_path / "traces"
    async with open_mesh(settings, tmp_path / "data") as mesh:
        mesh.start_worker(CHATDB_TRACE_EXPORTER="file", CHATDB_TRACE_DIR=str(trace_dir),
                          OTEL_BSP_SCHEDULE_DELAY="100")
        job = await create(mesh, spec("traced-model", dataset=job_pb.Dataset(csv_path="tiny.csv"), target="y"))
        done = await wait_for(mesh, job.job_id, TERMINAL)
        assert done.state == states.JOB_STATE_SUCCEEDED, done.error

        (created,) = [s for s in spans.exporter.get_finished_spans() if s.name == CREATE]
        trace_id = hex_trace(created)
        worker_file = trace_dir / "worker.jsonl"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while loop.time() < deadline:  # the worker exports every 100 ms
            worker = [s for s in read_spans(worker_file) if s["trace_id"] == trace_id]
            if any(s["name"] == "training attempt" for s in worker):
                break
            await asyncio.sleep(0.1)

    (attempt,) = [s for s in worker if s["name"] == "training attempt"]
    assert attempt["service"] == "worker" and attempt["kind"] == "CONSUMER"
    assert attempt["parent_span_id"] == format(created.context.span_id, "016x")
    assert attempt["attributes"]["chatdb.job_id"] == job.job_id
    assert attempt["attributes"]["chatdb.outcome"] == "succeeded"

    # The registry's SERVER span of the upload: its parent is the worker's CLIENT span,
    # whose parent is the attempt.
    worker_by_id = {s["span_id"]: s for s in worker}
    (upload,) = [s for s in spans.of_trace(trace_id) if s.name == UPLOAD]
    assert upload.resource.attributes["service.name"] == "registry"
    client = worker_by_id[format(upload.parent.span_id, "016x")]
    assert (client["kind"], client["name"], client["parent_span_id"]) == ("CLIENT", UPLOAD, attempt["span_id"])
    assert client["attributes"]["rpc.grpc.status_code"] == 0
