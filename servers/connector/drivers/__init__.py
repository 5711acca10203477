"""Database drivers of the connector: one `Driver` per connection.

`open_driver(config)` picks the driver for `config.kind` and returns it without
connecting; each driver creates its pool on first use. Driver modules are imported on
demand, so a process that never talks to MongoDB never imports motor.
"""

from __future__ import annotations

from servers.runtime.errors import InvalidArgument

from ..domain import ConnectionConfig, ConnectionKind
from .base import Driver

__all__ = ["Driver", "open_driver"]


def open_driver(config: ConnectionConfig) -> Driver:
    if config.kind is ConnectionKind.POSTGRES:
        from .postgres import PostgresDriver

        return PostgresDriver(config)
    if config.kind is ConnectionKind.MYSQL:
        from .mysql import MySQLDriver

        return MySQLDriver(config)
    if config.kind is ConnectionKind.MONGODB:
        from .mongo import MongoDriver

        return MongoDriver(config)
    raise InvalidArgument(f"unsupported connection kind {config.kind!r}", field="connection.kind")
