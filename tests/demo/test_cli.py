"""`chatdb demo-data` lives in deploy/demo and is still a `chatdb` command."""

from __future__ import annotations

import argparse

from servers.cli import build_parser


def test_demo_data_parses_its_options():
    from deploy.demo.cli import add_commands

    parser = argparse.ArgumentParser(prog="chatdb")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["demo-data", "--skip-mysql", "--scale", "0.5", "--mongo-url", "mongodb://x"])
    assert args.skip_mysql and args.scale == 0.5 and args.database == "chatdb_demo"


def test_chatdb_wires_demo_data_in():
    args = build_parser().parse_args(["demo-data", "--force", "--skip-postgres"])
    assert args.command == "demo-data" and args.force and args.skip_postgres
    assert args.func.__module__ == "deploy.demo.cli"
