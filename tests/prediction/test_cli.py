"""`chatdb predict MODEL --record JSON` and `--csv FILE` against a running service (the
command is run in a thread: it owns its event loop, as it does from the shell)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json

from servers.prediction import cli

from .conftest import unique


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="chatdb")
    cli.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_csv_cells_are_typed_like_training():
    rows = cli.typed_columns(["a", "b", "c", "d"], [["1", "x", "true", ""], ["2.5", "7", "FALSE", "3"]])
    assert rows == [[1.0, "x", True, None], [2.5, "7", False, 3.0]]


async def test_predict_from_records_and_csv(models, registry, start_prediction, monkeypatch, capsys, tmp_path):
    name = unique("cli")
    await registry.upload(name, models["mixed"])
    prediction = await start_prediction()
    host, port = prediction.address.rsplit(":", 1)
    monkeypatch.setenv("CHATDB_HOST", host)
    monkeypatch.setenv("CHATDB_PREDICTION_PORT", port)
    records = models["mixed"].records[:4]
    expected = models["mixed"].expected_labels[:4]

    argv = ["predict", name, *[a for r in records[:2] for a in ("--record", json.dumps(r))]]
    assert await asyncio.to_thread(_run, argv) == 0
    out = capsys.readouterr()
    assert [line.split()[0] for line in out.out.splitlines()] == expected[:2]
    assert f"model {name} version 1" in out.err

    path = tmp_path / "rows.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(records[0]))
        for r in records:
            writer.writerow(["true" if v is True else "false" if v is False else v for v in r.values()])
    assert await asyncio.to_thread(_run, ["predict", name, "--csv", str(path), "--json", "--version", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["label"] for line in lines] == expected
    assert all(set(line["probabilities"]) == {"churn", "stay"} for line in lines)

    bad = json.dumps({**records[0], "tenure": "long"})
    assert await asyncio.to_thread(_run, ["predict", name, "--record", bad]) == 1
    err = capsys.readouterr().err
    assert "INVALID_ARGUMENT" in err and "records[0].tenure" in err
