"""Guards for statements: check_read_only for read-only connections, check_writable
for what even a writable connection may not run.

check_read_only is the first wall: the statement is parsed with sqlglot in the
connection's dialect and refused unless it is exactly one read-only query. The second
wall is the READ ONLY transaction the connector runs it in, the third the database
role of the connection (README: read-only connections). A READ ONLY transaction does
not stop everything (large objects, advisory locks, NOTIFY, set_config, signals to
other backends, SQL run from text by ts_stat or query_to_xml), so the guard is built
to be sufficient on its own:

* every node of the parse tree must be of a known read-only type; constructs sqlglot
  does not understand come back as exp.Command (or a parse error) and are refused;
* every function must be on the dialect's allow-list (sql_functions), checked by the
  name as written, also where sqlglot parses a call by a grammar rule of its own; an
  unknown or user-defined function is refused;
* on PostgreSQL every operator must be a known built-in (a custom operator runs a
  function of its creator's choosing), and U&"..." names, which the server decodes
  after the guard has read them, are refused;
* catalogs holding password hashes or the server's configuration (pg_authid,
  pg_shadow, pg_hba_file_rules, mysql.user...) are refused by table name.

Pure Python, no I/O: safe to call from any thread or event loop.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect as _SqlglotDialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from .pg_functions import POSTGRES_FUNCTIONS as POSTGRES_CATALOG_FUNCTIONS
from .sql_functions import DENIED as DENIED_FUNCTIONS
from .sql_functions import refusal as function_refusal

__all__ = [
    "Dialect",
    "VerdictKind",
    "GuardVerdict",
    "StatementRefused",
    "MAX_SQL_CHARS",
    "check_read_only",
    "check_writable",
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
    exp.UnicodeString, exp.National, exp.Introducer, exp.JSONPath, exp.JSONKeyValue,
    # sqlglot reads x->'k' inside a call's arguments as a lambda; neither server has
    # lambdas, so it is the JSON operator, and its parts are checked as usual
    exp.Lambda,
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

# Functions are checked against an allow-list per dialect (sql_functions): a name that
# is not known to be free of side effects is refused, whoever defined it.

# Catalogs holding password hashes, user mappings with their passwords, or the server's
# configuration files: refused by table name whatever the schema, quoting or case
# (PostgreSQL searches pg_catalog first, so an unqualified pg_authid is the catalog).
_PG_SECRET_TABLES = frozenset({
    "pg_authid", "pg_shadow", "pg_user_mapping", "pg_user_mappings", "pg_hba_file_rules",
    "pg_ident_file_mappings", "pg_file_settings", "pg_largeobject", "pg_statistic",
    "pg_config",
})
# MySQL's system schema holds accounts, password hashes, grants and (mysql.servers)
# federated passwords; nothing in it is for a read-only user query.
_MYSQL_SYSTEM_SCHEMA = "mysql"

# PostgreSQL operators (lexemes as the server's lexer splits them) whose implementation
# is a built-in without side effects. Any other operator may be user-defined
# (CREATE OPERATOR runs a function of the creator's choosing) and is refused.
_PG_OPERATORS = frozenset("""
    + - * / % ^ < > = <= >= <> != || ~ ~* !~ !~* ~~ ~~* !~~ !~~* @> <@ && -> ->> #> #>>
    ? ?| ?& @? @@ # & | << >> @ |/ ||/ #- <-> =>
