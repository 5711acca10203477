"""The functions a read-only statement may call, per dialect: an allow-list.

A function call is refused unless its name is listed here for the connection's dialect,
so an unknown function (a user-defined one, one a newer server added, an extension's)
is refused by default. Some refusals get a name of their own (DENIED / DENIED_PREFIXES)
so that the error says what the function does rather than "unknown".

How the lists were built:
  * PostgreSQL: pg_functions.POSTGRES_FUNCTIONS, generated from pg_catalog by
    scripts/gen_pg_functions.py (every overload immutable or stable, no internal/cstring
    arguments, minus a reviewed exclusion list, plus a few harmless volatile ones).
    Volatility alone is not enough: table_to_xml and database_to_xml are STABLE and read
    whole tables by name, ts_stat and query_to_xml run the SQL text they are given, and
    all of these would be "pure" to a volatility check. The generator excludes them by
    name and says why; POSTGRES_SYNTAX below adds the SQL constructs written like calls
    (COALESCE, GREATEST, CAST...) that are grammar, not pg_proc entries.
  * MySQL/MariaDB: a hand-reviewed list of MariaDB 10.11 / MySQL 8 built-ins (string,
    numeric, date/time, aggregate, window, JSON, control flow, information functions).
    Nothing that sleeps, waits for replication, takes a named lock, reads a file or sets
    session state is listed.

Names are compared lower-cased; qualification is checked by the guard (only pg_catalog
on PostgreSQL, none on MySQL, where a qualified name is a stored function).
"""

from __future__ import annotations

from .pg_functions import POSTGRES_FUNCTIONS as _PG_CATALOG

__all__ = ["DENIED", "DENIED_PREFIXES", "MYSQL_FUNCTIONS", "POSTGRES_FUNCTIONS", "POSTGRES_SYNTAX",
           "refusal"]

# Grammar of PostgreSQL that reads like a function call but is not in pg_proc.
POSTGRES_SYNTAX: frozenset[str] = frozenset("""
    cast coalesce nullif greatest least trim extract position substring overlay
    normalize collation treat row array exists grouping
    xmlelement xmlforest xmlconcat xmlparse xmlpi xmlroot xmlserialize xmlexists
    json_object json_array json_objectagg json_arrayagg json_scalar json_serialize json
    json_value json_query json_exists
    current_date current_time current_timestamp localtime localtimestamp current_user
    current_role current_catalog current_schema session_user user
""".split())

POSTGRES_FUNCTIONS: frozenset[str] = _PG_CATALOG | POSTGRES_SYNTAX

# fmt: off
MYSQL_FUNCTIONS: frozenset[str] = frozenset("""
    ascii bin bit_length char char_length character_length chr concat concat_ws elt
    export_set field find_in_set format from_base64 hex insert instr lcase left length
    lengthb locate lower lpad ltrim make_set mid natural_sort_key oct octet_length ord
    position quote repeat replace reverse right rpad rtrim soundex space strcmp substr
    substring substring_index to_base64 to_char trim ucase unhex upper weight_string
    regexp_replace regexp_instr regexp_substr sformat collation charset coercibility
    convert crc32 crc32c md5 sha sha1 sha2 compress uncompress uncompressed_length
    aes_encrypt aes_decrypt
    abs acos asin atan atan2 ceil ceiling conv cos cot degrees div exp floor greatest
    least ln log log10 log2 mod pi pow power radians rand round sign sin sqrt tan truncate
    adddate addtime add_months convert_tz curdate current_date current_time
    current_timestamp curtime date date_add date_format date_sub datediff day dayname
    dayofmonth dayofweek dayofyear extract from_days from_unixtime get_format hour
    last_day localtime localtimestamp makedate maketime microsecond minute month
    monthname months_between now period_add period_diff quarter sec_to_time second
    str_to_date subdate subtime sysdate time time_format time_to_sec timediff timestamp
    timestampadd timestampdiff to_days to_seconds unix_timestamp utc_date utc_time
    utc_timestamp week weekday weekofyear year yearweek
    avg bit_and bit_or bit_xor count group_concat json_arrayagg json_objectagg max min std
    stddev stddev_pop stddev_samp sum var_pop var_samp variance median percentile_cont
    percentile_disc
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value
    last_value nth_value
    if ifnull nullif coalesce isnull nvl nvl2 interval cast binary decode_histogram
    json_array json_array_append json_array_insert json_array_intersect json_compact
    json_contains json_contains_path json_depth json_detailed json_equals json_exists
    json_extract json_insert json_keys json_length json_loose json_merge json_merge_patch
    json_merge_preserve json_normalize json_object json_object_filter_keys
    json_object_to_array json_overlaps json_pretty json_query json_quote json_remove
    json_replace json_schema_valid json_search json_set json_table json_type json_unquote
    json_valid json_value
    uuid uuid_short sys_guid database schema user current_user current_role session_user
    system_user version connection_id found_rows row_count
    inet_aton inet_ntoa inet6_aton inet6_ntoa is_ipv4 is_ipv4_compat is_ipv4_mapped
    is_ipv6 bit_count match values row exists any_value
""".split())

