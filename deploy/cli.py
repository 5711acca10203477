"""The launcher's `chatdb` commands (servers/cli.py wires them in, the one door from the
command line into deploy/ besides `chatdb demo-data`):

    chatdb up [--detach] [--no-intent] [--no-showcase]   bring the whole mesh up
    chatdb down                                           stop everything `up` started
    chatdb status                                         each process `up` started (pid,
                                                          port, health), then the gateway's
                                                          degradation level

`status` is the gateway's command (gateway/cli.py) with the launcher's process table in
front; its exit status keeps its meaning: the level (0-4), or 5 when the gateway is
unreachable. The logic lives in deploy/launcher.py.
"""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser("up", help="bring the whole mesh up (stores, certificates, services, worker, demo)")
    up.add_argument("--detach", action="store_true", help="return once the mesh is ready (default: stay in the "
                    "foreground; Ctrl-C or SIGTERM stops everything)")
    up.add_argument("--no-intent", action="store_true", help="do not train the parser's intent model when it is "
                    "missing (the parser answers on its rules)")
    up.add_argument("--no-showcase", action="store_true", help="do not show each capability answering (the demo "
                    "training job, a prediction, one question per demo connection)")
    up.set_defaults(func=_up)

    sub.add_parser("down", help="stop everything `chatdb up` started").set_defaults(func=_down)

    status = sub.choices.get("status")
    if status is not None:  # the gateway's `chatdb status`, with the processes in front
        level = status.get_default("func")
        status.set_defaults(func=lambda args: _status(args, level))


def _up(args: argparse.Namespace) -> int:
    from . import launcher

    return launcher.up(detach=args.detach, intent=not args.no_intent, showcase=not args.no_showcase)


def _down(args: argparse.Namespace) -> int:
    from . import launcher

    return launcher.down()


def _status(args: argparse.Namespace, level) -> int:
    from . import launcher

    if not getattr(args, "json", False):
        launcher.print_processes()
    return level(args)
