"""The Envoy edge's bootstrap, generated from the descriptor set and the settings.

Nothing here is kept per service: the services, their methods and their streaming
shape are read from `gen/chatdb_descriptor.binpb` (`make gen` writes it with
--include_imports, google.rpc status and error details included). Each gRPC service
gets a cluster of its own (named after the service, pointing at the process that
serves it), health-checked over grpc.health.v1 *for that service name*, and one route
per method: reads (Get*/List*) retry on UNAVAILABLE, streams have no route timeout.

The HTTP filter chain, in order (why the order matters is in envoy/README.md):

    header_mutation   drop x-chatdb-* identity headers the client sent
    local_ratelimit   token bucket; 429 for REST, RESOURCE_EXHAUSTED for gRPC
    grpc_json_transcoder   REST/JSON → gRPC (only chatdb.* services)
    ext_authz         HTTP form, http://127.0.0.1:<gateway_authz_port>/authz<grpc path>;
                      off per route for health and reflection
      or lua          (edge_authz_cache_ms > 0, the default) the same check made by a
                      Lua filter that reuses an *allowed* decision for the same key,
                      client certificate and method for at most edge_authz_cache_ms
                      per Envoy worker (LUA_AUTHZ_CODE below)
    router

With a TLS directory (ca.crt, envoy.crt, envoy.key) every hop is mTLS: the listener
requires a client certificate chained to ca.crt with a URI SAN under spiffe://chatdb/,
and each cluster checks the service's SAN spiffe://chatdb/<process>. Certificates come
through path-based SDS files that watch the TLS directory, so a re-issued envoy.crt
(written by rename) is used by new connections without a restart. Without one the edge
is plaintext (development only).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from google.protobuf import descriptor_pb2

# HEALTH_SERVICE and REFLECTION_SERVICES are routed without an API key; the services
# refuse any other call the edge forwards without the caller's identity.
from servers.runtime.identity import HEALTH_SERVICE, IDENTITY_KEYS, REFLECTION_SERVICES
from servers.runtime.settings import Settings
from servers.runtime.tracing import otlp_endpoint

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTOR_SET = ROOT / "gen" / "chatdb_descriptor.binpb"
SPIFFE_PREFIX = "spiffe://chatdb/"
# Services from packages not named chatdb.<process>.vN, and the process serving them.
FOREIGN_PACKAGES = {"inference": "prediction"}
# The process that answers health and reflection for the edge as a whole.
FRONT_PROCESS = "gateway"
READ_PREFIXES = ("Get", "List")
AUTHZ_FORWARDED_HEADERS = ("x-api-key", "authorization", "x-forwarded-client-cert", "x-request-id")
CERT_SECRET = "edge_certificate"
CA_SECRET = "edge_ca"

TLS = "envoy.transport_sockets.tls"
T_DOWNSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
T_UPSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
T_SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
T_HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
T_EXT_AUTHZ = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz"
T_EXT_AUTHZ_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute"
T_HTTP_OPTIONS = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
T_LUA = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua"
T_LUA_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute"
LUA_AUTHZ = "envoy.filters.http.lua"
AUTHZ_CLIENT_HEADERS = ("content-type", "www-authenticate", "retry-after", "grpc-status", "grpc-message")
# Most cached decisions per Envoy worker; past it the cache starts over (bounded memory).
AUTHZ_CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Method:
    name: str
    client_streaming: bool = False
    server_streaming: bool = False

    @property
    def streaming(self) -> bool:
        return self.client_streaming or self.server_streaming

    @property
    def idempotent_read(self) -> bool:
        return not self.client_streaming and self.name.startswith(READ_PREFIXES)


@dataclass(frozen=True)
class Service:
    full_name: str  # chatdb.connector.v1.ConnectorService
    process: str  # connector: the `chatdb serve` name whose port serves it
    methods: tuple[Method, ...] = field(default=())

    @property
    def transcoded(self) -> bool:
        return self.full_name.startswith("chatdb.")


def process_of(package: str) -> str:
    """chatdb.<process>.v1 → <process>; a foreign package by FOREIGN_PACKAGES."""
    parts = package.split(".")
    if len(parts) >= 2 and parts[0] == "chatdb":
        return parts[1]
    if package in FOREIGN_PACKAGES:
        return FOREIGN_PACKAGES[package]
    raise ValueError(f"no ChatDB process serves package {package!r}: name it chatdb.<service>.vN or add it to FOREIGN_PACKAGES")


def read_services(descriptor_set: Path = DESCRIPTOR_SET) -> list[Service]:
    """Every service of the descriptor set's own files (not google.*), in file order."""
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(Path(descriptor_set).read_bytes())
    services = []
    for file in fds.file:
        if file.package.startswith("google."):
            continue
        for svc in file.service:
            methods = tuple(Method(m.name, m.client_streaming, m.server_streaming) for m in svc.method)
            services.append(Service(f"{file.package}.{svc.name}", process_of(file.package), methods))
    return services


