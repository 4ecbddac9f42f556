"""The `stedi` command line: one module per subcommand, each with `register(subparsers)`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from stedi.errors import StediError

# Subcommand modules; each defines register(subparsers) and sets `handler` on its parser.
COMMANDS = ("generate", "run", "tables", "quarantine", "query", "ddl", "erase", "privacy_report")

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stedi", description="STEDI Human Balance lakehouse")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        import_module(f"stedi.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `stedi` console script; errors become one line on stderr and exit 1."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except StediError as exc:
        print(f"stedi {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