""".split())
_PG_OP_CHARS = frozenset("+-*/<>=~!@#%^&|`?")
# Names sqlglot parses with a grammar rule of its own (CAST, TRIM, IF...): it does not
# record where they were written, so they are checked on the tokens. Keywords here are
# constructs, not calls.
_NOT_CALLS = frozenset({"ANY", "CASE", "VALUES", "VARIADIC"})
# A name after these is a qualified name, a type (CAST(x AS numeric(10, 2)), x::numeric(10, 2))
# an alias with column names (AS g(n)), or a clause of the call before (FILTER (...)).
_NOT_A_CALL_AFTER = {TokenType.DOT, TokenType.DCOLON, TokenType.ALIAS, TokenType.R_PAREN}

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


def check_read_only(
    sql: str, dialect: Dialect, *, parameterized: bool = False, database: str | None = None
) -> GuardVerdict:
    """Allow `sql` only if it is exactly one read-only query in `dialect`.

    Pass parameterized=True when the statement will be executed with parameters on
    MySQL: aiomysql/PyMySQL then %-format the text client-side, after this check, and a
    %s inside a string literal or comment would splice a value where the guard saw
    only text ("SELECT '%s'" with the value "; DROP TABLE t; -- "). PostgreSQL ($1)
    binds parameters on the server, so the flag changes nothing there.

    `database` is the connection's database: on MySQL an unqualified table is in it
    (so that a connection to the `mysql` schema cannot read mysql.user unqualified).
    """
    start = _start(sql, dialect)
    if isinstance(start, GuardVerdict):
        return start
    dialect, sg_dialect = start
    tokens = _lex(sql, sg_dialect, dialect, parameterized)
    if isinstance(tokens, GuardVerdict):
        return tokens
    root = _parse_one(sql, sg_dialect, tokens)
    if isinstance(root, GuardVerdict):
        return root
    if (verdict := _check_grammar_calls(tokens, dialect)) is not None:
        return verdict
    verdict = _check_tree(root, dialect, sql, database)
    if verdict.allowed and dialect is Dialect.POSTGRES:
        return _check_unicode_identifiers(tokens) or verdict
    return verdict


def _start(sql: object, dialect: Dialect | str) -> tuple[Dialect, _SqlglotDialect] | GuardVerdict:
    """What both checks begin with: the statement is text without forbidden characters;
    the dialect and its sqlglot counterpart."""
    if not isinstance(sql, str):
        return GuardVerdict(VerdictKind.SYNTAX_ERROR, "statement must be text")
    dialect = Dialect(dialect)
    if (verdict := _check_characters(sql)) is not None:
        return verdict
    return dialect, _SqlglotDialect.get_or_raise(dialect.value)


def _tokenize(sql: str, sg_dialect: _SqlglotDialect, *, expand_commands: bool = False) -> list[Token] | GuardVerdict:
    """The statement's tokens once its comments and string literals passed (with
    expand_commands, opaque commands are tokenized too); the verdict otherwise."""
    try:
        tokens = sg_dialect.tokenize(sql)
        if expand_commands:
            tokens = _expand_commands(sql, tokens, sg_dialect)
    except TokenError as e:
        return GuardVerdict(VerdictKind.SYNTAX_ERROR, str(e))
    for check in (_check_comments, _check_string_literals):
        if (verdict := check(sql, tokens)) is not None:
            return verdict
    return tokens


def _lex(
    sql: str, sg_dialect: _SqlglotDialect, dialect: Dialect, parameterized: bool
) -> list[Token] | GuardVerdict:
    """The statement's tokens, once its comments, string literals, placeholders and
    operators passed; the verdict of the first that did not."""
    tokens = _tokenize(sql, sg_dialect)
    if isinstance(tokens, GuardVerdict):
        return tokens
    if dialect is Dialect.MYSQL:
        if parameterized and (verdict := _check_percent_signs(sql, tokens)) is not None:
            return verdict
        tokens = _pyformat_placeholders(tokens)
    elif (verdict := _check_operators(tokens)) is not None:
        # before parsing: sqlglot fails on some operators it does not know ("<~>"), and
        # an unknown operator is a refusal, not the user's syntax error
        return verdict
    return tokens


def _parse_one(sql: str, sg_dialect: _SqlglotDialect, tokens: list[Token]) -> exp.Expression | GuardVerdict:
    """The one query the tokens parse to; the verdict when they are no query, more than
    one statement, or none."""
    try:
        statements = sg_dialect.parser().parse(tokens, sql)
    except ParseError as e:
        return _explain_parse_failure(e, tokens)
    except RecursionError:
        return _refuse("statement nested too deeply")
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as e:
        # sqlglot's function builders assume well-formed arguments ("SELECT map(x)" is an
        # IndexError): the statement is malformed for sqlglot, never an internal error
        return GuardVerdict(
            VerdictKind.SYNTAX_ERROR, f"the statement could not be parsed ({type(e).__name__})"
        )

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
    return root


def require_read_only(
    sql: str, dialect: Dialect, *, parameterized: bool = False, database: str | None = None
) -> None:
    """check_read_only, raising StatementRefused unless allowed."""
    verdict = check_read_only(sql, dialect, parameterized=parameterized, database=database)
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


def _check_unicode_identifiers(tokens: list[Token]) -> GuardVerdict | None:
    """PostgreSQL decodes U&"pg\\0061uthid" to pg_authid; sqlglot reads U & "...", so no
    name check would see the decoded name."""
    for u, amp, ident in zip(tokens, tokens[1:], tokens[2:], strict=False):
        if (
            u.text.upper() == "U"
            and amp.token_type is TokenType.AMP
            and ident.token_type is TokenType.IDENTIFIER
            and amp.start == u.end + 1
            and ident.start == amp.end + 1
        ):
            return _refuse('Unicode-escaped identifier U&"..."')
    return None


def _check_operators(tokens: list[Token]) -> GuardVerdict | None:
    """PostgreSQL: every operator must be a known built-in (see _PG_OPERATORS).

    sqlglot splits an operator it does not know into ones it does ("@@@" into "@@" and
    "@"), so operators are rebuilt from adjacent tokens the way the server's lexer reads
    them: the longest run of operator characters, a trailing + or - given back unless
    the run holds one of ~ ! @ # % ^ & | ` ?."""
    i = 0
    while i < len(tokens):
        if not _is_op_token(tokens[i]):
            i += 1
            continue
        run, j = tokens[i].text, i + 1
        while j < len(tokens) and _is_op_token(tokens[j]) and tokens[j].start == tokens[j - 1].end + 1:
            run += tokens[j].text
            j += 1
        for op in _pg_operator_lexemes(run):
            if op not in _PG_OPERATORS:
                return _refuse(f"operator {op}")
        i = j
    return None