# --- TLS ---------------------------------------------------------------------------


def _sds(name: str, sds_dir: Path) -> dict:
    path = sds_dir / f"{name}.yaml"
    return {
        "name": name,
        "sds_config": {
            "path_config_source": {"path": str(path), "watched_directory": {"path": str(sds_dir)}},
            "resource_api_version": "V3",
        },
    }


def sds_files(tls_dir: Path, sds_dir: Path) -> dict[Path, dict]:
    """The path-based SDS resources: Envoy's certificate and the CA, each re-read when a
    file is moved into tls_dir (write a new certificate to a temporary name, then rename)."""
    watch = {"path": str(tls_dir)}
    cert = {
        "@type": T_SECRET,
        "name": CERT_SECRET,
        "tls_certificate": {
            "certificate_chain": {"filename": str(tls_dir / "envoy.crt")},
            "private_key": {"filename": str(tls_dir / "envoy.key")},
            "watched_directory": watch,
        },
    }
    ca = {
        "@type": T_SECRET,
        "name": CA_SECRET,
        "validation_context": {"trusted_ca": {"filename": str(tls_dir / "ca.crt")}, "watched_directory": watch},
    }
    return {sds_dir / f"{CERT_SECRET}.yaml": {"resources": [cert]}, sds_dir / f"{CA_SECRET}.yaml": {"resources": [ca]}}


def _common_tls(sds_dir: Path, alpn: list[str], san: dict) -> dict:
    return {
        "alpn_protocols": alpn,
        "tls_params": {"tls_minimum_protocol_version": "TLSv1_2"},
        "tls_certificate_sds_secret_configs": [_sds(CERT_SECRET, sds_dir)],
        "combined_validation_context": {
            "default_validation_context": {"match_typed_subject_alt_names": [{"san_type": "URI", "matcher": san}]},
            "validation_context_sds_secret_config": _sds(CA_SECRET, sds_dir),
        },
    }


def downstream_tls(sds_dir: Path) -> dict:
    return {
        "name": TLS,
        "typed_config": {
            "@type": T_DOWNSTREAM_TLS,
            "require_client_certificate": True,
            # h2 first: Python gRPC clients fail with "missing selected ALPN property" without it.
            "common_tls_context": _common_tls(sds_dir, ["h2", "http/1.1"], {"prefix": SPIFFE_PREFIX}),
        },
    }


def upstream_tls(sds_dir: Path, process: str) -> dict:
    return {
        "name": TLS,
        "typed_config": {
            "@type": T_UPSTREAM_TLS,
            "sni": "localhost",
            # h2 here too, else gRPC health checks fail after the handshake.
            "common_tls_context": _common_tls(sds_dir, ["h2"], {"exact": f"{SPIFFE_PREFIX}{process}"}),
        },
    }


# --- clusters ----------------------------------------------------------------------


def upstream_of(settings: Settings, process: str) -> tuple[str, int]:
    """(host, port) of a process: CHATDB_<PROCESS>_ADDRESS when set (e.g. a Kubernetes
    Service, parser.chatdb.svc:8082), else CHATDB_HOST and the process's port."""
    override = settings.address_override(process)
    if override:
        host, _, port = override.rpartition(":")
        return host.strip("[]"), int(port)
    return settings.host, settings.port_of(process)


