"""What `make up` shows once the mesh is up: each capability that has landed, answering."""

from __future__ import annotations

from servers.runtime.settings import Settings


async def show(settings: Settings) -> None:
    """Later issues add their demonstrations here (demo connections and a query, a
    trained model, a prediction, a question through Envoy)."""
    return None
