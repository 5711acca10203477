"""Malformed TrainingService requests from a fixed seed against the real orchestrator:
none may come back INTERNAL, UNKNOWN or RESOURCE_EXHAUSTED, and good calls still work
afterwards. Plus the regressions of the hardening issue, one per defect.

CHATDB_FUZZ_CASES (250) and CHATDB_FUZZ_SEED widen a local run."""

from __future__ import annotations

import os
import random

import grpc
from chatdb.training.v1 import training_job_pb2 as job_pb
from chatdb.training.v1 import training_service_pb2 as pb
from chatdb.training.v1 import training_service_pb2_grpc as pb_grpc
from google.protobuf import struct_pb2

from servers.runtime.status import details_from_rpc_error

from ..fuzz_support import (
    HUGE,
    deep_value,
    garbage,
    judge,
    length_delimited,
    odd_string,
    outcome,
    raw_unary,
)

CASES = int(os.environ.get("CHATDB_FUZZ_CASES", "250"))
SERVICE = "/chatdb.training.v1.TrainingService/"


def _value(rng: random.Random) -> struct_pb2.Value:
    value = struct_pb2.Value()
    pick = rng.choice(["num", "nan", "inf", "str", "list", "struct", "null", "bool"])
    if pick == "num":
        value.number_value = rng.choice([0.1, 1.0, -5, 1e308, 2**63])
    elif pick == "nan":
        value.number_value = float("nan")
    elif pick == "inf":
        value.number_value = float("-inf")
    elif pick == "str":
        value.string_value = odd_string(rng, "l2")
    elif pick == "list":
        value.list_value.values.add().string_value = odd_string(rng, "a")
    elif pick == "struct":
        value.struct_value.fields[odd_string(rng, "k")].number_value = 1
    elif pick == "null":
        value.null_value = struct_pb2.NULL_VALUE
    else:
        value.bool_value = True
    return value


def _job(rng: random.Random) -> job_pb.TrainingJob:
    """A spec with every field at risk, or (a third of the time) a good one."""
    clean = rng.random() < 0.35

    def text(good: str) -> str:
        return good if clean else odd_string(rng, good)

    job = job_pb.TrainingJob(
        model_name=text("fuzz-churn"),
        task=job_pb.TASK_CLASSIFICATION if clean else rng.choice([job_pb.TASK_CLASSIFICATION, 0, 2, 3, 99]),
        algorithm=text("logistic_regression"),
        target=text("label"),
        features=[text(f) for f in rng.sample(["tenure", "spend", "segment"], k=rng.randint(0, 3))],
        test_fraction=0.2 if clean else rng.choice([0, 0.2, -1, 1.5, float("nan"), float("inf")]),
    )
    if not clean and rng.random() < 0.3:
        job.seed = rng.choice([0, -1, 2**40, 2**63 - 1])
    if not clean:
        for _ in range(rng.randint(0, 2)):
            job.hyperparameters[odd_string(rng, rng.choice(["C", "max_iter", "zz"]))].CopyFrom(_value(rng))
    source = "csv" if clean else rng.choice(["csv", "csv", "records", "query", "none"])
    if source == "csv":
        job.dataset.csv_path = text("churn.csv")
    elif source == "records":
        for _ in range(rng.randint(0, 4)):
            record = job.dataset.inline_records.records.add()
            record.fields[odd_string(rng, "tenure")].number_value = rng.uniform(-1, 1)
            record.fields[odd_string(rng, "label")].CopyFrom(_value(rng))
    elif source == "query":
        job.dataset.connection_query.connection_id = odd_string(rng, "no-such-connection")
        job.dataset.connection_query.sql = odd_string(rng, "SELECT 1")
    return job