def authz_host_of(settings: Settings) -> str:
    """The gateway's ext_authz server runs in the gateway process: its host when
    CHATDB_GATEWAY_ADDRESS names one, else 127.0.0.1."""
    if settings.gateway_address:
        return upstream_of(settings, "gateway")[0]
    return "127.0.0.1"


def _cluster_type(host: str) -> str:
    """STATIC for an IP address; STRICT_DNS for a name (a Kubernetes Service), re-resolved
    so a Service's new address is followed."""
    try:
        ipaddress.ip_address(host)
        return "STATIC"
    except ValueError:
        return "STRICT_DNS"


def _endpoint(host: str, port: int) -> dict:
    return {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}


def grpc_cluster(name: str, host: str, port: int, health_service: str, *, process: str,
                 sds_dir: Path | None, settings: Settings) -> dict:
    interval = f"{settings.edge_health_interval_s}s"
    cluster = {
        "name": name,
        "type": _cluster_type(host),
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": T_HTTP_OPTIONS,
                "explicit_http_config": {"http2_protocol_options": {"max_concurrent_streams": 1024}},
            }
        },
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [_endpoint(host, port)]}]},
        "health_checks": [
            {
                "timeout": "1s",
                "interval": interval,
                "no_traffic_interval": interval,  # default 60 s: an idle edge would notice a dead service a minute late
                "unhealthy_interval": interval,
                "unhealthy_threshold": 2,
                "healthy_threshold": 1,
                "grpc_health_check": {"service_name": health_service, "authority": "localhost"},
            }
        ],
        "outlier_detection": {
            "consecutive_5xx": 5,
            "consecutive_gateway_failure": 3,
            "interval": "2s",
            "base_ejection_time": "5s",
            "max_ejection_percent": 100,
        },
        "circuit_breakers": {
            "thresholds": [
                {
                    "priority": "DEFAULT",
                    "max_connections": settings.edge_max_requests,
                    "max_pending_requests": settings.edge_max_requests,
                    "max_requests": settings.edge_max_requests,
                    "max_retries": 8,
                }
            ]
        },
    }
    if sds_dir is not None:
        cluster["transport_socket"] = upstream_tls(sds_dir, process)
    return cluster


def authz_cluster(host: str, port: int) -> dict:
    return {
        "name": "ext_authz",
        "type": _cluster_type(host),
        "connect_timeout": "1s",
        "load_assignment": {"cluster_name": "ext_authz", "endpoints": [{"lb_endpoints": [_endpoint(host, port)]}]},
    }


# --- tracing -----------------------------------------------------------------------
#
# Envoy passes a client's traceparent/tracestate to the services untouched (the header
# mutation filter drops only x-chatdb-*). With an OTLP endpoint configured
# (CHATDB_OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT) Envoy traces too:
# its OpenTelemetry tracer continues the client's traceparent (or starts a trace with
# probability CHATDB_TRACE_SAMPLE_RATIO), sends the services its own span's context, so
# Envoy's span is the parent of the gateway's, and exports over OTLP/gRPC to the
# collector the services export to.

OTEL_CLUSTER = "opentelemetry_collector"
T_OTEL_TRACER = "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig"


def otlp_target(endpoint: str) -> tuple[str, int, bool]:
    """(host, port, tls) of an OTLP/gRPC endpoint: http(s)://host:port or host:port
    (port 4317 when none is given; https means TLS)."""
    url = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    return url.hostname or "127.0.0.1", url.port or 4317, url.scheme == "https"


def collector_cluster(host: str, port: int, tls: bool) -> dict:
    cluster = {
        "name": OTEL_CLUSTER,
        "type": _cluster_type(host),
        "connect_timeout": "1s",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": T_HTTP_OPTIONS, "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "load_assignment": {"cluster_name": OTEL_CLUSTER, "endpoints": [{"lb_endpoints": [_endpoint(host, port)]}]},
    }
    if tls:
        cluster["transport_socket"] = {"name": TLS, "typed_config": {"@type": T_UPSTREAM_TLS, "sni": host}}
    return cluster


