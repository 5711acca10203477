"""Request screening (undecodable bytes, NUL characters) and the size bounds of error
statuses, without a server; the fuzz tests of each service cover them end to end."""

from __future__ import annotations

import asyncpg
from chatdb.registry.v1 import model_registry_service_pb2 as reg
from chatdb.training.v1 import training_job_pb2 as job_pb
from chatdb.training.v1 import training_service_pb2 as pb
from google.protobuf import struct_pb2

from servers.runtime.errors import FieldViolation, InvalidArgument, NotFound, quote
from servers.runtime.screening import Refused, input_error, nul_violations, screening_deserializer
from servers.runtime.status import MAX_DETAILS_BYTES, MAX_MESSAGE_BYTES, bounded, to_status_proto


def test_nul_violations_name_the_path_of_every_string_kind():
    job = job_pb.TrainingJob(model_name="ok", features=["a", "b\x00"])
    job.hyperparameters["k\x00"].number_value = 1
    job.hyperparameters["deep"].struct_value.update({"x": [1, {"y": "z\x00"}]})
    job.dataset.inline_records.records.add().update({"v": "\x00"})
    request = pb.CreateTrainingJobRequest(training_job=job, request_id="r\x00")
    fields = {v.field for v in nul_violations(request)}
    assert fields == {
        "training_job.features[1]",
        "training_job.hyperparameters (a key)",
        "training_job.hyperparameters['deep'].struct_value.fields['x'].list_value.values[1].struct_value.fields['y'].string_value",
        "training_job.dataset.inline_records.records[0].fields['v'].string_value",
        "request_id",
    }
    assert nul_violations(pb.CreateTrainingJobRequest(training_job=job_pb.TrainingJob(model_name="fine"))) == []


def test_nul_violations_stop_at_the_limit():
    record = struct_pb2.Struct()
    record.update({f"k{i}": "\x00" for i in range(50)})
    request = pb.CreateTrainingJobRequest()
    for _ in range(20):
        request.training_job.dataset.inline_records.records.add().CopyFrom(record)
    assert len(nul_violations(request)) == 10


def test_screening_deserializer_refuses_instead_of_raising():
    screen = screening_deserializer(pb.GetTrainingJobRequest.FromString, screen_strings=True)
    assert screen(pb.GetTrainingJobRequest(job_id="job-1").SerializeToString()).job_id == "job-1"
    for data, words in ((b"\xff\xff", "wire format"), (b"\x0a\x02\xc3\x28", "UTF-8")):
        refused = screen(data)
        assert type(refused) is Refused and words in refused.error.message
        assert "chatdb.training.v1.GetTrainingJobRequest" in refused.error.message
    refused = screen(pb.GetTrainingJobRequest(job_id="a\x00").SerializeToString())
    assert type(refused) is Refused and [v.field for v in refused.error.violations] == ["job_id"]
    unscreened = screening_deserializer(pb.GetTrainingJobRequest.FromString, screen_strings=False)
    assert unscreened(pb.GetTrainingJobRequest(job_id="a\x00").SerializeToString()).job_id == "a\x00"
    # Bytes fields are never walked (upload chunks).
    chunk = screening_deserializer(reg.CreateModelVersionRequest.FromString, screen_strings=True)
    assert chunk(reg.CreateModelVersionRequest(chunk=b"\x00\x00").SerializeToString()).chunk == b"\x00\x00"


def test_driver_errors_that_only_bad_input_causes_are_invalid_argument():
    assert isinstance(input_error(ValueError("embedded null byte")), InvalidArgument)
    assert isinstance(input_error(asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence")), InvalidArgument)
    assert isinstance(input_error(asyncpg.exceptions.UntranslatableCharacterError("\\u0000")), InvalidArgument)
    assert input_error(ValueError("something else")) is None
    assert input_error(KeyError("x")) is None


def test_quote_keeps_at_most_200_characters_of_input():
    assert quote("abc") == "'abc'"
    long = quote("x" * 20_000)
    assert long.startswith("'xxx") and long.endswith("… (20000 characters)") and len(long) < 240
    assert quote(b"\x00" * 500).endswith("(500 bytes)")


def test_statuses_stay_small_whatever_they_quote():
    huge = "ä" * 20_000
    status = to_status_proto(NotFound(f"training job {huge!r} not found", metadata={"job_id": huge, "other": "x"}))
    assert len(status.message.encode()) <= MAX_MESSAGE_BYTES + 40
    assert status.message.startswith("training job 'ää") and status.message.endswith("' not found")
    assert status.ByteSize() <= MAX_DETAILS_BYTES
    many = InvalidArgument.from_violations([FieldViolation(f"f{i}" * 100, huge) for i in range(100)])
    status = to_status_proto(many)
    assert status.ByteSize() <= MAX_DETAILS_BYTES + MAX_MESSAGE_BYTES
    assert bounded("short", 10) == "short"