# Refusals with a name of their own: side effects a READ ONLY transaction does not stop,
# the server's file system, or SQL passed as text (which the guard cannot see).
DENIED: frozenset[str] = frozenset({
    # stall the connection
    "pg_sleep", "pg_sleep_for", "pg_sleep_until", "sleep", "benchmark",
    "master_pos_wait", "master_gtid_wait", "source_pos_wait", "wait_for_executed_gtid_set",
    "wait_until_sql_thread_after_gtids",
    # the server's file system
    "pg_stat_file", "load_file", "pg_current_logfile",
    # session / server state, signals to other backends
    "set_config", "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf",
    "pg_rotate_logfile", "pg_promote", "pg_switch_wal", "pg_create_restore_point",
    "pg_export_snapshot", "pg_import_system_collations", "pg_notify",
    "pg_log_backend_memory_contexts", "pg_current_xact_id", "set_var", "setseed",
    "last_insert_id",  # with an argument it sets the session value
    # sequence changes are not transactional: a rollback does not undo them
    "nextval", "setval",
    # locks that outlive the statement
    "get_lock", "release_lock", "release_all_locks", "is_free_lock", "is_used_lock",
    # run SQL passed as text, or read whole tables named by a string
    "ts_stat", "ts_rewrite", "cursor_to_xml", "cursor_to_xmlschema",
    # lib_mysqludf_sys: shell commands
    "sys_exec", "sys_eval",
})
DENIED_PREFIXES: tuple[str, ...] = (
    "pg_read_",  # pg_read_file, pg_read_binary_file
    "pg_ls_",  # pg_ls_dir, pg_ls_logdir, pg_ls_waldir, ...
    "pg_file_",  # adminpack: pg_file_write, pg_file_unlink, ...
    "pg_logdir_",
    "lo_",  # large objects: lo_import, lo_export, lo_from_bytea, lo_put, lo_unlink, ...
    "dblink",  # dblink, dblink_exec, dblink_connect, ...
    "txid_",  # txid_current assigns a transaction id
    "pg_advisory_", "pg_try_advisory_",
    "pg_stat_reset",
    "pg_replication_", "pg_create_", "pg_drop_", "pg_logical_", "pg_wal_", "pg_xlog_",
    "pg_backup_", "pg_start_backup", "pg_stop_backup",
    "query_to_xml", "table_to_xml", "schema_to_xml", "database_to_xml",
)
# fmt: on

_ALLOWED = {"postgres": POSTGRES_FUNCTIONS, "mysql": MYSQL_FUNCTIONS}


def refusal(name: str, dialect: str) -> str | None:
    """Why a call of `name` (as the server resolves it, unqualified) is refused, or None."""
    lower = name.lower()
    if lower in DENIED or lower.startswith(DENIED_PREFIXES):
        return f"function {lower}"
    if lower not in _ALLOWED[dialect]:
        return f"function {lower} (not on the list of functions allowed on a read-only connection)"
    return None
