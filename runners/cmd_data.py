"""`nas data synth`: write a synthetic dataset as video files plus CSV annotations."""

from __future__ import annotations

import argparse
import sys

from nas.data.export import export_synthetic
from nas.data.synthetic import TASKS, SyntheticConfig
from runners import smoke
from runners.arg_types import SEED, integer


def add_synthetic_arguments(parser: argparse.ArgumentParser, num_flag: str = "--num") -> None:
    """The flags of `SyntheticConfig` (shared by `nas data synth` and `nas train --data synthetic`)."""
    defaults = SyntheticConfig(num_videos=smoke.default("num_videos", SyntheticConfig().num_videos))
    parser.add_argument(num_flag, dest="num_videos", type=integer(1, 1_000_000), default=defaults.num_videos,
                        help=f"videos in train + val + test (default {defaults.num_videos})")
    parser.add_argument("--frames", type=integer(1, 4096), default=defaults.frames, help=f"frames per video (default {defaults.frames})")
    parser.add_argument("--size", type=integer(8, 4096), default=defaults.size, help=f"frame height and width (default {defaults.size})")
    parser.add_argument("--data-seed", type=SEED, default=defaults.seed, help="seed of the dataset (default 0)")
    parser.add_argument("--task", choices=sorted(TASKS), default=defaults.task,
                        help=f"synthetic task (default {defaults.task}; see nas/data/synthetic.py)")


def synthetic_config(args: argparse.Namespace) -> SyntheticConfig:
    """The `SyntheticConfig` named by the flags of `add_synthetic_arguments`."""
    return SyntheticConfig(num_videos=args.num_videos, frames=args.frames, size=args.size, seed=args.data_seed,
                           task=args.task).validate()


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
