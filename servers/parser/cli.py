"""The query parser's `chatdb` commands (servers/cli.py wires them in):

    chatdb parser bootstrap-intent [--per-label N] [--timeout S]

`bootstrap-intent` makes sure the intent model (`query-intent`, alias production)
exists: nothing when it does, else it trains it from the project's own corpus as a
background job on the platform, promotes it and warms it up (bootstrap.py). `make up`
runs it once the mesh is up.
"""

from __future__ import annotations

import argparse
import asyncio

from servers.runtime.cli_support import CliError
from servers.runtime.settings import Settings


def add_commands(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("parser", help="query parser tooling (the intent model)")
    commands = parser.add_subparsers(dest="parser_command", required=True)
    boot = commands.add_parser("bootstrap-intent", help="train and promote the intent model when it is missing")
    boot.add_argument("--per-label", type=int, default=None, help="questions per intent (default: the whole corpus)")
    boot.add_argument("--timeout", type=float, default=900.0, help="longest wait for the training job (seconds)")
    boot.set_defaults(func=_bootstrap)


def _bootstrap(args: argparse.Namespace) -> int:
    from .bootstrap import BootstrapFailed, bootstrap_intent

    try:
        asyncio.run(bootstrap_intent(Settings(), per_label=args.per_label, timeout_s=args.timeout,
                                     say=lambda line: print(line, flush=True)))
    except BootstrapFailed as exc:
        raise CliError(str(exc)) from None
    return 0


