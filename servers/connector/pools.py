"""One Driver (and so one pool) per connection, opened lazily, with the config a
stored connection gives its driver."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from servers.runtime.metrics import PoolUse, watch_pools

from . import dsn as dsnlib
from .domain import Connection, ConnectionConfig, ConnectionKind
from .drivers import Driver, open_driver

log = logging.getLogger("chatdb.connector")

# The database kind as the connector's gauges name it (label kind=).
METRIC_KINDS = {ConnectionKind.POSTGRES: "postgresql", ConnectionKind.MYSQL: "mysql", ConnectionKind.MONGODB: "mongodb"}


def driver_config(connection: Connection) -> ConnectionConfig:
    o = connection.options
    return ConnectionConfig(
        kind=connection.kind,
        dsn=dsnlib.with_options(connection.secret_dsn, dict(o.driver_options)),
        read_only=connection.read_only,
        pool_min_size=o.pool_min_size,
        pool_max_size=o.pool_max_size,
        connect_timeout_s=o.connect_timeout_s,
        statement_timeout_s=o.statement_timeout_s,
        max_rows=o.max_rows,
    )


class PoolManager:
    """One Driver (and so one pool) per connection, opened on first use.

    A driver is keyed by the connection's id and checked against its config, so a
    connection deleted and re-created with another target never reuses the old pool.
    A driver that reported the database UNAVAILABLE is dropped, so the next call builds
    a fresh pool once the database is back, whatever state the old one was left in.
    Its pools are read into the connector's gauges whenever /metrics is scraped.
    """

    def __init__(self, opener: Callable[[ConnectionConfig], Driver] = open_driver) -> None:
        self._opener = opener
        self._drivers: dict[str, tuple[ConnectionConfig, Driver]] = {}
        self._closing: set[asyncio.Task] = set()
        self._unwatch = watch_pools(self, PoolManager.pool_uses)

    def pool_uses(self) -> list[tuple[str, str, PoolUse]]:
        """(kind, connection id, what its pool holds) of every driver that can tell."""
        uses = []
        for connection_id, (config, driver) in list(self._drivers.items()):
            use = driver.pool_use()
            if use is not None:
                uses.append((METRIC_KINDS.get(config.kind, str(config.kind)), connection_id, use))
        return uses

    def get(self, connection: Connection) -> Driver:
        config = driver_config(connection)
        entry = self._drivers.get(connection.connection_id)
        if entry is not None and entry[0] == config:
            return entry[1]
        # open_driver is lazy (no I/O), so check-and-set needs no lock.
        driver = self._opener(config)
        self._drivers[connection.connection_id] = (config, driver)
        if entry is not None:
            self._close_later(entry[1])
        return driver

    def discard(self, connection_id: str, driver: Driver | None = None) -> None:
        """Forget the connection's driver (only `driver`, when given) and close it."""
        entry = self._drivers.get(connection_id)
        if entry is None or (driver is not None and entry[1] is not driver):
            return
        del self._drivers[connection_id]
        self._close_later(entry[1])

    def _close_later(self, driver: Driver) -> None:
        # In the background and bounded: a pool whose database is gone can take long to
        # close, and the caller (a failing query, a delete) should not wait for it.
        async def close() -> None:
            try:
                async with asyncio.timeout(10):
                    await driver.close()
            except Exception as exc:  # noqa: BLE001 - closing is best effort
                log.warning("closing a driver failed", extra={"error": repr(exc)})

        task = asyncio.get_running_loop().create_task(close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        self._unwatch()
        drivers = [d for _, d in self._drivers.values()]
        self._drivers.clear()
        for driver in drivers:
            self._close_later(driver)
        if self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)
