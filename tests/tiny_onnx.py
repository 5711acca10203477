"""Small real ONNX models for tests that upload to the registry, which refuses bytes
that are not a model (not a test module)."""

from __future__ import annotations

import os

from onnx import TensorProto, helper

_BASE = 120  # about what the model takes without padding


def tiny_onnx(size: int = 0, *, op: str = "Identity", domain: str = "") -> bytes:
    """A valid ONNX model (y = x on a float column) of at least `size` bytes. Every call
    gives different bytes (random padding in doc_string), so each upload has its own
    SHA-256 as random test data had."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"], domain=domain)], "tiny", [x], [y])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets, producer_name="chatdb-tests")
    model.ir_version = 8
    pad = max(16, size - _BASE)
    while True:
        model.doc_string = os.urandom(pad // 2 + 1).hex()[:pad]
        data = model.SerializeToString()
        if len(data) >= size:
            return data
        pad += size - len(data)


def unloadable_onnx() -> bytes:
    """A model the registry accepts (it passes onnx.checker) that ONNX Runtime cannot
    load: its only operator belongs to a custom domain nobody registered."""
    return tiny_onnx(op="Missing", domain="ai.chatdb.test")
