"""The `nas` command line.  Each group of commands lives in its own module under `runners`.

Bad input (a `UserError` from the library, or bad arguments) prints one line on stderr and
exits with code 2; nothing is half-written because every file goes through an atomic write.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn, Sequence

from nas.errors import UserError

COMMAND_MODULES = ("runners.cmd_space", "runners.cmd_genotype", "runners.cmd_search")
"""Modules with an ``add_commands(subparsers)`` function; each registers its subcommands."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) with exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full `nas` parser with every command module's subcommands."""
    parser = OneLineParser(prog="nas", description="Search, build and compare spatiotemporal attention cells.")
    from nas import __version__

    parser.add_argument("--version", action="version", version=f"attention-nas {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser, required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `nas` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"nas: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nas: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
