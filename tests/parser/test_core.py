"""The parser core's own pieces that need no network: the single-flight cache that keeps
twenty cold questions from sampling a connection twenty times, and the glossary's
relationships joining the foreign-key graph."""

from __future__ import annotations

import asyncio

import pytest

from servers.contracts.glossary import Glossary, Relationship
from servers.parser.core import SingleFlightCache, with_relationships
from servers.parser.domain import ColumnInfo, ColumnKind, SchemaView, TableInfo


async def test_concurrent_callers_of_one_key_share_one_computation():
    cache: SingleFlightCache[str, int] = SingleFlightCache(4)
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return 42

    assert await asyncio.gather(*(cache.get("k", compute) for _ in range(20))) == [42] * 20
    assert calls == 1
    assert await cache.get("k", compute) == 42 and calls == 1


async def test_a_failed_computation_is_not_kept():
    cache: SingleFlightCache[str, int] = SingleFlightCache(4)

    async def fail() -> int:
        raise RuntimeError("database away")

    async def succeed() -> int:
        return 7

    with pytest.raises(RuntimeError):
        await cache.get("k", fail)
    assert await cache.get("k", succeed) == 7


async def test_the_cache_forgets_the_least_recently_used():
    cache: SingleFlightCache[int, int] = SingleFlightCache(2)
    computed: list[int] = []

    def value(n: int):
        async def compute() -> int:
            computed.append(n)
            return n

        return compute

    for key in (1, 2, 1, 3, 1, 2):
        await cache.get(key, value(key))
    assert computed == [1, 2, 3, 2]  # 2 was evicted by 3; 1 stayed in use


def test_glossary_relationships_become_foreign_keys_and_change_the_version():
    def table(name: str, *columns: str) -> TableInfo:
        return TableInfo(name, tuple(ColumnInfo(c, ColumnKind.INTEGER) for c in columns))

    schema = SchemaView((table("visits", "id", "patient_ref"), table("patients", "id")), version="v1")
    glossary = Glossary(
        relationships=(Relationship("visits", ("patient_ref",), "patients", ("id",)),), version="g1"
    )
    joined = with_relationships(schema, glossary)
    [fk] = joined.table("visits").foreign_keys
    assert (fk.columns, fk.referenced_table, fk.referenced_columns) == (("patient_ref",), "patients", ("id",))
    assert joined.version != schema.version
    assert with_relationships(schema, None) is schema
