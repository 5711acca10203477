"""Read-only guard for statements sent to a read-only connection.

This is the first wall: the statement is parsed with sqlglot in the connection's dialect
and refused unless it is exactly one read-only query. The second wall is the READ ONLY
transaction the connector runs it in; the guard exists so that a refusal is explained
(and nothing with side effects outside a transaction, such as pg_sleep or COPY TO PROGRAM,
ever reaches the server).

The check is an allow-list: every node of the parse tree must be of a known read-only
type. Constructs sqlglot does not understand come back as exp.Command (or as a parse
error) and are therefore refused. On top of that, a small explicit deny-list of function
names catches built-ins with side effects, since a function call is otherwise allowed.

Pure Python, no I/O: safe to call from any thread or event loop.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect as _SqlglotDialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

__all__ = [
    "Dialect",
    "VerdictKind",
    "GuardVerdict",
    "StatementRefused",
    "MAX_SQL_CHARS",
    "check_read_only",
    "require_read_only",
    "check_mongo_pipeline",
    "check_mongo_filter",
]

# Long enough for any hand- or model-written query; beyond it we are parsing an attack.
MAX_SQL_CHARS = 100_000


class Dialect(StrEnum):
    POSTGRES = "postgres"
    MYSQL = "mysql"


class VerdictKind(StrEnum):
    ALLOWED = "allowed"
    REFUSED = "refused"  # -> PERMISSION_DENIED
    SYNTAX_ERROR = "syntax_error"  # -> INVALID_ARGUMENT: the user should fix the SQL


@dataclass(frozen=True)
class GuardVerdict:
    kind: VerdictKind
    reason: str = ""  # names what was refused, or sqlglot's message for syntax errors
    line: int | None = None  # position of a syntax error, 1-based, when sqlglot knows it
    col: int | None = None

    @property
    def allowed(self) -> bool:
        return self.kind is VerdictKind.ALLOWED


class StatementRefused(Exception):
    """Raised by require_read_only; `kind` tells refusal from syntax error."""

    def __init__(self, verdict: GuardVerdict):
        super().__init__(verdict.reason)
        self.verdict = verdict
        self.kind = verdict.kind
        self.reason = verdict.reason


_ALLOWED = GuardVerdict(VerdictKind.ALLOWED)


def _refuse(reason: str) -> GuardVerdict:
    return GuardVerdict(VerdictKind.REFUSED, reason)


# --------------------------------------------------------------------------- SQL

# Node types a read-only query is made of. Whole families are allowed by base class:
# functions (vetted by name below), binary/unary operators and predicates.
_ALLOWED_BASES: tuple[type[exp.Expression], ...] = (
    exp.Func,
    exp.Binary,
    exp.Unary,
    exp.Predicate,
    exp.JSONPathPart,
)
# fmt: off
_ALLOWED_NODES: frozenset[type[exp.Expression]] = frozenset({
    # query structure
    exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery,
    exp.With, exp.CTE, exp.RecursiveWithSearch, exp.TableAlias, exp.From, exp.Join,
    exp.Lateral, exp.TableFromRows, exp.Where, exp.Group, exp.Cube, exp.Rollup,
    exp.GroupingSets, exp.Having, exp.Order, exp.Ordered, exp.Limit, exp.Offset,
    exp.Fetch, exp.LimitOptions, exp.Distinct, exp.Window, exp.WindowSpec, exp.Filter,
    exp.WithinGroup, exp.IgnoreNulls, exp.RespectNulls, exp.TableSample, exp.Hint,
    exp.IndexTableHint, exp.JoinHint,
    # leaves and expressions
    exp.Table, exp.Column, exp.Identifier, exp.Star, exp.Alias, exp.Aliases, exp.Literal,
    exp.Null, exp.Boolean, exp.Parameter, exp.Placeholder, exp.SessionParameter, exp.Var,
    exp.Tuple, exp.Bracket, exp.Slice, exp.Between, exp.In, exp.Any, exp.All,
    exp.AtTimeZone, exp.DataType, exp.DataTypeParam, exp.ColumnDef, exp.Interval,
    exp.IntervalSpan, exp.HexString, exp.BitString, exp.ByteString, exp.RawString,
    exp.UnicodeString, exp.National, exp.Introducer, exp.JSONPath,
})

# Nodes refused with a specific name (anything else not allowed gets a generic reason).
_STATEMENT_NAMES: dict[type[exp.Expression], str] = {
    exp.Insert: "INSERT", exp.Update: "UPDATE", exp.Delete: "DELETE", exp.Merge: "MERGE",
    exp.Copy: "COPY", exp.LoadData: "LOAD DATA", exp.Create: "CREATE", exp.Drop: "DROP",
    exp.Alter: "ALTER", exp.TruncateTable: "TRUNCATE", exp.Grant: "GRANT",
    exp.Revoke: "REVOKE", exp.Comment: "COMMENT ON", exp.Analyze: "ANALYZE",
    exp.Set: "SET", exp.Transaction: "BEGIN", exp.Commit: "COMMIT",
    exp.Rollback: "ROLLBACK", exp.Kill: "KILL", exp.Use: "USE", exp.Describe: "DESCRIBE",
    exp.Show: "SHOW", exp.Pragma: "PRAGMA", exp.Execute: "EXECUTE", exp.Cache: "CACHE",
    exp.Uncache: "UNCACHE", exp.Refresh: "REFRESH", exp.LockingStatement: "LOCK",
    exp.Declare: "DECLARE",
}

# A statement must be one of these at its root; sqlglot parses some unknown statements
# (LISTEN x, NOTIFY x, CLUSTER t, DISCARD ALL) as a bare alias expression, which the node
# walk alone would let through.
_QUERY_ROOTS = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)

# Built-ins with side effects, that stall the connection, read the server's files or
# run SQL given as text (which the guard cannot see). Names are matched lower-cased,
# schema qualification ignored. User-defined functions are allowed: they still run in
# a READ ONLY transaction.
_DENIED_FUNCTIONS = frozenset({
    # stall the connection
    "pg_sleep", "pg_sleep_for", "pg_sleep_until", "sleep", "benchmark",
    "master_pos_wait", "source_pos_wait", "wait_for_executed_gtid_set",
    "wait_until_sql_thread_after_gtids",
    # read the server's file system
    "pg_stat_file", "load_file",
    # session / server state
    "set_config", "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf",
    "pg_rotate_logfile", "pg_promote", "pg_switch_wal", "pg_create_restore_point",
    "pg_export_snapshot", "pg_import_system_collations", "pg_notify",
    "pg_log_backend_memory_contexts", "pg_current_xact_id", "set_var",
    "last_insert_id",  # with an argument it sets the session value
    # sequence changes are not transactional: a rollback does not undo them
    "nextval", "setval",
    # locks that outlive the statement
    "get_lock", "release_lock", "release_all_locks",
    # run SQL passed as a string, out of the guard's sight
    "cursor_to_xml", "cursor_to_xmlschema",
    # lib_mysqludf_sys: shell commands
    "sys_exec", "sys_eval",
    # xmlparse is deliberately NOT here: libxml2 in PostgreSQL does not load external
    # entities, and sqlglot cannot parse xmlparse(document ...) anyway.
})
_DENIED_PREFIXES = (
    "pg_read_",  # pg_read_file, pg_read_binary_file
    "pg_ls_",  # pg_ls_dir, pg_ls_logdir, pg_ls_waldir, ...
    "pg_file_",  # adminpack: pg_file_write, pg_file_unlink, ...
    "pg_logdir_",
    "lo_",  # large objects: lo_import, lo_export, lo_put, lo_unlink, ...
    "dblink",  # dblink, dblink_exec, dblink_connect, ...
    "txid_",  # txid_current assigns a transaction id
    "pg_advisory_", "pg_try_advisory_",
    "pg_stat_reset",
    "pg_replication_", "pg_create_", "pg_drop_", "pg_logical_", "pg_wal_", "pg_xlog_",
    "pg_backup_", "pg_start_backup", "pg_stop_backup",
    "query_to_xml",  # query_to_xml* runs the query given as text
)
# A function name that is not a plain identifier may be an escape sequence the server
# decodes (PostgreSQL U&"pg\0073leep") and that the deny-list would not recognise.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")

# Statement keywords that start a read-only query, used only when sqlglot cannot parse.
_READ_STARTS = {TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.TABLE,
                TokenType.L_PAREN}
_WRITE_TOKENS = {
    getattr(TokenType, name) for name in (
        "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE",
        "GRANT", "REVOKE", "COMMAND", "COPY",
    ) if hasattr(TokenType, name)
}
_STRING_TOKENS = {TokenType.STRING, TokenType.NATIONAL_STRING}
_QUOTED_TOKENS = {*_STRING_TOKENS, TokenType.IDENTIFIER, TokenType.HINT}
# Tokens that are not keywords; a statement starting with one is a typo, not an attack.
_NON_KEYWORD_TOKENS = {TokenType.VAR, TokenType.IDENTIFIER, TokenType.NUMBER,
                       TokenType.STRING, TokenType.PARAMETER, TokenType.PLACEHOLDER}
# Statements of PostgreSQL or MySQL that sqlglot tokenizes as plain words.
_STATEMENT_WORDS = frozenset("""
    ABORT BACKUP BINLOG CACHE CHANGE CHECKPOINT CHECKSUM CLONE CLUSTER DEALLOCATE DISCARD
    DO FLUSH HANDLER HELP IMPORT INSTALL LISTEN NOTIFY PURGE REINDEX RELEASE REPAIR RESET
    RESIGNAL RESTART RESTORE SAVEPOINT SECURITY SHUTDOWN SIGNAL START STOP UNINSTALL
    UNLISTEN UNLOCK XA
