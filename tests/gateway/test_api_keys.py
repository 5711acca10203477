"""ApiKeyService through a real gateway server: the secret once, only its hash stored,
request_id idempotency, AIP-158 paging with a state filter, errors with field
violations, and revocation refused by the authz server within a second — through this
replica at once, through another one after its next reload."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
import uuid

import grpc
import pytest
from chatdb.gateway.v1 import api_key_pb2
from chatdb.gateway.v1 import api_key_service_pb2 as pb

from gateway.api_keys import well_formed
from servers.runtime.identity import Principal
from servers.runtime.status import details_from_rpc_error
from tests.gateway.api_keys_support import authz, running_keys
from tests.gateway.cli_support import chatdb_in_thread

ASK = "/chatdb.gateway.v1.ChatService/Ask"


@pytest.fixture
async def keys(settings):
    async with running_keys(settings, gateway_authz_refresh_s=0.2) as server:
        yield server


async def test_create_returns_the_secret_once_and_stores_only_its_hash(keys):
    created = await keys.create("user", owner="ada@example.com", tenant="acme", questions_per_minute=5)
    key, secret = created.api_key, created.secret
    assert secret.startswith(key.prefix + "_") and key.prefix.startswith("cdb_") and len(key.prefix) == 12
    assert key.key_id.startswith("ak_") and key.owner == "ada@example.com" and key.tenant == "acme"
    assert key.role == api_key_pb2.API_KEY_ROLE_USER and key.state == api_key_pb2.API_KEY_STATE_ACTIVE
    assert key.quotas.questions_per_minute == 5 and key.HasField("create_time")
    assert not key.HasField("last_use_time")

    row = await keys.pool.fetchrow("SELECT * FROM gateway_api_keys WHERE key_id = $1", key.key_id)
    assert bytes(row["secret_hash"]) == hashlib.sha256(secret.encode()).digest()
    stored = " ".join(str(v) for v in row.values())
    assert secret not in stored and secret.rsplit("_", 1)[1] not in stored

    listed = await keys.stub.ListApiKeys(pb.ListApiKeysRequest(page_size=1000))
    [mine] = [k for k in listed.api_keys if k.key_id == key.key_id]
    assert mine.prefix == key.prefix and mine.owner == "ada@example.com" and mine.tenant == "acme"
    assert secret not in str(listed) and secret.rsplit("_", 1)[1] not in str(listed)


async def test_create_with_a_request_id_is_idempotent(keys):
    request_id = uuid.uuid4().hex
    first = await keys.create("viewer", request_id=request_id)
    again = await keys.create("viewer", request_id=request_id)
    assert first.secret and again.secret == ""
    assert again.api_key.key_id == first.api_key.key_id
    count = await keys.pool.fetchval("SELECT count(*) FROM gateway_api_keys WHERE request_id = $1", request_id)
    assert count == 1


async def test_bad_input_is_invalid_argument_with_field_violations(keys):
    key = api_key_pb2.ApiKey(owner="", tenant="Not A Tenant", quotas=api_key_pb2.ApiKeyQuotas(questions_per_day=-1))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await keys.stub.CreateApiKey(pb.CreateApiKeyRequest(api_key=key))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    fields = {v.field for v in details_from_rpc_error(caught.value).violations}
    assert fields == {"api_key.owner", "api_key.tenant", "api_key.role", "api_key.quotas.questions_per_day"}

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await keys.stub.ListApiKeys(pb.ListApiKeysRequest(page_token="garbage"))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_unknown_ids_are_not_found(keys):
    for key_id in ("ak_0000000000000000", "nope"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await keys.stub.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=key_id))
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await keys.stub.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=""))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_list_pages_newest_first_and_filters_by_state(keys):
    owner = f"pager-{uuid.uuid4().hex[:8]}"
    made = [(await keys.create("user", owner=owner)).api_key.key_id for _ in range(5)]
    await keys.stub.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=made[1]))

    seen, token, pages = [], "", 0
    while True:
        page = await keys.stub.ListApiKeys(pb.ListApiKeysRequest(page_size=2, page_token=token))
        assert len(page.api_keys) <= 2
        seen += [k for k in page.api_keys if k.owner == owner]
        token, pages = page.next_page_token, pages + 1
        if not token:
            break
    assert [k.key_id for k in seen] == made[::-1] and pages >= 3
    times = [k.create_time.ToDatetime() for k in seen]
    assert times == sorted(times, reverse=True)

    revoked = await keys.stub.ListApiKeys(pb.ListApiKeysRequest(page_size=1000, state=api_key_pb2.API_KEY_STATE_REVOKED))
    assert made[1] in {k.key_id for k in revoked.api_keys}
    assert all(k.state == api_key_pb2.API_KEY_STATE_REVOKED for k in revoked.api_keys)
    active = await keys.stub.ListApiKeys(pb.ListApiKeysRequest(page_size=1000, state=api_key_pb2.API_KEY_STATE_ACTIVE))
    assert made[1] not in {k.key_id for k in active.api_keys} and made[0] in {k.key_id for k in active.api_keys}

    # A token is bound to the filter it was issued with.
    first = await keys.stub.ListApiKeys(pb.ListApiKeysRequest(page_size=1))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await keys.stub.ListApiKeys(pb.ListApiKeysRequest(page_size=1, page_token=first.next_page_token,
                                                          state=api_key_pb2.API_KEY_STATE_REVOKED))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_revoke_is_refused_by_this_replica_at_once(keys):
    created = await keys.create("user")
    assert (await authz(keys.authz_port, ASK, {"x-api-key": created.secret})).status == 200

    revoked = await keys.stub.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=created.api_key.key_id))
    assert revoked.api_key.state == api_key_pb2.API_KEY_STATE_REVOKED and revoked.api_key.HasField("revoke_time")
    denied = await authz(keys.authz_port, ASK, {"x-api-key": created.secret})
    assert denied.status == 401 and denied.body["code"] == 16

    again = await keys.stub.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=created.api_key.key_id))
    assert again.api_key.revoke_time == revoked.api_key.revoke_time


async def test_revoke_through_another_replica_is_refused_within_a_second(keys, settings):
    # The default reload interval (0.5 s), not the fixture's shorter one.
    async with running_keys(settings, gateway_authz_refresh_s=0.5) as other:
        created = await keys.create("user")
        deadline = time.monotonic() + 5
        while (await authz(other.authz_port, ASK, {"x-api-key": created.secret})).status != 200:
            assert time.monotonic() < deadline, "the other replica never loaded the new key"
            await asyncio.sleep(0.05)

        started = time.monotonic()
        await keys.stub.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=created.api_key.key_id))
        while (await authz(other.authz_port, ASK, {"x-api-key": created.secret})).status == 200:
            assert time.monotonic() - started < 1.0, "a revoked key was still accepted after a second"
        assert time.monotonic() - started < 1.0


async def test_last_use_time_is_written_in_batches(settings):
    async with running_keys(settings, gateway_authz_refresh_s=0.1, gateway_api_key_last_use_interval_s=0.3) as keys:
        created = await keys.create("user")
        for _ in range(3):
            assert (await authz(keys.authz_port, ASK, {"x-api-key": created.secret})).status == 200
        deadline = time.monotonic() + 5
        while True:
            listed = await keys.stub.ListApiKeys(pb.ListApiKeysRequest(page_size=1000))
            [mine] = [k for k in listed.api_keys if k.key_id == created.api_key.key_id]
            if mine.HasField("last_use_time"):
                break
            assert time.monotonic() < deadline, "last_use_time was never written"
            await asyncio.sleep(0.1)
        assert mine.last_use_time.ToDatetime() >= mine.create_time.ToDatetime()


async def test_chatdb_apikeys_create_list_revoke(keys, capsys, monkeypatch):
    address = keys.server.address
    code, out, err = await chatdb_in_thread(
        capsys, monkeypatch, "apikeys", "create", "--owner", "cli@example.com", "--tenant", "acme", "--role", "viewer",
        "--questions-per-minute", "3", "--address", address)
    assert code == 0, err
    key_id = out.split()[1]
    secret = out.strip().splitlines()[-1]
    assert key_id.startswith("ak_") and well_formed(secret)
    assert (await authz(keys.authz_port, "/chatdb.gateway.v1.ChatService/ListQueries", {"x-api-key": secret})).status == 200

    code, out, err = await chatdb_in_thread(capsys, monkeypatch, "apikeys", "list", "--address", address)
    assert code == 0 and key_id in out and "cli@example.com" in out and secret not in out

    code, out, err = await chatdb_in_thread(capsys, monkeypatch, "apikeys", "revoke", key_id, "--address", address)
    assert code == 0 and f"revoked {key_id}" in out
    assert (await authz(keys.authz_port, "/chatdb.gateway.v1.ChatService/ListQueries", {"x-api-key": secret})).status == 401

    code, out, err = await chatdb_in_thread(capsys, monkeypatch, "apikeys", "revoke", "ak_ffffffffffffffff",
                                            "--address", address)
    assert code == 1 and "NOT_FOUND" in err


async def test_chatdb_apikeys_bootstrap_writes_a_first_admin_key_once(keys, settings, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CHATDB_HOME", str(tmp_path))
    monkeypatch.setenv("CHATDB_DATABASE_URL", settings.database_url)
    code, out, err = await chatdb_in_thread(capsys, monkeypatch, "apikeys", "bootstrap")
    assert code == 0 and out.startswith("created admin key"), err
    path = tmp_path / "admin-api-key"
    assert path.stat().st_mode & 0o777 == 0o600
    secret = path.read_text().strip()
    deadline = time.monotonic() + 5  # made straight in the database: the table loads it on its next reload
    while (answer := await authz(keys.authz_port, "/chatdb.gateway.v1.ApiKeyService/ListApiKeys",
                                 {"x-api-key": secret})).status != 200:
        assert time.monotonic() < deadline, answer
        await asyncio.sleep(0.05)
    assert answer.headers["x-chatdb-role"] == "admin"

    code, out, _ = await chatdb_in_thread(capsys, monkeypatch, "apikeys", "bootstrap")
    assert code == 0 and out.startswith("kept admin key") and path.read_text().strip() == secret

    # A revoked key in the file is replaced.
    key_id = answer.headers["x-chatdb-api-key-id"]
    await keys.stub.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=key_id))
    code, out, _ = await chatdb_in_thread(capsys, monkeypatch, "apikeys", "bootstrap")
    assert code == 0 and out.startswith("created admin key") and path.read_text().strip() != secret


async def test_an_expired_key_is_refused_and_listed_expired(keys):
    expire = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
    key = api_key_pb2.ApiKey(owner="temp@example.com", role=api_key_pb2.API_KEY_ROLE_USER)
    key.expire_time.FromDatetime(expire)
    created = await keys.stub.CreateApiKey(pb.CreateApiKeyRequest(api_key=key))
    assert (await authz(keys.authz_port, ASK, {"x-api-key": created.secret})).status == 200
    await asyncio.sleep(max(0.0, (expire - dt.datetime.now(dt.UTC)).total_seconds()) + 0.05)
    assert (await authz(keys.authz_port, ASK, {"x-api-key": created.secret})).status == 401
    expired = await keys.stub.ListApiKeys(pb.ListApiKeysRequest(page_size=1000, state=api_key_pb2.API_KEY_STATE_EXPIRED))
    assert created.api_key.key_id in {k.key_id for k in expired.api_keys}

    past = api_key_pb2.ApiKey(owner="temp@example.com", role=api_key_pb2.API_KEY_ROLE_USER)
    past.expire_time.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await keys.stub.CreateApiKey(pb.CreateApiKeyRequest(api_key=past))
    assert {v.field for v in details_from_rpc_error(caught.value).violations} == {"api_key.expire_time"}


async def test_the_service_refuses_a_non_admin_principal_itself(keys):
    user = Principal(name="key:ak_0123456789abcdef", tenant="acme", role="user", api_key_id="ak_0123456789abcdef")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await keys.stub.ListApiKeys(pb.ListApiKeysRequest(), metadata=user.metadata())
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    admin = Principal(name="key:ak_0123456789abcdef", tenant="acme", role="admin", api_key_id="ak_0123456789abcdef")
    await keys.stub.ListApiKeys(pb.ListApiKeysRequest(page_size=1), metadata=admin.metadata())
