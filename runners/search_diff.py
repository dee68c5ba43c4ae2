"""`nas search diff`: the differentiable search (AttentionNAS, supplementary B.3).

A supergraph cell goes to every insertion point of the backbone; the network weights and the
architecture weights (connections, gating, sink) train jointly on the training videos of the
search (search_train, carved from train: no validation video is used); then the alpha/beta rule
derives one cell per position.  The run folder, like a training run's, has ``run.json``,
``checkpoint.pt``, ``metrics.jsonl`` (each epoch's record carries every position's architecture
weights under ``architecture``) and ``result.json``; it adds ``supergraph.json`` and the derived
position-specific model genotype ``best_genotype.json`` with its diagram ``best_cell.png`` (the names a GP-bandit run uses, so
``nas export RUN`` reads both).  Running the same command again, or ``nas search resume RUN``,
resumes a killed search.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nas.backbones import BACKBONES
from nas.io import atomic_write_json, atomic_write_text
from nas.supergraph import build_supergraph_model, derive_model, load_supergraph, model_weights
from nas.train import TrainConfig, seeded
from nas.viz import cell_figure, model_graphs, save_figure
from runners import smoke
from runners.arg_types import integer, real
from runners.cmd_train import add_run_arguments, open_run_data, run_training, set_threads, train_config

GENOTYPE_FILE = "best_genotype.json"  # the same name as a GP-bandit run's best cell

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
    add_run_arguments(parser, default_stage="search")
    defaults = {a.dest: a.default for a in parser._actions}
    # a preset's options default to None, "not given", so that a value typed on the command line
    # wins over the preset even when it equals the option's own default
    parser.set_defaults(**{name: None for name in PRESET_OPTIONS})
    parser.set_defaults(handler=run_diff, parser_defaults=defaults)


def apply_preset(args: argparse.Namespace) -> argparse.Namespace:
    """Options given on the command line, else the preset's values, else the defaults."""
    preset = dict(PRESETS.get(args.preset or "", {}))
    if smoke.on():  # NAS_SMOKE=1 shrinks the preset's sizes too
        preset.update({k: v for k, v in smoke.SIZES.items() if k in PRESET_OPTIONS})
    for name in PRESET_OPTIONS:
        if getattr(args, name) is None:
            setattr(args, name, preset.get(name, args.parser_defaults.get(name)))
    return args


def architecture_record(model: Any) -> dict[str, Any]:
    """Every position's architecture weights, for the epoch's record."""
    return {"architecture": {position: weights.to_dict() for position, weights in model_weights(model).items()}}


def run_diff(args: argparse.Namespace) -> int:
    """Train the supergraphs, derive the cells, write the run folder."""
    from nas.errors import UserError

    args = apply_preset(args)
    if args.alpha < 1 or args.beta < 1:
        raise UserError(f"--alpha and --beta must be at least 1 (got {args.alpha}, {args.beta})")
    graph = load_supergraph(args.supergraph)
    config = train_config(args)
    set_threads(args)
    data = open_run_data(args)
    with seeded(args.seed):
        model = build_supergraph_model(args.backbone, graph, num_classes=len(data.classes), width=args.width)
    graph_text = Path(args.supergraph).read_text(encoding="utf-8")
    info = {"kind": "supergraph", "supergraph": {"name": graph.name, "file": args.supergraph, "yaml": graph_text},
            "alpha": args.alpha, "beta": args.beta}
    _, summary = run_training(args, config, model, data, record_extra=architecture_record, run_info=info)
    if summary is None:  # not the main process
        return 0
    derived = derive_model(model, args.alpha, args.beta)
    derived = type(derived)(derived.cells, {**derived.meta, "supergraph": graph.name, "run": str(args.out)})
    out = Path(args.out)
    atomic_write_text(out / "supergraph.yaml", graph_text)
    atomic_write_json(out / GENOTYPE_FILE, derived.to_dict())
    save_figure(cell_figure(model_graphs(derived.cells), f"cells derived from {graph.name}"), out / "best_cell.png")
    for position, cell in derived.cells.items():
        ops = ", ".join(f"{op.id}:{op.choices.get('dimension', op.kind)}{'+gate' if op.gating else ''}" for op in cell.ops)
        print(f"cell at {position}: {len(cell.ops)} ops ({ops}); sink takes {list(cell.combine.outputs)}")
    print(f"wrote {out / GENOTYPE_FILE}")
    return 0


def is_diff_run(path: str) -> bool:
    """Whether `path` is the run folder of a supergraph search (a run.json of kind "supergraph")."""
    from nas.errors import UserError
    from nas.io import load_json

    record = Path(path) / "run.json"
    if not record.is_file():
        return False
    try:
        info = load_json(record, "run record")
    except UserError:
        return False
    return isinstance(info, dict) and info.get("kind") == "supergraph"


def export_diff(path: str) -> str:
    """The derived model genotype of a finished supergraph search, as JSON text."""
    from nas.errors import UserError
    from nas.space import load_model_genotype

    target = Path(path) / GENOTYPE_FILE
    if not target.is_file():
        raise UserError(f"{path} has not derived its cells yet (continue it with: nas search resume {path})")
    return load_model_genotype(str(target)).to_json() + "\n"


def resume_diff(path: str) -> int:
    """Continue a supergraph search from its run folder with the settings it was started with."""
    from nas.errors import UserError
    from nas.io import load_json

    record = Path(path) / "run.json"
    settings = load_json(record, "run record").get("settings")
    if not isinstance(settings, dict) or not all(isinstance(k, str) and k.isidentifier() for k in settings):
        raise UserError(f"{record}: settings: expected the mapping of options the search was started with")
    if "workers" in settings:  # run folders made before --workers became --loader-workers
        settings["loader_workers"] = settings.pop("workers")
    args = argparse.Namespace(**{**settings, "out": path, "preset": None})
    return run_diff(args)
