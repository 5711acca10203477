"""The edge's `chatdb` command (servers/cli.py wires it in):

    chatdb envoy-config [--out FILE] [--tls-dir DIR] [--sds-dir DIR] [--json] [--validate]

prints (or writes) Envoy's bootstrap generated from gen/chatdb_descriptor.binpb and the
CHATDB_* settings. With a TLS directory (--tls-dir, else CHATDB_TLS_DIR) the edge is mTLS
on both sides and the certificates are read through SDS files (written to --sds-dir,
default `<FILE stem>-sds/` beside --out, else CHATDB_HOME/envoy/); without one it is
plaintext, for development.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from servers.runtime.cli_support import CliError
from servers.runtime.settings import Settings


def add_commands(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("envoy-config", help="generate the Envoy edge's configuration")
    cmd.add_argument("--out", type=Path, help="write it to FILE (.json: JSON, else YAML) instead of stdout")
    cmd.add_argument("--tls-dir", type=Path, help="ca.crt, envoy.crt, envoy.key (default: CHATDB_TLS_DIR; none: plaintext)")
    cmd.add_argument("--sds-dir", type=Path, help="where the SDS files that point at the certificates go")
    cmd.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    cmd.add_argument("--validate", action="store_true", help="run `envoy --mode validate` on the result (needs --out)")
    cmd.set_defaults(func=_envoy_config)


def _envoy_config(args: argparse.Namespace) -> int:
    from .config import build_config, render, write_config, write_sds
    from .runner import EnvoyError, validate

    settings = Settings()
    if args.tls_dir is not None and not (args.tls_dir / "envoy.crt").is_file():
        raise CliError(f"{args.tls_dir} has no envoy.crt: run `chatdb certs` first")
    if args.out is not None:
        kwargs = {"tls_dir": args.tls_dir}
        if args.sds_dir is not None:
            kwargs["sds_dir"] = args.sds_dir
        path = write_config(settings, args.out, **kwargs)
        if args.validate:
            try:
                validate(path, binary=settings.edge_envoy_bin)
            except EnvoyError as exc:
                raise CliError(str(exc)) from None
        print(path)
        return 0
    if args.validate:
        raise CliError("--validate needs --out")
    bootstrap, files = build_config(settings, tls_dir=args.tls_dir, sds_dir=args.sds_dir)
    write_sds(files)
    print(render(bootstrap, "json" if args.json else "yaml"), end="")
    return 0
