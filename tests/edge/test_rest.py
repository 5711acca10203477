"""REST/JSON through the edge (mTLS, transcoding, ext_authz) reaching the real services."""

from __future__ import annotations

import asyncpg
import pytest

from tests.conftest import create_pg_database, drop_pg_database


@pytest.fixture(scope="module")
async def customers_db(run_id):
    # Its own database: the session's shared user database holds other modules'
    # tables, one of them another `customers`.
    name = f"chatdb_test_{run_id}_edge_rest"
    dsn = await create_pg_database(name)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE customers (id int primary key, name text, city text)")
        await conn.execute("INSERT INTO customers VALUES (1, 'Ada', 'New York'), (2, 'Bo', 'Lagos'), (3, 'Cy', 'New York')")
    finally:
        await conn.close()
    yield dsn
    await drop_pg_database(name)


@pytest.fixture(scope="module")
def connection(edge, customers_db) -> str:
    rest = edge.rest()
    reply = rest.call("POST", "/v1/connections", {"connectionId": "edge-pg", "connection": {"kind": "CONNECTION_KIND_POSTGRES", "dsn": customers_db}})
    assert reply.status in (200, 409), reply.body
    return "edge-pg"


def test_create_get_and_list_connections(edge, connection):
    rest = edge.rest()
    got = rest.call("GET", f"/v1/connections/{connection}")
    assert got.status == 200, got.body
    assert got.json()["connection"]["connectionId"] == connection
    listed = rest.call("GET", "/v1/connections")
    assert connection in {c["connectionId"] for c in listed.json()["connections"]}


def test_execute(edge, connection):
    reply = edge.rest().call("POST", f"/v1/connections/{connection}:execute",
                             {"statement": {"sql": {"sql": "SELECT name FROM customers ORDER BY id"}}})
    assert reply.status == 200, reply.body
    assert "Ada" in reply.body.decode()


def test_status(edge):
    reply = edge.rest().call("GET", "/v1/status")
    assert reply.status == 200, reply.body
    assert reply.json()["status"]["level"] in range(5)


def test_parse_and_ask(edge, connection):
    rest = edge.rest()
    parsed = rest.call("POST", "/v1/parse", {"question": "how many customers are there", "connectionId": connection})
    assert parsed.status == 200, parsed.body
    assert "count" in parsed.body.decode().lower()
    asked = rest.call("POST", "/v1/ask", {"question": "how many customers are there", "connectionId": connection})
    assert asked.status == 200, asked.body
    assert "3" in asked.body.decode()


def test_missing_connection_is_404_json(edge):
    reply = edge.rest().call("GET", "/v1/connections/no-such-connection")
    assert reply.status == 404, reply.body
    assert reply.json()["code"] == 5


def test_unknown_path_is_404(edge):
    assert edge.rest().call("GET", "/v1/nothing-here").status == 404


def test_schema_glossary_and_delete(edge, customers_db):
    rest = edge.rest()
    created = rest.call("POST", "/v1/connections", {"connectionId": "edge-tmp", "connection": {"kind": "CONNECTION_KIND_POSTGRES", "dsn": customers_db}})
    assert created.status in (200, 409), created.body
    schema = rest.call("GET", "/v1/connections/edge-tmp/schema")
    assert schema.status == 200, schema.body
    assert "customers" in schema.body.decode()
    assert rest.call("GET", "/v1/connections/edge-tmp/glossary").status == 200
    assert rest.call("DELETE", "/v1/connections/edge-tmp").status == 200
    assert rest.call("GET", "/v1/connections/edge-tmp").status == 404


def test_server_stream_is_newline_delimited_json(edge, connection):
    reply = edge.rest().call("POST", f"/v1/connections/{connection}:stream",
                             {"statement": {"sql": {"sql": "SELECT id, city FROM customers ORDER BY id"}}, "batchSize": 1})
    assert reply.status == 200, reply.body
    lines = [line for line in reply.body.decode().splitlines() if line.strip()]
    assert len(lines) >= 2
    import json

    assert all(isinstance(json.loads(line), dict) for line in lines)


