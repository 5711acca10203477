"""Pure proto ⇄ domain converters of the prediction service (no I/O, no policy).

Hot-path notes: two or more `records` are read from the request's bytes into columns
(RequestDecoder, the services' request deserializer; wire.decode_records) — building a
Struct and a dict per record cost ~20x more than the model; a single record's Struct
values are read with `number_value or <decode>` (a non-zero number needs no
WhichOneof); `rows` that are all numbers are decoded from the request's serialization
with numpy (wire.py); the two PredictionService responses are written as
bytes by wire.py (the protobuf API is the fallback); tensors' raw contents are viewed
with numpy.frombuffer, never copied element by element.
"""

from __future__ import annotations

import functools
import struct
from typing import Any

import numpy as np
from chatdb.prediction.v1 import prediction_pb2
from chatdb.prediction.v1 import prediction_service_pb2 as pb
from google.protobuf import struct_pb2
from inference import grpc_service_pb2 as kserve

from . import wire
from .core import ServerInfo
from .domain import (
    NUMPY_DTYPES,
    Columns,
    InferOutputs,
    ModelInfo,
    Predictions,
    RecordColumns,
    Records,
    Selector,
    Tensor,
    TensorInfo,
    Tensors,
    invalid,
)
from .loaded import LABEL

PRODUCTION_SELECTOR = Selector()

# NamedTensor (chatdb.prediction.v1): datatype → contents field.
_NAMED_FIELDS = {
    "BOOL": "bool_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
}
# InferTensorContents (KServe v2): datatype → contents field.
_KSERVE_FIELDS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


# --- values ------------------------------------------------------------------------------


def value_from_proto(value: struct_pb2.Value) -> Any:
    """A google.protobuf.Value as a plain Python value (numbers are floats)."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return value.number_value
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "list_value":
        return [value_from_proto(v) for v in value.list_value.values]
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    return None


def struct_to_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    # Keys then [key]: the map's items() is a Python-level view (~30% slower).
    fields = message.fields
    return {key: (value := fields[key]).number_value or value_from_proto(value) for key in fields}


def _row(values: struct_pb2.ListValue) -> list[Any]:
    return [value.number_value or value_from_proto(value) for value in values.values]


def label_to_proto(target: struct_pb2.Value, label: Any) -> None:
    if isinstance(label, str):
        target.string_value = label
    elif isinstance(label, bytes):
        target.string_value = label.decode("utf-8", "replace")
    elif isinstance(label, bool):
        target.bool_value = label
    else:
        target.number_value = float(label)


# --- PredictionService -------------------------------------------------------------------


def selector_from_proto(request: pb.PredictRequest | pb.BatchPredictRequest) -> Selector:
    which = request.WhichOneof("selector")
    if which is None:
        return PRODUCTION_SELECTOR
    if which == "version":
        if request.version < 1:
            raise invalid("version", "must be a version number (1 or more)")
        return Selector(version=request.version)
    return Selector(alias=request.alias or None)


# --- requests read from their bytes ------------------------------------------------------


class WireRequest:
    """A request whose records were read straight from its bytes (wire.decode_records):
    `message` holds every other field, `records` the records column by column."""

    __slots__ = ("message", "records")

    def __init__(self, message, records: RecordColumns) -> None:
        self.message = message
        self.records = records


class RequestDecoder:
    """The request deserializer of Predict and BatchPredict. Two or more records that
    share one layout (wire.py) are read from the bytes into columns, which costs a few
    numpy operations instead of a Struct and a dict per record; every other request —
    one record, tensors, rows, anything unusual — is parsed by protobuf as before, so it
    meets exactly the same checks and errors. `DESCRIPTOR` names the request type for
    the screening deserializer's messages."""

    def __init__(self, message_class, other_forms: frozenset[int]) -> None:
        self.message_class = message_class
        self.DESCRIPTOR = message_class.DESCRIPTOR  # noqa: N815 - as on a message class
        self.other_forms = other_forms

    def decode(self, data: bytes):
        parse = self.message_class.FromString
        split = wire.split_records(data, self.other_forms)
        if split is not None and len(split[1]) >= 2:
            rest, starts, ends = split
            layout = wire.decode_records(data, starts, ends)
            if layout is not None:
                message = parse(rest)

                def records() -> Records:
                    return Records([struct_to_dict(s) for s in parse(data).records])

                return WireRequest(message, RecordColumns(layout.names, layout.columns, layout.matrix, layout.rows,
                                                          records))
        return parse(data)


