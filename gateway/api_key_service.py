"""ApiKeyService servicer: proto → the ApiKeys core (api_keys.py) → proto. The secret
leaves the gateway only in CreateApiKeyResponse.secret, once; no ApiKey message carries
it or its hash."""

from __future__ import annotations

import datetime as dt

from chatdb.gateway.v1 import api_key_pb2
from chatdb.gateway.v1 import api_key_service_pb2 as pb
from chatdb.gateway.v1 import api_key_service_pb2_grpc as pb_grpc
from google.protobuf import timestamp_pb2

from servers.runtime.errors import InvalidArgument
from servers.runtime.server import ServiceBinding, bind

from .api_keys import ACTIVE, EXPIRED, QUOTA_NAMES, REVOKED, ApiKeyRecord, ApiKeys, NewApiKey

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ApiKeyService"].full_name

ROLE_OF = {api_key_pb2.API_KEY_ROLE_ADMIN: "admin", api_key_pb2.API_KEY_ROLE_USER: "user",
           api_key_pb2.API_KEY_ROLE_VIEWER: "viewer"}
ROLE_PROTO = {v: k for k, v in ROLE_OF.items()}
STATE_OF = {api_key_pb2.API_KEY_STATE_ACTIVE: ACTIVE, api_key_pb2.API_KEY_STATE_REVOKED: REVOKED,
            api_key_pb2.API_KEY_STATE_EXPIRED: EXPIRED}
STATE_PROTO = {v: k for k, v in STATE_OF.items()}


def _ts(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def api_key(record: ApiKeyRecord) -> api_key_pb2.ApiKey:
    message = api_key_pb2.ApiKey(
        key_id=record.key_id, display_name=record.display_name, prefix=record.prefix,
        state=STATE_PROTO[record.state()], owner=record.owner, tenant=record.tenant,
        role=ROLE_PROTO.get(record.role, api_key_pb2.API_KEY_ROLE_UNSPECIFIED),
        quotas=api_key_pb2.ApiKeyQuotas(**record.quotas),
    )
    for name in ("create_time", "expire_time", "revoke_time", "last_use_time"):
        stamp = _ts(getattr(record, name))
        if stamp is not None:
            getattr(message, name).CopyFrom(stamp)
    return message


def new_api_key(message: api_key_pb2.ApiKey) -> NewApiKey:
    return NewApiKey(
        owner=message.owner, role=ROLE_OF.get(message.role, ""), tenant=message.tenant,
        display_name=message.display_name,
        quotas={name: getattr(message.quotas, name) for name in QUOTA_NAMES},
        expire_time=message.expire_time.ToDatetime(dt.UTC) if message.HasField("expire_time") else None,
    )


class ApiKeyServicer(pb_grpc.ApiKeyServiceServicer):
    def __init__(self, core: ApiKeys) -> None:
        self.core = core

    async def CreateApiKey(self, request: pb.CreateApiKeyRequest, context) -> pb.CreateApiKeyResponse:
        record, secret = await self.core.create(new_api_key(request.api_key), request.request_id)
        return pb.CreateApiKeyResponse(api_key=api_key(record), secret=secret)

    async def ListApiKeys(self, request: pb.ListApiKeysRequest, context) -> pb.ListApiKeysResponse:
        if request.state and request.state not in STATE_OF:
            raise InvalidArgument(f"unknown state {request.state}", field="state")
        records, token = await self.core.list(requested_page_size=request.page_size, page_token=request.page_token,
                                              state=STATE_OF.get(request.state))
        return pb.ListApiKeysResponse(api_keys=[api_key(r) for r in records], next_page_token=token)

    async def RevokeApiKey(self, request: pb.RevokeApiKeyRequest, context) -> pb.RevokeApiKeyResponse:
        return pb.RevokeApiKeyResponse(api_key=api_key(await self.core.revoke(request.key_id)))


def api_key_binding(core: ApiKeys) -> ServiceBinding:
    return bind(SERVICE_NAME, pb_grpc.add_ApiKeyServiceServicer_to_server, ApiKeyServicer(core))
