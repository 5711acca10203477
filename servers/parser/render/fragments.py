"""Glossary fragments (a metric's measure, a segment's condition: SQL text stored
validated and qualified by the connector), parsed once per process for every renderer.

Callers must copy (or transform, which copies) before changing a parsed tree: it is
shared."""

from __future__ import annotations

import functools

import sqlglot
from sqlglot import exp

from servers.parser.domain import Unresolved


@functools.lru_cache(maxsize=1024)
def parse_fragment(sql: str) -> exp.Expression:
    """The fragment's tree (dialect-neutral); Unresolved when it does not parse."""
    try:
        return sqlglot.parse_one(sql)
    except sqlglot.errors.ParseError as error:
        raise Unresolved(f"the glossary expression {sql!r} does not parse: {error}") from error
