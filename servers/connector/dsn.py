"""DSNs of user databases: parse, build from discrete fields, mask the secret.

Pure string handling, no driver imports. A DSN is `scheme://[user[:password]@]hosts
[/database][?query]`; MongoDB allows several comma-separated hosts, which
`urllib.parse.urlsplit(...).port` refuses, so the authority is split by hand.

The password can sit in two places: the userinfo (`app:secret@`) and, for libpq-style
DSNs, a `password=` query parameter. Both are secrets: both are masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode

MASK = "****"

# Accepted URL schemes per connection kind (value of ConnectionKind); the first is the
# one used when the DSN is built from discrete fields.
SCHEMES: dict[str, tuple[str, ...]] = {
    "postgres": ("postgresql", "postgres"),
    "mysql": ("mysql", "mariadb"),
    "mongodb": ("mongodb", "mongodb+srv"),
}
DEFAULT_PORTS: dict[str, int] = {"postgres": 5432, "mysql": 3306, "mongodb": 27017}

# Query parameters that carry a secret (libpq's `password`, and spellings others use).
_SECRET_PARAMS = frozenset({"password", "pwd", "passwd"})


class DsnError(ValueError):
    """The DSN is malformed; the message says how, never what the password is."""


@dataclass(frozen=True)
class ParsedDsn:
    scheme: str
    user: str
    password: str | None  # None: no password in the userinfo
    hosts: str  # the authority after '@', e.g. "db:5432" or "a:27017,b:27017"
    host: str  # first host, without port or brackets
    port: int  # first host's port; 0 when not given
    database: str
    query: list[tuple[str, str]]

    @property
    def has_password(self) -> bool:
        return bool(self.password) or any(k.lower() in _SECRET_PARAMS and v for k, v in self.query)


def parse(dsn: str) -> ParsedDsn:
    scheme, sep, rest = dsn.partition("://")
    if not sep or not scheme:
        raise DsnError("must look like scheme://user:password@host:port/database")
    rest, _, _fragment = rest.partition("#")
    # The authority ends at the first '/' or '?'; a password containing either must be
    # percent-encoded, as in any URL.
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    path, _, query = tail.partition("?")
    userinfo, at, hosts = authority.rpartition("@")
    if not at:
        userinfo, hosts = "", authority
    user, colon, password = userinfo.partition(":")
    if not hosts:
        raise DsnError("has no host")
    host, port = _first_host(hosts)
    try:
        params = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise DsnError(f"has a malformed query string ({exc})") from None
    return ParsedDsn(
        scheme=scheme.lower(),
        user=unquote(user),
        password=unquote(password) if colon else None,
        hosts=hosts,
        host=host,
        port=port,
        database=unquote(path.lstrip("/")),
        query=params,
    )


def _first_host(hosts: str) -> tuple[str, int]:
    first = hosts.split(",", 1)[0]
    if first.startswith("["):  # [ipv6]:port
        end = first.find("]")
        if end < 0:
            raise DsnError("has an unclosed '[' in its host")
        host, port_text = first[1:end], first[end + 1 :].lstrip(":")
    else:
        host, _, port_text = first.partition(":")
    if not host:
        raise DsnError("has no host")
    if not port_text:
        return unquote(host), 0
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DsnError(f"has an invalid port {port_text!r}")
    return unquote(host), int(port_text)


def unparse(parsed: ParsedDsn, *, password: str | None, query: list[tuple[str, str]]) -> str:
    userinfo = ""
    if parsed.user or password is not None:
        userinfo = quote(parsed.user, safe="")
        if password is not None:
            userinfo += ":" + (password if password == MASK else quote(password, safe=""))
        userinfo += "@"
    path = "/" + quote(parsed.database, safe="") if parsed.database else ""
    qs = "?" + urlencode(query, safe="*") if query else ""
    return f"{parsed.scheme}://{userinfo}{parsed.hosts}{path}{qs}"


def masked(parsed: ParsedDsn) -> str:
    """The DSN with every secret replaced by "****" (what responses carry)."""
    password = MASK if parsed.password else (None if parsed.password is None else "")
    if password == "":
        password = None  # "user:@host" says nothing worth echoing
    query = [(k, MASK if k.lower() in _SECRET_PARAMS and v else v) for k, v in parsed.query]
    return unparse(parsed, password=password, query=query)


def build(kind: str, host: str, port: int, user: str, password: str, database: str) -> str:
    """A DSN from discrete fields (the other input form of a connection)."""
    scheme = SCHEMES[kind][0]
    userinfo = ""
    if user or password:
        userinfo = quote(user, safe="") + (":" + quote(password, safe="") if password else "") + "@"
    host_text = f"[{host}]" if ":" in host and not host.startswith("[") else host
    port_text = f":{port}" if port else ""
    path = "/" + quote(database, safe="") if database else ""
    return f"{scheme}://{userinfo}{host_text}{port_text}{path}"


def with_options(dsn: str, options: dict[str, str]) -> str:
    """`dsn` with driver options added as query parameters (the DSN's own win)."""
    if not options:
        return dsn
    parsed = parse(dsn)
    present = {k for k, _ in parsed.query}
    query = parsed.query + [(k, v) for k, v in sorted(options.items()) if k not in present]
    return unparse(parsed, password=parsed.password, query=query)
