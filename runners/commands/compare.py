"""`nas compare`: the backbone alone, with non-local blocks and with each given cell, one recipe,
several seeds; a markdown table, a figure and a JSON of every number in the folder it is given
(the work is `runners.engine.comparison`).  Rerunning the command skips the runs that finished
and resumes an interrupted one; adding seeds or cells to a finished comparison trains only the
new runs.

The table names the command that made it, written from the parsed options (those that differ
from their defaults), so it reads the same however the options were typed.
"""

from __future__ import annotations

import argparse
import shlex

from nas.backbones import BACKBONES
from runners.arg_types import integer
from runners.commands.options import add_run_arguments
from runners.engine.comparison import PAPER_NAMES, run_comparison
from runners.engine.compare_report import PAPER_SIZE


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `nas compare`."""
    parser = commands.add_parser(
        "compare", help="train the backbone alone, with non-local blocks and with cells over several seeds; "
                        "write a table, a figure and JSON")
    parser.add_argument("--backbone", required=True, help=f"backbone: {', '.join(BACKBONES.names())} (nas list backbones)")
    parser.add_argument("--cells", action="append", default=[], metavar="[LABEL=]G.json",
                        help="a cell or model genotype to compare (repeatable); LABEL names it in the table")
    parser.add_argument("--seeds", type=integer(1, 1000), default=3,
                        help="train each model with the seeds --seed, --seed+1, ... (default 3)")
    parser.add_argument("--paper-backbone", choices=PAPER_NAMES,
                        help=f"also count FLOPs with the same blocks in this backbone at {PAPER_SIZE} "
                             "(default: the backbone itself when it is a paper backbone)")
    parser.add_argument("--jobs", type=integer(1, 1024), default=1,
                        help="trainings at once, each in its own process with --threads threads (default 1); "
                             "a parallel run's log goes to its folder's log.txt")
    add_run_arguments(parser, default_stage="train", out_help="comparison folder: its reports and a run folder per "
                      "model and seed (a rerun skips finished runs and resumes an interrupted one)")
    parser.set_defaults(handler=run_compare, command_actions=parser._actions)


def command_line(args: argparse.Namespace) -> str:
    """`nas compare` with every option whose value differs from its default."""
    words = ["nas", "compare"]
    for action in args.command_actions:
        if not action.option_strings or action.dest in ("help", "progress", "threads", "loader_workers", "jobs"):
            continue
        value, flag = getattr(args, action.dest, None), action.option_strings[-1]
        if value == action.default:
            continue
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            words.append(flag)
        elif isinstance(action, argparse._AppendAction):
            for item in value:
                words += [flag, str(item)]
        else:
            words += [flag, str(value)]
    return shlex.join(words)


def run_compare(args: argparse.Namespace) -> int:
    """Run the comparison; the page names the command line as `command_line` writes it."""
    return run_comparison(args, command_line(args))