def _is_op_token(token: Token) -> bool:
    text = token.text
    return (
        token.token_type not in _QUOTED_TOKENS
        and bool(text)
        and all(ch in _PG_OP_CHARS for ch in text)
    )


def _pg_operator_lexemes(run: str) -> list[str]:
    out = []
    while run:
        op = run
        if len(op) > 1 and not any(ch in "~!@#%^&|`?" for ch in op):
            stripped = op.rstrip("+-")
            op = stripped if stripped else op[0]
        out.append(op)
        run = run[len(op):]
    return out


@functools.cache
def _call_names(dialect: Dialect) -> frozenset[str]:
    parser = _SqlglotDialect.get_or_raise(dialect.value).parser_class
    names = {*parser.FUNCTIONS, *parser.FUNCTION_PARSERS, *parser.NO_PAREN_FUNCTION_PARSERS}
    return frozenset(names - _NOT_CALLS)


def _check_grammar_calls(tokens: list[Token], dialect: Dialect) -> GuardVerdict | None:
    """Every name sqlglot knows as a function, checked where it is written.

    The tree check reads a call's name from the node, but some calls become nodes that
    do not say how the name was written (CAST(...), TRIM(...) and IF(...) have grammar
    rules of their own) or are not function nodes at all (GLOB(a, b) and LIKE(a, b)
    become predicates). On PostgreSQL any such name may be a user-defined function, so
    the tokens are checked too: a known name followed by "(" must be an allowed one."""
    names = _call_names(dialect)
    for prev, token, nxt in zip([None, *tokens], tokens, [*tokens[1:], None], strict=False):
        if nxt is None or nxt.token_type is not TokenType.L_PAREN:
            continue
        if token.text.upper() not in names:
            continue
        if prev is not None and prev.token_type in _NOT_A_CALL_AFTER:
            continue  # qualified (the tree check sees the qualifier), or a type / alias
        quoted = token.token_type is TokenType.IDENTIFIER
        if (reason := _function_refusal(token.text, dialect, quoted=quoted)) is not None:
            return _refuse(reason)
    return None