def tracing_config(settings: Settings) -> dict:
    """The HTTP connection manager's `tracing`: Envoy's OpenTelemetry tracer."""
    return {
        "random_sampling": {"value": round(settings.trace_sample_ratio * 100, 4)},
        "provider": {
            "name": "envoy.tracers.opentelemetry",
            "typed_config": {
                "@type": T_OTEL_TRACER,
                "grpc_service": {"envoy_grpc": {"cluster_name": OTEL_CLUSTER}, "timeout": "1s"},
                "service_name": "envoy",
            },
        },
    }


# --- routes ------------------------------------------------------------------------

AUTHZ_OFF = {"envoy.filters.http.ext_authz": {"@type": T_EXT_AUTHZ_ROUTE, "disabled": True}}
LUA_AUTHZ_OFF = {LUA_AUTHZ: {"@type": T_LUA_ROUTE, "disabled": True}}


def authz_off(settings: Settings) -> dict:
    """typed_per_filter_config turning the API-key check off (health, reflection)."""
    return LUA_AUTHZ_OFF if settings.edge_authz_cache_ms > 0 else AUTHZ_OFF


def method_route(service: Service, method: Method, settings: Settings) -> dict:
    route: dict = {"cluster": service.full_name}
    if method.streaming:
        route["timeout"] = "0s"
        route["idle_timeout"] = "0s"
    else:
        route["timeout"] = f"{settings.edge_route_timeout_s}s"
        # a client's grpc-timeout (deadline) is honoured, capped by the route's timeout
        route["max_stream_duration"] = {"grpc_timeout_header_max": f"{settings.edge_route_timeout_s}s"}
    if method.client_streaming and settings.edge_authz and settings.edge_authz_cache_ms == 0:
        out_of_band = {"@type": T_EXT_AUTHZ_ROUTE, "check_settings": {"disable_request_body_buffering": True}}
        typed_per_filter = {"envoy.filters.http.ext_authz": out_of_band}
    else:
        typed_per_filter = {}
    if method.idempotent_read:
        route["retry_policy"] = {
            "retry_on": "unavailable,connect-failure,refused-stream",
            "num_retries": 2,
            "per_try_timeout": f"{settings.edge_route_timeout_s}s",
            "retry_back_off": {"base_interval": "0.05s", "max_interval": "0.5s"},
        }
    return {"match": {"path": f"/{service.full_name}/{method.name}"}, "route": route,
            **({"typed_per_filter_config": typed_per_filter} if typed_per_filter else {})}


def routes(services: Iterable[Service], settings: Settings) -> list[dict]:
    out = [
        {
            "match": {"prefix": f"/{HEALTH_SERVICE}/"},
            "route": {"cluster": FRONT_PROCESS, "timeout": "0s", "idle_timeout": "0s"},  # Watch streams
            "typed_per_filter_config": authz_off(settings),
        },
        *(
            {
                "match": {"prefix": f"/{name}/"},
                "route": {"cluster": FRONT_PROCESS, "timeout": "0s", "idle_timeout": "0s"},
                "typed_per_filter_config": authz_off(settings),
            }
            for name in REFLECTION_SERVICES
        ),
    ]
    for service in services:
        out.extend(method_route(service, method, settings) for method in service.methods)
    return out


# --- filters -----------------------------------------------------------------------


def header_mutation_filter() -> dict:
    return {
        "name": "envoy.filters.http.header_mutation",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
            "mutations": {"request_mutations": [{"remove": name} for name in IDENTITY_KEYS]},
        },
    }


def rate_limit_filter(settings: Settings) -> dict:
    always = {"default_value": {"numerator": 100, "denominator": "HUNDRED"}}
    return {
        "name": "envoy.filters.http.local_ratelimit",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
            "stat_prefix": "edge_rate_limit",
            "token_bucket": {
                "max_tokens": max(settings.edge_rate_limit_burst, 1),
                "tokens_per_fill": settings.edge_rate_limit_per_s,
                "fill_interval": "1s",
            },
            "filter_enabled": {**always, "runtime_key": "edge_rate_limit_enabled"},
            "filter_enforced": {**always, "runtime_key": "edge_rate_limit_enforced"},
            # gRPC callers get RESOURCE_EXHAUSTED instead of UNAVAILABLE (REST still 429)
            "rate_limited_as_resource_exhausted": True,
            "response_headers_to_add": [{"header": {"key": "x-chatdb-rate-limited", "value": "edge"}}],
        },
    }


