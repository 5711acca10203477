"""MongoDB for tests without a MongoDB server (not a test module): the connector's driver
opener with MongoDB connections served by one mongomock-motor client."""

from __future__ import annotations

from collections.abc import Callable

from servers.connector.domain import ConnectionKind
from servers.connector.drivers import open_driver
from servers.connector.drivers.mongo import MongoDriver


def mongomock_opener(client) -> Callable:
    """An `opener` for running_connector / running_parser / running_gateway: drivers as
    the connector opens them, except that MongoDB connections read `client` (an
    AsyncMongoMockClient), whatever their DSN's host."""

    def opener(config):
        if config.kind is ConnectionKind.MONGODB:
            return MongoDriver(config, client=client)
        return open_driver(config)

    return opener
