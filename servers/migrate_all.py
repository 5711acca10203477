"""Apply every component's migrations to the platform database, in a fixed order."""

from __future__ import annotations

from pathlib import Path

from .runtime.migrations import migrate_dsn
from .runtime.settings import Settings

# (component, folder of NNNN_*.sql files); components add themselves as they land.
COMPONENTS: list[tuple[str, Path]] = [
    ("platform", Path(__file__).parent / "migrations"),
    ("connector", Path(__file__).parent / "connector" / "migrations"),
    ("registry", Path(__file__).parent / "registry" / "migrations"),
    ("training", Path(__file__).parent / "training" / "migrations"),
    ("gateway", Path(__file__).parent.parent / "gateway" / "migrations"),
]


async def migrate_platform(settings: Settings) -> dict[str, list[int]]:
    return {
        component: await migrate_dsn(settings.database_url, component, directory)
        for component, directory in COMPONENTS
    }