def transcoder_filter(services: Iterable[Service], descriptor_set: Path) -> dict:
    return {
        "name": "envoy.filters.http.grpc_json_transcoder",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
            "proto_descriptor": str(Path(descriptor_set).resolve()),
            "services": [s.full_name for s in services if s.transcoded],
            "convert_grpc_status": True,
            "print_options": {
                "add_whitespace": False,
                "always_print_primitive_fields": True,
                "always_print_enums_as_ints": False,
                "preserve_proto_field_names": False,
                "stream_newline_delimited": True,
            },
            "request_validation_options": {"reject_unknown_method": True, "reject_unknown_query_parameters": True},
        },
    }


AUTHZ_BODY_BYTES = 64 * 1024  # past it ext_authz asks with the part it has (the gateway takes up to 1 MiB)


def authz_filter(settings: Settings, host: str, port: int) -> dict:
    exact = lambda names: {"patterns": [{"exact": n} for n in names]}  # noqa: E731
    return {
        "name": "envoy.filters.http.ext_authz",
        "typed_config": {
            "@type": T_EXT_AUTHZ,
            "transport_api_version": "V3",
            "failure_mode_allow": False,
            "allowed_headers": exact(AUTHZ_FORWARDED_HEADERS),
            "status_on_error": {"code": "ServiceUnavailable"},
            # Read (up to AUTHZ_BODY_BYTES of) a request's body before asking, as the Lua
            # filter does: a refusal sent while an HTTP/2 client is still sending its body
            # resets the stream, and curl then reports "(92) Stream error" instead of the
            # 401. The authz server reads and drops what it is sent. Client streams are
            # exempt per route (they would wait for a body that comes message by message).
            "with_request_body": {"max_request_bytes": AUTHZ_BODY_BYTES, "allow_partial_message": True},
            "http_service": {
                "server_uri": {
                    "uri": f"http://{host}:{port}",
                    "cluster": "ext_authz",
                    "timeout": f"{settings.edge_authz_timeout_s}s",
                },
                "path_prefix": "/authz",
                "authorization_response": {
                    "allowed_upstream_headers": exact(IDENTITY_KEYS),
                    "allowed_client_headers": exact(AUTHZ_CLIENT_HEADERS),
                },
            },
        },
    }


def _lua_list(names: Iterable[str]) -> str:
    return "{" + ", ".join(json.dumps(n) for n in names) + "}"


