"""The training queue's name: the orchestrator enqueues on it, the worker consumes it."""

from __future__ import annotations

from servers.runtime.settings import Settings


def queue_name(settings: Settings) -> str:
    return f"{settings.redis_prefix}:ml-engine"
