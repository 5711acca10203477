"""The ML platform's `chatdb` commands (servers/cli.py wires them in):

    chatdb train CSV --task T --target COL --algorithm A [--model NAME] [--param k=v ...]
    chatdb train --connection ID --query SQL --task T --target COL --algorithm A ...
    chatdb jobs [--state STATE] [--model NAME]
    chatdb models
    chatdb promote MODEL VERSION [--alias production]

`train` submits the job, draws a live progress bar from WatchTrainingJob until the job
ends, then prints its metrics and the model version. A CSV file anywhere is copied into
the data directory (`CHATDB_DATA_DIR`, under `CHATDB_HOME`), where the services read it,
so `chatdb train FILE.csv` works from any directory.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import shutil
import sys
from pathlib import Path

import grpc
from chatdb.registry.v1 import model_registry_service_pb2 as reg_pb
from chatdb.registry.v1 import model_registry_service_pb2_grpc
from chatdb.training.v1 import job_state_pb2 as states
from chatdb.training.v1 import training_job_pb2 as job_pb
from chatdb.training.v1 import training_service_pb2 as pb
from chatdb.training.v1 import training_service_pb2_grpc
from google.protobuf import json_format, struct_pb2

from servers.runtime.channels import open_channel
from servers.runtime.cli_support import CliError, chatdb_command, print_rpc_error
from servers.runtime.settings import Settings

TASKS = {
    "classification": job_pb.TASK_CLASSIFICATION,
    "regression": job_pb.TASK_REGRESSION,
    "text_classification": job_pb.TASK_TEXT_CLASSIFICATION,
    "anomaly_detection": job_pb.TASK_ANOMALY_DETECTION,
}


def add_commands(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a model as a background job and follow it")
    train.add_argument("csv", nargs="?", help="CSV file (copied into the data directory when outside it)")
    train.add_argument("--connection", help="connection id to read the dataset from")
    train.add_argument("--query", help="SQL of the dataset on --connection")
    train.add_argument("--task", required=True, choices=sorted(TASKS))
    train.add_argument("--target", default="", help="required but for anomaly_detection")
    train.add_argument("--algorithm", required=True)
    train.add_argument("--model", help="model name (default: from the file or the target)")
    train.add_argument("--features", help="comma-separated feature columns (default: all but the target)")
    train.add_argument("--param", action="append", default=[], metavar="K=V", help="hyperparameter (JSON value)")
    train.add_argument("--test-fraction", type=float, default=0.2)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--no-wait", action="store_true", help="submit and print the job id only")
    train.set_defaults(func=lambda a: asyncio.run(_train(a)))

    jobs = sub.add_parser("jobs", help="list training jobs")
    jobs.add_argument("--state", choices=[s.removeprefix("JOB_STATE_").lower() for s in states.JobState.keys()[1:]])
    jobs.add_argument("--model")
    jobs.set_defaults(func=lambda a: asyncio.run(_jobs(a)))

    sub.add_parser("models", help="list models, their latest versions and aliases").set_defaults(
        func=lambda a: asyncio.run(_models(a))
    )

    promote = sub.add_parser("promote", help="point an alias (default production) at a model version")
    promote.add_argument("model")
    promote.add_argument("version", type=int)
    promote.add_argument("--alias", default="production")
    promote.set_defaults(func=lambda a: asyncio.run(_promote(a)))


def _fail(exc: grpc.aio.AioRpcError) -> int:
    return print_rpc_error(exc)


def _dataset(args: argparse.Namespace, settings: Settings) -> job_pb.Dataset:
    if args.connection or args.query:
        if not (args.connection and args.query) or args.csv:
            raise CliError("give either a CSV file, or --connection with --query")
        return job_pb.Dataset(connection_query=job_pb.Dataset.ConnectionQuery(connection_id=args.connection, sql=args.query))
    if not args.csv:
        raise CliError("give a CSV file, or --connection with --query")
    # settings.data_dir is absolute: under CHATDB_HOME, not the working directory.
    path, data_dir = Path(args.csv).expanduser(), settings.data_dir.resolve()
    if not path.is_file() and not (data_dir / args.csv).is_file():
        raise CliError(f"{args.csv}: no such file (looked in {Path.cwd()} and in the data directory {data_dir})")
    if path.is_file() and not path.resolve().is_relative_to(data_dir):
        # The worker reads datasets from the data directory only: bring the file in,
        # named by its content so re-submitting the same file does not copy it twice.
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        target = data_dir / "uploads" / f"{digest}-{path.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.copyfile(path, target)
        return job_pb.Dataset(csv_path=str(target.relative_to(data_dir)))
    if path.is_file():
        return job_pb.Dataset(csv_path=str(path.resolve().relative_to(data_dir)))
    return job_pb.Dataset(csv_path=args.csv)  # relative to the data directory


def _bar(job: job_pb.TrainingJob, width: int = 30) -> str:
    done = int(job.progress.fraction * width)
    state = states.JobState.Name(job.state).removeprefix("JOB_STATE_")
    return f"\r[{'#' * done}{' ' * (width - done)}] {job.progress.fraction * 100:5.1f}%  {state:<10} {job.progress.stage:<24}"


async def _train(args: argparse.Namespace) -> int:
    settings = Settings()
    job = job_pb.TrainingJob(
        model_name=args.model or (Path(args.csv).stem if args.csv else args.target or "anomalies").lower().replace("_", "-"),
        task=TASKS[args.task],
        algorithm=args.algorithm,
        dataset=_dataset(args, settings),
        target=args.target,
        features=[f for f in (args.features or "").split(",") if f],
        test_fraction=args.test_fraction,
        seed=args.seed,
    )
    for item in args.param:
        key, _, raw = item.partition("=")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        job.hyperparameters[key].CopyFrom(json_format.ParseDict(value, struct_pb2.Value()))
    async with open_channel(settings, "training") as channel:
        stub = training_service_pb2_grpc.TrainingServiceStub(channel)
        try:
            created = (await stub.CreateTrainingJob(pb.CreateTrainingJobRequest(training_job=job), timeout=120)).training_job
        except grpc.aio.AioRpcError as exc:
            _fail(exc)
            if job.dataset.csv_path and "does not exist" in (exc.details() or ""):
                print(f"  (this command looked in and copied to the data directory {settings.data_dir}; "
                      "the training service reads its own: give both the same CHATDB_HOME or CHATDB_DATA_DIR)",
                      file=sys.stderr)
            return 1
        print(f"submitted {created.job_id} (model {created.model_name})")
        if args.no_wait:
            return 0
        final = created
        async for message in stub.WatchTrainingJob(pb.WatchTrainingJobRequest(job_id=created.job_id)):
            final = message.training_job
            print(_bar(final), end="", flush=True)
        print()
    if final.state != states.JOB_STATE_SUCCEEDED:
        print(f"job {final.job_id} ended {states.JobState.Name(final.state)}: {final.error.message}", file=sys.stderr)
        return 1
    for name, value in sorted(final.metrics.items()):
        print(f"  {name:12} {format_metric(value)}")
    model, version = final.model_version.model, final.model_version.version
    aliases = await _aliases_of(settings, model, version)
    named = f" (alias {', '.join(aliases)})" if aliases else ""
    hint = "" if "production" in aliases else \
        f"; `{chatdb_command()} promote {model} {version}` makes it production"
    print(f"model {model} version {version}{named}{hint}")
    return 0


def format_metric(value: float) -> str:
    """Four decimals, but never so few that a small value prints as 0.0000."""
    return f"{value:.4f}" if value == 0 or abs(value) >= 0.001 else f"{value:.4g}"


async def _aliases_of(settings: Settings, model: str, version: int) -> list[str]:
    """The aliases pointing at `version` (the first version of a model is production
    from the start); empty when the registry cannot say."""
    try:
        async with open_channel(settings, "registry") as channel:
            stub = model_registry_service_pb2_grpc.ModelRegistryServiceStub(channel)
            reply = await stub.GetModel(reg_pb.GetModelRequest(model=model), timeout=10)
    except grpc.aio.AioRpcError:
        return []
    return sorted(alias for alias, v in reply.model.aliases.items() if v == version)


async def _jobs(args: argparse.Namespace) -> int:
    settings = Settings()
    state = states.JobState.Value(f"JOB_STATE_{args.state.upper()}") if args.state else states.JOB_STATE_UNSPECIFIED
    async with open_channel(settings, "training") as channel:
        stub = training_service_pb2_grpc.TrainingServiceStub(channel)
        token, rows = "", []
        try:
            while True:
                reply = await stub.ListTrainingJobs(
                    pb.ListTrainingJobsRequest(page_size=100, page_token=token, state=state, model_name=args.model or ""), timeout=30
                )
                rows += reply.training_jobs
                token = reply.next_page_token
                if not token:
                    break
        except grpc.aio.AioRpcError as exc:
            return _fail(exc)
    print(f"{'job':24} {'model':20} {'state':11} {'progress':>8} {'attempts':>8} version")
    for j in rows:
        version = j.model_version.version if j.HasField("model_version") else "-"
        print(f"{j.job_id:24} {j.model_name:20} {states.JobState.Name(j.state).removeprefix('JOB_STATE_'):11} "
              f"{j.progress.fraction * 100:7.0f}% {j.attempts:>8} {version}")
    return 0


async def _models(args: argparse.Namespace) -> int:
    settings = Settings()
    async with open_channel(settings, "registry") as channel:
        stub = model_registry_service_pb2_grpc.ModelRegistryServiceStub(channel)
        try:
            reply = await stub.ListModels(reg_pb.ListModelsRequest(page_size=1000), timeout=30)
        except grpc.aio.AioRpcError as exc:
            return _fail(exc)
    print(f"{'model':24} {'latest':>6}  aliases")
    for m in reply.models:
        aliases = ", ".join(f"{a}={v}" for a, v in sorted(m.aliases.items()))
        print(f"{m.name:24} {m.latest_version:>6}  {aliases}")
    return 0


async def _promote(args: argparse.Namespace) -> int:
    settings = Settings()
    async with open_channel(settings, "registry") as channel:
        stub = model_registry_service_pb2_grpc.ModelRegistryServiceStub(channel)
        try:
            await stub.SetAlias(reg_pb.SetAliasRequest(model=args.model, alias=args.alias, version=args.version), timeout=30)
        except grpc.aio.AioRpcError as exc:
            return _fail(exc)
    print(f"{args.model}: {args.alias} → version {args.version}")
    return 0
