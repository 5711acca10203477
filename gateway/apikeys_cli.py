"""`chatdb apikeys …` (gateway/cli.py registers them):

    chatdb apikeys create --owner X [--tenant T] --role admin|user|viewer [--name N]
                          [--questions-per-minute N] [--questions-per-day N]
                          [--training-jobs-per-day N] [--request-id ID] [--json]
    chatdb apikeys list [--state active|revoked|expired] [--limit N] [--json]
    chatdb apikeys revoke KEY_ID
    chatdb apikeys bootstrap

create, list and revoke call ApiKeyService on the gateway over gRPC
(CHATDB_GATEWAY_ADDRESS or --address, with --api-key sent as x-api-key when the address
is the edge). `create` prints the secret once: it cannot be shown again.

`bootstrap` is for the launcher and goes straight to the platform database (it runs
before anything serves, and it is what makes the first key that the edge would ask
for): it keeps CHATDB_HOME/admin-api-key when the key in it is an active admin key, and
otherwise creates an admin key and writes its secret there (mode 0600). Idempotent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path

import grpc
from chatdb.gateway.v1 import api_key_pb2
from chatdb.gateway.v1 import api_key_service_pb2 as pb
from chatdb.gateway.v1 import api_key_service_pb2_grpc as pb_grpc
from google.protobuf import json_format
from rich.console import Console
from rich.table import Table

from servers.runtime.channels import address_of, open_channel
from servers.runtime.cli_support import rpc_error_lines
from servers.runtime.errors import ChatDBError
from servers.runtime.migrations import migrate_dsn
from servers.runtime.paging import PageTokens, key_from
from servers.runtime.pg import open_platform_pool
from servers.runtime.settings import Settings

from .api_key_store import ApiKeyStore
from .api_keys import ApiKeys, NewApiKey, hash_secret, well_formed

MIGRATIONS = Path(__file__).parent / "migrations"
ADMIN_KEY_FILE = "admin-api-key"
CALL_TIMEOUT_S = 30
ROLES = {"admin": api_key_pb2.API_KEY_ROLE_ADMIN, "user": api_key_pb2.API_KEY_ROLE_USER,
         "viewer": api_key_pb2.API_KEY_ROLE_VIEWER}
STATES = {"active": api_key_pb2.API_KEY_STATE_ACTIVE, "revoked": api_key_pb2.API_KEY_STATE_REVOKED,
          "expired": api_key_pb2.API_KEY_STATE_EXPIRED}


def add_commands(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser("apikeys", help="create, list and revoke API keys; bootstrap the first admin key")
    commands = keys.add_subparsers(dest="apikeys_command", required=True)

    create = commands.add_parser("create", help="create a key and print its secret (shown only once)")
    create.add_argument("--owner", required=True, help="who holds the key")
    create.add_argument("--tenant", default="", help="the tenant the key reaches (default: default)")
    create.add_argument("--role", required=True, choices=sorted(ROLES))
    create.add_argument("--name", default="", help="a display name")
    create.add_argument("--questions-per-minute", type=int, default=0, help="0: unlimited")
    create.add_argument("--questions-per-day", type=int, default=0, help="0: unlimited")
    create.add_argument("--training-jobs-per-day", type=int, default=0, help="0: unlimited")
    create.add_argument("--request-id", default="", help="idempotency key: a repeat returns the first key, no secret")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=lambda a: asyncio.run(_create(a)))

    listing = commands.add_parser("list", help="keys, newest first, without secrets")
    listing.add_argument("--state", choices=sorted(STATES), default=None)
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=lambda a: asyncio.run(_list(a)))

    revoke = commands.add_parser("revoke", help="revoke a key (refused at the edge within a second)")
    revoke.add_argument("key_id")
    revoke.add_argument("--json", action="store_true")
    revoke.set_defaults(func=lambda a: asyncio.run(_revoke(a)))

    for command in (create, listing, revoke):
        command.add_argument("--address", default=None, help="gateway address host:port (default "
                             "CHATDB_GATEWAY_ADDRESS, else CHATDB_HOST:CHATDB_GATEWAY_PORT)")
        command.add_argument("--api-key", default=os.environ.get("CHATDB_API_KEY", ""),
                             help="an admin key sent as x-api-key (needed through the edge; default $CHATDB_API_KEY)")

    bootstrap = commands.add_parser("bootstrap", help=f"write a first admin key to CHATDB_HOME/{ADMIN_KEY_FILE} "
                                    "unless a valid one is there (straight to the platform database)")
    bootstrap.set_defaults(func=lambda a: asyncio.run(_bootstrap(a)))


# ----------------------------------------------------------------------------- gRPC commands


async def _call(args: argparse.Namespace, send) -> object | None:
    settings = Settings()
    address = args.address or settings.gateway_address or address_of(settings, "gateway")
    metadata = (("x-api-key", args.api_key),) if args.api_key else None
    try:
        async with open_channel(settings, address=address) as channel:
            return await send(pb_grpc.ApiKeyServiceStub(channel), metadata)
    except grpc.aio.AioRpcError as exc:
        for line in rpc_error_lines(exc):
            print(line, file=sys.stderr)
        return None


async def _create(args: argparse.Namespace) -> int:
    key = api_key_pb2.ApiKey(owner=args.owner, tenant=args.tenant, role=ROLES[args.role], display_name=args.name,
                             quotas=api_key_pb2.ApiKeyQuotas(questions_per_minute=args.questions_per_minute,
                                                             questions_per_day=args.questions_per_day,
                                                             training_jobs_per_day=args.training_jobs_per_day))
    request = pb.CreateApiKeyRequest(api_key=key, request_id=args.request_id)
    reply = await _call(args, lambda stub, md: stub.CreateApiKey(request, metadata=md, timeout=CALL_TIMEOUT_S))
    if reply is None:
        return 1
    if args.json:
        print(json_format.MessageToJson(reply, preserving_proto_field_name=True))
        return 0
    key = reply.api_key
    print(f"created {key.key_id} ({key.prefix}) for {key.owner}, tenant {key.tenant}, role {_role(key.role)}")
    if reply.secret:
        print(f"secret (shown only this once; send it as the x-api-key header):\n{reply.secret}")
    else:
        print("no secret: this request_id created the key before, and its secret was shown then")
    return 0


async def _list(args: argparse.Namespace) -> int:
    request = pb.ListApiKeysRequest(page_size=args.limit, state=STATES.get(args.state or "", 0))
    reply = await _call(args, lambda stub, md: stub.ListApiKeys(request, metadata=md, timeout=CALL_TIMEOUT_S))
    if reply is None:
        return 1
    if args.json:
        print(json_format.MessageToJson(reply, preserving_proto_field_name=True))
        return 0
    table = Table("key id", "prefix", "owner", "tenant", "role", "state", "created", "last used", "quotas")
    for k in reply.api_keys:
        quotas = ", ".join(f"{f.name}={v}" for f, v in k.quotas.ListFields()) or "-"
        table.add_row(k.key_id, k.prefix, k.owner, k.tenant, _role(k.role),
                      api_key_pb2.ApiKeyState.Name(k.state).removeprefix("API_KEY_STATE_").lower(),
                      _time(k, "create_time"), _time(k, "last_use_time"), quotas)
    Console().print(table)
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    request = pb.RevokeApiKeyRequest(key_id=args.key_id)
    reply = await _call(args, lambda stub, md: stub.RevokeApiKey(request, metadata=md, timeout=CALL_TIMEOUT_S))
    if reply is None:
        return 1
    if args.json:
        print(json_format.MessageToJson(reply, preserving_proto_field_name=True))
    else:
        print(f"revoked {reply.api_key.key_id} ({reply.api_key.prefix})")
    return 0


def _role(role: int) -> str:
    return api_key_pb2.ApiKeyRole.Name(role).removeprefix("API_KEY_ROLE_").lower()


def _time(key: api_key_pb2.ApiKey, name: str) -> str:
    if not key.HasField(name):
        return "-"
    return getattr(key, name).ToDatetime().strftime("%Y-%m-%d %H:%M:%SZ")


# ----------------------------------------------------------------------------- bootstrap


async def bootstrap(settings: Settings) -> tuple[Path, str, bool]:
    """(the key file, its key id, whether a key was created now)."""
    path = settings.home / ADMIN_KEY_FILE
    await migrate_dsn(settings.database_url, "gateway", MIGRATIONS)
    pool = await open_platform_pool(settings, min_size=1, max_size=2)
    try:
        store = ApiKeyStore(pool)
        existing = path.read_text().strip() if path.is_file() else ""
        if existing and well_formed(existing):
            digest = hash_secret(existing)
            for key in await store.active_keys():
                if key.secret_hash == digest and key.role == "admin":
                    return path, key.key_id, False
        core = ApiKeys(store, PageTokens(key_from(None)))
        record, secret = await core.create(NewApiKey(owner="admin", role="admin", tenant="default",
                                                     display_name="first admin key (chatdb apikeys bootstrap)"))
        write_secret(path, secret)
        return path, record.key_id, True
    finally:
        await pool.close()


def write_secret(path: Path, secret: str) -> None:
    """`secret` into `path`, mode 0600 from the start, replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    os.replace(partial, path)


async def _bootstrap(args: argparse.Namespace) -> int:
    try:
        path, key_id, created = await bootstrap(Settings())
    except ChatDBError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"{'created' if created else 'kept'} admin key {key_id}: {path}")
    return 0
