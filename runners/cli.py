"""The `nas` command line.  Each group of commands lives in its own module under `runners`.

Bad input (a `UserError` from the library, or bad arguments) prints one line on stderr and
exits with code 2; an error of the machine (a full disk, a lost permission: `OSError`, SQLite's
`OperationalError`) prints one line and exits with code 1.  Nothing is half-written because every
file goes through an atomic write, and runs resume from what they finished.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sqlite3
import sys
from typing import NoReturn, Sequence

from nas.errors import UserError
from nas.io import check_output_dir, check_output_file
from runners import smoke

COMMAND_MODULES = (
    "runners.cmd_space",
    "runners.cmd_genotype",
    "runners.cmd_flops",
    "runners.cmd_supergraph",
    "runners.cmd_data",
    "runners.cmd_train",
    "runners.cmd_search",
    "runners.cmd_viz",
    "runners.cmd_compare",
    "runners.cmd_list",
)
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
        smoke.warn()
        check_outputs(args)
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"nas: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`nas list ops | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (OSError, sqlite3.OperationalError) as exc:  # a full disk, a lost permission: the machine, not a bug
        print(f"nas: error: {one_line(system_problem(exc))}; finished work is kept, rerun to continue", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nas: interrupted", file=sys.stderr)
        return 130


OUTPUT_FILES = ("output", "table")
"""Options that name a file to write, in every command that has them."""


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse unwritable output paths before any work: the files of `OUTPUT_FILES` (every verb writes
    a file with `-o/--output`, or `--table`) and the folder of `--out` (every verb that makes one)."""
    for dest in OUTPUT_FILES:
        if getattr(args, dest, None):
            check_output_file(getattr(args, dest), f"--{dest.replace('_', '-')}")
    if isinstance(getattr(args, "out", None), str):
        check_output_dir(args.out, "--out")


def one_line(message: str, limit: int = 600) -> str:
    """`message` on one line (whitespace runs collapsed), cut to `limit` characters."""
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def system_problem(exc: BaseException) -> str:
    """An operating-system or database error in a few words, naming the file when there is one."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return str(exc) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