def _function_refusal(name: str, dialect: Dialect, *, quoted: bool) -> str | None:
    if not _PLAIN_NAME.fullmatch(name):
        return f"function name {name!r}"
    if quoted:
        if dialect is Dialect.MYSQL:
            # MySQL resolves a quoted name to a stored function, never a built-in
            return f"function `{name}` (quoted: a stored function)"
        if name != name.lower() or name not in POSTGRES_CATALOG_FUNCTIONS:
            # quoted, the name is not folded and grammar rules (COALESCE...) do not
            # apply: only a pg_catalog function of exactly that name is known
            return f'function "{name}" (not on the list of functions allowed on a read-only connection)'
    return function_refusal(name, dialect.value)


def _written_name(node: exp.Func, sql: str) -> tuple[str, bool] | None:
    """The function's name as written (and whether it was quoted), or None for nodes
    sqlglot built from grammar (CAST, CASE, operators) rather than from a name."""
    if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
        this = node.this
        if isinstance(this, exp.Identifier):
            return this.name, bool(this.args.get("quoted"))
        return str(this), False
    start, end = node.meta.get("start"), node.meta.get("end")
    if start is None or end is None:
        return None
    text = sql[start : end + 1]
    if len(text) >= 2 and text[0] in "\"`" and text[-1] == text[0]:
        return text[1:-1], True
    return text, False


def _check_tree(root: exp.Expression, dialect: Dialect, sql: str,
                database: str | None = None) -> GuardVerdict:
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
        if isinstance(node, exp.Operator):
            # OPERATOR(schema.op): any operator of any schema
            return _refuse(f"operator OPERATOR({node.args.get('operator')})")
        if isinstance(node, exp.Table):
            if (verdict := _check_table(node, dialect, database)) is not None:
                return verdict
        if isinstance(node, exp.Func):
            if (verdict := _check_function(node, dialect, sql)) is not None:
                return verdict
            continue
        if type(node) not in _ALLOWED_NODES and not isinstance(node, _ALLOWED_BASES):
            return _refuse(f"unsupported construct {type(node).__name__}")
    return _ALLOWED


def _check_table(node: exp.Table, dialect: Dialect, database: str | None) -> GuardVerdict | None:
    name, schema = node.name, node.db
    if not isinstance(node.this, exp.Identifier):
        return None  # a function in FROM (generate_series(...)): checked as a function
    if dialect is Dialect.POSTGRES:
        if name.lower() in _PG_SECRET_TABLES:
            return _refuse(f"system catalog {name.lower()}")
        return None
    effective = schema or database or ""
    if effective.lower() == _MYSQL_SYSTEM_SCHEMA:
        return _refuse(f"system table mysql.{name.lower()}")
    return None


def _is_pg_catalog(qualifier: exp.Expression) -> bool:
    if isinstance(qualifier, exp.Column) and not qualifier.table:
        qualifier = qualifier.this
    if not isinstance(qualifier, exp.Identifier):
        return False
    name = qualifier.name
    return name == "pg_catalog" or (not qualifier.args.get("quoted") and name.lower() == "pg_catalog")


def _check_function(node: exp.Func, dialect: Dialect, sql: str) -> GuardVerdict | None:
    parent = node.parent
    if isinstance(parent, exp.Dot) and parent.expression is node:
        # schema.function(...): on PostgreSQL only pg_catalog holds the built-ins; on
        # MySQL a qualified name is always a stored function
        if dialect is Dialect.MYSQL or not _is_pg_catalog(parent.this):
            written = _written_name(node, sql)
            shown = written[0] if written else type(node).__name__.lower()
            return _refuse(f"function {parent.this.sql(dialect=dialect.value)}.{shown} "
                           "(not a built-in function)")
    written = _written_name(node, sql)
    if written is None:
        return None  # grammar, not a name: CAST, CASE, operators (checked on tokens)
    name, quoted = written
    if node.find_ancestor(exp.Hint) is not None:
        # an optimizer hint (MAX_EXECUTION_TIME(1000)) names no function; only the
        # hints that change settings are refused
        return _refuse(f"optimizer hint {name.lower()}") if name.lower() in DENIED_FUNCTIONS else None
    if (reason := _function_refusal(name, dialect, quoted=quoted)) is not None:
        return _refuse(reason)
    return None


