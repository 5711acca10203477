"""A client that walks away from a download must not take the registry down.

The server runs as its own process (`chatdb serve registry`): the defect was a segfault
in grpc's C core when the interceptor read the peer of a call whose stream had already
been torn down, which would kill a pytest process hosting the server in-process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import grpc
from chatdb.registry.v1 import model_registry_service_pb2 as pb
from chatdb.registry.v1 import model_registry_service_pb2_grpc as pb_grpc

from tests.registry.conftest import unique, upload
from tests.runtime.test_cli_serve import free_port, wait_serving
from tests.tiny_onnx import tiny_onnx

BIN = Path(sys.executable).parent


async def test_cancelled_downloads_leave_the_registry_serving(settings, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "CHATDB_DATABASE_URL": settings.database_url,
        "CHATDB_REDIS_PREFIX": settings.redis_prefix,
        "CHATDB_HOME": str(tmp_path),
        "CHATDB_GRACE_PERIOD_S": "2",
    }
    proc = await asyncio.to_thread(
        partial(
            subprocess.Popen,
            [str(BIN / "chatdb"), "serve", "registry", "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )
    )
    address = f"127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_serving, address, proc)
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.ModelRegistryServiceStub(channel)
            model = unique("dl-cancel")
            await upload(stub, model, tiny_onnx(4 * 1024 * 1024))  # 16 chunks of 256 KiB
            for _ in range(20):
                call = stub.DownloadModelVersion(pb.DownloadModelVersionRequest(model=model, version=1))
                first = await call.read()
                assert first.model_version.version == 1
                await call.read()
                call.cancel()
            await asyncio.sleep(0.5)
            assert proc.poll() is None, f"registry died with {proc.returncode}"
            # Still answering, and a whole download still works.
            chunks = [m.chunk async for m in stub.DownloadModelVersion(pb.DownloadModelVersionRequest(model=model, version=1))]
            assert sum(len(c) for c in chunks) >= 4 * 1024 * 1024
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.to_thread(proc.communicate, timeout=20)
    assert proc.returncode == 0, stderr[-2000:]
    calls = [json.loads(line) for line in stderr.splitlines() if line.startswith("{") and '"rpc"' in line]
    cancelled = [c for c in calls if c.get("method", "").endswith("/DownloadModelVersion") and c["status"] == "CANCELLED"]
    assert cancelled and all(c["peer"].startswith("ipv4:127.0.0.1:") for c in cancelled)
