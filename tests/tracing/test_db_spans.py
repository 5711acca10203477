"""The connector's span per statement on MySQL (MariaDB here) as on PostgreSQL: a CLIENT
span under the connector's SERVER span, db.system mysql, the statement as it ran, the
rows it returned; StreamQuery gets one too, and a refused statement none (it never
reached the database)."""

from __future__ import annotations

import grpc
import pytest
from chatdb.connector.v1 import connection_pb2
from chatdb.connector.v1 import connector_service_pb2 as cpb

from tests.connector.service_support import mysql_dsn, sql
from tests.gateway.conftest import register
from tests.gateway.support import forget

TRACE_ID = "5c1c63257de34c67b4b1c2a3d4e5f601"


def traced(trace_id: str = TRACE_ID) -> tuple[tuple[str, str], ...]:
    return (("traceparent", f"00-{trace_id}-1111111111111111-01"),)


async def test_mysql_statements_get_a_db_span_each(mesh, spans, mysql_database):
    stub = mesh.connector.stub
    await register(mesh.connector, "trace-mysql", connection_pb2.CONNECTION_KIND_MYSQL, mysql_dsn(mysql_database))
    try:
        statement = "SELECT 1 AS one UNION ALL SELECT 2"
        page = await stub.ExecuteQuery(cpb.ExecuteQueryRequest(connection_id="trace-mysql", statement=sql(statement)),
                                       metadata=traced())
        assert len(page.rows) == 2
        rows = [m async for m in stub.StreamQuery(
            cpb.StreamQueryRequest(connection_id="trace-mysql", statement=sql("SELECT 3 AS three")), metadata=traced())]
        assert rows
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ExecuteQuery(cpb.ExecuteQueryRequest(
                connection_id="trace-mysql", statement=sql("DELETE FROM t")), metadata=traced())
        assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
    finally:
        await forget(mesh.connector, "trace-mysql")

    finished = await spans.wait(lambda all_spans: sum(
        1 for s in all_spans if (s.attributes or {}).get("db.system") == "mysql") >= 2)
    by_id = {s.context.span_id: s for s in finished}
    db = [s for s in finished if (s.attributes or {}).get("db.system") == "mysql"]
    assert sorted(s.attributes["db.statement"] for s in db) == ["SELECT 1 AS one UNION ALL SELECT 2", "SELECT 3 AS three"]
    for span in db:
        assert format(span.context.trace_id, "032x") == TRACE_ID
        assert span.attributes["db.name"] == mysql_database and span.attributes["db.operation"] == "SELECT"
        parent = by_id[span.parent.span_id]
        assert parent.kind.name == "SERVER" and parent.resource.attributes["service.name"] == "connector"
    assert {s.attributes["db.statement"]: s.attributes["db.response.returned_rows"] for s in db} == {
        "SELECT 1 AS one UNION ALL SELECT 2": 2, "SELECT 3 AS three": 1}
    refused_call = [s for s in finished if s.name.endswith("/ExecuteQuery") and s.attributes["rpc.grpc.status_code"] == 7]
    assert refused_call and not any(s.parent is not None and s.parent.span_id == refused_call[0].context.span_id
                                    for s in finished)
