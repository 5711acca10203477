"""The connector core without a transport: DSN parsing and masking, page tokens,
statement digests, the secret box, and the pool manager's lifecycle (with a fake driver).

Through gRPC: test_service.py (connections and schema), test_service_query.py,
test_service_stream.py and the other test_service_*.py."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from servers.connector import dsn as dsnlib
from servers.connector.domain import (
    Connection,
    ConnectionKind,
    ConnectionOptions,
    MongoFind,
    SqlQuery,
)
from servers.connector.pools import PoolManager
from servers.connector.store import SecretBox
from servers.connector.tokens import PageTokens, statement_digest
from servers.runtime.errors import FailedPrecondition, InvalidArgument


@pytest.mark.parametrize(
    "dsn, masked, has_password",
    [
        ("postgresql://app:secret@db:5432/shop", "postgresql://app:****@db:5432/shop", True),
        ("postgresql://app@db/shop", "postgresql://app@db/shop", False),
        ("postgresql://app:@db/shop", "postgresql://app@db/shop", False),
        ("mysql://u:p%40ss%2Fw@[::1]:3306/x", "mysql://u:****@[::1]:3306/x", True),
        (
            "mongodb://u:pw@a:1,b:2/db?replicaSet=rs",
            "mongodb://u:****@a:1,b:2/db?replicaSet=rs",
            True,
        ),
        (
            "postgresql://db/shop?user=app&password=hunter2",
            "postgresql://db/shop?user=app&password=****",
            True,
        ),
    ],
)
def test_dsn_masking(dsn, masked, has_password):
    parsed = dsnlib.parse(dsn)
    assert dsnlib.masked(parsed) == masked
    assert parsed.has_password is has_password


def test_dsn_parse_fields_and_errors():
    p = dsnlib.parse("mysql://u:p%40ss@[::1]:3307/my%20db")
    assert (p.user, p.password, p.host, p.port, p.database) == ("u", "p@ss", "::1", 3307, "my db")
    for bad in (
        "nothing",
        "postgresql://",
        "postgresql://h:0/db",
        "postgresql://h:x/db",
        "postgresql://[::1/db",
    ):
        with pytest.raises(dsnlib.DsnError):
            dsnlib.parse(bad)


def test_dsn_build_quotes_secrets_and_options_merge():
    built = dsnlib.build("postgres", "db", 0, "a b", "p@ss:/word", "shop")
    assert built == "postgresql://a%20b:p%40ss%3A%2Fword@db/shop"
    assert dsnlib.parse(built).password == "p@ss:/word"
    merged = dsnlib.with_options(
        "postgresql://u:pw@db/shop?sslmode=disable", {"sslmode": "require", "x": "1"}
    )
    assert merged == "postgresql://u:pw@db/shop?sslmode=disable&x=1"


def test_page_tokens_round_trip_and_binding():
    tokens = PageTokens(b"k" * 32)
    digest = statement_digest("c1", SqlQuery("SELECT 1"), 100)
    token = tokens.query_token("c1", digest, 500)
    assert "=" not in token and tokens.read_query_token(token, "c1", digest) == 500
    with pytest.raises(InvalidArgument) as err:
        tokens.read_query_token(token, "c2", digest)
    assert err.value.violations[0].field == "page_token"
    with pytest.raises(InvalidArgument):
        tokens.read_query_token(token, "c1", statement_digest("c1", SqlQuery("SELECT 2"), 100))
    with pytest.raises(InvalidArgument):  # signed with another key
        PageTokens(b"x" * 32).read_query_token(token, "c1", digest)
    with pytest.raises(InvalidArgument):  # a list token is not a query token
        tokens.read_query_token(tokens.list_token("a", None), "c1", digest)
    for junk in ("", "!!!", "abc", token[:-1] + ("A" if token[-1] != "A" else "B")):
        with pytest.raises(InvalidArgument):
            tokens.read_query_token(junk, "c1", digest)


def test_statement_digest_tells_params_apart():
    digests = {
        statement_digest("c", SqlQuery("SELECT $1", (1,)), 10),
        statement_digest("c", SqlQuery("SELECT $1", (True,)), 10),
        statement_digest("c", SqlQuery("SELECT $1", (1.0,)), 10),
        statement_digest("c", SqlQuery("SELECT $1", (Decimal("1.0"),)), 10),
        statement_digest("c", SqlQuery("SELECT $1", ("1",)), 10),
        statement_digest("c", SqlQuery("SELECT $1", (1,)), 11),
        statement_digest("c", MongoFind("t", {"a": 1}), 10),
        statement_digest("c", MongoFind("t", {"a": 1}, sort=(("a", 1),)), 10),
    }
    assert len(digests) == 8


def test_secret_box():
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    box = SecretBox(key)
    sealed = box.seal("postgresql://u:pw@h/d")
    assert sealed.startswith("fernet:") and "pw@" not in sealed
    assert box.open(sealed) == "postgresql://u:pw@h/d"
    assert (
        box.open(SecretBox(None).seal("x")) == "x"
    )  # turning encryption on keeps old rows readable
    with pytest.raises(FailedPrecondition):
        SecretBox(None).open(sealed)
    with pytest.raises(FailedPrecondition):
        SecretBox(Fernet.generate_key().decode()).open(sealed)
    with pytest.raises(FailedPrecondition):
        SecretBox("not-a-key")


class FakeDriver:
    def __init__(self, config):
        self.config = config
        self.closed = False

    async def close(self):
        self.closed = True


def _connection(cid: str, dsn: str = "postgresql://h/d") -> Connection:
    return Connection(
        connection_id=cid,
        kind=ConnectionKind.POSTGRES,
        dsn=dsn,
        secret_dsn=dsn,
        options=ConnectionOptions(1, 5, 5.0, 30.0, 1000, {}),
    )


async def test_pool_manager_lifecycle():
    pools = PoolManager(FakeDriver)
    a = pools.get(_connection("a"))
    assert pools.get(_connection("a")) is a  # one driver per connection
    replaced = pools.get(_connection("a", "postgresql://other/d"))  # re-created elsewhere: new pool
    assert replaced is not a
    pools.discard("a", a)  # a stale driver does not evict the current one
    assert pools.get(_connection("a", "postgresql://other/d")) is replaced
    b = pools.get(_connection("b"))
    pools.discard("b")
    await asyncio.sleep(0)
    await pools.aclose()
    assert a.closed and b.closed and replaced.closed
