"""`nas flops --op KIND`: FLOPs and parameters of one op of the registry at a feature-map shape.

    nas flops --op relational --choice window=3x5x5 --choice queries=4 \
              [--feature-shape 120x8x7x7] [--batch 32] [--kv-source cell_input] [--json]

The shape is the cell's pre-processed map C_reduction x T_group x H_resize x W_resize; the
default, 120x8x7x7, is the paper's pre-processing at I3D's 4a (480 channels / 4, 8 frames,
7 x 7).  ``--batch`` is N times the number of temporal groups (250 frames -> 32 groups).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from nas.errors import UserError
from nas.io import parse_assignments, short
from nas.flops import FlopReport
from nas.ops import OPS, FeatureShape
from nas.ops.cost import op_flops
from nas.space.genotype import KV_SOURCES
from nas.space.limits import MAX_CHANNELS, MAX_MAP_POSITIONS

DEFAULT_SHAPE = "120x8x7x7"


def add_op_arguments(flops: argparse.ArgumentParser) -> None:
    """The options `--op` reads (its own; the backbone options do not apply to it)."""
    flops.add_argument("--choice", action="append", default=[], metavar="NAME=VALUE", help="with --op: one of its choices")
    flops.add_argument(
        "--feature-shape", default=DEFAULT_SHAPE, metavar="CxTxHxW", help=f"with --op: the map it sees (default {DEFAULT_SHAPE})"
    )
    flops.add_argument("--kv-source", default="cell_input", choices=KV_SOURCES, help="with --op: keys/values source")


def parse_feature_shape(text: str) -> FeatureShape:
    """"120x8x7x7" -> FeatureShape(120, 8, 7, 7); anything else is a `UserError`."""
    parts = text.lower().split("x")
    if len(parts) != 4 or not all(p.isdigit() and 0 < len(p) < 10 and int(p) > 0 for p in parts):
        raise UserError(f"--feature-shape must be four positive sizes CxTxHxW, got {short(text)}")
    shape = FeatureShape(*(int(p) for p in parts))
    if shape.channels > MAX_CHANNELS or shape.frames * shape.height * shape.width > MAX_MAP_POSITIONS:
        raise UserError(f"--feature-shape {text}: at most {MAX_CHANNELS} channels and {MAX_MAP_POSITIONS} positions "
                        "(T x H x W)")
    return shape


def parse_choices(kind: str, pairs: list[str]) -> dict[str, Any]:
    """NAME=VALUE pairs (values read as YAML scalars), checked against the op kind."""
    OPS.get(kind)  # an unknown kind is a UserError listing the known ones
    return OPS.resolve_choices(kind, parse_assignments(pairs, "--choice"), where=kind)


def run_op(args: argparse.Namespace) -> int:
    """Print the FLOPs and parameters of one op."""
    ignored = {
        "--cells": args.cells, "--nonlocal": args.nonlocal_blocks, "--option": args.option, "--space": args.space,
        "--frames": args.frames != 250, "--size": args.size != 256, "--width": args.width != 1.0,
        "--classes": args.classes != 600,
    }  # fmt: skip
    if any(ignored.values()):
        flags = ", ".join(flag for flag, given in ignored.items() if given)
        raise UserError(f"--op counts one op on a feature map (--feature-shape, --batch); drop {flags}")
    choices = parse_choices(args.op, args.choice)
    shape = parse_feature_shape(args.feature_shape)
    report = op_flops(args.op, choices, shape, args.batch, args.kv_source)
    if args.json:
        print(json.dumps({"op": args.op, "choices": choices, "kv_source": args.kv_source, **report.to_dict()}))
    else:
        print(describe_op(args.op, choices, args.kv_source, report))
    return 0


def describe_op(kind: str, choices: dict[str, Any], kv_source: str, report: FlopReport) -> str:
    """Totals and the FLOPs by kind of work, in two lines."""
    shape = "x".join(map(str, report.input_shape))
    named = ", ".join(f"{k}={v}" for k, v in choices.items())
    categories = ", ".join(f"{k} {v / 1e6:.2f}" for k, v in report.by_category.items())
    return (
        f"{kind} ({named}; keys/values from {kv_source}) at {shape}: {report.flops / 1e6:.2f} MFLOPs "
        f"({report.convention}), {report.params} parameters\nby kind (MFLOPs): {categories}"
    )
