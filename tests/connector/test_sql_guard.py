"""Unit tests for the read-only guard: no database, only the parser's verdicts."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import pytest
from sqlglot.dialects.dialect import Dialect as SqlglotDialect

from servers.connector import sql_functions
from servers.connector.pg_functions import POSTGRES_FUNCTIONS as PG_CATALOG_FUNCTIONS
from servers.connector.sql_guard import (
    MAX_SQL_CHARS,
    Dialect,
    GuardVerdict,
    StatementRefused,
    VerdictKind,
    check_mongo_filter,
    check_mongo_pipeline,
    check_read_only,
    check_writable,
    require_read_only,
)

CORPUS_PATH = Path(__file__).parent / "data" / "attack_corpus.json"
CORPUS: list[dict] = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))

PG, MY = Dialect.POSTGRES, Dialect.MYSQL
BOTH = (PG, MY)


# --------------------------------------------------------------------------- attacks


def test_corpus_is_large_and_well_formed():
    assert len(CORPUS) >= 220
    for entry in CORPUS:
        assert entry["dialect"] in ("postgres", "mysql"), entry
        assert entry["sql"] and entry["why"], entry
    # one attack per entry
    assert len({(e["dialect"], e["sql"]) for e in CORPUS}) == len(CORPUS)
    # both engines are covered
    assert Counter(e["dialect"] for e in CORPUS).keys() == {"postgres", "mysql"}


@pytest.mark.parametrize("entry", CORPUS, ids=[f"{i}-{e['dialect']}" for i, e in enumerate(CORPUS)])
def test_attack_is_not_allowed(entry):
    verdict = check_read_only(entry["sql"], Dialect(entry["dialect"]))
    assert not verdict.allowed, entry["why"]
    assert verdict.kind in (VerdictKind.REFUSED, VerdictKind.SYNTAX_ERROR)
    assert verdict.reason
    expected = entry.get("reason")
    if expected is not None:
        # real attacks are refused (PERMISSION_DENIED), naming what was refused
        assert verdict.kind is VerdictKind.REFUSED, (entry, verdict)
        assert expected.lower() in verdict.reason.lower(), (entry, verdict)


def test_most_attacks_are_refused_not_syntax_errors():
    kinds = Counter(check_read_only(e["sql"], Dialect(e["dialect"])).kind for e in CORPUS)
    assert kinds[VerdictKind.ALLOWED] == 0
    assert kinds[VerdictKind.REFUSED] >= 0.95 * len(CORPUS), kinds


def test_corpus_covers_the_required_constructs():
    text = "\n".join(e["sql"].upper() for e in CORPUS)
    for construct in [
        "; --",
        "/* */DELETE",
        "/*!",
        "AS (DELETE",
        "AS (UPDATE",
        "AS (INSERT",
        " INTO NEWT",
        "INTO OUTFILE",
        "INTO DUMPFILE",
        "PG_SLEEP",
        "SLEEP(",
        "BENCHMARK",
        "TO PROGRAM",
        "FROM PROGRAM",
        "CALL ",
        "DO $$",
        "SET ROLE",
        "SET SESSION AUTHORIZATION",
        "SET TRANSACTION READ WRITE",
        "RESET",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "LOCK TABLE",
        "FOR UPDATE",
        "FOR NO KEY UPDATE",
        "FOR SHARE",
        "FOR KEY SHARE",
        "LOCK IN SHARE MODE",
        "CREATE ",
        "ALTER ",
        "DROP ",
        "TRUNCATE",
        "GRANT",
        "REVOKE",
        "VACUUM",
        "ANALYZE",
        "CLUSTER",
        "REINDEX",
        "REFRESH MATERIALIZED VIEW",
        "COMMENT ON",
        "SECURITY LABEL",
        "INSERT INTO T SELECT",
        "REPLACE INTO",
        "MERGE INTO",
        "ON DUPLICATE KEY UPDATE",
        "ON CONFLICT",
        "LOAD DATA",
        "HANDLER",
        "PREPARE",
        "EXECUTE",
        "DEALLOCATE",
        "LISTEN",
        "NOTIFY",
        "PG_READ_FILE",
        "LO_IMPORT",
        "DBLINK",
        "SET_CONFIG",
        "NEXTVAL",
        "EXPLAIN ANALYZE DELETE",
        "\uff1b",
        "\u200b",
        "\x00",
        "UNION (DELETE",
        "WHERE ID IN (SELECT NEXTVAL",
        # functions that run SQL text, side effects a READ ONLY transaction lets through
        "TS_STAT($$",
        "TS_REWRITE(",
        "QUERY_TO_XML(",
        "TABLE_TO_XML(",
        "CURSOR_TO_XML(",
        "XPATH(",
        "LO_FROM_BYTEA(",
        "LO_IMPORT(",
        "PG_TERMINATE_BACKEND(",
        "SET_CONFIG(",
        "PG_ADVISORY_LOCK(",
        "PG_NOTIFY(",
        "PG_LS_DIR(",
        "PG_STAT_FILE(",
        "PG_READ_BINARY_FILE(",
        "MASTER_GTID_WAIT(",
        "MASTER_POS_WAIT(",
        "GET_LOCK(",
        "RELEASE_LOCK(",
        "FROM PG_AUTHID",
        "PG_SHADOW",
        "PG_HBA_FILE_RULES",
        "PG_FILE_SETTINGS",
        "FROM MYSQL.USER",
        "@@@",
        "OPERATOR(",
    ]:
        assert construct in text, construct


# --------------------------------------------------------------------- legitimate queries

ALLOWED: list[tuple[str, tuple[Dialect, ...]]] = [
    ("SELECT 1", BOTH),
    ("SELECT 1;", BOTH),
    ("SELECT a, b FROM t", BOTH),
    ("SELECT t.a, u.b FROM t JOIN u ON t.id = u.t_id LEFT JOIN v ON v.id = u.v_id", BOTH),
    ("SELECT * FROM t CROSS JOIN u", BOTH),
    ("SELECT * FROM t FULL OUTER JOIN u ON true", (PG,)),
    ("SELECT a FROM t JOIN u USING (id) WHERE a > 1 AND b < 2 OR c IS NULL", BOTH),
    ("WITH x AS (SELECT 1 AS a) SELECT * FROM x", BOTH),
    ("WITH x AS (SELECT a FROM t), y AS (SELECT a FROM x) SELECT count(*) FROM y", BOTH),
    (
        "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 5) "
        "SELECT * FROM r",
        BOTH,
    ),
    ("WITH x AS MATERIALIZED (SELECT 1) SELECT * FROM x", (PG,)),
    ("SELECT a, row_number() OVER (PARTITION BY b ORDER BY c DESC) AS rn FROM t", BOTH),
    ("SELECT sum(x) OVER w, rank() OVER w FROM t WINDOW w AS (PARTITION BY g ORDER BY x)", BOTH),
    ("SELECT lag(a) OVER (ORDER BY d ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t", BOTH),
    ("SELECT 1 UNION SELECT 2", BOTH),
    ("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3", BOTH),
    ("SELECT a FROM t INTERSECT SELECT a FROM u", BOTH),
    ("SELECT a FROM t EXCEPT SELECT a FROM u", BOTH),
    ("(SELECT 1) UNION ALL (SELECT 2) ORDER BY 1", BOTH),
    ("VALUES (1, 'a'), (2, 'b')", (PG,)),
    ("VALUES ROW(1, 'a'), ROW(2, 'b')", (MY,)),
    ("TABLE t", (PG,)),
    ("SELECT * FROM t WHERE a IN (SELECT b FROM u)", BOTH),
    ("SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a)", BOTH),
    ("SELECT (SELECT max(b) FROM u) AS m, a FROM (SELECT a FROM t) AS s", BOTH),
    ("SELECT * FROM t, LATERAL (SELECT * FROM u WHERE u.a = t.a LIMIT 1) s", (PG,)),
    ("SELECT CASE WHEN a > 1 THEN 'big' WHEN a = 1 THEN 'one' ELSE 'small' END FROM t", BOTH),
    ("SELECT CASE a WHEN 1 THEN 'one' END, COALESCE(b, 0), NULLIF(c, 0) FROM t", BOTH),
    (
        "SELECT a::numeric, b::text, CAST(c AS integer), round(avg(d)::numeric, 2) FROM t "
        "GROUP BY a, b, c",
        (PG,),
    ),
    ("SELECT CAST(a AS DECIMAL(10, 2)), CONVERT(b, CHAR) FROM t", (MY,)),
    ("SELECT now() - INTERVAL '1 month', d + INTERVAL '7 days', current_date - 1 FROM t", (PG,)),
    ("SELECT DATE_SUB(NOW(), INTERVAL 1 MONTH), d + INTERVAL 7 DAY, CURDATE() FROM t", (MY,)),
    (
        "SELECT DATE_TRUNC('month', created_at) AS m, count(*) FROM orders GROUP BY 1 ORDER BY 1",
        (PG,),
    ),
    ("SELECT EXTRACT(YEAR FROM d), to_char(d, 'YYYY-MM'), age(d) FROM t", (PG,)),
    ("SELECT DATE_FORMAT(d, '%Y-%m'), DATEDIFF(a, b), TIMESTAMPDIFF(DAY, a, b) FROM t", (MY,)),
    ("SELECT * FROM t WHERE name LIKE 'a%' OR name NOT LIKE '_b%'", BOTH),
    ("SELECT * FROM t WHERE name ILIKE '%smith%'", (PG,)),
    ("SELECT * FROM t WHERE id = $1 AND name = $2 LIMIT $3", (PG,)),
    ("SELECT * FROM t WHERE ts >= $1::timestamptz AND tags @> $2", (PG,)),
    ("SELECT * FROM t WHERE id = %s AND name = %s", (MY,)),
    ("SELECT * FROM t WHERE id = %(id)s AND name LIKE %(pattern)s", (MY,)),
    ("SELECT * FROM t WHERE a = %s AND b LIKE 'x%%' AND c % 2 = 0", (MY,)),
    ("SELECT 'DELETE FROM users; DROP TABLE users;' AS note", BOTH),
    ("SELECT * FROM audit WHERE action IN ('DELETE', 'DROP', 'UPDATE') AND msg = ';'", BOTH),
    ("SELECT 'it''s; fine -- really /* yes */' AS s", BOTH),
    ("SELECT $$ DELETE FROM t; $$ AS s, $tag$ it's $tag$ AS u", (PG,)),
    ('SELECT "DROP" FROM t', (PG,)),
    ("SELECT `DELETE`, `a;b` FROM t", (MY,)),
    ("-- monthly revenue\nSELECT /* sum of totals */ sum(total) FROM orders -- trailing", BOTH),
    ("/* report: top customers */\nSELECT customer_id FROM orders\nGROUP BY customer_id", BOTH),
    ("SELECT a FROM t # comment\nWHERE b = 1", (MY,)),
    ("SELECT data->'a' AS a, data->>'b' AS b, data#>>'{c,d}' AS cd FROM events", (PG,)),
    ("SELECT data ? 'key', data @> '{\"a\": 1}'::jsonb, jsonb_build_object('k', 1) FROM t", (PG,)),
    ("SELECT j->>'$.a', JSON_EXTRACT(j, '$.b') FROM t", (MY,)),
    ("SELECT * FROM t ORDER BY a LIMIT 10 OFFSET 20", BOTH),
    ("SELECT * FROM t LIMIT 20, 10", (MY,)),
    ("SELECT * FROM t ORDER BY a FETCH FIRST 5 ROWS ONLY", (PG,)),
    ("SELECT * FROM t ORDER BY a OFFSET 5 ROWS FETCH NEXT 5 ROWS ONLY", (PG,)),
    (
        "SELECT DISTINCT ON (customer_id) customer_id, total FROM orders "
        "ORDER BY customer_id, total DESC",
        (PG,),
    ),
    ("SELECT DISTINCT a FROM t", BOTH),
    ("SELECT count(*) FILTER (WHERE a > 1), string_agg(b, ',' ORDER BY b) FROM t", (PG,)),
    ("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM t", (PG,)),
    (
        "SELECT GROUP_CONCAT(x ORDER BY x SEPARATOR ','), IFNULL(a, 0) FROM t GROUP BY a "
        "WITH ROLLUP",
        (MY,),
    ),
    ("SELECT a, count(*) FROM t GROUP BY ROLLUP (a)", (PG,)),
    ("SELECT a, count(*) FROM t GROUP BY a HAVING count(*) > 1", BOTH),
    ("SELECT a FROM t WHERE b BETWEEN 1 AND 10 AND c IS NOT NULL", BOTH),
    ("SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4))", BOTH),
    ("SELECT * FROM t WHERE a = ANY($1) AND b <> ALL (SELECT b FROM u)", (PG,)),
    ("SELECT ARRAY[1, 2] @> ARRAY[1], a[1], unnest(tags) FROM t", (PG,)),
    ("SELECT * FROM generate_series(1, 10) AS g(n)", (PG,)),
    ("SELECT upper(a) || lower(b), substring(c FROM 1 FOR 3), trim(both ' ' FROM c) FROM t", (PG,)),
    ("SELECT CONCAT(a, b), UPPER(c), IF(a > 1, 'x', 'y') FROM t", (MY,)),
    ("SELECT a FROM t WHERE a ~* '^x' AND b SIMILAR TO 'y%'", (PG,)),
    ("SELECT a FROM t WHERE a REGEXP '^x'", (MY,)),
    ("SELECT current_setting('TimeZone'), version(), current_user, currval('s')", (PG,)),
    ("SELECT @@version, DATABASE(), NOW(), UUID()", (MY,)),
    ("SELECT E'line\\nbreak', U&'d\\0061t', X'ff', 'C:\\\\tmp'", (PG,)),
    ("SELECT 'a\\\\b', N'x', _utf8mb4'x' COLLATE utf8mb4_bin", (MY,)),
    ("SELECT /*+ MAX_EXECUTION_TIME(1000) */ a FROM t", (MY,)),
    ("SELECT a FROM t USE INDEX (i) WHERE b = 1", (MY,)),
    ("SELECT * FROM t TABLESAMPLE SYSTEM (10)", (PG,)),
    ("SELECT '日本語' AS s, 名前 FROM 顧客", BOTH),
    ("SELECT 'ＡＢＣ１２３' AS fullwidth_in_a_literal", BOTH),
    ("SELECT a\r\nFROM t\r\nWHERE b = 1", BOTH),
    ("SELECT\ta\tFROM\tt", BOTH),
    ("SELECT make_interval(days => 1), pg_catalog.lower('A'), \"lower\"('B')", (PG,)),
]


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [(sql, d) for sql, dialects in ALLOWED for d in dialects],
)
def test_read_only_query_is_allowed(sql, dialect):
    verdict = check_read_only(sql, dialect)
    assert verdict.allowed, verdict
    assert verdict.kind is VerdictKind.ALLOWED
    require_read_only(sql, dialect)  # does not raise


def test_allowed_list_is_large_enough():
    assert len(ALLOWED) >= 40
    assert sum(1 for _, d in ALLOWED if d == BOTH) >= 20


# ------------------------------------------------------------------ function allow-list

# What a question turned into SQL (by hand or by sqlglot) typically calls.
ORDINARY: list[tuple[str, tuple[Dialect, ...]]] = [
    ("SELECT count(*), count(DISTINCT a), sum(b), avg(b), min(c), max(c) FROM t", BOTH),
    (
        "SELECT lower(a), upper(b), length(c), substring(c, 1, 3), round(d, 2), abs(e), "
        "concat(a, b), coalesce(a, b), nullif(a, ''), greatest(1, 2), least(1, 2) FROM t",
        BOTH,
    ),
    (
        "SELECT CAST(a AS INTEGER), EXTRACT(YEAR FROM d), replace(a, 'x', 'y'), "
        "trim(a), lpad(a, 5, '0'), ceil(b), floor(b), mod(b, 2), power(b, 2), sqrt(b) FROM t",
        BOTH,
    ),
    (
        "SELECT row_number() OVER (ORDER BY a), rank() OVER w, dense_rank() OVER w, "
        "lag(a, 1) OVER w, lead(a) OVER w, first_value(a) OVER w, ntile(4) OVER w FROM t "
        "WINDOW w AS (PARTITION BY b ORDER BY c)",
        BOTH,
    ),
    (
        "SELECT now(), current_date, date_trunc('month', d), to_char(d, 'YYYY-MM'), "
        "date_part('dow', d), age(now(), d), make_date(2024, 1, 1), to_timestamp(0) FROM t",
        (PG,),
    ),
    (
        "SELECT string_agg(a, ', ' ORDER BY a), array_agg(b), json_agg(c), jsonb_agg(c), "
        "bool_and(f), bool_or(f), stddev(b), percentile_disc(0.9) WITHIN GROUP (ORDER BY b) "
        "FROM t",
        (PG,),
    ),
    (
        "SELECT data->>'k', data #>> '{a,b}', jsonb_extract_path_text(data, 'k'), "
        "jsonb_array_length(data->'l'), json_build_object('a', 1), to_jsonb(t) FROM t",
        (PG,),
    ),
    (
        "SELECT split_part(a, '-', 1), regexp_replace(a, '[0-9]', '', 'g'), initcap(a), "
        "left(a, 2), right(a, 2), position('x' IN a), strpos(a, 'x'), format('%s', a), md5(a) "
        "FROM t",
        (PG,),
    ),
    (
        "SELECT generate_series(1, 3), unnest(ARRAY[1, 2]), random(), gen_random_uuid(), "
        "pg_typeof(1), version(), current_user",
        (PG,),
    ),
    (
        "SELECT DATE_FORMAT(d, '%Y-%m'), YEAR(d), MONTH(d), DAY(d), IFNULL(a, 0), "
        "DATEDIFF(a, b), DATE_ADD(d, INTERVAL 1 DAY), CURDATE(), NOW(), "
        "UNIX_TIMESTAMP(d), STR_TO_DATE(s, '%Y') FROM t",
        (MY,),
    ),
    (
        "SELECT GROUP_CONCAT(DISTINCT a ORDER BY a SEPARATOR ','), IF(a > 1, 'y', 'n'), "
        "JSON_EXTRACT(j, '$.a'), JSON_UNQUOTE(j->'$.b'), CHAR_LENGTH(s), LOCATE('x', s), "
        "SUBSTRING_INDEX(s, '.', 1), TRUNCATE(b, 1), FORMAT(b, 2) FROM t GROUP BY c",
        (MY,),
    ),
]


@pytest.mark.parametrize(
    ("sql", "dialect"), [(sql, d) for sql, dialects in ORDINARY for d in dialects]
)
def test_ordinary_functions_are_allowed(sql, dialect):
    verdict = check_read_only(sql, dialect)
    assert verdict.allowed, verdict


@pytest.mark.parametrize(
    ("sql", "dialect", "reason"),
    [
        ("SELECT my_function(a) FROM t", PG, "function my_function"),
        ("SELECT my_schema.my_function(a) FROM t", PG, "function my_schema.my_function"),
        ("SELECT my_schema.my_function(a) FROM t", MY, "function my_schema.my_function"),
        ('SELECT "Lower"(a) FROM t', PG, 'function "Lower"'),
        ("SELECT `upper`(a) FROM t", MY, "function `upper`"),
        ("SELECT x FROM t WHERE sneaky() > 0", PG, "function sneaky"),
        ("SELECT * FROM ts_stat('SELECT v FROM t')", PG, "function ts_stat"),
        ("SELECT table_to_xml('t', true, false, '')", PG, "function table_to_xml"),
        ("SELECT lo_from_bytea(0, 'x')", PG, "function lo_from_bytea"),
        ("SELECT pg_advisory_lock(1)", PG, "function pg_advisory_lock"),
        ("SELECT * FROM pg_authid", PG, "system catalog pg_authid"),
        ('SELECT * FROM "pg_catalog"."pg_shadow"', PG, "system catalog pg_shadow"),
        ("SELECT a OPERATOR(pg_catalog.+) b FROM t", PG, "operator OPERATOR(pg_catalog.+)"),
        ("SELECT a ## b FROM t", PG, "operator ##"),
        ("SELECT MASTER_GTID_WAIT('0-1-1')", MY, "function master_gtid_wait"),
        ("SELECT * FROM `MySQL`.`User`", MY, "system table mysql.user"),
    ],
)
def test_functions_operators_and_catalogs_outside_the_lists_are_refused(sql, dialect, reason):
    verdict = check_read_only(sql, dialect)
    assert verdict.kind is VerdictKind.REFUSED, verdict
    assert verdict.reason.startswith(reason), verdict


def test_an_unqualified_table_is_in_the_connections_database_on_mysql():
    assert check_read_only("SELECT * FROM user", MY).allowed  # a user table called user
    verdict = check_read_only("SELECT * FROM user", MY, database="mysql")
    assert verdict == GuardVerdict(VerdictKind.REFUSED, "system table mysql.user")


@pytest.mark.parametrize("dialect", BOTH)
def test_every_function_name_sqlglot_knows_is_checked_as_written(dialect):
    """The guard reads a call's name where it was written, whatever node sqlglot makes
    of it (typed functions, grammar rules such as TRIM(...), predicates such as
    GLOB(a, b)): no name the allow-list refuses gets through."""
    parser = SqlglotDialect.get_or_raise(dialect.value).parser_class
    checked = 0
    for name in sorted({*parser.FUNCTIONS, *parser.FUNCTION_PARSERS}):
        if not name.replace("_", "").isalnum():
            continue
        for args in ("x", "x, y", "x, y, z", "", "'a', 'b', 'c', 'd'"):
            verdict = check_read_only(f"SELECT {name}({args}) FROM t", dialect)
            if verdict.kind is not VerdictKind.SYNTAX_ERROR:
                break
        if verdict.kind is VerdictKind.SYNTAX_ERROR:
            continue
        checked += 1
        if sql_functions.refusal(name, dialect.value) is not None:
            assert not verdict.allowed, name
    assert checked > 500


def test_function_lists_keep_out_what_runs_sql_text_or_has_side_effects():
    for name in [
        "ts_stat", "ts_rewrite", "query_to_xml", "table_to_xml", "schema_to_xml",
        "database_to_xml", "cursor_to_xml", "lo_from_bytea", "lo_import", "pg_read_file",
        "pg_ls_dir", "pg_stat_file", "pg_terminate_backend", "set_config", "pg_advisory_lock",
        "pg_notify", "nextval", "txid_current", "pg_sleep", "dblink",
    ]:  # fmt: skip
        assert name not in sql_functions.POSTGRES_FUNCTIONS, name
        assert sql_functions.refusal(name, "postgres") == f"function {name}", name
    for name in [
        "sleep", "benchmark", "get_lock", "release_lock", "master_gtid_wait",
        "master_pos_wait", "load_file", "last_insert_id", "nextval",
    ]:  # fmt: skip
        assert name not in sql_functions.MYSQL_FUNCTIONS, name
        assert sql_functions.refusal(name, "mysql") == f"function {name}", name
    assert not sql_functions.DENIED & (sql_functions.MYSQL_FUNCTIONS | PG_CATALOG_FUNCTIONS)
    assert len(PG_CATALOG_FUNCTIONS) > 1000


# ------------------------------------------------------------------ writable connections

WRITABLE_REFUSED: list[tuple[str, Dialect, str]] = [
    ("COPY t TO PROGRAM 'id > /tmp/x'", PG, "COPY ... PROGRAM"),
    ("COPY t FROM PROGRAM 'curl http://x'", PG, "COPY ... PROGRAM"),
    ("copy (SELECT 1) to '/tmp/out.csv'", PG, "COPY to or from a server file"),
    ("COPY t FROM '/etc/passwd'", PG, "COPY to or from a server file"),
    ("SELECT * FROM t INTO OUTFILE '/tmp/x'", MY, "SELECT ... INTO OUTFILE"),
    ("SELECT a INTO DUMPFILE '/tmp/y' FROM t", MY, "SELECT ... INTO DUMPFILE"),
    ("SELECT 1 /*!50000 INTO OUTFILE '/tmp/z' */", MY, "executable comment"),
    ("LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE t", MY, "LOAD DATA"),
    ("LOAD XML INFILE '/x.xml' INTO TABLE t", MY, "LOAD DATA"),
    ("INSERT INTO t SELECT LOAD_FILE('/etc/passwd')", MY, "function load_file"),
    ("INSERT INTO t SELECT pg_read_file('/etc/passwd')", PG, "function pg_read_file"),
    ("SELECT pg_catalog.lo_import('/etc/passwd')", PG, "function lo_import"),
    ("SELECT \"lo_export\"(1, '/tmp/x')", PG, "function lo_export"),
    ("SELECT dblink_exec('dbname=postgres', 'DROP TABLE t')", PG, "function dblink_exec"),
    ("CREATE DATABASE other", PG, "CREATE DATABASE"),
    ("DROP DATABASE IF EXISTS other", MY, "DROP DATABASE"),
    ("CREATE SCHEMA IF NOT EXISTS other", MY, "CREATE DATABASE"),
    ("CREATE ROLE admin SUPERUSER LOGIN", PG, "CREATE ROLE"),
    ("ALTER ROLE app SUPERUSER", PG, "ALTER ROLE"),
    ("ALTER USER postgres PASSWORD 'x'", PG, "ALTER USER"),
    ("CREATE USER 'x'@'%' IDENTIFIED BY 'y'", MY, "CREATE USER"),
    ("DROP USER app", MY, "DROP USER"),
    ("GRANT ALL PRIVILEGES ON *.* TO 'app'@'%'", MY, "GRANT statement"),
    ("REVOKE SELECT ON t FROM app", PG, "REVOKE statement"),
    ("GRANT pg_execute_server_program TO app", PG, "GRANT statement"),
    ("ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO app", PG, "ALTER DEFAULT"),
    ("SET ROLE postgres", PG, "SET ROLE"),
    ("SET SESSION AUTHORIZATION postgres", PG, "SET SESSION AUTHORIZATION"),
    ("SET PASSWORD FOR 'root'@'%' = PASSWORD('x')", MY, "SET PASSWORD"),
    ("RENAME USER 'a'@'%' TO 'b'@'%'", MY, "RENAME USER"),
    ("DO $$ BEGIN EXECUTE 'COPY t TO PROGRAM ''id'''; END $$", PG, "DO block"),
    (
        "CREATE OR REPLACE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$BEGIN END$$",
        PG,
        "CREATE FUNCTION",
    ),
    ("CREATE EXTENSION dblink", PG, "CREATE EXTENSION"),
    ("ALTER SYSTEM SET archive_command = 'id'", PG, "ALTER SYSTEM"),
    ("PREPARE s FROM 'SELECT 1 INTO OUTFILE ''/tmp/x'''", MY, "PREPARE statement"),
    ("EXECUTE s", MY, "EXECUTE statement"),
    ("INSERT INTO t VALUES (1); COPY t TO PROGRAM 'id'", PG, "COPY ... PROGRAM"),
    ("REPLACE INTO t SELECT LOAD_FILE('/etc/passwd')", MY, "function load_file"),
    ("EXPLAIN ANALYZE SELECT pg_read_file('/etc/passwd')", PG, "function pg_read_file"),
    ("SET GLOBAL general_log_file = '/var/www/x.php'", MY, "SET GLOBAL"),
    ("SET @@global.general_log = 1", MY, "SET GLOBAL"),
    ("INSTALL SONAME 'ha_connect'", MY, "INSTALL statement"),
    ("KILL 12", MY, "KILL statement"),
    ("SELECT set_config('role', 'postgres', false)", PG, "function set_config('role'"),
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", PG, "function pg_terminate_backend"),
    ("CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw", PG, "CREATE SERVER"),
]


@pytest.mark.parametrize(("sql", "dialect", "reason"), WRITABLE_REFUSED)
def test_writable_connection_still_refuses_server_escapes(sql, dialect, reason):
    verdict = check_writable(sql, dialect)
    assert verdict.kind is VerdictKind.REFUSED, verdict
    assert verdict.reason.startswith(reason), verdict


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [
        ("INSERT INTO t VALUES (1), (2)", PG),
        ("UPDATE t SET a = a + 1 WHERE b = 'INTO OUTFILE'", MY),
        ("DELETE FROM t WHERE a = 'COPY ... PROGRAM'", PG),
        ("CREATE TABLE t2 (a int, note text)", PG),
        ("CREATE TABLE t2 (a int)", MY),
        ("DROP TABLE IF EXISTS t2", MY),
        ("CREATE SCHEMA reports", PG),
        ("CREATE INDEX i ON t (a)", PG),
        ("SELECT pg_sleep(0.1)", PG),
        ("COPY t TO STDOUT", PG),
        ("SET search_path = reports, public", PG),
        ("SET SESSION sql_mode = 'ANSI'", MY),
        ("SELECT set_config('search_path', 'public', false)", PG),
        ("SELECT 1 FROM WHERE", PG),  # the database reports the syntax error
    ],
)
def test_writable_connection_runs_ordinary_writes(sql, dialect):
    assert check_writable(sql, dialect).allowed


# ------------------------------------------------------------------------ syntax errors


@pytest.mark.parametrize(
    ("sql", "dialect", "line", "col"),
    [
        ("SELECT (1", PG, 1, 9),
        ("SELEC 1", PG, 1, 7),
        ("SELECT a FROM t\nWHERE a = = 2", MY, 2, 11),
        ("SELECT 1 FROM t WHERE", PG, 1, 21),
        ("WITH x AS (SELECT 1)", BOTH[1], 1, 20),
    ],
)
def test_syntax_error_carries_message_and_position(sql, dialect, line, col):
    verdict = check_read_only(sql, dialect)
    assert verdict.kind is VerdictKind.SYNTAX_ERROR, verdict
    assert not verdict.allowed
    assert verdict.reason
    assert (verdict.line, verdict.col) == (line, col)


@pytest.mark.parametrize(
    "sql", ["", "   \n", "-- just a comment", "SELECT 'unterminated", "SELECT 1 /* open"]
)
def test_empty_or_unlexable_is_a_syntax_error(sql):
    verdict = check_read_only(sql, PG)
    assert verdict.kind is VerdictKind.SYNTAX_ERROR, verdict
    assert verdict.reason


def test_unparseable_statement_that_is_not_a_query_is_refused_not_a_syntax_error():
    # sqlglot cannot parse these, but the user must hear "not allowed", not "fix your SQL"
    for sql in ["HANDLER t OPEN", "LOAD DATA INFILE 'x' INTO TABLE t", "DO SLEEP(1)"]:
        verdict = check_read_only(sql, MY)
        assert verdict.kind is VerdictKind.REFUSED, verdict


def test_a_word_that_is_not_a_statement_is_a_syntax_error():
    verdict = check_read_only("foo bar", PG)
    assert verdict.kind is VerdictKind.SYNTAX_ERROR
    assert "foo" in verdict.reason


# ------------------------------------------------------------------------ API details


def test_require_read_only_raises_with_the_verdict():
    with pytest.raises(StatementRefused) as refused:
        require_read_only("DELETE FROM t", PG)
    assert refused.value.kind is VerdictKind.REFUSED
    assert refused.value.reason == "DELETE statement"
    assert refused.value.verdict == GuardVerdict(VerdictKind.REFUSED, "DELETE statement")

    with pytest.raises(StatementRefused) as bad:
        require_read_only("SELECT (1", PG)
    assert bad.value.kind is VerdictKind.SYNTAX_ERROR


def test_verdict_is_frozen_and_allowed_follows_kind():
    verdict = check_read_only("SELECT 1", PG)
    assert verdict == GuardVerdict(VerdictKind.ALLOWED)
    assert verdict.allowed and verdict.reason == ""
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.reason = "x"  # type: ignore[misc]
    assert not GuardVerdict(VerdictKind.REFUSED, "x").allowed
    assert not GuardVerdict(VerdictKind.SYNTAX_ERROR, "x").allowed


def test_dialect_accepts_its_string_value():
    assert check_read_only("SELECT $1", "postgres").allowed
    assert check_read_only("SELECT %s", "mysql").allowed
    assert Dialect("mysql") is MY
    with pytest.raises(ValueError):
        check_read_only("SELECT 1", "oracle")


def test_non_text_is_a_syntax_error():
    assert check_read_only(b"SELECT 1", PG).kind is VerdictKind.SYNTAX_ERROR  # type: ignore[arg-type]


def test_reasons_name_the_construct():
    cases = {
        ("DELETE FROM t", PG): "DELETE statement",
        ("SELECT * INTO x FROM t", PG): "SELECT ... INTO",
        ("SELECT * FROM t INTO OUTFILE '/tmp/x'", MY): "SELECT ... INTO OUTFILE",
        ("SELECT * FROM t FOR UPDATE", PG): "locking clause FOR UPDATE",
        ("SELECT * FROM t FOR NO KEY UPDATE", PG): "locking clause FOR NO KEY UPDATE",
        ("SELECT pg_sleep(1)", PG): "function pg_sleep",
        ("SELECT 1; SELECT 2", PG): "2 statements",
        ("CALL p()", PG): "CALL statement",
        ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", PG): "DELETE statement",
        ("SELECT 1 /*! ; DROP TABLE x */", MY): "executable comment /*! ... */",
    }
    for (sql, dialect), reason in cases.items():
        assert check_read_only(sql, dialect) == GuardVerdict(VerdictKind.REFUSED, reason), sql


def test_overlong_statement_is_refused_without_parsing():
    sql = "SELECT '" + "a" * MAX_SQL_CHARS + "'"
    verdict = check_read_only(sql, PG)
    assert verdict.kind is VerdictKind.REFUSED
    assert "longer than" in verdict.reason
    # just under the limit is fine
    assert check_read_only("SELECT '" + "a" * (MAX_SQL_CHARS - 10) + "'", PG).allowed


def test_deep_nesting_is_refused_not_a_crash():
    depth = 5000
    verdict = check_read_only("SELECT " + "(" * depth + "1" + ")" * depth, PG)
    assert not verdict.allowed


def test_placeholders_only_where_the_driver_uses_them():
    # '%s' inside a literal stays a literal: no placeholder is invented there
    assert check_read_only("SELECT * FROM t WHERE a LIKE '%s'", MY).allowed
    # modulo with spaces is still a modulo
    assert check_read_only("SELECT a % b FROM t", MY).allowed
    assert check_read_only("SELECT * FROM t WHERE a = $1 OR b = $12", PG).allowed


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT '%s'",  # with the value "; DROP TABLE t; -- " the quotes pair up anew
        "SELECT * FROM t WHERE a = '%(name)s'",
        "SELECT * FROM t WHERE a = %s AND b = '%.1s'",  # precision slices off a quote
        "SELECT a /* %s */ FROM t WHERE b = %s",  # a value containing */ ends the comment
        "SELECT a FROM t WHERE b = %s -- %s",
        "SELECT `%s` FROM t",
        "SELECT * FROM t WHERE name LIKE '%apple%'",  # must be '%%apple%%' with parameters
    ],
)
def test_mysql_parameterized_statement_refuses_percent_in_literals(sql):
    verdict = check_read_only(sql, MY, parameterized=True)
    assert verdict.kind is VerdictKind.REFUSED, verdict
    assert "'%'" in verdict.reason


def test_mysql_parameterized_statement_with_placeholders_only_outside_literals():
    for sql in [
        "SELECT * FROM t WHERE a = %s AND b = %(name)s",
        "SELECT * FROM t WHERE name LIKE %s AND code LIKE 'x%%'",
        "SELECT a % b FROM t WHERE c = %s",
    ]:
        assert check_read_only(sql, MY, parameterized=True).allowed, sql
    # without parameters the driver leaves the text alone, so a literal % is just data
    assert check_read_only("SELECT * FROM t WHERE name LIKE '%apple%'", MY).allowed
    # PostgreSQL binds $n on the server: nothing is spliced into the text
    assert check_read_only("SELECT '%s', $1", PG, parameterized=True).allowed
    with pytest.raises(StatementRefused):
        require_read_only("SELECT '%s'", MY, parameterized=True)


# ---------------------------------------------------------------------------- MongoDB


@pytest.mark.parametrize(
    "pipeline",
    [
        [],
        [{"$match": {"status": "A"}}, {"$group": {"_id": "$cust", "n": {"$sum": 1}}}],
        [{"$sort": {"a": -1}}, {"$limit": 10}, {"$project": {"a": 1, "_id": 0}}],
        [
            {
                "$lookup": {
                    "from": "orders",
                    "localField": "_id",
                    "foreignField": "cust",
                    "as": "orders",
                }
            }
        ],
        [
            {
                "$lookup": {
                    "from": "orders",
                    "let": {"c": "$_id"},
                    "pipeline": [{"$match": {"$expr": {"$eq": ["$cust", "$$c"]}}}],
                    "as": "orders",
                }
            }
        ],
        [{"$facet": {"by_a": [{"$group": {"_id": "$a"}}], "count": [{"$count": "n"}]}}],
        [{"$unionWith": {"coll": "archive", "pipeline": [{"$match": {"y": 2020}}]}}],
        # a field *value* that looks like an operator is data, not an operator
        [{"$match": {"note": "$out"}}, {"$project": {"x": "$where"}}],
    ],
)
def test_read_only_pipeline_is_allowed(pipeline):
    assert check_mongo_pipeline(pipeline).allowed


@pytest.mark.parametrize(
    ("pipeline", "reason"),
    [
        ([{"$out": "copy"}], "stage $out"),
        ([{"$match": {}}, {"$merge": {"into": "copy"}}], "stage $merge"),
        ([{"$facet": {"x": [{"$out": "copy"}]}}], "stage $out"),
        ([{"$lookup": {"from": "o", "pipeline": [{"$merge": "copy"}], "as": "o"}}], "stage $merge"),
        ([{"$unionWith": {"coll": "o", "pipeline": [{"$out": "copy"}]}}], "stage $out"),
        (
            [
                {
                    "$facet": {
                        "x": [
                            {
                                "$lookup": {
                                    "from": "o",
                                    "as": "o",
                                    "pipeline": [
                                        {
                                            "$unionWith": {
                                                "coll": "p",
                                                "pipeline": [{"$merge": {"into": "q"}}],
                                            }
                                        }
                                    ],
                                }
                            }
                        ]
                    }
                }
            ],
            "stage $merge",
        ),
        (
            [
                {
                    "$addFields": {
                        "x": {"$function": {"body": "function(){}", "args": [], "lang": "js"}}
                    }
                }
            ],
            "server-side JavaScript $function",
        ),
        (
            [{"$group": {"_id": None, "x": {"$accumulator": {"init": "function(){}"}}}}],
            "server-side JavaScript $accumulator",
        ),
        ([{"$match": {"$where": "sleep(10000) || true"}}], "server-side JavaScript $where"),
        ([{"$match": {"$and": [{"a": 1}, {"$where": "true"}]}}], "server-side JavaScript $where"),
    ],
)
def test_writing_or_javascript_pipeline_is_refused(pipeline, reason):
    verdict = check_mongo_pipeline(pipeline)
    assert verdict == GuardVerdict(VerdictKind.REFUSED, reason)


@pytest.mark.parametrize("pipeline", [{"$match": {}}, "[]", [1], [[{"$match": {}}]], None])
def test_malformed_pipeline_is_a_syntax_error(pipeline):
    assert check_mongo_pipeline(pipeline).kind is VerdictKind.SYNTAX_ERROR


def test_mongo_filter():
    assert check_mongo_filter({}).allowed
    assert check_mongo_filter({"a": {"$gt": 1}, "$or": [{"b": "$where"}, {"c": None}]}).allowed
    assert check_mongo_filter({"a": {"$in": [1, 2]}, "b": {"$regex": "^x"}}).allowed
    for bad, op in [
        ({"$where": "this.a > 1"}, "$where"),
        ({"$or": [{"a": 1}, {"$where": "sleep(1000)"}]}, "$where"),
        ({"$expr": {"$function": {"body": "x", "args": [], "lang": "js"}}}, "$function"),
        ({"a": {"$elemMatch": {"$expr": {"$accumulator": {}}}}}, "$accumulator"),
    ]:
        verdict = check_mongo_filter(bad)
        assert verdict.kind is VerdictKind.REFUSED
        assert verdict.reason == f"server-side JavaScript {op}"
    assert check_mongo_filter([{"a": 1}]).kind is VerdictKind.SYNTAX_ERROR  # type: ignore[arg-type]


def test_deeply_nested_mongo_document_does_not_exhaust_the_stack():
    doc: dict = {"$where": "true"}
    for _ in range(20_000):
        doc = {"$and": [doc]}
    assert check_mongo_filter(doc).reason == "server-side JavaScript $where"
    assert not check_mongo_pipeline([{"$match": doc}]).allowed
