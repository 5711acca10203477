"""The demo glossary (deploy/demo/glossary.yaml) validates against the demo schema on
both demo connections, and `chatdb demo-data`'s connect step sets it idempotently."""

from __future__ import annotations

import secrets
from datetime import date

import pytest

from deploy.demo import data as dd
from deploy.demo.glossary import connect_demo, demo_glossary
from tests.conftest import MYSQL, PG_ADMIN_DSN, pg_dsn_for
from tests.connector.service_support import (
    drop_mysql_database,
    drop_pg_database,
    mysql_dsn,
    pb,
    running_connector,
)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
async def demo_settings(settings):
    """Settings whose demo connections point at a small demo data set of this run."""
    name = f"chatdb_demo_test_{secrets.token_hex(6)}"
    spec = dd.DemoSpec(database=name, scale=0.02, today=date(2025, 3, 14))
    try:
        await dd.load_postgres(PG_ADMIN_DSN, spec)
        await dd.load_mysql(MYSQL["host"], MYSQL["port"], MYSQL["user"], MYSQL["password"], spec)
        yield settings.model_copy(update={
            "connector_demo_postgres_dsn": pg_dsn_for(name),
            "connector_demo_mysql_dsn": mysql_dsn(name),
        })
    finally:
        await drop_pg_database(name)
        await drop_mysql_database(name)


@pytest.fixture(scope="module")
async def connector(settings):
    async with running_connector(settings) as c:
        yield c


def test_the_demo_glossary_file_has_every_kind_it_can():
    g = demo_glossary()
    assert {m.name for m in g.metrics} >= {"revenue"}
    assert g.segments and len(g.synonyms) >= 3
    # every join of the demo schema is a declared foreign key: nothing to add
    assert g.relationships == ()


async def test_the_demo_glossary_is_set_on_both_demo_connections(connector, demo_settings, capsys):
    address = connector.server.address
    ids = ("demo-postgres", "demo-mysql")
    try:
        await connect_demo(address, ids, settings=demo_settings)
        out = capsys.readouterr().out
        assert "demo-postgres: registered; glossary set" in out and "demo-mysql: registered; glossary set" in out
        stored = {}
        for cid in ids:
            g = (await connector.stub.GetGlossary(pb.GetGlossaryRequest(connection_id=cid))).glossary
            stored[cid] = g
            revenue = next(m for m in g.metrics if m.name == "revenue")
            assert revenue.expression == "SUM(orders.total)" and revenue.time_column == "orders.order_date"
            assert list(revenue.filters) == ["NOT orders.status IN ('cancelled', 'returned')"]
            assert len(g.synonyms) == len(demo_glossary().synonyms)
        # the same content on both engines: the same version
        assert stored["demo-postgres"].version == stored["demo-mysql"].version

        await connect_demo(address, ids, settings=demo_settings)  # again: nothing changes
        assert "glossary unchanged" in capsys.readouterr().out
        again = (await connector.stub.GetGlossary(pb.GetGlossaryRequest(connection_id="demo-postgres"))).glossary
        assert again == stored["demo-postgres"]
    finally:
        for cid in ids:
            await connector.stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=cid, allow_missing=True))


async def test_an_absent_connector_is_one_line_not_an_error(settings, capsys):
    from tests.connector.service_support import free_port

    await connect_demo(f"127.0.0.1:{free_port()}", ("demo-postgres",), settings=settings)
    assert "is not reachable: the demo connections and their glossary are not set" in capsys.readouterr().out
