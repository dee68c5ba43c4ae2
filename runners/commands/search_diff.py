"""`nas search diff`: the options of the differentiable search and its preset; the work (training
the supergraphs, deriving one cell per position, the run folder) is
`runners.engine.supergraph_search`.  Running the same command again, or ``nas search resume
RUN``, resumes a killed search.
"""

from __future__ import annotations

import argparse
from typing import Any

from nas.backbones import BACKBONES
from nas.train import TrainConfig
from runners import smoke
from runners.arg_types import integer, real
from runners.commands.options import add_run_arguments
from runners.engine.supergraph_search import run_diff

PRESETS: dict[str, dict[str, Any]] = {
    # finishes in a few minutes on a 2-core CPU: tiny backbone, a small synthetic dataset
    # (few steps, so the architecture weights take larger Adam steps than the default's 3e-3)
    "quick": {"backbone": "tiny", "data": "synthetic", "num_videos": 600, "epochs": 4, "arch_lr": 0.05, "threads": 1},
}
PRESET_OPTIONS = sorted({name for preset in PRESETS.values() for name in preset})


def add_diff_parser(verbs: argparse._SubParsersAction) -> None:
    """Register `nas search diff` under the `nas search` verbs."""
    parser = verbs.add_parser("diff", help="differentiable search: train supergraphs, derive a cell per position")
    parser.add_argument("--supergraph", required=True, help="supergraph YAML (supergraphs/sg1.yaml, ...)")
    parser.add_argument("--alpha", type=integer(1, 1024), default=3, help="the sink keeps its top-alpha nodes (default 3)")
    parser.add_argument("--beta", type=integer(1, 1024), default=2, help="each kept node keeps its top-beta inputs (default 2)")
    parser.add_argument("--backbone", default="tiny", help=f"backbone: {', '.join(BACKBONES.names())} (default tiny; nas list backbones)")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="settings for a quick run (explicit flags win)")
    parser.add_argument("--arch-lr", type=real(0, above=True), default=TrainConfig.arch_lr,
                        help=f"Adam learning rate of the architecture weights (default {TrainConfig.arch_lr})")
    parser.add_argument("--arch-weight-decay", type=real(0, 10), default=TrainConfig.arch_weight_decay,
                        help=f"weight decay of the architecture weights (default {TrainConfig.arch_weight_decay})")
    parser.add_argument("--prune-threshold", type=real(0, 1), default=0.0,
                        help="prune a node whose sink and out-edge weights stay below this fraction of the uniform "
                             "weight for --prune-epochs epochs (an approximation; default 0: off)")
    parser.add_argument("--prune-epochs", type=integer(1, 1000), default=2,
                        help="consecutive quiet epochs before a node is pruned (default 2)")
    add_run_arguments(parser, default_stage="search", out_help="run folder of the search (resumed if it has a checkpoint)")
    defaults = {a.dest: a.default for a in parser._actions}
    # a preset's options default to None, "not given", so that a value typed on the command line
    # wins over the preset even when it equals the option's own default
    parser.set_defaults(**{name: None for name in PRESET_OPTIONS})
    parser.set_defaults(handler=run_search_diff, parser_defaults=defaults)


def apply_preset(args: argparse.Namespace) -> argparse.Namespace:
    """Options given on the command line, else the preset's values, else the defaults."""
    preset = dict(PRESETS.get(args.preset or "", {}))
    if smoke.on():  # NAS_SMOKE=1 shrinks the preset's sizes too
        preset.update({k: v for k, v in smoke.SIZES.items() if k in PRESET_OPTIONS})
    for name in PRESET_OPTIONS:
        if getattr(args, name) is None:
            setattr(args, name, preset.get(name, args.parser_defaults.get(name)))
    return args


def run_search_diff(args: argparse.Namespace) -> int:
    """`nas search diff`: apply the preset, then search."""
    return run_diff(apply_preset(args))
