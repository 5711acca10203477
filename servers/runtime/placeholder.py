"""Servicers for services whose issue has not landed yet.

They start and show in reflection like any other service, report NOT_SERVING on health
(they serve nothing; `make up` shows them as "placeholder"), and answer every RPC
UNIMPLEMENTED with a message that says so, through the same error mapping as real
failures (reason NOT_IMPLEMENTED_YET).
"""

from __future__ import annotations

import importlib

from .errors import Unimplemented
from .server import ServiceBinding


def placeholder_binding(module: str, service: str, lands_with: str) -> ServiceBinding:
    """A binding for `service` defined in the generated `<module>_pb2` / `_pb2_grpc`."""
    pb2 = importlib.import_module(f"{module}_pb2")
    pb2_grpc = importlib.import_module(f"{module}_pb2_grpc")
    descriptor = pb2.DESCRIPTOR.services_by_name[service]
    base = getattr(pb2_grpc, f"{service}Servicer")

    def make(method: str):
        message = f"{descriptor.full_name}/{method} is not implemented yet: it lands with {lands_with}"

        async def handler(self, request, context):
            raise Unimplemented(message, reason="NOT_IMPLEMENTED_YET")

        handler.__name__ = method
        return handler

    servicer_cls = type(
        f"Placeholder{service}", (base,), {m.name: make(m.name) for m in descriptor.methods}
    )
    add = getattr(pb2_grpc, f"add_{service}Servicer_to_server")
    servicer = servicer_cls()
    return ServiceBinding(descriptor.full_name, lambda server: add(servicer, server), placeholder=True)
