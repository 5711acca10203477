"""Protobuf ⇄ domain for prediction: convert.py and its hand-written wire encodings
(wire.py) against protobuf's own parser and encoder:
every response shape decodes to exactly what the protobuf API would have built, and bulk
row decoding accepts exactly the requests whose rows are all numbers."""

from __future__ import annotations

import numpy as np
import pytest
from chatdb.prediction.v1 import prediction_pb2
from chatdb.prediction.v1 import prediction_service_pb2 as pb
from google.protobuf import struct_pb2

from servers.prediction import convert, wire
from servers.prediction.domain import Predictions


def _labels(values) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


CASES = {
    "probabilities": dict(
        labels=_labels(["b", "a", "ccc", "b"]), classes=("a", "b", "ccc"),
        probabilities=np.array([[0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.0, 0.25, 0.75], [1e-9, 1 - 1e-9, 0]],
                               dtype=np.float32)),
    "long and unicode classes": dict(
        labels=_labels(["été", "x" * 200]), classes=("x" * 200, "été"),
        probabilities=np.array([[0.4, 0.6], [0.9, 0.1]], dtype=np.float32)),
    "labels only (linear_svc)": dict(labels=_labels(["no", "yes", "yes"]), classes=("no", "yes")),
    "regression": dict(values=np.array([1.5, -2.25, 0.0, 1e30, np.nan], dtype=np.float32)),
    "nothing readable": dict(),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("seconds", [0.0, 0.000123456, 2.5])
def test_responses_decode_to_what_protobuf_builds(case, seconds):
    fields = CASES[case]
    rows = len(next(iter(fields.values()))) if fields else 3
    p = Predictions(model="m-1", version=300, rows=rows, inference_s=seconds, **fields)
    for encode, build, message in (
        (wire.predict_response_bytes, convert.predict_response, pb.PredictResponse),
        (wire.batch_predict_response_bytes, convert.batch_predict_response, pb.BatchPredictResponse),
    ):
        data = encode(p)
        assert data is not None
        decoded = message.FromString(data)
        assert decoded == build(p), case


@pytest.mark.parametrize("case", ["probabilities", "long and unicode classes", "labels only (linear_svc)"])
def test_label_indices_encode_as_the_labels_do(case):
    """Given each label's index in `classes` (models served with graph.index_labels), the
    encoders write the same bytes as from the names: the predictions, and the packed
    label tensor of PREDICTION_VIEW_OUTPUTS."""
    fields = CASES[case]
    codes = np.array([fields["classes"].index(label) for label in fields["labels"]], dtype=np.int64)
    named = Predictions(model="m", version=2, rows=len(codes), outputs={"label": fields["labels"]}, **fields)
    coded = Predictions(model="m", version=2, rows=len(codes), outputs={"label": fields["labels"]},
                        label_codes=codes, **fields)
    assert wire.batch_predict_response_bytes(coded) == wire.batch_predict_response_bytes(named)
    view = prediction_pb2.PREDICTION_VIEW_OUTPUTS
    assert convert.batch_predict_response_bytes(coded, view) == convert.batch_predict_response_bytes(named, view)


def test_labels_outside_the_classes_fall_back_to_protobuf():
    p = Predictions(model="m", version=1, rows=1, labels=_labels(["zzz"]), classes=("a", "b"),
                    probabilities=np.array([[0.5, 0.5]], dtype=np.float32))
    assert wire.predict_response_bytes(p) is None
    assert convert.predict_response_bytes(p).predictions[0].label.string_value == "zzz"


def _batch_request(rows, **fields) -> pb.BatchPredictRequest:
    request = pb.BatchPredictRequest(**fields)
    for row in rows:
        value = struct_pb2.ListValue()
        value.extend(row)
        request.rows.append(value)
    return request


@pytest.mark.parametrize("fields", [
    dict(model="m", columns=["a", "b", "c"]),
    dict(model="m" * 300, version=7, columns=["a", "é" * 70, "c"], batch_size=100000),
    dict(model="m", alias="staging", columns=["a", "b", "c"], batch_size=-1),
    dict(columns=["a", "b", "c"], version=0),
])
def test_numeric_rows_decode_in_bulk(fields):
    values = np.random.default_rng(0).normal(size=(50, 3))
    values[3, 1] = 0.0
    values[4, 2] = -0.0
    request = _batch_request(values.tolist(), **fields)
    request = pb.BatchPredictRequest.FromString(request.SerializeToString())
    matrix = convert.numeric_rows(request)
    assert matrix is not None
    np.testing.assert_array_equal(matrix, values)
    columns = convert.batch_inputs(request)
    assert columns.matrix is not None and list(columns.names) == list(fields["columns"])


@pytest.mark.parametrize("rows", [
    [[1.0, 2.0, 3.0], [1.0, None, 3.0]],
    [[1.0, 2.0, 3.0], [1.0, "x", 3.0]],
    [[1.0, 2.0, 3.0], [1.0, True, 3.0]],
    [[1.0, 2.0, 3.0], [1.0, 2.0]],
    [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]],
    [[1.0, 2.0], [3.0, 4.0, 5.0, 6.0]],
    # A string whose bytes mimic a numeric cell must not be read as one.
    [[1.0, 2.0, 3.0], ["\n\t\x11abcdefgh", 1.0]],
])
def test_rows_that_are_not_all_numbers_decode_value_by_value(rows):
    request = _batch_request(rows, model="m", columns=["a", "b", "c"])
    assert convert.numeric_rows(request) is None
    decoded = convert.batch_inputs(request)
    assert decoded.matrix is None
    assert [list(r) for r in decoded.rows] == [[v if not isinstance(v, bool) else v for v in r] for r in rows]


def test_varint_matches_protobuf():
    for n in (0, 1, 127, 128, 300, 2**31, 2**63 - 1):
        assert pb.BatchPredictRequest.FromString(b"\x38" + wire.varint(n & 0xFFFFFFFF)).batch_size == (
            n & 0xFFFFFFFF if n & 0xFFFFFFFF < 2**31 else (n & 0xFFFFFFFF) - 2**32)
