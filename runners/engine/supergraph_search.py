"""The work of `nas search diff`: the differentiable search (AttentionNAS, supplementary B.3).

A supergraph cell goes to every insertion point of the backbone; the network weights and the
architecture weights (connections, gating, sink) train jointly on the training videos of the
search (search_train, carved from train: no validation video is used); then the alpha/beta rule
derives one cell per position.  With ``--prune-threshold`` nodes the weights have given up on
are pruned after each epoch (`nas.supergraph.pruning`; the record's ``pruned`` lists them).  The run folder, like a training run's, has ``run.json``,
``checkpoint.pt``, ``metrics.jsonl`` (each epoch's record carries every position's architecture
weights under ``architecture``) and ``result.json``; it adds ``supergraph.yaml`` and the derived
position-specific model genotype ``best_genotype.json`` with its diagram ``best_cell.png`` (the
names a GP-bandit run uses, so ``nas export RUN`` reads both).  `resume_diff` continues a killed
search from the settings its run.json kept.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nas.errors import UserError
from nas.io import atomic_write_json, atomic_write_text, load_json
from nas.distributed import world_from_env
from nas.supergraph import Pruning, build_supergraph_model, derive_model, load_supergraph, model_weights, supergraph_cells
from nas.train import seeded
from nas.viz import cell_figure, model_graphs, save_figure
from runners.engine.training import open_run_data, run_training, set_threads, train_config


GENOTYPE_FILE = "best_genotype.json"  # the same name as a GP-bandit run's best cell


def architecture_record(model: Any) -> dict[str, Any]:
    """Every position's architecture weights, for the epoch's record; with pruning, first this
    epoch's pruning (every process computes the same from the same weights), and the nodes
    pruned so far under ``pruned``."""
    cells = supergraph_cells(model)
    record: dict[str, Any] = {}
    if any(cell.pruning is not None for cell in cells.values()):
        for cell in cells.values():
            cell.prune()
        record["pruned"] = {p: sorted({n.id for n in cell.graph.nodes} - cell.live()) for p, cell in cells.items()}
    return {"architecture": {position: weights.to_dict() for position, weights in model_weights(model).items()}, **record}


def pruning_option(args: argparse.Namespace) -> Pruning | None:
    """The pruning `--prune-threshold` / `--prune-epochs` ask for (None: off, the default; run
    folders made before the options have neither)."""
    threshold = getattr(args, "prune_threshold", 0.0) or 0.0
    if threshold == 0.0:
        return None
    if threshold >= 1.0:
        raise UserError(f"--prune-threshold must be below 1 (a fraction of the uniform weight), got {threshold:g}")
    if world_from_env().size > 1:
        raise UserError("--prune-threshold works in one process only: pruned nodes get no gradient, which "
                        "DistributedDataParallel refuses")
    return Pruning(threshold, getattr(args, "prune_epochs", 2), keep=args.alpha)


def run_diff(args: argparse.Namespace) -> int:
    """Train the supergraphs, derive the cells, write the run folder (`args`: the options of
    `nas search diff` with its preset applied)."""
    if args.alpha < 1 or args.beta < 1:
        raise UserError(f"--alpha and --beta must be at least 1 (got {args.alpha}, {args.beta})")
    graph = load_supergraph(args.supergraph)
    pruning = pruning_option(args)
    config = train_config(args)
    set_threads(args)
    data = open_run_data(args)
    with seeded(args.seed):
        model = build_supergraph_model(args.backbone, graph, num_classes=len(data.classes), width=args.width,
                                       pruning=pruning)
    graph_text = Path(args.supergraph).read_text(encoding="utf-8")
    info = {"kind": "supergraph", "supergraph": {"name": graph.name, "file": args.supergraph, "yaml": graph_text},
            "alpha": args.alpha, "beta": args.beta, "pruning": None if pruning is None else asdict(pruning)}
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
    from nas.space import load_model_genotype

    target = Path(path) / GENOTYPE_FILE
    if not target.is_file():
        raise UserError(f"{path} has not derived its cells yet (continue it with: nas search resume {path})")
    return load_model_genotype(str(target)).to_json() + "\n"


def resume_diff(path: str) -> int:
    """Continue a supergraph search from its run folder with the settings it was started with."""

    record = Path(path) / "run.json"
    settings = load_json(record, "run record").get("settings")
    if not isinstance(settings, dict) or not all(isinstance(k, str) and k.isidentifier() for k in settings):
        raise UserError(f"{record}: settings: expected the mapping of options the search was started with")
    if "workers" in settings:  # run folders made before --workers became --loader-workers
        settings["loader_workers"] = settings.pop("workers")
    args = argparse.Namespace(**{**settings, "out": path, "preset": None})
    return run_diff(args)
