"""The demo connections' glossary (glossary.yaml next to this file) and the step of
`chatdb demo-data` that registers the demo connections and sets it on them.

Idempotent: a connection whose stored glossary already has the version this file
validates to is left as it is."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import grpc

from servers.connector.cli import register_demo_connections
from servers.contracts.glossary import Glossary, glossary_to_pb, load_yaml
from servers.runtime.channels import open_channel
from servers.runtime.cli_support import CliError
from servers.runtime.settings import Settings

GLOSSARY_FILE = Path(__file__).with_name("glossary.yaml")
DEMO_CONNECTIONS = ("demo-postgres", "demo-mysql")


def demo_glossary() -> Glossary:
    return load_yaml(GLOSSARY_FILE.read_text(encoding="utf-8"))


async def set_demo_glossary(address: str, connection_ids: Iterable[str] = DEMO_CONNECTIONS, *,
                            settings: Settings | None = None) -> dict[str, str]:
    """Set the demo glossary on each connection; what happened to each ("set" or
    "unchanged"). A refused glossary raises RuntimeError naming the connection."""
    from chatdb.connector.v1 import connector_service_pb2 as pb
    from chatdb.connector.v1 import connector_service_pb2_grpc

    settings = settings or Settings()
    wanted = glossary_to_pb(demo_glossary())
    done = {}
    async with open_channel(settings, address=address) as channel:
        stub = connector_service_pb2_grpc.ConnectorServiceStub(channel)
        for connection_id in connection_ids:
            try:
                checked = await stub.SetGlossary(
                    pb.SetGlossaryRequest(connection_id=connection_id, glossary=wanted, validate_only=True), timeout=60)
                current = await stub.GetGlossary(pb.GetGlossaryRequest(connection_id=connection_id), timeout=30)
                if current.glossary.version == checked.glossary.version:
                    done[connection_id] = "unchanged"
                    continue
                await stub.SetGlossary(pb.SetGlossaryRequest(connection_id=connection_id, glossary=wanted), timeout=60)
                done[connection_id] = "set"
            except grpc.aio.AioRpcError as exc:
                raise RuntimeError(f"setting the demo glossary on {connection_id} failed: "
                                   f"{exc.code().name}: {exc.details()}") from exc
    return done


async def connect_demo(address: str, connection_ids: Iterable[str], *, settings: Settings | None = None) -> None:
    """Register the demo connections and set their glossary, printing what was done; a
    connector that does not answer is said so in one line, not an error (the data is
    loaded; `chatdb demo-data` again, once the connector runs, finishes the job)."""
    settings = settings or Settings()
    ids = tuple(connection_ids)
    if not ids:
        return
    try:
        await register_demo_connections(address, settings=settings, only=ids)
        done = await set_demo_glossary(address, ids, settings=settings)
    except RuntimeError as exc:
        cause = exc.__cause__
        if isinstance(cause, grpc.aio.AioRpcError) and cause.code() is grpc.StatusCode.UNAVAILABLE:
            print(f"connector at {address} is not reachable: the demo connections and their glossary are not "
                  "set (run `chatdb demo-data` again once it runs)")
            return
        raise CliError(str(exc)) from None
    for connection_id, what in done.items():
        print(f"{connection_id}: registered; glossary {what} ({GLOSSARY_FILE.name})")
