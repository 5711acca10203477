"""Composition root of the query parser: channels to the connector (schemas, values,
glossaries) and to the prediction service (the intent model), the core, the servicer.

The parser keeps no store of its own: everything it knows comes from the connector and
is cached per schema version.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from servers.contracts.clients import ConnectorClient
from servers.runtime.channels import open_channel
from servers.runtime.server import ServiceBinding
from servers.runtime.settings import Settings

from .core import Parser
from .intent import IntentClassifier
from .language import synonyms
from .samples import ValueSampler
from .service import parser_binding


async def open_parser(settings: Settings, stack: AsyncExitStack) -> Parser:
    # The word embeddings load before the port opens, not on the first question.
    await asyncio.to_thread(synonyms.model)
    connector_channel = open_channel(settings, "connector", map_errors=True)
    stack.push_async_callback(connector_channel.close)
    prediction_channel = open_channel(settings, "prediction")
    stack.push_async_callback(prediction_channel.close)
    connector = ConnectorClient(connector_channel)
    return Parser(
        connector,
        ValueSampler(connector, per_column=settings.parser_sample_values, max_chars=settings.parser_sample_max_chars),
        IntentClassifier.from_settings(prediction_channel, settings),
        glossary_reader=connector.glossary,
        schema_ttl_s=settings.parser_schema_ttl_s,
        prepared_cache_size=settings.parser_prepared_cache,
    )


async def build(settings: Settings, stack: AsyncExitStack) -> list[ServiceBinding]:
    """`chatdb serve parser`: the QueryParserService binding."""
    return [parser_binding(await open_parser(settings, stack))]