# The API-key check with a short cache of allowed decisions, in Lua (edge_authz_cache_ms > 0).
# Same contract as ext_authz's HTTP form above: GET /authz<gRPC path> on the ext_authz
# cluster with the forwarded headers; 200 → the identity headers go upstream (replacing
# any of that name; header_mutation already dropped the client's); anything else is the
# client's answer (sendLocalReply: gRPC callers get grpc-status from the HTTP status or
# the authz server's grpc-status header, grpc-message from the body; REST the JSON body).
# Only 200s are cached, per Envoy worker (a Lua state per worker, no locks), keyed by
# the gRPC path and *every* header the authz server sees except x-request-id, so a cached
# allow is reused only by a request the authz server would see as the same one.
LUA_AUTHZ_CODE = r"""
local TTL_MS = @TTL_MS@
local TIMEOUT_MS = @TIMEOUT_MS@
local MAX_ENTRIES = @MAX_ENTRIES@
local FORWARDED = @FORWARDED@
local IDENTITY = @IDENTITY@
local TO_CLIENT = @TO_CLIENT@
local STREAMING = @STREAMING@
local cache, entries = {}, 0

local function deny(handle, status, headers, body)
  local reply = {[":status"] = status}
  for _, name in ipairs(TO_CLIENT) do
    local value = headers[name]
    if value ~= nil then reply[name] = value end
  end
  handle:respond(reply, body)
end

local function check(handle)
  local headers = handle:headers()
  local path = headers:get(":path")
  local key = path
  for _, name in ipairs(FORWARDED) do
    if name ~= "x-request-id" then key = key .. "\n" .. (headers:get(name) or "") end
  end
  local now = handle:timestamp()
  local hit = cache[key]
  if hit ~= nil then
    if hit.expires > now then
      for name, value in pairs(hit.identity) do headers:replace(name, value) end
      return
    end
    cache[key] = nil
    entries = entries - 1
  end
  -- A unary request's body (small: one message) is read before the decision. A refusal
  -- sent while the client is still sending it resets the stream after the reply, and
  -- HTTP/2 clients such as curl 7.88 then report a stream error instead of the 401.
  -- Client streams (uploads) are decided at once: they are not buffered.
  if not STREAMING[path] then
    handle:body()
    headers = handle:headers()  -- a wrapper taken before a yield is stale after it
  end
  local request = {[":method"] = "GET", [":path"] = "/authz" .. path, [":authority"] = "ext_authz"}
  for _, name in ipairs(FORWARDED) do
    local value = headers:get(name)
    if value ~= nil then request[name] = value end
  end
  local reply, body = handle:httpCall("ext_authz", request, "", TIMEOUT_MS)
  local status = reply[":status"]
  if status ~= "200" then
    if reply["content-type"] == nil and status == "503" then
      -- httpCall's own failure (unreachable, timeout): like ext_authz's status_on_error
      deny(handle, "503", {["content-type"] = "application/json"},
           '{"code": 14, "message": "the authorization service is unavailable"}')
    else
      deny(handle, status, reply, body or "")
    end
    return
  end
  local identity = {}
  headers = handle:headers()  -- the wrapper taken before httpCall's yield may be stale
  for _, name in ipairs(IDENTITY) do
    local value = reply[name]
    if value ~= nil then
      identity[name] = value
      headers:replace(name, value)
    end
  end
  if entries >= MAX_ENTRIES then
    cache, entries = {}, 0
  end
  -- the authz server's answer was decided after `now`: expire from `now`, not from its reply
  cache[key] = {expires = now + TTL_MS, identity = identity}
  entries = entries + 1
end

-- An error in the script would let the request continue without identity headers: it
-- is refused instead (and the services refuse such a call from the edge as well).
function envoy_on_request(handle)
  local ok, err = pcall(check, handle)
  if not ok then
    handle:logErr("chatdb authz check failed: " .. tostring(err))
    handle:respond({[":status"] = "503", ["content-type"] = "application/json"},
                   '{"code": 14, "message": "the authorization check failed"}')
  end
end
"""


def lua_authz_filter(settings: Settings, services: Iterable[Service] = ()) -> dict:
    streaming = [f"/{s.full_name}/{m.name}" for s in services for m in s.methods if m.client_streaming]
    code = (
        LUA_AUTHZ_CODE.replace("@STREAMING@", "{" + ", ".join(f"[{json.dumps(p)}] = true" for p in streaming) + "}")
        .replace("@TTL_MS@", str(int(settings.edge_authz_cache_ms)))
        .replace("@TIMEOUT_MS@", str(max(int(settings.edge_authz_timeout_s * 1000), 1)))
        .replace("@MAX_ENTRIES@", str(AUTHZ_CACHE_MAX_ENTRIES))
        .replace("@FORWARDED@", _lua_list(AUTHZ_FORWARDED_HEADERS))
        .replace("@IDENTITY@", _lua_list(IDENTITY_KEYS))
        .replace("@TO_CLIENT@", _lua_list(AUTHZ_CLIENT_HEADERS))
    )
    return {"name": LUA_AUTHZ, "typed_config": {"@type": T_LUA, "default_source_code": {"inline_string": code}}}


def authz_port(settings: Settings) -> int:
    return settings.gateway_authz_port