""".split())
# fmt: on


def check_read_only(sql: str, dialect: Dialect, *, parameterized: bool = False) -> GuardVerdict:
    """Allow `sql` only if it is exactly one read-only query in `dialect`.

    Pass parameterized=True when the statement will be executed with parameters on
    MySQL: aiomysql/PyMySQL then %-format the text client-side, after this check, and a
    %s inside a string literal or comment would splice a value where the guard saw
    only text ("SELECT '%s'" with the value "; DROP TABLE t; -- "). PostgreSQL ($1)
    binds parameters on the server, so the flag changes nothing there.
    """
    if not isinstance(sql, str):
        return GuardVerdict(VerdictKind.SYNTAX_ERROR, "statement must be text")
    dialect = Dialect(dialect)
    if (verdict := _check_characters(sql)) is not None:
        return verdict

    sg_dialect = _SqlglotDialect.get_or_raise(dialect.value)
    try:
        tokens = sg_dialect.tokenize(sql)
    except TokenError as e:
        return GuardVerdict(VerdictKind.SYNTAX_ERROR, str(e))
    for check in (_check_comments, _check_string_literals):
        if (verdict := check(sql, tokens)) is not None:
            return verdict
    if dialect is Dialect.MYSQL:
        if parameterized and (verdict := _check_percent_signs(sql, tokens)) is not None:
            return verdict
        tokens = _pyformat_placeholders(tokens)

    try:
        statements = sg_dialect.parser().parse(tokens, sql)
    except ParseError as e:
        return _explain_parse_failure(e, tokens)
    except RecursionError:
        return _refuse("statement nested too deeply")

    # Counted on the parse result; the lexer's count (semicolons that are real tokens,
    # never ones inside strings or comments) is a cross-check. sqlglot keeps a comment
    # that follows a ';' as an exp.Semicolon pseudo-statement.
    real = [s for s in statements if s is not None and not isinstance(s, exp.Semicolon)]
    count = max(len(real), len(_split_statements(tokens)))
    if count > 1:
        return _refuse(f"{count} statements")
    if not real:
        return GuardVerdict(VerdictKind.SYNTAX_ERROR, "empty statement")
    if len(real) < sum(s is not None for s in statements):
        # harmless by itself, but it is how "SELECT 1; --" injections end; nothing may
        # follow the statement's terminator
        return _refuse("comment after the final ';'")

    root = real[0]
    if not isinstance(root, _QUERY_ROOTS):
        # named as written (START, END, EXPLAIN...) unless the keyword is further in
        if tokens[0].token_type in (TokenType.WITH, TokenType.L_PAREN):
            return _refuse(f"{_statement_name(root)} statement")
        if keyword := _leading_keyword(tokens):
            return _refuse(f"{keyword} statement")
        return GuardVerdict(
            VerdictKind.SYNTAX_ERROR, f"{tokens[0].text!r} does not start a statement", 1, 1
        )
    return _check_tree(root, dialect)


def require_read_only(sql: str, dialect: Dialect, *, parameterized: bool = False) -> None:
    """check_read_only, raising StatementRefused unless allowed."""
    verdict = check_read_only(sql, dialect, parameterized=parameterized)
    if not verdict.allowed:
        raise StatementRefused(verdict)


# Other homoglyphs (fullwidth or Cyrillic letters in keywords) need no rule: sqlglot
# and the servers alike read them as identifier characters, never as keywords.
_LOOKALIKE_SEMICOLONS = frozenset(
    ch for ch in map(chr, range(0x80, 0x10000)) if unicodedata.normalize("NFKC", ch) == ";"
)


def _check_characters(sql: str) -> GuardVerdict | None:
    if len(sql) > MAX_SQL_CHARS:
        return _refuse(f"statement longer than {MAX_SQL_CHARS} characters")
    for i, ch in enumerate(sql):
        if ch in " \t\n":
            continue
        if ch == "\x00":
            # drivers and servers disagree on whether NUL ends the statement
            return _refuse("NUL byte")
        if ch == "\r":
            # PostgreSQL ends a -- comment at a bare CR, MySQL does not
            if sql[i + 1 : i + 2] != "\n":
                return _refuse("carriage return without line feed")
            continue
        if ch in _LOOKALIKE_SEMICOLONS:
            # neither sqlglot nor the servers split on these, but a reader of the query
            # (or of a log) sees two statements; NFKC turns them into a real ';'
            return _refuse(f"look-alike semicolon U+{ord(ch):04X}")
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs"):
            # control, zero-width and bidi characters hide text from a human reviewer
            return _refuse(f"control or invisible character U+{ord(ch):04X}")
        if category in ("Zs", "Zl", "Zp"):
            # sqlglot treats these as whitespace (str.isspace), MySQL does not: with
            # "--\u00a0" sqlglot sees a comment where MySQL sees code
            return _refuse(f"non-ASCII whitespace U+{ord(ch):04X}")
    return None


def _gaps(sql: str, tokens: list[Token]) -> list[str]:
    """The text between tokens: whitespace and comments only."""
    gaps, pos = [], 0
    for token in tokens:
        gaps.append(sql[pos : token.start])
        pos = token.end + 1
    gaps.append(sql[pos:])
    return gaps


def _check_comments(sql: str, tokens: list[Token]) -> GuardVerdict | None:
    # Looked for in the raw text between tokens rather than in token.comments, since a
    # comment-only statement produces no token to hang its comments on.
    for gap in _gaps(sql, tokens):
        upper = gap.upper()
        if "/*!" in upper or "/*M!" in upper:
            # MySQL (and MariaDB with /*M!) executes the content of these comments
            return _refuse("executable comment /*! ... */")
        if "/*+" in gap:
            # a hint out of place (MySQL reads hints only right after SELECT, where
            # sqlglot parses them) or a pg_hint_plan hint, which can change settings
            return _refuse("optimizer hint comment /*+ ... */ outside a hint position")
    return None


def _check_string_literals(sql: str, tokens: list[Token]) -> GuardVerdict | None:
    # Backslashes escape quotes in MySQL strings unless NO_BACKSLASH_ESCAPES (or
    # ANSI_QUOTES for "...") is set, and in PostgreSQL strings only when
    # standard_conforming_strings is off. sqlglot assumes the defaults; a literal whose
    # end depends on the server's setting could hide a statement from it.
    for token in tokens:
        if token.token_type not in _STRING_TOKENS:
            continue
        raw = sql[token.start : token.end + 1]
        first = min((i for i in (raw.find("'"), raw.find('"')) if i >= 0), default=-1)
        if first < 0:
            continue
        body = raw[first:]
        if _string_end(body, backslash=True) != _string_end(body, backslash=False):
            return _refuse("string literal whose end depends on backslash escaping")
    return None


def _string_end(literal: str, *, backslash: bool) -> int:
    quote, i = literal[0], 1
    while i < len(literal):
        ch = literal[i]
        if backslash and ch == "\\":
            i += 2
        elif ch == quote and literal[i + 1 : i + 2] == quote:
            i += 2
        elif ch == quote:
            return i
        else:
            i += 1
    return -1


def _check_percent_signs(sql: str, tokens: list[Token]) -> GuardVerdict | None:
    # With parameters the driver runs `sql % escaped_values`: outside literals that only
    # fills placeholders, inside them every % but %% is a splice point or an error.
    quoted = [sql[t.start : t.end + 1] for t in tokens if t.token_type in _QUOTED_TOKENS]
    for text in [*quoted, *_gaps(sql, tokens)]:
        if "%" in text.replace("%%", ""):
            return _refuse(
                "'%' inside a string, quoted name or comment of a "
                "parameterized statement (write '%%')"
            )
    return None


def _pyformat_placeholders(tokens: list[Token]) -> list[Token]:
    """Turn the MySQL drivers' %s and %(name)s into placeholders sqlglot can parse."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.token_type is TokenType.MOD:
            # adjacent tokens only: "a % s" is a modulo, "%s" a placeholder
            n = (
                1
                if _adjacent(tokens, i, ["s"])
                else 4
                if _adjacent(tokens, i, ["(", None, ")", "s"])
                else 0
            )
            if n:
                last = tokens[i + n]
                out.append(
                    Token(
                        TokenType.PLACEHOLDER,
                        "?",
                        token.line,
                        token.col,
                        token.start,
                        last.end,
                        token.comments + last.comments,
                    )
                )
                i += n + 1
                continue
        out.append(token)
        i += 1
    return out