# ----------------------------------------------------------------- writable connections

# Functions that reach the server's file system, run programs or open connections as the
# database server: refused on every connection, read-only or not.
_SERVER_FUNCTIONS = frozenset({
    "load_file", "pg_stat_file", "pg_current_logfile", "lo_import", "lo_export",
    "sys_exec", "sys_eval",
    # administering the server or signalling other sessions
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
    "pg_promote",
})
_SERVER_FUNCTION_PREFIXES = ("pg_read_", "pg_ls_", "pg_file_", "pg_logdir_", "dblink")
_ROLE_OBJECTS = {"ROLE", "USER", "GROUP"}
_CODE_OBJECTS = {"FUNCTION", "PROCEDURE", "LANGUAGE", "EXTENSION"}


def check_writable(sql: str, dialect: Dialect) -> GuardVerdict:
    """What even a writable connection may not run; everything else is the database's
    business (its errors, its privileges).

    Refused: COPY ... PROGRAM and COPY to or from a server file, SELECT ... INTO
    OUTFILE/DUMPFILE, LOAD DATA/XML, functions that read the server's files or connect
    elsewhere (LOAD_FILE, pg_read_file, lo_import, dblink...), CREATE/ALTER/DROP
    DATABASE, roles, users and grants (also SET ROLE, set_config('role', ...)), code
    the guard cannot read: DO blocks, CREATE FUNCTION/PROCEDURE/LANGUAGE/EXTENSION on
    PostgreSQL (bodies are strings), PREPARE/EXECUTE on MySQL (the statement is a
    string); and server administration: ALTER SYSTEM, SET GLOBAL, INSTALL PLUGIN/SONAME,
    KILL, SHUTDOWN, foreign servers, signals to other backends.

    Checked on the tokens, not the parse tree, so that statements sqlglot cannot parse
    are still checked (and their syntax errors left to the database to report).
    """
    start = _start(sql, dialect)
    if isinstance(start, GuardVerdict):
        return start
    dialect, sg_dialect = start
    tokens = _tokenize(sql, sg_dialect, expand_commands=True)
    if isinstance(tokens, GuardVerdict):
        return tokens
    if dialect is Dialect.POSTGRES and (verdict := _check_unicode_identifiers(tokens)) is not None:
        return verdict
    for statement in _split_statements(tokens):
        if (reason := _writable_refusal(statement, dialect)) is not None:
            return _refuse(reason)
    return _ALLOWED


def _expand_commands(sql: str, tokens: list[Token], sg_dialect: _SqlglotDialect) -> list[Token]:
    """sqlglot's tokenizer keeps the rest of a statement it treats as an opaque command
    (EXPLAIN ..., DO ..., MySQL's REPLACE ...) as one string token; tokenize that text
    too, so that what follows the command word is checked like any other statement."""
    commands = sg_dialect.tokenizer_class.COMMANDS
    for _ in range(8):  # EXPLAIN ANALYZE VERBOSE ...: each round opens one level
        out, changed = [], False
        for i, token in enumerate(tokens):
            # the rest token's own start is unreliable (sqlglot sets it to its end)
            begin = tokens[i - 1].end + 1 if i > 0 else 0
            raw = sql[begin : token.end + 1]
            if (
                i > 0
                and token.token_type is TokenType.STRING
                and tokens[i - 1].token_type in commands
                and raw.strip() == token.text.strip()  # not a quoted literal: the raw rest
            ):
                for inner in sg_dialect.tokenize(raw):
                    out.append(Token(inner.token_type, inner.text, inner.line, inner.col,
                                     inner.start + begin, inner.end + begin, inner.comments))
                changed = True
            else:
                out.append(token)
        tokens = out
        if not changed:
            break
    return tokens


