"""The KServe v2 / Open Inference Protocol on the prediction port: our own generated stubs
for the typed and raw forms and the errors, and tritonclient (PyPI, unchanged) for
ServerLive/Ready, ModelReady, ModelMetadata and ModelInfer.

tritonclient ships its own generated `inference` protos, which clash with ours in one
process (same package name), so the tritonclient side runs in a subprocess."""

from __future__ import annotations

import asyncio
import json
import struct
import sys
import textwrap

import grpc
import numpy as np
import pytest
from inference import grpc_service_pb2 as kserve
from inference import grpc_service_pb2_grpc as kserve_grpc

from ..tiny_onnx import unloadable_onnx
from .conftest import unique

TRITON_SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    import tritonclient.grpc as grpcclient

    spec = json.load(sys.stdin)
    client = grpcclient.InferenceServerClient(url=spec["url"])
    out = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": {name: client.is_model_ready(name) for name in spec["ready"]},
        "version_ready": client.is_model_ready(spec["tabular"], model_version="1"),
        "metadata": client.get_model_metadata(spec["tabular"], as_json=True),
        "server_metadata": client.get_server_metadata(as_json=True),
    }
    rows = np.array(spec["rows"], dtype=np.float32)
    inputs = []
    for i, name in enumerate(spec["features"]):
        tensor = grpcclient.InferInput(name, [len(rows), 1], "FP32")
        tensor.set_data_from_numpy(np.ascontiguousarray(rows[:, i : i + 1]))
        inputs.append(tensor)
    result = client.infer(spec["tabular"], inputs, model_version="1", outputs=[
        grpcclient.InferRequestedOutput("probabilities"), grpcclient.InferRequestedOutput("label")])
    out["tabular"] = {
        "probabilities": result.as_numpy("probabilities").tolist(),
        "label": [v.decode() for v in result.as_numpy("label").tolist()],
        "version": result.get_response().model_version,
    }
    docs = np.array([[d.encode()] for d in spec["docs"]], dtype=object)
    text = grpcclient.InferInput("review", [len(docs), 1], "BYTES")
    text.set_data_from_numpy(docs)
    result = client.infer(spec["text"], [text])
    out["text"] = {
        "probabilities": result.as_numpy("probabilities").tolist(),
        "label": [v.decode() for v in result.as_numpy("label").tolist()],
    }
    try:
        client.infer(spec["tabular"], inputs[:3])
    except grpcclient.InferenceServerException as exc:
        out["error"] = {"status": exc.status(), "message": exc.message()}
    print(json.dumps(out))
