"""`chatdb glossary set CONNECTION FILE.yaml` and `chatdb glossary get CONNECTION`
against a real connector: a file goes in, the stored glossary prints back as YAML, and a
bad file is one line on stderr with exit status 1."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from servers.cli import main
from servers.contracts.glossary import load_yaml
from tests.conftest import create_pg_database, drop_pg_database

from .service_support import PG, create, pb, running_connector

pytestmark = pytest.mark.timeout(120)

GLOSSARY = """\
metrics:
  - name: payroll
    table: staff
    expression: sum(salary)
    time_column: hired_on
    synonyms: [wage bill]
segments:
  - name: senior staff
    table: staff
    condition: grade >= 5
synonyms:
  employee: staff
  pay: staff.salary
"""


@pytest.fixture(scope="module")
async def hr(run_id):
    name = f"chatdb_test_{run_id}_glossary_cli"
    await drop_pg_database(name)
    dsn = await create_pg_database(name)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE staff (id integer PRIMARY KEY, name text, grade integer, "
                           "salary numeric(10,2), hired_on date)")
    finally:
        await conn.close()
    yield dsn
    await drop_pg_database(name)


@pytest.fixture(scope="module")
async def connector(settings):
    async with running_connector(settings) as c:
        yield c


@pytest.fixture
async def hr_id(connector, hr):
    cid = f"hr-{uuid.uuid4().hex[:8]}"
    await create(connector.stub, cid, kind=PG, dsn=hr)
    yield cid
    await connector.stub.DeleteConnection(pb.DeleteConnectionRequest(connection_id=cid, allow_missing=True))


async def chatdb(connector, *argv: str) -> int:
    # The command runs its own event loop: a thread of its own, the server on this one.
    return await asyncio.to_thread(main, [*argv, "--address", connector.server.address])


async def test_set_from_a_file_and_get_it_back(connector, hr_id, tmp_path, capsys):
    path = tmp_path / "hr.yaml"
    path.write_text(GLOSSARY)
    assert await chatdb(connector, "glossary", "set", hr_id, str(path)) == 0
    out = capsys.readouterr().out
    assert f"{hr_id}: glossary set (1 metrics, 1 segments, 2 synonyms, 0 relationships), version " in out

    assert await chatdb(connector, "glossary", "get", hr_id) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"# glossary of {hr_id}, version ")
    got = load_yaml(printed)
    assert got.metrics[0].expression == "SUM(staff.salary)" and got.metrics[0].time_column == "staff.hired_on"
    assert got.segments[0].condition == "staff.grade >= 5"
    assert [(s.term, s.target) for s in got.synonyms] == [("employee", "staff"), ("pay", "staff.salary")]


async def test_get_of_a_connection_without_one(connector, hr_id, capsys):
    assert await chatdb(connector, "glossary", "get", hr_id) == 0
    assert capsys.readouterr().out == f"# {hr_id} has no glossary\n"


async def test_dry_run_stores_nothing(connector, hr_id, tmp_path, capsys):
    path = tmp_path / "hr.yaml"
    path.write_text(GLOSSARY)
    assert await chatdb(connector, "glossary", "set", hr_id, str(path), "--dry-run") == 0
    assert "nothing stored" in capsys.readouterr().out
    assert not (await connector.stub.GetGlossary(pb.GetGlossaryRequest(connection_id=hr_id))).glossary.metrics


@pytest.mark.parametrize(("content", "message"), [
    ("metrics: [{name: payroll, table: staff}]", "metrics[0].expression: is required"),
    ("metrics: [", "not valid YAML"),
    (GLOSSARY.replace("sum(salary)", "sum(salry)"),
     "glossary.metrics[0].expression: column staff.salry does not exist; closest: staff.salary"),
    (GLOSSARY.replace("grade >= 5", "grade"), "glossary.segments[0].condition: is not a boolean condition"),
])
async def test_a_bad_file_is_one_line_and_status_1(connector, hr_id, tmp_path, capsys, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    assert await chatdb(connector, "glossary", "set", hr_id, str(path)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ") and message in lines[0]


async def test_a_missing_file_or_connection(connector, tmp_path, capsys):
    assert await chatdb(connector, "glossary", "set", "hr-none", str(tmp_path / "absent.yaml")) == 1
    assert "No such file or directory" in capsys.readouterr().err
    path = tmp_path / "hr.yaml"
    path.write_text(GLOSSARY)
    assert await chatdb(connector, "glossary", "set", "hr-none", str(path)) == 1
    assert capsys.readouterr().err.startswith("error: NOT_FOUND: connection 'hr-none' not found")