# Field numbers of the other forms of inputs: PredictRequest 5 tensors; BatchPredictRequest
# 5 columns, 6 rows, 8 tensors.
PREDICT_DECODER = RequestDecoder(pb.PredictRequest, frozenset({5}))
BATCH_PREDICT_DECODER = RequestDecoder(pb.BatchPredictRequest, frozenset({5, 6, 8}))


def predict_inputs(request: pb.PredictRequest) -> Records | Tensors:
    """`records` or `tensors` (not both; neither is an empty Records)."""
    if request.tensors:
        if request.records:
            raise invalid("tensors", "give records or tensors, not both")
        return Tensors([named_tensor_from_proto(t, i) for i, t in enumerate(request.tensors)])
    return Records([struct_to_dict(s) for s in request.records])


def batch_inputs(request: pb.BatchPredictRequest) -> Records | Columns | Tensors:
    """`records`, `columns` + `rows` (numeric rows decoded in bulk), or `tensors`."""
    forms = [name for name, used in (("records", bool(request.records)),
                                     ("columns/rows", bool(request.columns or request.rows)),
                                     ("tensors", bool(request.tensors))) if used]
    if len(forms) > 1:
        field = "tensors" if request.tensors else "records"
        raise invalid(field, f"give one form of inputs (records, columns with rows, or tensors), got {' and '.join(forms)}")
    if request.tensors:
        return Tensors([named_tensor_from_proto(t, i) for i, t in enumerate(request.tensors)])
    if request.columns or request.rows:
        if not request.columns:
            raise invalid("columns", "is required with rows")
        names = list(request.columns)
        matrix = numeric_rows(request)
        if matrix is not None:
            return Columns(names, matrix=matrix)
        return Columns(names, rows=[_row(r) for r in request.rows])
    return Records([struct_to_dict(s) for s in request.records])


def _rows_offset(request: pb.BatchPredictRequest) -> int:
    """Where field 6 (rows) starts in the request's serialization: the size of fields
    1–5 (records are empty when rows are given)."""
    size = wire.len_field_size(len(request.model.encode("utf-8"))) if request.model else 0
    which = request.WhichOneof("selector")
    if which == "version":
        size += 1 + len(wire.varint(request.version & 0xFFFFFFFFFFFFFFFF))
    elif which == "alias":
        size += wire.len_field_size(len(request.alias.encode("utf-8")))
    for column in request.columns:
        size += wire.len_field_size(len(column.encode("utf-8")))
    return size


def numeric_rows(request: pb.BatchPredictRequest) -> np.ndarray | None:
    """`rows` as a float64 matrix when every value is a number (decoded in bulk)."""
    return wire.numeric_rows_block(
        request.SerializeToString(), _rows_offset(request), len(request.rows), len(request.columns),
        wire.batch_size_tail(request.batch_size) + wire.view_tail(request.view))


def named_tensor_from_proto(message: prediction_pb2.NamedTensor, i: int) -> Tensor:
    where = f"tensors[{i}]"
    datatype = message.datatype
    raw = message.raw_contents
    if raw:
        if message.HasField("contents") and message.contents.ByteSize():
            raise invalid(f"{where}.raw_contents", "give contents or raw_contents, not both")
        if datatype not in NUMPY_DTYPES:
            raise invalid(f"{where}.datatype", f"unknown datatype {datatype!r}")
        return Tensor(message.name, datatype, tuple(message.shape), raw_to_array(raw, datatype, f"{where}.raw_contents"))
    contents = message.contents
    if datatype == "BYTES":
        data = np.empty(len(contents.bytes_contents) or len(contents.string_contents), dtype=object)
        data[:] = list(contents.bytes_contents) or list(contents.string_contents)
    elif datatype in _NAMED_FIELDS:
        data = np.array(getattr(contents, _NAMED_FIELDS[datatype]), dtype=NUMPY_DTYPES[datatype])
    else:
        raise invalid(f"{where}.datatype", f"must be one of BOOL, INT32, INT64, FP32, FP64, BYTES, got {datatype!r}")
    return Tensor(message.name, datatype, tuple(message.shape), data)