def _adjacent(tokens: list[Token], i: int, texts: list[str | None]) -> bool:
    if i + len(texts) >= len(tokens):
        return False
    for k, text in enumerate(texts, start=1):
        prev, cur = tokens[i + k - 1], tokens[i + k]
        if cur.start != prev.end + 1 or (text is not None and cur.text != text):
            return False
    return True


def _split_statements(tokens: list[Token]) -> list[list[Token]]:
    statements, current = [], []
    for token in tokens:
        if token.token_type is TokenType.SEMICOLON:
            if current:
                statements.append(current)
            current = []
        else:
            current.append(token)
    if current:
        statements.append(current)
    return statements


def _explain_parse_failure(error: ParseError, tokens: list[Token]) -> GuardVerdict:
    """Refuse rather than report a syntax error when the statement is not a query anyway.

    sqlglot's grammar is narrower than the servers' (HANDLER, LOAD DATA, INTO OUTFILE,
    DO ... do not parse); telling the user their SQL is malformed would be misleading.
    """
    statements = _split_statements(tokens)
    if len(statements) > 1:
        return _refuse(f"{len(statements)} statements")
    if (
        statements
        and statements[0][0].token_type not in _READ_STARTS
        and (keyword := _leading_keyword(statements[0]))
    ):
        return _refuse(f"{keyword} statement")
    for i, token in enumerate(tokens):
        prev = tokens[i - 1] if i else None
        if token.token_type is TokenType.INTO:
            target = tokens[i + 1].text.upper() if i + 1 < len(tokens) else ""
            return _refuse(
                "SELECT ... INTO" + (f" {target}" if target in ("OUTFILE", "DUMPFILE") else "")
            )
        if token.token_type in _WRITE_TOKENS:
            if (
                token.token_type is TokenType.UPDATE
                and prev is not None
                and prev.text.upper() in ("FOR", "KEY")
            ):
                return _refuse("locking clause FOR UPDATE")
            return _refuse(f"{token.text.upper()} statement")
    detail = error.errors[0] if error.errors else {}
    if detail.get("into_expression") is exp.Hint:
        return _refuse("optimizer hint that is not a list of hints")
    message = detail.get("description") or str(error)
    if detail.get("highlight"):
        message += f" near {detail['highlight']!r}"
    return GuardVerdict(VerdictKind.SYNTAX_ERROR, message, detail.get("line"), detail.get("col"))