def access_log(settings: Settings) -> list[dict]:
    fmt = {
        "time": "%START_TIME%",
        "method": "%REQ(:METHOD)%",
        "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
        "grpc_path": "%REQ(:PATH)%",
        "protocol": "%PROTOCOL%",
        "status": "%RESPONSE_CODE%",
        "grpc_status": "%GRPC_STATUS%",
        "flags": "%RESPONSE_FLAGS%",
        "details": "%RESPONSE_CODE_DETAILS%",
        "bytes_in": "%BYTES_RECEIVED%",
        "bytes_out": "%BYTES_SENT%",
        "duration_ms": "%DURATION%",
        "upstream_ms": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
        "cluster": "%UPSTREAM_CLUSTER%",
        "upstream": "%UPSTREAM_HOST%",
        "client": "%DOWNSTREAM_REMOTE_ADDRESS%",
        "client_san": "%DOWNSTREAM_PEER_URI_SAN%",
        "principal": "%REQ(X-CHATDB-PRINCIPAL)%",
        "request_id": "%REQ(X-REQUEST-ID)%",
    }
    path = settings.edge_access_log or str(settings.home / "logs" / "envoy-access.log")
    return [
        {
            "name": "envoy.access_loggers.file",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                "path": "/dev/stdout" if path == "-" else path,
                "log_format": {"json_format": fmt},
            },
        }
    ]


# --- the bootstrap -----------------------------------------------------------------


def build_config(
    settings: Settings,
    *,
    tls_dir: Path | None = None,
    sds_dir: Path | None = None,
    descriptor_set: Path = DESCRIPTOR_SET,
    addresses: Mapping[str, tuple[str, int]] | None = None,
) -> tuple[dict, dict[Path, dict]]:
    """(bootstrap, SDS files to write) for the edge.

    tls_dir: ca.crt, envoy.crt, envoy.key (default: CHATDB_TLS_DIR; None: plaintext).
    sds_dir: where the SDS files go (default: tls_dir's sibling `envoy/` under home).
    addresses: process (or "authz") → (host, port) overriding the settings' ports (tests)."""
    services = read_services(descriptor_set)
    if tls_dir is None and getattr(settings, "tls_dir", None):
        tls_dir = Path(settings.tls_dir)
    tls_dir = Path(tls_dir).resolve() if tls_dir is not None else None
    if tls_dir is not None and sds_dir is None:
        sds_dir = settings.home / "envoy"
    sds_dir = Path(sds_dir).resolve() if (tls_dir is not None and sds_dir is not None) else None
    addresses = dict(addresses or {})

    def where(process: str) -> tuple[str, int]:
        return addresses.get(process) or upstream_of(settings, process)

    clusters = [
        grpc_cluster(s.full_name, *where(s.process), s.full_name, process=s.process, sds_dir=sds_dir, settings=settings)
        for s in services
    ]
    # health and reflection: the front process as a whole (health service name "")
    clusters.append(grpc_cluster(FRONT_PROCESS, *where(FRONT_PROCESS), "", process=FRONT_PROCESS, sds_dir=sds_dir, settings=settings))

    http_filters = [header_mutation_filter()]
    if settings.edge_rate_limit_per_s > 0:
        http_filters.append(rate_limit_filter(settings))
    http_filters.append(transcoder_filter(services, descriptor_set))
    if settings.edge_authz:
        authz_host, authz_port_ = addresses.get("authz") or (authz_host_of(settings), authz_port(settings))
        if settings.edge_authz_cache_ms > 0:
            http_filters.append(lua_authz_filter(settings, services))
        else:
            http_filters.append(authz_filter(settings, authz_host, authz_port_))
        clusters.append(authz_cluster(authz_host, authz_port_))
    http_filters.append(
        {"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
    )

    endpoint = otlp_endpoint(settings)
    if endpoint:
        clusters.append(collector_cluster(*otlp_target(endpoint)))
    hcm = {
        "@type": T_HCM,
        "stat_prefix": "edge",
        "codec_type": "AUTO",
        "use_remote_address": True,
        "http_protocol_options": {"enable_trailers": True},  # HTTP/1.1 clients see a stream's mid-way error
        "http2_protocol_options": {"max_concurrent_streams": 1024},
        "forward_client_cert_details": "SANITIZE_SET",
        "set_current_client_cert_details": {"uri": True},
        "access_log": access_log(settings),
        "route_config": {
            "name": "edge",
            "virtual_hosts": [{"name": "chatdb", "domains": ["*"], "routes": routes(services, settings)}],
        },
        "http_filters": http_filters,
        **({"tracing": tracing_config(settings)} if endpoint else {}),
    }
    filter_chain: dict = {
        "filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]
    }
    if sds_dir is not None:
        filter_chain["transport_socket"] = downstream_tls(sds_dir)
    listener = {
        "name": "edge",
        "address": {"socket_address": {"address": settings.edge_host, "port_value": settings.edge_port}},
        "filter_chains": [filter_chain],
    }
    listeners = [listener]
    if settings.edge_metrics_port:
        listeners.append(metrics_listener(settings))
        clusters.append(admin_cluster(settings))
    bootstrap = {
        "node": {"id": "chatdb-edge", "cluster": "chatdb"},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": settings.edge_admin_port}}},
        "static_resources": {"listeners": listeners, "clusters": clusters},
        "overload_manager": {
            "resource_monitors": [
                {
                    "name": "envoy.resource_monitors.global_downstream_max_connections",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
                        "max_active_downstream_connections": settings.edge_max_connections,
                    },
                }
            ]
        },
    }
    files = sds_files(tls_dir, sds_dir) if (tls_dir is not None and sds_dir is not None) else {}
    return bootstrap, files