def prediction_list(p: Predictions) -> list[prediction_pb2.Prediction]:
    out = []
    add = out.append
    Prediction = prediction_pb2.Prediction  # noqa: N806
    if p.labels is not None:
        labels = p.labels.tolist()
        if p.probabilities is not None:
            classes = p.classes or ()
            for label, row in zip(labels, p.probabilities.tolist(), strict=True):
                item = Prediction(probabilities=dict(zip(classes, row, strict=False)))
                label_to_proto(item.label, label)
                add(item)
        else:
            for label in labels:
                item = Prediction()
                label_to_proto(item.label, label)
                add(item)
    elif p.values is not None:
        out = [Prediction(value=v) for v in p.values.tolist()]
    elif p.scores is not None or p.anomalies is not None:
        scores = p.scores.tolist() if p.scores is not None else [None] * p.rows
        flags = p.anomalies.tolist() if p.anomalies is not None else [None] * p.rows
        out = []
        for score, flag in zip(scores, flags, strict=True):
            item = Prediction()
            if score is not None:
                item.score = score
            if flag is not None:
                item.is_anomaly = bool(flag)
            out.append(item)
    else:
        out = [Prediction() for _ in range(p.rows)]
    return out


def predict_response_bytes(p: Predictions) -> bytes | pb.PredictResponse:
    """The serialized response (wire.py), or the message when only protobuf can write it."""
    return wire.predict_response_bytes(p) or predict_response(p)


def batch_predict_response_bytes(p: Predictions, view: int = 0) -> bytes | pb.BatchPredictResponse:
    """The response in the asked-for view: predictions (wire.py's bytes), the output
    tensors packed in raw_contents, or both (a message's fields may come in any order,
    so the outputs' bytes are simply appended to the predictions')."""
    if view in (prediction_pb2.PREDICTION_VIEW_UNSPECIFIED, prediction_pb2.PREDICTION_VIEW_PREDICTIONS):
        return wire.batch_predict_response_bytes(p) or batch_predict_response(p)
    outputs = pb.BatchPredictResponse(outputs=[_output_tensor(p, name, array) for name, array in p.outputs.items()])
    if view == prediction_pb2.PREDICTION_VIEW_FULL:
        head = wire.batch_predict_response_bytes(p) or batch_predict_response(p).SerializeToString()
        return head + outputs.SerializeToString()
    outputs.model = p.model
    outputs.version = p.version
    outputs.inference_duration.FromNanoseconds(int(p.inference_s * 1e9))
    return outputs


_VIEWS = frozenset(prediction_pb2.PredictionView.values())


def batch_view(request: pb.BatchPredictRequest) -> int:
    """The request's view, checked: INVALID_ARGUMENT for a number this server does not know."""
    view = request.view
    if view not in _VIEWS:
        raise invalid("view", f"unknown view {view}; use one of {', '.join(prediction_pb2.PredictionView.keys())}")
    return view


def wants_outputs(view: int) -> bool:
    return view in (prediction_pb2.PREDICTION_VIEW_OUTPUTS, prediction_pb2.PREDICTION_VIEW_FULL)


def _output_tensor(p: Predictions, name: str, array: np.ndarray) -> prediction_pb2.NamedTensor:
    """An output tensor in raw_contents; the labels from their class indices when known."""
    if name == LABEL and p.label_codes is not None and p.classes:
        return prediction_pb2.NamedTensor(name=name, datatype="BYTES", shape=list(array.shape),
                                          raw_contents=_coded_bytes_raw(tuple(p.classes), p.label_codes))
    return raw_named_tensor(name, array)


@functools.lru_cache(maxsize=256)
def _prefixed_classes(classes: tuple[str, ...]) -> np.ndarray:
    pieces = np.empty(len(classes), dtype=object)
    pieces[:] = [_length_prefixed(c.encode("utf-8")) for c in classes]
    return pieces