async def test_no_malformed_training_request_becomes_an_internal_error(mesh, channel_to):
    channel = channel_to(f"127.0.0.1:{mesh.settings.training_port}")
    stub = pb_grpc.TrainingServiceStub(channel)
    good = await stub.CreateTrainingJob(pb.CreateTrainingJobRequest(training_job=job_pb.TrainingJob(
        model_name="fuzz-churn", task=job_pb.TASK_CLASSIFICATION, algorithm="logistic_regression",
        target="label", dataset=job_pb.Dataset(csv_path="churn.csv"))), timeout=30)
    job_id = good.training_job.job_id
    rng = random.Random(int(os.environ.get("CHATDB_FUZZ_SEED", "20261203")))
    seen: dict[str, set[str]] = {}
    failures: list = []
    kinds = ["create", "create", "get", "list", "cancel", "watch", "raw", "deep"]
    for case in range(CASES):
        kind = rng.choice(kinds)
        stream = False
        if kind == "create":
            call = stub.CreateTrainingJob(pb.CreateTrainingJobRequest(
                training_job=_job(rng), request_id=rng.choice(["", "", "", "\x00", "r" * 200, f"fuzz-{case}"])), timeout=30)
        elif kind == "get":
            call = stub.GetTrainingJob(pb.GetTrainingJobRequest(job_id=odd_string(rng, job_id)), timeout=10)
        elif kind == "list":
            call = stub.ListTrainingJobs(pb.ListTrainingJobsRequest(
                page_size=rng.choice([0, 1, -1, 2**31 - 1]), page_token=odd_string(rng, ""),
                state=rng.choice([0, 1, 3, 99]), model_name=odd_string(rng, "fuzz-churn")), timeout=10)
        elif kind == "cancel":
            # Never the good job: it must stay QUEUED for the watch cases.
            call = stub.CancelTrainingJob(pb.CancelTrainingJobRequest(job_id=odd_string(rng, "job-0000")), timeout=10)
        elif kind == "watch":
            call, stream = stub.WatchTrainingJob(pb.WatchTrainingJobRequest(job_id=odd_string(rng, job_id)), timeout=10), True
        elif kind == "raw":
            method = rng.choice(["CreateTrainingJob", "GetTrainingJob", "ListTrainingJobs", "CancelTrainingJob"])
            call = raw_unary(channel, SERVICE + method)(garbage(rng), timeout=10)
        else:
            depth = rng.choice([3, 20, 40, 150])
            body = _job(rng).SerializeToString() + length_delimited(9, length_delimited(1, b"deep") + length_delimited(2, deep_value(depth)))
            call = raw_unary(channel, SERVICE + "CreateTrainingJob")(length_delimited(1, body), timeout=30)
        code, details = await outcome(call, stream=stream, first_only_s=0.5 if stream else None)
        seen.setdefault(kind, set()).add(code.name)
        judge(failures, case, kind, code, details)
    assert not failures, failures[:10]
    assert all(len(seen[k]) >= 2 for k in ("create", "get", "list", "cancel", "watch")), seen
    assert (await stub.GetTrainingJob(pb.GetTrainingJobRequest(job_id=job_id), timeout=10)).training_job.job_id == job_id


# --- one regression per defect of the issue (each failed before the fix) ---------------------


async def _fails(call) -> grpc.aio.AioRpcError:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError("the call succeeded")


async def test_nul_bytes_in_ids_filters_and_paths_are_invalid_argument(mesh):
    """Before: asyncpg CharacterNotInRepertoireError / ValueError('embedded null byte')
    answered INTERNAL on every one of these."""
    stub = mesh.training
    job = job_pb.TrainingJob(model_name="nul", task=job_pb.TASK_CLASSIFICATION, algorithm="logistic_regression",
                             target="label", dataset=job_pb.Dataset(csv_path="churn\x00.csv"))
    watch = stub.WatchTrainingJob(pb.WatchTrainingJobRequest(job_id="job-\x00"), timeout=10)
    calls = {
        "job_id": [stub.GetTrainingJob(pb.GetTrainingJobRequest(job_id="job-\x00"), timeout=10),
                   stub.CancelTrainingJob(pb.CancelTrainingJobRequest(job_id="job-\x00"), timeout=10),
                   watch.read()],
        "model_name": [stub.ListTrainingJobs(pb.ListTrainingJobsRequest(model_name="a\x00"), timeout=10)],
        "training_job.dataset.csv_path": [stub.CreateTrainingJob(pb.CreateTrainingJobRequest(training_job=job), timeout=10)],
    }
    for field, pending in calls.items():
        for call in pending:
            error = await _fails(call)
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (field, error.details())
            assert [v.field for v in details_from_rpc_error(error).violations] == [field]
            assert "NUL" in error.details()


async def test_undecodable_and_too_deep_requests_are_invalid_argument(mesh, channel_to):
    """Before: UNKNOWN "Unexpected <class 'google.protobuf.message.DecodeError'>: ..."."""
    channel = channel_to(f"127.0.0.1:{mesh.settings.training_port}")
    error = await _fails(raw_unary(channel, SERVICE + "GetTrainingJob")(b"\xff\xff\xff\xff", timeout=10))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "chatdb.training.v1.GetTrainingJobRequest" in error.details() and "class" not in error.details()
    body = length_delimited(9, length_delimited(1, b"deep") + length_delimited(2, deep_value(120)))
    error = await _fails(raw_unary(channel, SERVICE + "CreateTrainingJob")(length_delimited(1, body), timeout=10))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "nested" in error.details()


async def test_a_huge_id_is_not_found_with_a_short_quote(mesh):
    """Before: RESOURCE_EXHAUSTED "received metadata size exceeds hard limit"."""
    huge = "j" * HUGE
    error = await _fails(mesh.training.GetTrainingJob(pb.GetTrainingJobRequest(job_id=huge), timeout=10))
    assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
    assert len(error.details()) < 1000 and "training job 'jjj" in error.details()
    assert all(len(v) <= 200 for v in details_from_rpc_error(error).metadata.values())
