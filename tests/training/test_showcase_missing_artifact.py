"""`make up`'s training showcase when the registry lists the demo model's version but the
artifact store lacks its file (a platform database shared by two checkouts, a wiped
store): one warning line and a version trained here, not FAILED_PRECONDITION ending
`make up`; the next run reuses that version instead of training again."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from chatdb.connector.v1 import connection_pb2, connector_service_pb2, connector_service_pb2_grpc
from chatdb.registry.v1 import model_registry_service_pb2 as reg_pb

from deploy import showcase
from deploy.demo.data import DemoSpec, load_postgres
from tests.conftest import PG_ADMIN_DSN, drop_pg_database, pg_dsn_for

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
async def demo_postgres(worker, run_id):
    name = f"chatdb_test_{run_id}_showcase"
    await load_postgres(PG_ADMIN_DSN, DemoSpec(database=name, scale=0.05))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{worker.settings.connector_port}") as channel:
        await connector_service_pb2_grpc.ConnectorServiceStub(channel).CreateConnection(
            connector_service_pb2.CreateConnectionRequest(
                connection_id="demo-postgres",
                connection=connection_pb2.Connection(kind=connection_pb2.CONNECTION_KIND_POSTGRES,
                                                     dsn=pg_dsn_for(name), read_only=True),
            ),
            timeout=30,
        )
    yield worker
    await drop_pg_database(name)


async def _download(mesh, model: str, version: int) -> int:
    size = 0
    async for chunk in mesh.registry.DownloadModelVersion(
            reg_pb.DownloadModelVersionRequest(model=model, version=version), timeout=60):
        size += len(chunk.chunk)
    return size


def _remove_artifact(store: Path, sha256: str) -> int:
    files = [p for p in store.rglob(f"*{sha256}*") if p.is_file()]
    for path in files:
        path.unlink()
    return len(files)


async def test_a_version_without_its_artifact_is_trained_again_with_one_warning(demo_postgres, capsys):
    mesh = demo_postgres
    model, first = await showcase.show_training(mesh.settings)
    assert (model, first) == ("demo-product-category", 1)
    capsys.readouterr()

    # The artifact store loses v1's file (as in another checkout's store).
    sha = (await mesh.registry.GetModelVersion(reg_pb.GetModelVersionRequest(model=model, version=first))).model_version.artifact.sha256
    assert _remove_artifact(Path(mesh.settings.artifact_dir), sha)

    shown = await showcase.show_training(mesh.settings)
    out = capsys.readouterr().out
    assert shown is not None, out
    _, version = shown
    assert version != first
    assert await _download(mesh, model, version) > 0  # this one can be served
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and f"version {first}" in warnings[0] and "missing" in warnings[0], out

    again = await showcase.show_training(mesh.settings)  # the next `make up`
    assert again == (model, version)  # the same job's version: not trained a third time
