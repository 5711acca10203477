"""`chatdb`: the command line of the mesh.

    chatdb serve SERVICE     run one service (gateway, connector, parser, training,
                             registry, prediction) on its port
    chatdb worker            run the arq ML-engine worker (health on CHATDB_WORKER_PORT)
    chatdb migrate           create and migrate the platform database
    chatdb certs             the mesh's CA (CHATDB_HOME/ca) and certificates (CHATDB_HOME/certs),
                             created or renewed when they expire within 7 days
    chatdb certs rotate      re-issue every certificate with the same CA
    chatdb certs client NAME a user's client certificate: certs/clients/NAME.crt/.key
    chatdb envoy-config      generate the Envoy edge's configuration (edge/)
    chatdb settings          list every CHATDB_* setting with its value and meaning
    chatdb demo-data         load the chatdb_demo sample database (PostgreSQL, MySQL)
    chatdb connections       list the connector's connections
    chatdb glossary set|get  set a connection's glossary from YAML; print it as YAML
    chatdb train ...         train a model as a background job, with a live progress bar
    chatdb jobs / models     list training jobs / registered models
    chatdb promote M V       point `production` at version V of model M
    chatdb predict MODEL     predict from --record JSON or --csv FILE
    chatdb parser bootstrap-intent   train the intent model when it is missing
    chatdb ask "QUESTION"    ask through the gateway: the answer, its statement and rows
    chatdb history           recent questions asked through the gateway
    chatdb status            each process `up` started, and the degradation level
                             (exit status 0-4, 5: gateway unreachable)
    chatdb up [--detach]     bring the whole mesh up (embedded PostgreSQL/Redis when
                             none answers); Ctrl-C stops it
    chatdb down              stop everything `chatdb up` started
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from .runtime.cli_support import CliError, ensure_port_free, print_rpc_error
from .runtime.errors import ChatDBError
from .runtime.settings import Settings, describe


def _serve(args: argparse.Namespace) -> int:
    from .runtime.process import serve
    from .services import SERVICES

    settings = Settings()
    port = settings.port_of(args.service) if args.port is None else args.port
    ensure_port_free(settings.host, port, f"CHATDB_{args.service.upper()}_PORT or --port")
    try:
        asyncio.run(serve(args.service, settings, SERVICES[args.service], port=args.port))
    except RuntimeError as exc:  # taken between the check and the bind
        if "Failed to bind" in str(exc):
            raise CliError(f"port {port} is already in use: {exc}") from None
        raise
    return 0


def _worker(args: argparse.Namespace) -> int:
    from workers.main import run_worker

    settings = Settings()
    ensure_port_free(settings.host, settings.worker_port, "CHATDB_WORKER_PORT")
    return asyncio.run(run_worker(settings))


def _migrate(args: argparse.Namespace) -> int:
    from .migrate_all import migrate_platform

    applied = asyncio.run(migrate_platform(Settings()))
    for component, versions in applied.items():
        print(f"{component}: applied {versions or 'nothing new'}")
    return 0


CERT_ACTIONS = ("ensure", "rotate", "client", "show")


def _certs(args: argparse.Namespace) -> int:
    from .runtime import certs

    if args.action not in CERT_ACTIONS:  # `chatdb certs DIR`: a throwaway single-directory set
        paths = certs.write_pki(Path(args.action), overwrite=args.force)
        if not args.quiet:
            for name, path in sorted(paths.items()):
                print(f"{name:12} {path}")
        return 0
    home = Path(args.home).expanduser() if args.home else Settings().home
    if args.action == "client":
        if not args.name:
            raise CliError("chatdb certs client NAME: give the client's name")
        try:
            cert, key = certs.issue_client(home, args.name, force=args.force)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        if not args.quiet:
            print(f"{certs.spiffe_id('client/' + args.name)}\n  cert {cert}\n  key  {key}\n  ca   {cert.parent.parent / 'ca.crt'}")
        return 0
    try:
        pki = certs.ensure_pki(home, dns_suffixes=args.dns_suffix, edge_dns=args.edge_dns)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.action == "rotate":
        pki = certs.rotate(home)
    if args.action == "show":
        for line in certs.describe(pki):
            print(line)
    elif not args.quiet:
        done = f"issued {', '.join(pki.issued)}" if pki.issued else "all current"
        print(f"certificates in {pki.certs_dir} ({done}); CA key in {pki.ca_dir}")
    return 0


def _settings(args: argparse.Namespace) -> int:
    for env, value, doc in describe(Settings()):
        print(f"{env:36} {value:40} {doc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .services import SERVICES

    parser = argparse.ArgumentParser(prog="chatdb", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=sorted(SERVICES))
    serve.add_argument("--port", type=int, default=None, help="override the service's port")
    serve.set_defaults(func=_serve)

    sub.add_parser("worker", help="run the arq ML-engine worker").set_defaults(func=_worker)
    sub.add_parser("migrate", help="create and migrate the platform database").set_defaults(func=_migrate)

    certs = sub.add_parser(
        "certs",
        help="the mesh's CA and certificates (ensure | rotate | client NAME | show)",
        description="ensure (default): create the CA and every certificate, renew those expiring within 7 days; "
        "rotate: re-issue every certificate with the same CA; client NAME: a user's client certificate; "
        "show: list them. (Given a directory instead: a throwaway CA, server and client set in it.)",
    )
    certs.add_argument("action", nargs="?", default="ensure", help="ensure, rotate, client, show (or a directory)")
    certs.add_argument("name", nargs="?", help="the client's name (certs client NAME)")
    certs.add_argument("--home", help="deployment home (default CHATDB_HOME)")
    certs.add_argument("--force", action="store_true", help="replace an existing client certificate / set")
    certs.add_argument("--dns-suffix", action="append", default=[], metavar="SUFFIX",
                       help="service certificates also name <service> and <service>.SUFFIX (e.g. chatdb.svc); "
                            "repeatable, remembered for renewals")
    certs.add_argument("--edge-dns", action="append", default=[], metavar="NAME",
                       help="Envoy's certificate also names NAME (the load balancer's DNS name); repeatable")
    certs.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    certs.set_defaults(func=_certs)

    sub.add_parser("settings", help="list every CHATDB_* setting").set_defaults(func=_settings)

    # Demo tooling lives with the launcher, outside the service packages.
    from deploy.demo.cli import add_commands as add_demo_commands

    add_demo_commands(sub)

    from .connector.cli import add_commands as add_connector_commands

    add_connector_commands(sub)

    from .training.cli import add_commands as add_training_commands

    add_training_commands(sub)

    from .prediction.cli import add_commands as add_prediction_commands

    add_prediction_commands(sub)

    from .parser.cli import add_commands as add_parser_commands

    add_parser_commands(sub)

    from gateway.cli import add_commands as add_gateway_commands

    add_gateway_commands(sub)

    # The Envoy edge is not a gRPC service: its own layer (edge/), wired in here.
    from edge.cli import add_commands as add_edge_commands

    add_edge_commands(sub)

    # `chatdb up/down` and the process table of `chatdb status`: the launcher, in deploy/.
    from deploy.cli import add_commands as add_launcher_commands

    add_launcher_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one command. What goes wrong in a way the user can act on (a bad argument, a
    missing file, a taken port, an unreachable or refusing service) is one line on
    stderr and exit status 1, not a traceback."""
    import grpc

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except ChatDBError as exc:  # a service refusing to start (e.g. the registry's bucket is missing)
        print(f"error: {exc.code.name}: {exc.message}", file=sys.stderr)
    except grpc.aio.AioRpcError as exc:
        print_rpc_error(exc)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