def _writable_refusal(tokens: list[Token], dialect: Dialect) -> str | None:
    words = [t.text.upper() if t.token_type not in _STRING_TOKENS else "" for t in tokens]
    return _command_refusal(words, dialect) or _clause_refusal(tokens, words)


def _command_refusal(words: list[str], dialect: Dialect) -> str | None:
    """What the statement's leading keywords make it that ChatDB never runs."""
    first = words[0]
    rest = [w for w in words[1:] if w not in ("OR", "REPLACE", "IF", "NOT", "EXISTS", "TRUSTED",
                                               "PROCEDURAL", "TEMP", "TEMPORARY")]
    second = rest[0] if rest else ""
    if first == "COPY":
        if "PROGRAM" in words:
            return "COPY ... PROGRAM"
        if "STDIN" not in words and "STDOUT" not in words:
            return "COPY to or from a server file"
    if first == "LOAD":
        return "LOAD DATA" if second in ("DATA", "XML") else "LOAD"
    if first in ("CREATE", "ALTER", "DROP"):
        if second == "DATABASE" or (second == "SCHEMA" and dialect is Dialect.MYSQL):
            return f"{first} DATABASE"
        if second in _ROLE_OBJECTS:
            return f"{first} {second}"
        if second == "DEFAULT" or (first == "DROP" and second == "OWNED"):
            return f"{first} {second} statement (privileges)"
        if dialect is Dialect.POSTGRES and first != "DROP" and second in _CODE_OBJECTS:
            return f"{first} {second}"
        if first == "ALTER" and second == "SYSTEM":
            return "ALTER SYSTEM"
    if first in ("GRANT", "REVOKE", "REASSIGN"):
        return f"{first} statement"
    if first == "RENAME" and second == "USER":
        return "RENAME USER"
    if dialect is Dialect.MYSQL and first in ("INSTALL", "UNINSTALL", "SHUTDOWN", "KILL"):
        # plugins are shared libraries loaded into the server
        return f"{first} statement"
    if first in ("CREATE", "ALTER") and (second == "SERVER" or (second == "FOREIGN" and "WRAPPER" in words)):
        return f"{first} {second} (connections to other servers)"
    if first == "SET" and (
        second in ("GLOBAL", "PERSIST", "PERSIST_ONLY")
        or "@@GLOBAL" in "".join(words)
        or "@@PERSIST" in "".join(words)
    ):
        # server-wide settings (SET GLOBAL general_log_file = ... writes files)
        return "SET GLOBAL"
    if first == "SET":
        after = [w for w in rest if w not in ("SESSION", "LOCAL")]
        if after[:2] == ["DEFAULT", "ROLE"]:
            return "SET DEFAULT ROLE"
        if after[:1] in (["ROLE"], ["PASSWORD"]):
            return f"SET {after[0]}"
        if after[:1] == ["AUTHORIZATION"]:
            return "SET SESSION AUTHORIZATION"
    if first == "DO" and dialect is Dialect.POSTGRES:
        return "DO block"
    if dialect is Dialect.MYSQL and first in ("PREPARE", "EXECUTE"):
        return f"{first} statement"
    return None


def _clause_refusal(tokens: list[Token], words: list[str]) -> str | None:
    """A clause or function call anywhere in the statement that reaches the server's
    files or session (INTO OUTFILE, pg_read_file(...), set_config('role', ...))."""
    for i, token in enumerate(tokens):
        word = words[i]
        if word == "INTO" and i + 1 < len(tokens) and words[i + 1] in ("OUTFILE", "DUMPFILE"):
            return f"SELECT ... INTO {words[i + 1]}"
        if i + 1 < len(tokens) and tokens[i + 1].token_type is TokenType.L_PAREN:
            name = token.text.lower()
            if name in _SERVER_FUNCTIONS or name.startswith(_SERVER_FUNCTION_PREFIXES):
                return f"function {name}"
            if (
                name == "set_config"
                and i + 2 < len(tokens)
                and tokens[i + 2].text.lower() in ("role", "session_authorization")
            ):
                return f"function set_config('{tokens[i + 2].text.lower()}', ...)"
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