def _coded_bytes_raw(classes: tuple[str, ...], codes: np.ndarray) -> bytes:
    """BYTES raw contents of class names given as indices into `classes`."""
    return b"".join(_prefixed_classes(classes)[codes.reshape(-1)].tolist())


def raw_named_tensor(name: str, array: np.ndarray) -> prediction_pb2.NamedTensor:
    """An output tensor with its elements in raw_contents (see the proto)."""
    kind = array.dtype.kind
    if kind == "O" or kind in "SU":
        datatype, raw = "BYTES", _bytes_raw(array.reshape(-1))
    elif kind == "b":
        datatype, raw = "BOOL", array.astype(np.uint8).tobytes()
    elif kind in "iu":
        datatype, raw = "INT64", array.astype("<i8", copy=False).tobytes()
    elif array.dtype == np.float64:
        datatype, raw = "FP64", array.astype("<f8", copy=False).tobytes()
    else:
        datatype, raw = "FP32", array.astype("<f4", copy=False).tobytes()
    return prediction_pb2.NamedTensor(name=name, datatype=datatype, shape=list(array.shape), raw_contents=raw)


_PREFIXED: dict[Any, bytes] = {}


def _length_prefixed(data: bytes) -> bytes:
    """One BYTES element in the raw layout: a 4-byte little-endian length, then the bytes."""
    return struct.pack("<I", len(data)) + data


def _bytes_raw(flat: np.ndarray) -> bytes:
    """BYTES elements in the raw layout (_length_prefixed, one after another). Outputs
    such as labels repeat a few values, so each text or bytes value's prefixed form is
    made once (the cache is bounded; no other value can equal a cached key, so other
    values always take the loop)."""
    values = flat.tolist()
    cache = _PREFIXED
    try:
        return b"".join([cache[v] for v in values])
    except (KeyError, TypeError):  # a value not seen yet (or not hashable)
        pass
    if len(cache) > 65_536:
        cache.clear()
    parts = []
    for value in values:
        data = value if isinstance(value, bytes) else str(value).encode("utf-8")
        piece = _length_prefixed(data)
        if type(value) is str or type(value) is bytes:  # 1, 1.0 and True would share a key
            cache[value] = piece
        parts.append(piece)
    return b"".join(parts)


def predict_response(p: Predictions) -> pb.PredictResponse:
    response = pb.PredictResponse(model=p.model, version=p.version, predictions=prediction_list(p))
    response.inference_duration.FromNanoseconds(int(p.inference_s * 1e9))
    if p.outputs:
        response.outputs.extend(named_tensor_to_proto(name, array) for name, array in p.outputs.items())
    return response


def batch_predict_response(p: Predictions) -> pb.BatchPredictResponse:
    response = pb.BatchPredictResponse(model=p.model, version=p.version, predictions=prediction_list(p))
    response.inference_duration.FromNanoseconds(int(p.inference_s * 1e9))
    return response


def named_tensor_to_proto(name: str, array: np.ndarray) -> prediction_pb2.NamedTensor:
    message = prediction_pb2.NamedTensor(name=name, shape=list(array.shape))
    flat = array.reshape(-1)
    kind = array.dtype.kind
    if kind == "O" or kind in "SU":
        message.datatype = "BYTES"
        message.contents.string_contents.extend(
            v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in flat.tolist())
    elif kind == "b":
        message.datatype = "BOOL"
        message.contents.bool_contents.extend(flat.tolist())
    elif kind in "iu":
        message.datatype = "INT64"
        message.contents.int64_contents.extend(flat.tolist())
    elif array.dtype == np.float64:
        message.datatype = "FP64"
        message.contents.fp64_contents.extend(flat.tolist())
    else:
        message.datatype = "FP32"
        message.contents.fp32_contents.extend(flat.astype(np.float32).tolist())
    return message


# --- KServe v2 -----------------------------------------------------------------------------


