"""`nas data synth`: write a synthetic dataset as video files plus CSV annotations."""

from __future__ import annotations

import argparse
import sys

from nas.data.export import export_synthetic
from runners.arg_types import integer
from runners.commands.options import add_synthetic_arguments
from runners.engine.training import synthetic_config


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `nas data ...`."""
    data = commands.add_parser("data", help="datasets")
    verbs = data.add_subparsers(dest="verb", metavar="VERB", required=True, parser_class=type(data))
    synth = verbs.add_parser("synth", help="write a synthetic dataset (--task) as MP4 videos plus CSV annotations")
    synth.add_argument("--out", required=True, help="folder to write (videos/, train.csv, val.csv, test.csv, ...)")
    add_synthetic_arguments(synth)
    synth.add_argument("--fps", type=integer(1, 1000), default=8, help="frame rate written in the files (default 8)")
    synth.set_defaults(handler=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    """Write the dataset; print one line per split."""
    config = synthetic_config(args)
    counts = export_synthetic(config, args.out, fps=args.fps, progress=_progress if sys.stderr.isatty() else None)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    for split, count in counts.items():
        print(f"{split}: {count} videos -> {args.out}/{split}.csv")
    return 0


def _progress(done: int, total: int) -> None:
    print(f"\rwriting videos {done}/{total}", end="", file=sys.stderr, flush=True)
