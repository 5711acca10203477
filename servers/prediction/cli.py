"""The prediction service's `chatdb` command (servers/cli.py wires it in):

    chatdb predict MODEL --record '{"f1": 1.0, "segment": "retail"}' [--record ...]
    chatdb predict MODEL --csv rows.csv [--batch-size N]
    options: --version N | --alias NAME (default: production), --json

One record per --record (Predict); a CSV file's rows go through BatchPredict, with
columns typed as training typed them (a column whose cells are all numbers is numeric,
true/false is boolean, empty cells are null). Prints one line per row: the label and its
probability, or the value; --json prints each prediction as a JSON object instead.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

import grpc
from chatdb.prediction.v1 import prediction_pb2
from chatdb.prediction.v1 import prediction_service_pb2 as pb
from chatdb.prediction.v1 import prediction_service_pb2_grpc as pb_grpc
from google.protobuf import json_format, struct_pb2

from servers.runtime.channels import open_channel
from servers.runtime.cli_support import CliError, print_rpc_error
from servers.runtime.settings import Settings

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(nan|inf|infinity)$", re.IGNORECASE)
_BOOLS = {"true": True, "false": False}


def add_commands(sub: argparse._SubParsersAction) -> None:
    predict = sub.add_parser("predict", help="predict with a served model from JSON records or a CSV file")
    predict.add_argument("model")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--record", action="append", metavar="JSON", help="one input row as a JSON object (repeatable)")
    source.add_argument("--csv", metavar="FILE", help="a CSV file with a header; every row is predicted")
    selector = predict.add_mutually_exclusive_group()
    selector.add_argument("--version", type=int, help="model version (default: the production alias)")
    selector.add_argument("--alias", help="model alias (default: production)")
    predict.add_argument("--batch-size", type=int, default=0, help="rows per model run for --csv (server default)")
    predict.add_argument("--json", action="store_true", help="print each prediction as a JSON object")
    predict.set_defaults(func=lambda a: asyncio.run(_predict(a)))


def typed_columns(header: list[str], rows: list[list[str]]) -> list[list[Any]]:
    """Cells typed column by column, as the ML engine reads a CSV for training."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    typed = []
    for cells in columns:
        present = [c for c in cells if c != ""]
        if present and all(_INT.match(c) or _FLOAT.match(c) for c in present):
            typed.append([float(c) if c != "" else None for c in cells])
        elif present and all(c.strip().lower() in _BOOLS for c in present):
            typed.append([_BOOLS[c.strip().lower()] if c != "" else None for c in cells])
        else:
            typed.append([c if c != "" else None for c in cells])
    return [list(row) for row in zip(*typed, strict=True)] if typed else [[] for _ in rows]


def read_csv(path: Path) -> tuple[list[str], list[list[Any]]]:
    if not path.is_file():
        raise CliError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise SystemExit(f"{path}: the file is empty (a header row is required)")
        rows = [row for row in reader if row]
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise SystemExit(f"{path}: row {i + 2} has {len(row)} cells for {len(header)} columns")
    return header, typed_columns(header, rows)


def _request_fields(args: argparse.Namespace) -> dict[str, Any]:
    fields: dict[str, Any] = {"model": args.model}
    if args.version is not None:
        fields["version"] = args.version
    elif args.alias:
        fields["alias"] = args.alias
    return fields


def _records(texts: list[str]) -> list[struct_pb2.Struct]:
    records = []
    for text in texts:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"--record is not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise SystemExit("--record must be a JSON object, e.g. '{\"age\": 42}'")
        records.append(json_format.ParseDict(value, struct_pb2.Struct()))
    return records


def format_prediction(prediction: prediction_pb2.Prediction, as_json: bool) -> str:
    data = json_format.MessageToDict(prediction, preserving_proto_field_name=True)
    if as_json:
        return json.dumps(data, ensure_ascii=False, sort_keys=True)
    if "value" in data:
        value = data["value"]  # in full: the shortest text that reads back as the same number
        return repr(value) if isinstance(value, float) else str(value)
    if "score" in data or "is_anomaly" in data:  # anomaly detection
        flag = "anomaly" if data.get("is_anomaly") else "normal"
        return f"{flag}  (score={data['score']:.4f})" if "score" in data else flag
    label = data.get("label")
    probabilities = data.get("probabilities") or {}
    if probabilities and isinstance(label, str) and label in probabilities:
        return f"{label}  (p={probabilities[label]:.4f})"
    return str(label)


async def _predict(args: argparse.Namespace) -> int:
    settings = Settings()
    address = f"{settings.host}:{settings.prediction_port}"
    channel = open_channel(settings, address=address)
    async with channel:
        stub = pb_grpc.PredictionServiceStub(channel)
        try:
            if args.record:
                reply = await stub.Predict(pb.PredictRequest(records=_records(args.record), **_request_fields(args)),
                                           timeout=60)
            else:
                header, rows = read_csv(Path(args.csv))
                values = []
                for row in rows:
                    value = struct_pb2.ListValue()
                    value.extend(row)
                    values.append(value)
                reply = await stub.BatchPredict(pb.BatchPredictRequest(
                    columns=header, rows=values, batch_size=args.batch_size, **_request_fields(args)), timeout=600)
        except grpc.aio.AioRpcError as exc:
            return print_rpc_error(exc)
    print(f"model {reply.model} version {reply.version}", file=sys.stderr)
    for prediction in reply.predictions:
        print(format_prediction(prediction, args.json))
    return 0
