"""What the registry checks of an artifact's bytes before it stores them as a version.

No format allows an empty artifact. An artifact whose format is `onnx` must parse as an
onnx.ModelProto with a graph of at least one node and pass onnx.checker (structure,
opset imports, the schemas of the standard operators). That is the promise the registry
makes to the prediction service and to people who download: "a version is a model".
The checker does not run the model: an operator of a custom domain, or one this build
of ONNX Runtime lacks, still loads as FAILED_PRECONDITION in the prediction service.

Parsing and checking run in a worker thread (a model can be hundreds of MB) on the
upload's temp file, after its digest and size matched and before it is installed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from servers.runtime.errors import InvalidArgument, clip

FIELD = "chunk"
REASON = "ARTIFACT_NOT_A_MODEL"


async def check_artifact(format: str, path: Path, size_bytes: int) -> None:
    """InvalidArgument (field `chunk`) when the uploaded bytes cannot be a model."""
    if size_bytes == 0:
        raise InvalidArgument(
            "the upload carried no bytes; an empty artifact is not a model", field=FIELD, reason="ARTIFACT_EMPTY"
        )
    if format == "onnx":
        await asyncio.to_thread(_check_onnx, path)


def _refuse(description: str) -> InvalidArgument:
    return InvalidArgument(f"the uploaded bytes are not an ONNX model: {description}", field=FIELD, reason=REASON)


def _check_onnx(path: Path) -> None:
    import onnx  # heavy; only the registry's upload path needs it

    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - any failure to parse untrusted bytes means "not a model"
        raise _refuse("they do not parse as onnx.ModelProto") from None
    if not model.graph.node:
        raise _refuse("the model has no graph (no nodes)")
    del model
    try:
        # From the path: the C++ checker reads the file itself (no 2 GB proto limit,
        # no second serialization in Python).
        onnx.checker.check_model(str(path))
    except (onnx.checker.ValidationError, ValueError) as exc:
        raise _refuse(f"onnx.checker: {clip(str(exc).strip(), 300)}") from None