''')


@pytest.fixture
async def served(models, registry, start_prediction):
    names = {"lr": unique("kserve-lr"), "text": unique("kserve-text")}
    await registry.upload(names["lr"], models["lr"])
    await registry.upload(names["text"], models["text"])
    prediction = await start_prediction()
    return prediction, names, kserve_grpc.GRPCInferenceServiceStub(prediction.channel)


async def test_tritonclient_works_unchanged(served, models, tmp_path):
    prediction, names, _ = served
    lr, text = models["lr"], models["text"]
    features = [f"f{i}" for i in range(20)]
    spec = {
        "url": prediction.address,
        "tabular": names["lr"], "text": names["text"],
        "ready": [names["lr"], "no-such-model"],
        "features": features,
        "rows": [[r[f] for f in features] for r in lr.records[:5]],
        "docs": [r["review"] for r in text.records[:4]],
    }
    script = tmp_path / "triton_client.py"
    script.write_text(TRITON_SCRIPT)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(proc.communicate(json.dumps(spec).encode()), 60)
    assert proc.returncode == 0, stderr.decode()
    out = json.loads(stdout)

    assert out["live"] and out["ready"]
    assert out["model_ready"] == {names["lr"]: True, "no-such-model": False}
    assert out["version_ready"]
    metadata = out["metadata"]
    assert metadata["name"] == names["lr"] and metadata["versions"] == ["1"]
    assert metadata["platform"] == "onnxruntime_onnx"
    assert [(i["name"], i["datatype"], i["shape"]) for i in metadata["inputs"]] == [
        (f, "FP32", ["-1", "1"]) for f in features]
    assert {o["name"]: o["datatype"] for o in metadata["outputs"]} == {"label": "BYTES", "probabilities": "FP32"}
    assert out["server_metadata"]["name"] == "chatdb-prediction"

    assert out["tabular"]["label"] == lr.expected_labels[:5]
    np.testing.assert_allclose(out["tabular"]["probabilities"], lr.expected_scores[:5], atol=1e-5)
    assert out["tabular"]["version"] == "1"
    assert out["text"]["label"] == text.expected_labels[:4]
    np.testing.assert_allclose(out["text"]["probabilities"], text.expected_scores[:4], atol=1e-5)
    assert out["error"]["status"] == "StatusCode.INVALID_ARGUMENT"
    assert "f3" in out["error"]["message"]


def _typed_request(name: str, rows: np.ndarray, **fields) -> kserve.ModelInferRequest:
    request = kserve.ModelInferRequest(model_name=name, **fields)
    for i in range(rows.shape[1]):
        tensor = request.inputs.add(name=f"f{i}", datatype="FP32", shape=[rows.shape[0], 1])
        tensor.contents.fp32_contents.extend(rows[:, i].tolist())
    return request


async def test_model_infer_typed_and_raw(served, models):
    _, names, stub = served
    lr = models["lr"]
    rows = np.array([[r[f"f{i}"] for i in range(20)] for r in lr.records[:3]], dtype=np.float32)

    typed = await stub.ModelInfer(_typed_request(names["lr"], rows, id="req-1"))
    assert (typed.model_name, typed.model_version, typed.id) == (names["lr"], "1", "req-1")
    assert not typed.raw_output_contents
    outputs = {o.name: o for o in typed.outputs}
    assert [v.decode() for v in outputs["label"].contents.bytes_contents] == lr.expected_labels[:3]
    np.testing.assert_allclose(np.array(outputs["probabilities"].contents.fp32_contents).reshape(3, -1),
                               lr.expected_scores[:3], atol=1e-5)

    raw = kserve.ModelInferRequest(model_name=names["lr"], model_version="production")
    for i in range(20):
        raw.inputs.add(name=f"f{i}", datatype="FP32", shape=[3, 1])
        raw.raw_input_contents.append(np.ascontiguousarray(rows[:, i]).astype("<f4").tobytes())
    raw.outputs.add(name="probabilities")
    reply = await stub.ModelInfer(raw)
    assert [o.name for o in reply.outputs] == ["probabilities"] and list(reply.outputs[0].shape) == [3, 3]
    np.testing.assert_allclose(np.frombuffer(reply.raw_output_contents[0], "<f4").reshape(3, 3),
                               lr.expected_scores[:3], atol=1e-5)

    text = kserve.ModelInferRequest(model_name=names["text"])
    text.inputs.add(name="review", datatype="BYTES", shape=[2, 1])
    docs = [models["text"].records[i]["review"].encode() for i in range(2)]
    text.raw_input_contents.append(b"".join(struct.pack("<I", len(d)) + d for d in docs))
    reply = await stub.ModelInfer(text)
    labels = {o.name: i for i, o in enumerate(reply.outputs)}
    blob = reply.raw_output_contents[labels["label"]]
    decoded, at = [], 0
    while at < len(blob):
        (size,) = struct.unpack_from("<I", blob, at)
        decoded.append(blob[at + 4 : at + 4 + size].decode())
        at += 4 + size
    assert decoded == models["text"].expected_labels[:2]


async def test_model_infer_errors_and_metadata(served, models):
    _, names, stub = served
    rows = np.zeros((2, 20), dtype=np.float32)

    async def fails(request, code=grpc.StatusCode.INVALID_ARGUMENT):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.ModelInfer(request)
        assert info.value.code() == code, info.value.details()
        return info.value.details()

    assert "no-such" in await fails(_typed_request("no-such", rows), grpc.StatusCode.NOT_FOUND)
    assert "version 7" in await fails(_typed_request(names["lr"], rows, model_version="7"), grpc.StatusCode.NOT_FOUND)
    assert "model_version" in await fails(_typed_request(names["lr"], rows, model_version="Bad Version"))
    request = _typed_request(names["lr"], rows)
    request.outputs.add(name="nope")
    assert "outputs[0].name" in await fails(request)
    request = _typed_request(names["lr"], rows)
    request.raw_input_contents.append(b"\x00")
    assert "raw_input_contents" in await fails(request)
    request = _typed_request(names["lr"], rows)
    request.inputs[0].shape[:] = [2, 2]
    assert "inputs[0].shape" in await fails(request)
    assert "inputs" in await fails(kserve.ModelInferRequest(model_name=names["lr"]))

    metadata = await stub.ModelMetadata(kserve.ModelMetadataRequest(name=names["text"]))
    assert [(i.name, i.datatype, list(i.shape)) for i in metadata.inputs] == [("review", "BYTES", [-1, 1])]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ModelMetadata(kserve.ModelMetadataRequest(name="no-such"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await stub.ModelReady(kserve.ModelReadyRequest(name=names["lr"], version="1"))).ready
    assert not (await stub.ModelReady(kserve.ModelReadyRequest(name=names["lr"], version="9"))).ready
    server = await stub.ServerMetadata(kserve.ServerMetadataRequest())
    assert server.name == "chatdb-prediction" and server.version


async def test_model_metadata_lists_every_version_that_can_be_served(served, models, registry):
    """KServe's `versions` are the ones a client may ask for: every version in the
    registry, loaded here or not, except one that failed to load."""
    prediction, names, stub = served
    assert await registry.upload(names["lr"], models["lr"]) == 2  # not production
    assert await registry.upload(names["lr"], unloadable_onnx()) == 3
    assert not (await stub.ModelReady(kserve.ModelReadyRequest(name=names["lr"], version="3"))).ready
    metadata = await stub.ModelMetadata(kserve.ModelMetadataRequest(name=names["lr"]))
    assert list(metadata.versions) == ["1", "2"]
    await registry.set_alias(names["lr"], 2)
    metadata = await stub.ModelMetadata(kserve.ModelMetadataRequest(name=names["lr"], version="1"))
    assert list(metadata.versions) == ["1", "2"] and metadata.name == names["lr"]