def _leading_keyword(tokens: list[Token]) -> str | None:
    first = tokens[0]
    word = first.text.upper()
    if first.token_type not in _NON_KEYWORD_TOKENS or word in _STATEMENT_WORDS:
        return word
    return None


def _statement_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    for cls, name in _STATEMENT_NAMES.items():
        if isinstance(node, cls):
            return name
    return type(node).__name__.upper()


def _check_tree(root: exp.Expression, dialect: Dialect) -> GuardVerdict:
    for node in root.walk():
        if isinstance(node, exp.Into):
            return _refuse("SELECT ... INTO")
        if isinstance(node, exp.Lock):
            return _refuse(f"locking clause {node.sql(dialect=dialect.value)}")
        if isinstance(node, (exp.Command, *_STATEMENT_NAMES)):
            return _refuse(f"{_statement_name(node)} statement")
        if isinstance(node, exp.NextValueFor):
            return _refuse("function NEXT VALUE FOR")
        if isinstance(node, exp.PropertyEQ) and isinstance(node.this, exp.Parameter):
            # MySQL SELECT @v := ... writes a session variable
            return _refuse("user variable assignment :=")
        if isinstance(node, exp.Func):
            if (verdict := _check_function(node)) is not None:
                return verdict
            continue
        if type(node) not in _ALLOWED_NODES and not isinstance(node, _ALLOWED_BASES):
            return _refuse(f"unsupported construct {type(node).__name__}")
    return _ALLOWED


