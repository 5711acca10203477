"""Load-time rewrites of the serving copy of a model's graph: one matrix input instead
of one input per numeric feature (`fuse_numeric_inputs`), and class indices instead of
class names from the classifier (`index_labels`, further down).

The platform exports one [-1, 1] input per feature (README, ML platform), and skl2onnx
starts a numeric pipeline with a Concat of all of them. ONNX Runtime pays per input on
every run: for 20 features a single row costs ~25 µs fed as 20 inputs and ~9 µs fed as
the Concat's [n, 20] output (logistic regression; 34 → 16 µs for a 100-tree forest).
So when the graph's inputs are all float [?, 1] and their only consumer is one Concat
along axis 1 that takes each of them once, the Concat is removed and its output becomes
the graph's only input. The computation is unchanged (the same float32 values reach the
same nodes); the model's public interface (ModelMetadata, tensors) stays per feature.
"""

from __future__ import annotations

from dataclasses import dataclass

FLOAT = 1  # onnx.TensorProto.FLOAT


@dataclass(frozen=True)
class Fused:
    """The rewritten graph, its one input's name, the features in its column order and
    (`inputs`) in the original graph's declaration order."""

    model: bytes
    input_name: str
    columns: tuple[str, ...]
    inputs: tuple[str, ...]


def fuse_numeric_inputs(data: bytes) -> Fused | None:
    """The rewrite described above, or None when the graph does not qualify."""
    import onnx
    from onnx import helper

    model = onnx.load_from_string(data)
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) < 2:
        return None
    names = [i.name for i in inputs]
    for value in inputs:
        tensor = value.type.tensor_type
        dims = tensor.shape.dim
        if not value.type.HasField("tensor_type") or tensor.elem_type != FLOAT or len(dims) != 2:
            return None
        if not (dims[1].HasField("dim_value") and dims[1].dim_value == 1):
            return None
    wanted = set(names)
    consumers = [n for n in graph.node if wanted & set(n.input)]
    if len(consumers) != 1 or wanted & {o.name for o in graph.output}:
        return None
    concat = consumers[0]
    axis = next((a.i for a in concat.attribute if a.name == "axis"), None)
    if concat.op_type != "Concat" or concat.domain not in ("", "ai.onnx") or axis not in (1, -1):
        return None
    columns = list(concat.input)
    if sorted(columns) != sorted(names) or len(set(columns)) != len(columns):
        return None
    for sub in graph.node:  # subgraphs could read the inputs by name: leave those alone
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in sub.attribute):
            return None
    output = concat.output[0]
    graph.node.remove(concat)
    for info in [v for v in graph.value_info if v.name == output]:
        graph.value_info.remove(info)
    kept = [i for i in graph.input if i.name in initializers]
    del graph.input[:]
    batch = inputs[0].type.tensor_type.shape.dim[0]
    matrix = helper.make_tensor_value_info(output, FLOAT, [None, len(columns)])
    if batch.HasField("dim_param"):
        matrix.type.tensor_type.shape.dim[0].dim_param = batch.dim_param
    elif batch.HasField("dim_value"):
        matrix.type.tensor_type.shape.dim[0].dim_value = batch.dim_value
    graph.input.extend([matrix, *kept])
    return Fused(model.SerializeToString(), output, tuple(columns), tuple(names))



# --- labels as class indices ------------------------------------------------------------------

STRING, INT64 = 8, 7  # onnx.TensorProto.STRING, INT64
# The ai.onnx.ml classifiers that name their classes, and the attribute that takes the
# classes as integers instead of strings.
_INT_LABELS = {
    "LinearClassifier": "classlabels_ints",
    "TreeEnsembleClassifier": "classlabels_int64s",
    "SVMClassifier": "classlabels_ints",
}


@dataclass(frozen=True)
class IndexedLabels:
    """The rewritten graph, whose `label` output is the class's index (INT64) into
    `classes` instead of the class's name."""

    model: bytes
    classes: tuple[str, ...]


def index_labels(data: bytes, output: str = "label") -> IndexedLabels | None:
    """A load-time rewrite of the classifier that writes `output`, so that it emits the
    class's index instead of its name: ONNX Runtime then hands back an int64 array
    rather than building a Python str per row (1,024 rows of a logistic regression ran
    in ~110 µs instead of ~155), and the service turns indices into names and
    encodings with one array lookup. The same node decides the class either way.

    Applies when `output` is a STRING graph output written by one of the classifiers
    above from its `classlabels_strings`, directly or through a Cast to STRING (as
    skl2onnx writes it); None otherwise."""
    import onnx
    from onnx import helper

    model = onnx.load_from_string(data)
    graph = model.graph
    outputs = [o for o in graph.output if o.name == output]
    if len(outputs) != 1 or outputs[0].type.tensor_type.elem_type != STRING:
        return None
    producers = {name: node for node in graph.node for name in node.output}
    node = producers.get(output)
    cast = None
    if node is not None and node.op_type == "Cast":
        cast, node = node, producers.get(node.input[0])
        if next((a.i for a in cast.attribute if a.name == "to"), None) != STRING:
            return None
    if node is None or node.op_type not in _INT_LABELS or node.domain != "ai.onnx.ml" or not node.output:
        return None
    label = node.output[0]  # the classifier's names: the graph output itself, or the Cast's input
    if label != (cast.input[0] if cast is not None else output) or label in {o.name for o in graph.output if o.name != output}:
        return None
    readers = [n for n in graph.node if label in n.input]
    if readers != ([cast] if cast is not None else []):
        return None  # something else reads the names: leave the graph alone
    attribute = next((a for a in node.attribute if a.name == "classlabels_strings"), None)
    if attribute is None or not attribute.strings:
        return None
    classes = tuple(s.decode("utf-8") for s in attribute.strings)
    node.attribute.remove(attribute)
    node.attribute.append(helper.make_attribute(_INT_LABELS[node.op_type], list(range(len(classes)))))
    if cast is not None:
        for a in cast.attribute:
            if a.name == "to":
                a.i = INT64
    for info in [v for v in graph.value_info if v.name in (label, output)]:
        graph.value_info.remove(info)
    outputs[0].type.tensor_type.elem_type = INT64
    return IndexedLabels(model.SerializeToString(), classes)
