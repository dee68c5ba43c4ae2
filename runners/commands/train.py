"""`nas train`: train a backbone (alone, with attention cells, or with non-local blocks).

The run folder gets ``run.json`` (command line, seed, version, git commit, resolved settings),
``checkpoint.pt`` and ``metrics.jsonl`` after every epoch, and ``result.json`` at the end
(`runners.engine.training`).  Running the same command again on a run folder with a checkpoint
resumes it.  Under ``torchrun`` every process trains its share of each batch and only the first
one writes.
"""

from __future__ import annotations

import argparse

from nas.backbones import BACKBONES
from runners.commands.options import add_run_arguments
from runners.engine.training import build, open_run_data, run_training, set_threads, train_config


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `nas train`."""
    parser = commands.add_parser("train", help="train a backbone with or without attention cells")
    parser.add_argument("--backbone", required=True, help=f"backbone: {', '.join(BACKBONES.names())} (nas list backbones)")
    extra = parser.add_mutually_exclusive_group()
    extra.add_argument("--cells", help="cell or model genotype JSON: insert these attention cells")
    extra.add_argument("--nonlocal", dest="nonlocal_blocks", action="store_true", help="insert non-local blocks")
    add_run_arguments(parser, default_stage="train")
    parser.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    """Train, print one line per epoch and the final metrics, write the run folder."""
    config = train_config(args)
    set_threads(args)
    data = open_run_data(args)
    run_training(args, config, build(args, len(data.classes)), data)
    return 0
