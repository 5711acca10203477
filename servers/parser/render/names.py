"""Identifiers as each dialect needs them: quoted only when a bare name would not
survive (a reserved word, capitals PostgreSQL would fold, spaces, a leading digit)."""

from __future__ import annotations

import functools
import re

from sqlglot import exp
from sqlglot.dialects.mysql import MySQL

# PostgreSQL's reserved key words, and the ones that cannot be a column or function
# name unquoted (SQL Key Words appendix). sqlglot keeps no such list for PostgreSQL.
_POSTGRES_RESERVED = frozenset(
    """all analyse analyze and any array as asc asymmetric authorization binary both case cast
    check collate collation column concurrently constraint create cross current_catalog
    current_date current_role current_schema current_time current_timestamp current_user
    default deferrable desc distinct do else end except false fetch for foreign freeze from
    full grant group having ilike in initially inner intersect into is isnull join lateral
    leading left like limit localtime localtimestamp natural not notnull null offset on only
    or order outer overlaps placing primary references returning right select session_user
    similar some symmetric system_user table tablesample then to trailing true union unique
    user using variadic verbose when where window with between bigint bit boolean char
    character coalesce dec decimal exists extract float greatest grouping inout int integer
    interval least national nchar none normalize nullif numeric out overlay position
    precision real row setof smallint substring time timestamp treat trim values varchar
    json_array json_object merge_action""".split()
)
# MariaDB reserves a few words MySQL does not (OFFSET since 10.6, RETURNING, OVER…).
_MARIADB_EXTRA = frozenset(
    """offset returning except intersect over position recursive row_number rows range
    partition current_role general slow window delete_domain_id do_domain_ids
    ignore_domain_ids ignore_server_ids master_heartbeat_period page_checksum
    parse_vcol_expr ref_system_id stats_auto_recalc stats_persistent stats_sample_pages""".split()
)
_MYSQL_RESERVED = (
    frozenset(word.lower() for word in MySQL.Generator.RESERVED_KEYWORDS) | _MARIADB_EXTRA
)
_RESERVED = {
    "postgres": _POSTGRES_RESERVED,
    "mysql": _MYSQL_RESERVED,
    "sqlite": _POSTGRES_RESERVED | _MYSQL_RESERVED,
}
_BARE = {
    # PostgreSQL folds unquoted names to lower case: capitals need quotes.
    "postgres": re.compile(r"[a-z_][a-z0-9_]*"),
    "mysql": re.compile(r"[A-Za-z_][A-Za-z0-9_]*"),
    "sqlite": re.compile(r"[A-Za-z_][A-Za-z0-9_]*"),
}

DIALECTS = tuple(_RESERVED)


@functools.lru_cache(maxsize=8192)
def needs_quotes(name: str, dialect: str) -> bool:
    return not _BARE[dialect].fullmatch(name) or name.lower() in _RESERVED[dialect]


def identifier(name: str, dialect: str) -> exp.Identifier:
    return exp.Identifier(this=name, quoted=needs_quotes(name, dialect))
