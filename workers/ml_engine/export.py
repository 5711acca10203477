"""scikit-learn pipeline → ONNX bytes, with the names the prediction service relies on.

Inputs: one per feature, named exactly like its column, shape [-1, 1], FP32 or BYTES
(features.py). Outputs:
- classifiers: "label" (BYTES, [-1]: the class as text) and "probabilities"
  (FP32, [-1, n_classes], columns in `classes` order), or "scores" for linear_svc
  (FP32 decision values: [-1, n_classes], or [-1, 1] for two classes — the score of
  classes[1]);
- regressors: "variable" (FP32, [-1, 1]);
- anomaly detection (IsolationForest): "score" (FP32, [-1, 1]: -score_samples, the
  paper's anomaly score in (0, 1], higher = more unusual) and "is_anomaly" (INT64,
  [-1, 1]: 1 where scikit-learn's predict gives -1, else 0). skl2onnx gives predict's
  -1/1 and decision_function (= score_samples - offset_): nodes appended to the graph
  turn them into these two.

skl2onnx rewrites names to C identifiers ("unit price" → "unit_price"), so the model is
converted with placeholder inputs and the graph renamed afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import onnx

from servers.contracts.ml.spec import (
    IS_ANOMALY_OUTPUT,
    LABEL_OUTPUT,
    PROBABILITIES_OUTPUT,
    SCORE_OUTPUT,
    VARIABLE_OUTPUT,
    TensorSpec,
)

from .features import BYTES, FP32, ONNX_LOCALE, ONNX_TOKENEXP, FeatureData

INT64 = "INT64"

# ONNX Runtime >= 1.20 (the oldest the project allows) runs opset 21; ai.onnx.ml 3 has
# every operator these models need.
TARGET_OPSET = {"": 21, "ai.onnx.ml": 3}
PRODUCER = "chatdb-ml-engine"


@dataclass(frozen=True)
class Exported:
    onnx_model: bytes
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]


def output_specs(output: str, classes: Sequence[str] | None) -> list[TensorSpec]:
    if output == SCORE_OUTPUT:
        return [TensorSpec(SCORE_OUTPUT, FP32, (-1, 1)), TensorSpec(IS_ANOMALY_OUTPUT, INT64, (-1, 1))]
    if classes is None:
        return [TensorSpec(VARIABLE_OUTPUT, FP32, (-1, 1))]
    width = 1 if output != PROBABILITIES_OUTPUT and len(classes) == 2 else len(classes)
    return [TensorSpec(LABEL_OUTPUT, BYTES, (-1,)), TensorSpec(output, FP32, (-1, width))]


def to_onnx(
    pipeline: Any,
    data: FeatureData,
    *,
    output: str,
    classes: Sequence[str] | None,
    metadata: dict[str, str] | None = None,
    tokenizer_options: dict[str, Any] | None = None,
) -> Exported:
    """Convert `pipeline` (fitted on `data.matrix()`); `output` is the algorithm's second
    output name. `tokenizer_options` overrides the TF-IDF converter options (tests use it
    to provoke a parity failure)."""
    from skl2onnx import convert_sklearn

    from .imputer import register_converter

    register_converter()
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
    from sklearn.base import is_classifier

    prefix = "chatdb_input_"
    while any(name.startswith(prefix) for name in data.names):
        prefix = "_" + prefix
    placeholders = [f"{prefix}{i}" for i in range(len(data.names))]
    initial_types = [
        (name, FloatTensorType([None, 1]) if kind.is_numeric else StringTensorType([None, 1]))
        for name, kind in zip(placeholders, data.kinds, strict=True)
    ]
    outputs = output_specs(output, classes)
    final_types = [
        (spec.name, StringTensorType([None]) if spec.datatype == BYTES else FloatTensorType([None, spec.shape[1]]))
        for spec in outputs
    ]
    model = pipeline.steps[-1][1]
    anomaly = output == SCORE_OUTPUT
    if anomaly:  # skl2onnx's own outputs, replaced by _anomaly_outputs below
        final_types = [(f"{prefix}label", Int64TensorType([None, 1])), (f"{prefix}decision", FloatTensorType([None, 1]))]
    options: dict[int, dict[str, Any]] = {}
    if is_classifier(model):
        # skl2onnx's pipeline parser gives every classifier without options a zipmap
        # option, which LinearSVC's converter rejects: give it one it accepts.
        options[id(model)] = {"zipmap": False} if output == PROBABILITIES_OUTPUT else {"nocl": False}
    if "tfidf" in pipeline.named_steps:
        options[id(pipeline.named_steps["tfidf"])] = tokenizer_options or {
            "tokenexp": ONNX_TOKENEXP, "locale": ONNX_LOCALE,
        }
    proto = convert_sklearn(
        pipeline, initial_types=initial_types, final_types=final_types,
        target_opset=TARGET_OPSET, options=options,
    )
    if anomaly:
        _anomaly_outputs(proto.graph, f"{prefix}label", f"{prefix}decision", float(model.offset_), prefix)
    _rename_inputs(proto.graph, dict(zip(placeholders, data.names, strict=True)))
    proto.producer_name = PRODUCER
    for key, value in sorted((metadata or {}).items()):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    return Exported(proto.SerializeToString(), data.input_specs(), outputs)


def _anomaly_outputs(graph: onnx.GraphProto, label: str, decision: str, offset: float, prefix: str) -> None:
    """Replace IsolationForest's outputs (predict's -1/1 `label`, decision_function
    `decision`) with "score" = -(decision + offset_) = -score_samples and
    "is_anomaly" = (label < 0) as INT64 0/1."""
    from onnx import TensorProto, helper

    graph.initializer.extend([
        helper.make_tensor(f"{prefix}offset", TensorProto.FLOAT, [], [offset]),
        helper.make_tensor(f"{prefix}zero", TensorProto.INT64, [], [0]),
    ])
    graph.node.extend([
        helper.make_node("Add", [decision, f"{prefix}offset"], [f"{prefix}samples"], name=f"{prefix}add_offset"),
        helper.make_node("Neg", [f"{prefix}samples"], [SCORE_OUTPUT], name=f"{prefix}neg_score"),
        helper.make_node("Less", [label, f"{prefix}zero"], [f"{prefix}outlier"], name=f"{prefix}less"),
        helper.make_node("Cast", [f"{prefix}outlier"], [IS_ANOMALY_OUTPUT], to=TensorProto.INT64,
                         name=f"{prefix}cast_outlier"),
    ])
    del graph.output[:]
    graph.output.extend([
        helper.make_tensor_value_info(SCORE_OUTPUT, TensorProto.FLOAT, [None, 1]),
        helper.make_tensor_value_info(IS_ANOMALY_OUTPUT, TensorProto.INT64, [None, 1]),
    ])


def _rename_inputs(graph: onnx.GraphProto, renames: dict[str, str]) -> None:
    """Rename graph inputs; an internal value that already carries a wanted name is
    renamed out of the way first."""
    wanted = set(renames.values())
    used = _value_names(graph)
    clashes = {}
    for name in sorted(used & (wanted - set(renames))):
        fresh, n = f"{name}__internal", 1
        while fresh in used or fresh in wanted:
            fresh, n = f"{name}__internal{n}", n + 1
        clashes[name] = fresh
        used.add(fresh)
    _apply(graph, {**clashes, **renames})


def _value_names(graph: onnx.GraphProto) -> set[str]:
    names = {v.name for v in graph.input} | {v.name for v in graph.output}
    names |= {init.name for init in graph.initializer} | {v.name for v in graph.value_info}
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
    return names


def _apply(graph: onnx.GraphProto, mapping: dict[str, str]) -> None:
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = mapping.get(value.name, value.name)
    for init in graph.initializer:
        init.name = mapping.get(init.name, init.name)
    for node in graph.node:
        node.input[:] = [mapping.get(n, n) for n in node.input]
        node.output[:] = [mapping.get(n, n) for n in node.output]
        for attribute in node.attribute:
            if attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                raise NotImplementedError(f"cannot rename inputs through subgraphs ({node.op_type})")


def metadata_for(**values: Any) -> dict[str, str]:
    """metadata_props entries (prefixed chatdb.): strings as they are, the rest as JSON."""
    return {f"chatdb.{k}": v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in values.items()}
