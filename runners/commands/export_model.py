"""`nas export-model`: a backbone with cells (and trained weights) to a file that runs with plain
PyTorch, without this package (see `nas.export`)."""

from __future__ import annotations

import argparse

from nas.backbones import BACKBONES
from nas.export import FORMATS
from runners.arg_types import SEED, integer, real

LOADERS = {"export": "torch.export.load({}).module()", "torchscript": "torch.jit.load({})"}


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `nas export-model`."""
    parser = commands.add_parser("export-model", help="write a backbone with cells to a file that runs with plain "
                                                      "PyTorch (torch.export or TorchScript)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="file to write (.pt2 for export, .pt for torchscript)")
    parser.add_argument("--backbone", required=True, help=f"backbone: {', '.join(BACKBONES.names())} (nas list backbones)")
    blocks = parser.add_mutually_exclusive_group()
    blocks.add_argument("--cells", metavar="G.json", help="cell or model genotype to insert (e.g. RUN/best_genotype.json)")
    blocks.add_argument("--nonlocal", dest="nonlocal_blocks", action="store_true",
                        help="insert non-local blocks at every insertion point")
    parser.add_argument("--run", metavar="RUN", help="take the trained weights of this `nas train` run folder "
                                                     "(default: freshly initialised weights drawn with --seed)")
    parser.add_argument("--format", dest="file_format", choices=FORMATS, default="export",
                        help="export: torch.export program; torchscript: torch.jit.trace module")
    parser.add_argument("--classes", type=integer(1, 100_000), default=10, help="number of classes")
    parser.add_argument("--width", type=real(0, 16, above=True), default=1.0, help="backbone width multiplier")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="backbone option, e.g. gating=true")
    parser.add_argument("--batch", type=integer(1, 1024), default=1, help="N of the clips the file takes")
    parser.add_argument("--frames", type=integer(1, 4096), default=16, help="T of the clips the file takes")
    parser.add_argument("--size", type=integer(1, 4096), default=112, help="H = W of the clips the file takes")
    parser.add_argument("--seed", type=SEED, default=0, help="seed of the initial weights and of the check clips")
    parser.set_defaults(handler=run_export_model)


def run_export_model(args: argparse.Namespace) -> int:
    """Build the model, load the run's weights if asked, export, and say how to load the file."""
    import torch

    from nas.checkpoint import load_checkpoint, load_model_state
    from nas.errors import UserError
    from nas.export import check_exportable, export_model
    from nas.models import build_model
    from runners.commands.flops import backbone_options

    options = backbone_options(args.backbone, args.option)
    torch.manual_seed(args.seed)
    model = build_model(args.backbone, args.cells, args.classes, args.width,
                        nonlocal_blocks=args.nonlocal_blocks, **options)
    check_exportable(model)
    if args.run:
        state = load_checkpoint(args.run)
        if state is None:
            raise UserError(f"--run {args.run}: no checkpoint.pt there (a `nas train --out` folder has one)")
        load_model_state(model, state["model"], args.run)
    clip = (args.batch, 3, args.frames, args.size, args.size)
    export_model(model, clip, args.output, args.file_format, seed=args.seed)
    shape = "x".join(map(str, clip))
    print(f"wrote {args.output}: {args.backbone}" + (f" + {args.cells}" if args.cells else "")
          + f", clips {shape}; load it with {LOADERS[args.file_format].format(repr(args.output))}")
    return 0
