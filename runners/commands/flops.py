"""`nas flops`: FLOPs and parameters of a backbone with cells or non-local blocks, and the
paper comparison table (results/flops.md)."""

from __future__ import annotations

import argparse
import inspect
import json
import math
from typing import Any


from nas.backbones import BACKBONES
from nas.errors import UserError
from nas.flops import FlopReport, count_flops
from nas.io import atomic_write_text, parse_assignments, short
from nas.models import build_model
from nas.ops import OPS
from nas.space import load_model_genotype, load_space
from runners.arg_types import integer, real
from runners.commands.flops_op import add_op_arguments, run_op


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `nas flops`."""
    flops = commands.add_parser("flops", help="FLOPs (multiply-add = 2) and parameters of a model, or the paper table")
    what = flops.add_mutually_exclusive_group(required=True)
    what.add_argument("--backbone", help=f"backbone: {', '.join(BACKBONES.names())} (nas list backbones)")
    what.add_argument("--table", metavar="OUT.md", help="write the comparison with the paper's Table A (needs --cells)")
    what.add_argument("--op", metavar="KIND", help=f"one op kind on a feature map: {', '.join(OPS.names())} (nas list ops)")
    blocks = flops.add_mutually_exclusive_group()
    blocks.add_argument("--cells", metavar="G.json", help="cell or model genotype to insert")
    blocks.add_argument(
        "--nonlocal", dest="nonlocal_blocks", action="store_true", help="insert non-local blocks at every insertion point"
    )
    flops.add_argument("--frames", type=integer(1, 4096), default=250, help="T of the input (default 250)")
    flops.add_argument("--size", type=integer(1, 4096), default=256, help="H = W of the input (default 256)")
    flops.add_argument("--batch", type=integer(1, 1024), default=1, help="N of the input (default 1)")
    flops.add_argument("--width", type=real(0, 16, above=True), default=1.0, help="backbone width multiplier")
    flops.add_argument("--classes", type=integer(1, 100_000), default=600, help="number of classes (default 600)")
    flops.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="backbone option, e.g. gating=true"
    )
    flops.add_argument("--space", help="with --table: also count cells sampled from this search space")
    flops.add_argument("--json", action="store_true", help="print one JSON object")
    add_op_arguments(flops)
    flops.set_defaults(handler=run_flops)


def backbone_options(backbone: str, pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs (values read as YAML scalars) checked against the backbone factory's parameters."""
    factory = BACKBONES.get(backbone)
    parameters = {name: p for name, p in inspect.signature(factory).parameters.items() if name not in ("num_classes", "width")}
    options = parse_assignments(pairs, "--option")
    for key, value in options.items():
        if key not in parameters:
            raise UserError(f"backbone {backbone!r} has no option {short(key)} (options: {', '.join(parameters)})")
        default = parameters[key].default
        if default is not inspect.Parameter.empty and default is not None and not _same_kind(value, default):
            raise UserError(f"--option {key}: expected {type(default).__name__} like {default!r}, got {short(value)}")
    return options


def _same_kind(value: Any, default: Any) -> bool:
    """Whether `value` can stand where `default` does (an int where a float is expected is fine; bools are not ints)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, type(default))


def run_flops(args: argparse.Namespace) -> int:
    """Count one model, or write the paper table."""
    if args.table:
        return run_table(args)
    if args.op:
        return run_op(args)
    options = backbone_options(args.backbone, args.option)
    cells = load_model_genotype(args.cells) if args.cells else None
    model = build_model(args.backbone, cells, args.classes, args.width, nonlocal_blocks=args.nonlocal_blocks, **options)
    report = count_flops(model, (args.batch, 3, args.frames, args.size, args.size))
    blocks = f"cells {args.cells}" if args.cells else "non-local blocks" if args.nonlocal_blocks else None
    if args.json:
        print(json.dumps({"backbone": args.backbone, "blocks": blocks, "options": options, **report.to_dict()}))
    else:
        print(describe(args.backbone + (f" + {blocks}" if blocks else ""), report))
    return 0


def describe(name: str, report: FlopReport) -> str:
    """A readable summary: totals, categories, and a line per part."""
    shape = "x".join(map(str, report.input_shape))
    categories = ", ".join(f"{k} {v / 1e9:.1f}" for k, v in report.by_category.items())
    lines = [
        f"{name} at input {shape}: {report.gflops:.1f} GFLOPs ({report.convention}), {report.params_m:.2f} M parameters",
        f"by kind (GFLOPs): {categories}",
        f"{'part':<16}{'GFLOPs':>10}{'params (M)':>12}",
    ]
    for part, flops in report.by_module.items():
        params = report.params_by_module.get(part, 0)
        lines.append(f"{part:<16}{flops / 1e9:>10.2f}{params / 1e6:>12.3f}")
    return "\n".join(lines)


def run_table(args: argparse.Namespace) -> int:
    """Write results/flops.md (the command that made it is written at its top)."""
    from runners.engine.flops_table import make_table

    if not args.cells:
        raise UserError("--table needs --cells G.json: the cell of the '+Cell' rows")
    fixed = {
        "--nonlocal": args.nonlocal_blocks, "--option": args.option, "--json": args.json,
        "--frames": args.frames != 250, "--size": args.size != 256, "--batch": args.batch != 1,
        "--width": args.width != 1.0, "--classes": args.classes != 600,
    }  # fmt: skip
    if any(fixed.values()):
        flags = ", ".join(flag for flag, given in fixed.items() if given)
        raise UserError(f"--table counts its own models at the paper's input; drop {flags}")
    model = load_model_genotype(args.cells)
    if set(model.cells) != {"*"}:
        raise UserError(f"{args.cells}: the table needs one cell for every position (a plain cell genotype)")
    space = load_space(args.space) if args.space else None
    command = f"nas flops --table {args.table} --cells {args.cells}" + (f" --space {args.space}" if args.space else "")
    text = make_table(model.cells["*"], args.cells, command, space, args.space)
    atomic_write_text(args.table, text)
    print(f"wrote {args.table}")
    return 0