ADMIN_CLUSTER = "envoy_admin"
# What the metrics listener lets through to the admin interface, and nothing else: the
# admin interface can also change log levels, drain listeners and quit Envoy.
METRICS_PATHS = ("/stats/prometheus", "/ready")


def metrics_listener(settings: Settings) -> dict:
    """Plain HTTP on edge_host:edge_metrics_port: GET /stats/prometheus and /ready from the
    loopback-only admin interface, so Prometheus and a kubelet probe can reach them."""
    routes = [
        {"match": {"path": path, "headers": [{"name": ":method", "string_match": {"exact": "GET"}}]},
         "route": {"cluster": ADMIN_CLUSTER, "timeout": "5s"}}
        for path in METRICS_PATHS
    ]
    routes.append({"match": {"prefix": "/"}, "direct_response": {"status": 404, "body": {"inline_string": "not found\n"}}})
    hcm = {
        "@type": T_HCM,
        "stat_prefix": "edge_metrics",
        "codec_type": "HTTP1",
        "route_config": {"name": "edge_metrics", "virtual_hosts": [{"name": "metrics", "domains": ["*"], "routes": routes}]},
        "http_filters": [
            {"name": "envoy.filters.http.router",
             "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
        ],
    }
    return {
        "name": "edge_metrics",
        "address": {"socket_address": {"address": settings.edge_host, "port_value": settings.edge_metrics_port}},
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}],
    }


def admin_cluster(settings: Settings) -> dict:
    return {
        "name": ADMIN_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": ADMIN_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                "address": "127.0.0.1", "port_value": settings.edge_admin_port}}}}]}],
        },
    }


def render(bootstrap: dict, fmt: str = "yaml") -> str:
    if fmt == "json":
        return json.dumps(bootstrap, indent=2) + "\n"
    return yaml.safe_dump(bootstrap, sort_keys=False, width=120)


def write_config(settings: Settings, path: Path, **kwargs) -> Path:
    """Writes the bootstrap to `path` (YAML, or JSON for a .json name) and its SDS files
    (by default beside it, in `<path stem>-sds/`). Returns the path."""
    path = Path(path).resolve()
    kwargs.setdefault("sds_dir", path.parent / f"{path.stem}-sds")
    bootstrap, files = build_config(settings, **kwargs)
    write_sds(files)
    for log in access_log_paths(bootstrap):
        log.parent.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(bootstrap, "json" if path.suffix == ".json" else "yaml"))
    return path


def access_log_paths(bootstrap: dict) -> list[Path]:
    hcm = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    return [Path(a["typed_config"]["path"]) for a in hcm.get("access_log", []) if not a["typed_config"]["path"].startswith("/dev/")]


def write_sds(files: Mapping[Path, dict]) -> None:
    for sds_path, content in files.items():
        sds_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = sds_path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(content, sort_keys=False))
        tmp.replace(sds_path)
