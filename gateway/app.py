"""Composition root of the gateway (`chatdb serve gateway`): the platform database
(migrated here), Redis, channels to the parser and the connector, the history writer,
the core, the ChatService binding; ApiKeyService and the edge's ext_authz HTTP server
(authz.py, on CHATDB_GATEWAY_AUTHZ_PORT) over one in-memory table of active keys.

`wire_answerers` attaches the answerers of model questions (ml_answers.py) and of
system questions and status (status.py, system_questions.py) to the core.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

from servers.contracts.quotas import Quotas
from servers.runtime.channels import open_channel
from servers.runtime.migrations import migrate_dsn
from servers.runtime.paging import PageTokens, key_from
from servers.runtime.pg import open_platform_pool
from servers.runtime.server import ServiceBinding
from servers.runtime.settings import Settings

from .accepted import AcceptedAnswers
from .api_key_service import api_key_binding
from .api_key_store import ApiKeyStore
from .api_keys import ApiKeys
from .authz import Authorizer, AuthzServer, KeyTable
from .cache import ResultCache
from .clients import ConnectorGateway, ParserClient
from .core import Gateway, GatewayOptions
from .history import HistoryWriter
from .ml_answers import open_ml_answers
from .service import chat_binding
from .status import open_monitor, status_reader
from .store import GatewayStore
from .system_questions import open_system_questions

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Opened:
    core: Gateway
    pg_pool: asyncpg.Pool
    redis: aioredis.Redis


async def open_gateway(settings: Settings, stack: AsyncExitStack) -> Opened:
    await migrate_dsn(settings.database_url, "gateway", MIGRATIONS)
    pool = await open_platform_pool(settings)
    stack.push_async_callback(pool.close)
    redis = aioredis.from_url(settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
    stack.push_async_callback(redis.aclose)
    parser_channel = open_channel(settings, "parser", map_errors=True)
    stack.push_async_callback(parser_channel.close)
    connector_channel = open_channel(settings, "connector", map_errors=True)
    stack.push_async_callback(connector_channel.close)

    store = GatewayStore(pool)
    history = HistoryWriter(store, bound=settings.gateway_history_queue, retry_s=settings.gateway_history_retry_s)
    history.start()
    # Registered after the pool: closed (flushed) before the pool closes.
    stack.push_async_callback(history.close, settings.grace_period_s)
    core = Gateway(
        parser=ParserClient(parser_channel, timeout_s=settings.gateway_call_timeout_s),
        connector=ConnectorGateway(connector_channel, timeout_s=settings.gateway_call_timeout_s),
        store=store,
        history=history,
        cache=ResultCache(redis, settings.redis_prefix, ttl_s=settings.gateway_cache_ttl_s),
        accepted=AcceptedAnswers(store, similarity=settings.gateway_accepted_similarity,
                                 ttl_s=settings.gateway_accepted_ttl_s),
        tokens=PageTokens(key_from(settings.gateway_page_token_key, derive_from=settings.database_url)),
        options=GatewayOptions(max_rows=settings.gateway_max_rows, versions_ttl_s=settings.gateway_versions_ttl_s),
        quotas=Quotas(redis, settings.redis_prefix, retry_after_s=settings.quota_redis_retry_s),
    )
    return Opened(core, pool, redis)


@dataclass
class OpenedKeys:
    api_keys: ApiKeys
    table: KeyTable
    authz: AuthzServer


async def open_api_keys(settings: Settings, stack: AsyncExitStack, pool: asyncpg.Pool, *,
                        authz_port: int | None = None) -> OpenedKeys:
    """ApiKeyService's core and the ext_authz server, started, over one key table (a
    revoke through this replica drops the key from it at once)."""
    store = ApiKeyStore(pool)
    table = KeyTable(store, refresh_s=settings.gateway_authz_refresh_s,
                     last_use_interval_s=settings.gateway_api_key_last_use_interval_s)
    await table.start()
    stack.push_async_callback(table.close)
    authz = AuthzServer(Authorizer(table), settings.host,
                        settings.gateway_authz_port if authz_port is None else authz_port)
    await authz.start()
    stack.push_async_callback(authz.close)
    api_keys = ApiKeys(store, PageTokens(key_from(settings.gateway_page_token_key, derive_from=settings.database_url)),
                       on_create=table.added, on_revoke=table.revoked)
    return OpenedKeys(api_keys, table, authz)


async def wire_answerers(settings: Settings, stack: AsyncExitStack, core: Gateway, *,
                         pg_pool: asyncpg.Pool, redis: aioredis.Redis) -> None:
    """Attach the answerers of model questions (core.ml) and of system questions
    (core.system, core.status_reader)."""
    core.ml = ml = open_ml_answers(settings, stack)
    # System questions and the degradation level: the monitor checks the mesh in the
    # background on the gateway's own pool and Redis client.
    monitor = await open_monitor(settings, stack, pg_pool=pg_pool, redis=redis)
    core.status_reader = status_reader(monitor)
    ml.anomalies.status_reader = core.status_reader  # no table trained while training is down
    core.system = open_system_questions(settings, stack, monitor=monitor, failed_questions=core.failed_questions)


async def build(settings: Settings, stack: AsyncExitStack) -> list[ServiceBinding]:
    """`chatdb serve gateway`: ChatService, ApiKeyService and the ext_authz server."""
    opened = await open_gateway(settings, stack)
    await wire_answerers(settings, stack, opened.core, pg_pool=opened.pg_pool, redis=opened.redis)
    keys = await open_api_keys(settings, stack, opened.pg_pool)
    return [chat_binding(opened.core), api_key_binding(keys.api_keys)]