def _check_function(node: exp.Func) -> GuardVerdict | None:
    if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
        if not _PLAIN_NAME.fullmatch(node.name):
            return _refuse(f"function name {node.name!r}")
        names = [node.name]
    else:
        # a function sqlglot knows: every spelling it maps to this node
        names = type(node).sql_names()
    for name in map(str.lower, names):
        if name in _DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES):
            return _refuse(f"function {name}")
    return None


# ------------------------------------------------------------------------- MongoDB

# Stages that write: allowed nowhere, since $facet, $lookup and $unionWith nest whole
# pipelines. Server-side JavaScript runs arbitrary code and can loop forever.
_MONGO_WRITE_STAGES = frozenset({"$out", "$merge"})
_MONGO_JS_OPERATORS = frozenset({"$where", "$function", "$accumulator"})


def check_mongo_pipeline(pipeline: list[dict]) -> GuardVerdict:
    """Refuse aggregation pipelines that write or run server-side JavaScript."""
    if not isinstance(pipeline, list) or not all(isinstance(s, Mapping) for s in pipeline):
        return GuardVerdict(VerdictKind.SYNTAX_ERROR, "pipeline must be a list of stage documents")
    return _check_mongo_document(pipeline, _MONGO_WRITE_STAGES | _MONGO_JS_OPERATORS)


def check_mongo_filter(filter: dict) -> GuardVerdict:  # noqa: A002 - Mongo's own name
    """Refuse query filters that run server-side JavaScript."""
    if not isinstance(filter, Mapping):
        return GuardVerdict(VerdictKind.SYNTAX_ERROR, "filter must be a document")
    return _check_mongo_document(filter, _MONGO_JS_OPERATORS)


def _check_mongo_document(document: object, denied: frozenset[str]) -> GuardVerdict:
    # Every key at every depth, iteratively: no need to know where each operator may
    # legally appear, and a deeply nested document cannot exhaust the Python stack.
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            for key, value in item.items():
                if key in denied:
                    kind = "stage" if key in _MONGO_WRITE_STAGES else "server-side JavaScript"
                    return _refuse(f"{kind} {key}")
                stack.append(value)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return _ALLOWED
