"""Personal data through the real gateway, parser and connector on PostgreSQL: a user's
Ask gets the customers' names and e-mails masked and says so (masked_columns and a
note); an admin's does not; the answer cache never hands one the other's answer; and
the parser, which samples values as the platform, still links a typed e-mail address to
its column."""

from __future__ import annotations

import asyncpg
import pytest
from chatdb.connector.v1 import connection_pb2
from chatdb.gateway.v1 import chat_service_pb2 as pb

from servers.contracts.cells import cell_to_value
from servers.runtime.identity import Principal
from tests.conftest import drop_pg_database
from tests.gateway.support import forget, running_gateway
from tests.parser.service_support import create_shop_pg, register

pytestmark = pytest.mark.timeout(120)

USER = Principal("key:u", tenant="t-pii", role="user").metadata()
ADMIN = Principal("key:a", tenant="t-pii", role="admin").metadata()
CID = "gw-pii"


@pytest.fixture(scope="module")
async def mesh(settings, run_id):
    database = f"chatdb_test_{run_id}_gw_pii"
    dsn = await create_shop_pg(database)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ALTER TABLE customers ADD COLUMN email TEXT")
        await conn.execute("UPDATE customers SET email = lower(replace(name, ' ', '.')) || '@example.com'")
    finally:
        await conn.close()
    try:
        async with running_gateway(settings) as m:
            await register(m.connector, CID, connection_pb2.CONNECTION_KIND_POSTGRES, dsn)
            yield m
            await forget(m.connector, CID)
    finally:
        await drop_pg_database(database)


async def ask(mesh, metadata, question: str, **fields) -> pb.AskResponse:
    return await mesh.stub.Ask(pb.AskRequest(question=question, connection_id=CID, **fields), metadata=metadata)


def column(response: pb.AskResponse, name: str) -> list:
    at = [c.name for c in response.columns].index(name)
    return [cell_to_value(r.cells[at]) for r in response.rows]


async def test_a_users_answer_is_masked_and_says_so_an_admins_is_not(mesh):
    user = await ask(mesh, USER, "show the name, email and city of customers")
    assert {"name", "email"} <= set(user.masked_columns), (user.statement, [c.name for c in user.columns])
    assert any("personal data masked" in n and "email" in n for n in user.notes)
    assert set(column(user, "name")) == {"***"}
    assert all(e.startswith("***@") for e in column(user, "email"))
    assert "city" not in user.masked_columns and any(c != "***" for c in column(user, "city"))

    admin = await ask(mesh, ADMIN, "show the name, email and city of customers")
    assert list(admin.masked_columns) == []
    assert not any("personal data" in n for n in admin.notes)
    assert "***" not in column(admin, "name")


async def test_the_cache_keeps_masked_and_unmasked_answers_apart(mesh):
    question = "list the name and email of the customers"
    first_admin = await ask(mesh, ADMIN, question, use_cache=True)
    first_user = await ask(mesh, USER, question, use_cache=True)
    assert not first_admin.cached and not first_user.cached  # the admin's answer is not the user's
    again_user = await ask(mesh, USER, question, use_cache=True)
    assert again_user.cached and set(column(again_user, "name")) == {"***"}
    assert list(again_user.masked_columns) == list(first_user.masked_columns)
    again_admin = await ask(mesh, ADMIN, question, use_cache=True)
    assert again_admin.cached and "***" not in column(again_admin, "name")
    assert list(again_admin.masked_columns) == []


async def test_a_typed_email_still_finds_its_customer(mesh):
    admin = await ask(mesh, ADMIN, "show the name, email and city of customers")
    email = column(admin, "email")[0]
    user = await ask(mesh, USER, f"show customers {email}")
    # the parser linked the typed value to the column (it sampled it unmasked) ...
    assert email in user.statement.sql.sql and len(user.rows) == 1, user.statement
    # ... and the row the user gets back is masked all the same
    assert list(user.masked_columns) == ["name"] and column(user, "name") == ["***"]