def infer_inputs(request: kserve.ModelInferRequest) -> Tensors:
    """Input tensors from typed `contents`, or from `raw_input_contents` (one per input)."""
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise invalid("raw_input_contents", f"has {len(raw)} entries for {len(request.inputs)} inputs")
    tensors = []
    for i, message in enumerate(request.inputs):
        where = f"inputs[{i}]"
        datatype = message.datatype
        if datatype not in NUMPY_DTYPES:
            raise invalid(f"{where}.datatype", f"unknown datatype {datatype!r}")
        if raw:
            data = raw_to_array(raw[i], datatype, f"raw_input_contents[{i}]")
        elif datatype == "BYTES":
            data = np.empty(len(message.contents.bytes_contents), dtype=object)
            data[:] = list(message.contents.bytes_contents)
        elif datatype in _KSERVE_FIELDS:
            data = np.array(getattr(message.contents, _KSERVE_FIELDS[datatype]), dtype=NUMPY_DTYPES[datatype])
        else:
            raise invalid(f"{where}.datatype", f"{datatype} inputs must use raw_input_contents")
        tensors.append(Tensor(message.name, datatype, tuple(message.shape), data))
    return Tensors(tensors, field="inputs")


_LITTLE_ENDIAN = {name: dtype.newbyteorder("<") for name, dtype in NUMPY_DTYPES.items() if name != "BYTES"}


def raw_to_array(raw: bytes, datatype: str, field: str) -> np.ndarray:
    if datatype == "BYTES":
        return _bytes_elements(raw, field)
    dtype = _LITTLE_ENDIAN[datatype]
    if len(raw) % dtype.itemsize:
        raise invalid(field, f"holds {len(raw)} bytes, not a whole number of {datatype} elements")
    return np.frombuffer(raw, dtype=dtype)


def _bytes_elements(raw: bytes, field: str) -> np.ndarray:
    """BYTES raw contents: each element a 4-byte little-endian length, then its bytes."""
    items = []
    at, end = 0, len(raw)
    unpack = struct.Struct("<I").unpack_from
    while at < end:
        if at + 4 > end:
            raise invalid(field, "ends inside an element's length prefix")
        (size,) = unpack(raw, at)
        at += 4
        if at + size > end:
            raise invalid(field, "an element runs past the end of the contents")
        items.append(raw[at : at + size])
        at += size
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def infer_requested(request: kserve.ModelInferRequest) -> list[str]:
    return [o.name for o in request.outputs]


def infer_response(answer: InferOutputs, request: kserve.ModelInferRequest) -> kserve.ModelInferResponse:
    """Outputs as raw_output_contents when the request sent raw inputs (as Triton does)
    or an output has no typed field (FP16), else in typed contents."""
    response = kserve.ModelInferResponse(
        model_name=answer.model, model_version=str(answer.version), id=request.id)
    raw = bool(request.raw_input_contents) or any(
        info.datatype not in _KSERVE_FIELDS for info, _ in answer.outputs)
    for info, array in answer.outputs:
        out = response.outputs.add(name=info.name, datatype=info.datatype, shape=list(array.shape))
        flat = array.reshape(-1)
        if raw:
            if info.datatype == "BYTES":
                response.raw_output_contents.append(_bytes_raw(flat))
            else:
                dtype = NUMPY_DTYPES.get(info.datatype, array.dtype).newbyteorder("<")
                response.raw_output_contents.append(flat.astype(dtype, copy=False).tobytes())
        elif info.datatype == "BYTES":
            out.contents.bytes_contents.extend(
                v if isinstance(v, bytes) else str(v).encode("utf-8") for v in flat.tolist())
        else:
            getattr(out.contents, _KSERVE_FIELDS[info.datatype]).extend(flat.tolist())
    return response


def tensor_metadata(info: TensorInfo) -> kserve.ModelMetadataResponse.TensorMetadata:
    return kserve.ModelMetadataResponse.TensorMetadata(name=info.name, datatype=info.datatype, shape=list(info.shape))


def model_metadata_response(info: ModelInfo, versions: list[int]) -> kserve.ModelMetadataResponse:
    return kserve.ModelMetadataResponse(
        name=info.name,
        versions=[str(v) for v in versions],
        platform="onnxruntime_onnx",
        inputs=[tensor_metadata(t) for t in info.inputs],
        outputs=[tensor_metadata(t) for t in info.outputs],
    )


def server_metadata_response(info: ServerInfo) -> kserve.ServerMetadataResponse:
    return kserve.ServerMetadataResponse(name=info.name, version=info.version, extensions=list(info.extensions))

