"""The PostgreSQL function allow-list against the real server's catalog: what the
generator (scripts/gen_pg_functions.py) promised still holds."""

from __future__ import annotations

import asyncpg

from servers.connector.pg_functions import POSTGRES_FUNCTIONS

# Volatile, but only because each call returns something new; added by hand.
HARMLESS_VOLATILE = {"random", "clock_timestamp", "timeofday", "gen_random_uuid", "currval", "lastval"}


async def test_postgres_allow_list_matches_the_catalog(pg_database):
    conn = await asyncpg.connect(pg_database)
    try:
        rows = await conn.fetch(
            "SELECT proname, bool_and(provolatile IN ('i', 's')) AS pure, "
            "bool_and(prokind IN ('f', 'a', 'w')) AS callable "
            "FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace "
            "GROUP BY proname"
        )
        major = await conn.fetchval("SELECT current_setting('server_version_num')::int / 10000")
    finally:
        await conn.close()
    catalog = {r["proname"]: r for r in rows}
    listed = set(POSTGRES_FUNCTIONS)
    # nothing volatile slipped in but the reviewed few, nothing that is a procedure
    assert {n for n in listed if n in catalog and not catalog[n]["pure"]} <= HARMLESS_VOLATILE
    assert all(catalog[n]["callable"] for n in listed if n in catalog)
    # stable functions that still run SQL or read tables by name are kept out: the list is
    # more than a volatility filter
    for name in ("table_to_xml", "schema_to_xml", "database_to_xml", "ts_debug"):
        assert catalog[name]["pure"] and name not in listed, name
    if major == 15:  # the version the list was generated from
        assert listed <= set(catalog)
