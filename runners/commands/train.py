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
from nas.errors import UserError
from runners.commands.flops import backbone_options
from runners.commands.options import add_run_arguments
from runners.engine.training import build, open_run_data, run_training, set_threads, train_config


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `nas train`."""
    parser = commands.add_parser("train", help="train a backbone with or without attention cells")
    parser.add_argument("--backbone", required=True, help=f"backbone: {', '.join(BACKBONES.names())} (nas list backbones)")
    extra = parser.add_mutually_exclusive_group()
    extra.add_argument("--cells", help="cell or model genotype JSON: insert these attention cells")
    extra.add_argument("--nonlocal", dest="nonlocal_blocks", action="store_true", help="insert non-local blocks")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--weights-2d", metavar="PATH", help="2D ImageNet state dict (torchvision keys) to inflate "
                                                            "into i3d/s3d (GoogLeNet) or i3d_r50 (ResNet-50)")
    weights.add_argument("--weights-3d", metavar="PATH", help="3D checkpoint to load: pytorch-i3d (i3d), kylemin/S3D "
                                                            "(s3d with its --option's), pytorchvideo i3d_r50 (i3d_r50)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="backbone option, e.g. padding=tf (nas list backbones)")
    add_run_arguments(parser, default_stage="train")
    parser.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    """Train, print one line per epoch and the final metrics, write the run folder."""
    args.backbone_options = checked_options(args)
    config = train_config(args)
    set_threads(args)
    data = open_run_data(args)
    run_training(args, config, build(args, len(data.classes)), data)
    return 0


def checked_options(args: argparse.Namespace) -> dict[str, object]:
    """--option pairs and --weights-2d/--weights-3d as backbone options, each one the backbone takes."""
    options = backbone_options(args.backbone, args.option)
    for flag, key in (("--weights-2d", "weights_2d"), ("--weights-3d", "weights_3d")):
        path = getattr(args, key)
        if path is None:
            continue
        if key in options:
            raise UserError(f"{flag} and --option {key}=...: give the file once")
        backbone_options(args.backbone, [f"{key}=x"])  # the backbone takes this option, or a UserError
        options[key] = path
    return options