def test_stream_error_before_the_first_message_is_a_json_status(edge, connection):
    reply = edge.rest().call("POST", "/v1/connections/no-such:stream", {"statement": {"sql": {"sql": "SELECT 1"}}})
    # an error before the first message is a plain JSON error status
    assert reply.status == 404, reply.body


def test_ml_paths(edge):
    rest = edge.rest()
    assert rest.call("GET", "/v1/models").status == 200
    missing = rest.call("GET", "/v1/models/no-such-model")
    assert missing.status == 404, missing.body
    predicted = rest.call("POST", "/v1/models/no-such-model:predict", {"records": [{"x": 1}]})
    assert predicted.status in (404, 400), predicted.body
    assert rest.call("GET", "/v1/trainingJobs/j9").status == 200  # the recording TrainingService
    assert rest.call("GET", "/v1/queries").status == 200


def test_api_keys_path_is_routed(edge):
    # a placeholder (501 UNIMPLEMENTED) until the API keys land, then a real list
    assert edge.rest().call("GET", "/v1/apiKeys").status in (200, 501)


def test_unknown_query_parameter_is_rejected(edge):
    assert edge.rest().call("GET", "/v1/connections?no_such_field=1").status == 400


def test_access_log_is_json_with_identity(edge):
    import time

    # an external x-request-id is replaced by Envoy's own (the edge does not trust it)
    edge.rest().call("GET", "/v1/connections/log-marker", headers={"x-request-id": "edge-log-1"})
    deadline = time.monotonic() + 10
    while not (entries := [e for e in edge.access_log() if e.get("path") == "/v1/connections/log-marker"]):
        assert time.monotonic() < deadline, edge.access_log()[-3:]
        time.sleep(0.2)
    entry = entries[-1]
    assert entry["grpc_path"] == "/chatdb.connector.v1.ConnectorService/GetConnection"
    assert entry["status"] == 404
    assert entry["principal"] == "key:ak_good"
    assert entry["client_san"] == "spiffe://chatdb/client/alice"
    assert entry["cluster"] == "chatdb.connector.v1.ConnectorService"
    assert entry["request_id"] not in ("edge-log-1", None, "-")


def _raw_http11(edge, method: str, path: str, body: bytes) -> bytes:
    import socket
    import ssl

    d = edge.pki.directory
    ctx = ssl.create_default_context(cafile=str(d / "ca.crt"))
    ctx.load_cert_chain(str(d / "alice.crt"), str(d / "alice.key"))
    ctx.set_alpn_protocols(["http/1.1"])
    with socket.create_connection(("127.0.0.1", edge.port), timeout=30) as raw, ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(
            f"{method} {path} HTTP/1.1\r\nhost: localhost\r\nx-api-key: good\r\ncontent-type: application/json\r\n"
            f"te: trailers\r\nconnection: close\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body
        )
        chunks = []
        while data := tls.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def test_a_streams_midway_error_reaches_an_http11_client_in_trailers(edge, connection):
    import json

    # rows 1 and 2 stream, row 3 divides by zero
    body = json.dumps({"statement": {"sql": {"sql": "SELECT id, 1 / (3 - id) AS x FROM customers ORDER BY id"}}, "batchSize": 1})
    raw = _raw_http11(edge, "POST", f"/v1/connections/{connection}:stream", body.encode())
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), raw[:500]
    assert b"transfer-encoding: chunked" in head.lower()
    # the last chunk (0) is followed by the trailers
    tail = rest.rsplit(b"\r\n0\r\n", 1)[-1].decode().lower()
    assert "grpc-status:" in tail, raw[-800:]
    assert "grpc-status: 3" in tail and "division by zero" in tail  # INVALID_ARGUMENT, after two rows
    assert rest.count(b'{"batch"') == 2
