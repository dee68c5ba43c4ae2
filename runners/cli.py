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
from typing import Any, NoReturn, Sequence

from nas.errors import UserError
from nas.io import check_output_dir, check_output_file
from runners import smoke

COMMANDS: dict[str, tuple[str, str]] = {
    "space": ("runners.commands.space", "work with a search-space YAML file"),
    "genotype": ("runners.commands.genotype", "work with genotype JSON files"),
    "flops": ("runners.commands.flops", "FLOPs (multiply-add = 2) and parameters of a model, or the paper table"),
    "supergraph": ("runners.commands.supergraph", "work with supergraph YAML files"),
    "data": ("runners.commands.data", "datasets"),
    "train": ("runners.commands.train", "train a backbone with or without attention cells"),
    "search": ("runners.commands.search", "search attention cells"),
    "export": ("runners.commands.search", "write the best genotype (or the Pareto front) of a search run"),
    "export-model": ("runners.commands.export_model", "write a backbone with cells to a file that runs with plain "
                                                      "PyTorch (torch.export or TorchScript)"),
    "viz": ("runners.commands.viz", "draw cell diagrams (PNG, SVG, Graphviz) and plot run folders"),
    "compare": ("runners.commands.compare", "train the backbone alone, with non-local blocks and with cells over several "
                                       "seeds; write a table, a figure and JSON"),
    "list": ("runners.commands.list", "print the op kinds, backbones, objectives or controllers, with their choices and "
                                 "defaults"),
}
"""Each command, the module whose ``add_commands(subparsers)`` registers it, and its help line.
Only the module of the command being run is imported (the others appear in `nas --help` by their
help line), so a command pays for its own imports only; tests/test_cli_list.py keeps the help
lines equal to the modules' own."""
COMMAND_MODULES = tuple(dict.fromkeys(module for module, _ in COMMANDS.values()))


class DefaultsFormatter(argparse.HelpFormatter):
    """Help lines that end with the option's default when it has one and the line does not say it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text, default = action.help or "", action.default
        if "default" in text or not action.option_strings or default is None or default is False \
                or default == [] or default is argparse.SUPPRESS:
            return action.help
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._StoreConstAction)):
            return action.help
        return f"{text} (default %(default)s)".strip()


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) with exit code 2, and whose help
    lines show every default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The `nas` parser: with `argv`, the module of the command it names only (the others as help
    lines); without, every command module."""
    parser = OneLineParser(prog="nas", description="Search, build and compare spatiotemporal attention cells.")
    from nas import __version__

    parser.add_argument("--version", action="version", version=f"attention-nas {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser, required=True)
    wanted = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    modules = COMMAND_MODULES if wanted is None else tuple({COMMANDS[wanted][0]} if wanted in COMMANDS else ())
    for module in modules:
        importlib.import_module(module).add_commands(commands)
    for command, (_, help_line) in COMMANDS.items():
        if command not in commands.choices:
            commands.add_parser(command, help=help_line)  # named in `nas --help`; its module loads when it is run
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `nas` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # answered before the command modules (and torch) are imported
        from nas import __version__

        print(f"attention-nas {__version__}")
        return 0
    parser = build_parser(argv)
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
