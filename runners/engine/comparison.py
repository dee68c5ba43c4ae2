"""The work of `nas compare`: plan the models, count their FLOPs, train every (model, seed) run.

Every training is an ordinary training run folder, ``OUT/runs/<model>/seed<S>``, made by the
one code path of `runners.engine.training.run_training`; a finished run (it has
``result.json``) is read instead of trained again, an interrupted one resumes from its
checkpoint.  ``OUT/compare.json`` keeps the recipe and the cells, so that a rerun with another
recipe, or another cell under a label already used, is refused rather than mixed into the same
table.  `runners.engine.compare_report` turns the runs into the table, the JSON and the figure.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas import __version__
from nas.backbones import BACKBONES
from nas.distributed import world_from_env
from nas.errors import UserError
from nas.flops import count_flops
from nas.io import atomic_write_json, atomic_write_text, load_json
from nas.space import load_model_genotype
from nas.viz import save_figure
from runners.engine import compare_report
from runners.engine.flops_table import BACKBONES as PAPER_BACKBONES
from runners.engine.flops_table import count as paper_count
from runners.engine.machine import git_commit, machine
from runners.engine.training import build, open_run_data, run_training, set_threads, train_config


PAPER_NAMES = tuple(name for _, name in PAPER_BACKBONES)


NOT_RECIPE = {"handler", "command_actions", "cells", "seeds", "seed", "out", "paper_backbone", "threads", "progress",
              "loader_workers", "jobs", "video_backend"}
"""Options that do not change what a run computes (or differ per model or seed): not part of the recipe check."""


LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclass(frozen=True)
class ModelPlan:
    """One model to train: its run folder name, its table name and its blocks."""

    key: str
    name: str
    cells: str | None = None
    nonlocal_blocks: bool = False


def plan_models(args: argparse.Namespace) -> list[ModelPlan]:
    """The backbone, the backbone with non-local blocks, then each --cells in the given order."""
    models = [ModelPlan("backbone", args.backbone),
              ModelPlan("nonlocal", f"{args.backbone} + NL", nonlocal_blocks=True)]
    labels: set[str] = set()
    for given in args.cells:
        label, sep, path = given.partition("=")
        if not sep:
            label, path = Path(given).stem, given
        if not LABEL.match(label):
            raise UserError(f"--cells {given}: a label is letters, digits and _ . + - (got {label!r})")
        if label in labels:
            raise UserError(f"--cells {given}: label {label!r} is given twice; name them LABEL=G.json")
        labels.add(label)
        models.append(ModelPlan(f"cell-{label}", f"{args.backbone} + {label}", cells=path))
    return models


def run_args(args: argparse.Namespace, model: ModelPlan, seed: int, out: Path) -> argparse.Namespace:
    """The options of one training, as `nas train` would take them."""
    options = {k: v for k, v in vars(args).items() if k not in ("command_actions", "cells", "seeds", "paper_backbone")}
    return argparse.Namespace(**{**options, "out": str(out / "runs" / model.key / f"seed{seed}"), "seed": seed,
                                 "cells": model.cells, "nonlocal_blocks": model.nonlocal_blocks})


def proxy_input(args: argparse.Namespace) -> tuple[int, int, int, int, int]:
    """(N, C, T, H, W) of one clip as the runs see it, for the proxy FLOPs."""
    if args.data == "synthetic":
        return (1, 3, args.frames, args.size, args.size)
    side = args.crop or args.short_side
    if side is None:
        raise UserError("nas compare on video folders needs --crop (or --short-side) to count FLOPs at the clip size")
    return (1, 3, args.frames, side, side)


def paper_report(model: ModelPlan, paper: str | None) -> tuple[Any, str | None]:
    """FLOPs of the model's blocks in the paper backbone, or None and why not."""
    if paper is None:
        return None, None
    if model.cells is None:
        return paper_count(paper, nonlocal_blocks=model.nonlocal_blocks), None
    cells = load_model_genotype(model.cells)
    positions = BACKBONES.get(paper)(num_classes=2).insertion_points
    if "*" in cells.cells or set(cells.cells) <= set(positions):
        return paper_count(paper, cells=cells), None
    named = ", ".join(sorted(cells.cells))
    return None, f"its cells sit at positions {named}, which {paper} does not have (it has {', '.join(positions)})"


def check_settings(out: Path, recipe: dict[str, Any], cells: dict[str, Any]) -> None:
    """Refuse to add runs of another recipe or other cells to an existing comparison folder."""
    path = out / "compare.json"
    if not path.exists():
        return
    kept = load_json(path, "comparison settings")
    if not isinstance(kept, dict) or not isinstance(kept.get("recipe"), dict) or not isinstance(kept.get("cells"), dict):
        raise UserError(f"{path}: not the settings of a comparison (expected keys recipe and cells)")
    changed = sorted(k for k in set(recipe) | set(kept["recipe"]) if recipe.get(k) != kept["recipe"].get(k))
    if changed:
        raise UserError(f"{out} holds runs of another recipe ({', '.join(changed)} differ); use another --out")
    for key, genotype in cells.items():
        if key in kept["cells"] and kept["cells"][key] != genotype:
            raise UserError(f"{out} holds runs of another cell under {key!r}; use another label or --out")


def _kept_cells(out: Path) -> dict[str, Any]:
    """The cells compare.json already holds (from earlier runs of the command on this folder)."""
    path = out / "compare.json"
    return load_json(path, "comparison settings").get("cells", {}) if path.exists() else {}


def train_once(args: argparse.Namespace, model: ModelPlan, seed: int, out: Path, data: dict) -> dict[str, Any]:
    """Train one model with one seed (or read the finished run); return its summary for the table."""
    options = run_args(args, model, seed, out)
    run = Path(options.out)
    if (run / "result.json").exists():
        print(f"== {model.name}, seed {seed}: finished, skipped ({run})", flush=True)
        summary = load_json(run / "result.json", "run result")
    else:
        print(f"== {model.name}, seed {seed} ({run})", flush=True)
        key = data_key(args, seed)
        if key not in data:
            data[key] = open_run_data(options)
        splits = data[key]
        info = {"kind": "compare", "model": model.name, "compare": str(out)}
        network = build(options, len(splits.classes))
        _, summary = run_training(options, train_config(options), network, splits, run_info=info, test_curve=True)
        if summary is None:  # another process of a distributed run: the first one reports
            return {}
    if summary.get("test") is None:
        raise UserError(f"{run}: the run has no test-split result; nas compare needs a test split")
    test = {k: summary["test"][k] for k in ("top1", "top5", "loss", "count")}
    test["mean_top1"] = summary.get("test_curve", {}).get("mean_top1")  # None for runs made before test curves
    return {"seed": seed, "run": str(run), "test": test, "val_top1": summary["val"]["final_top1"],
            "test_pair_accuracy": summary["test"].get("pair_accuracy")}


def train_all(args: argparse.Namespace, models: list[ModelPlan], seeds: list[int], out: Path,
              data: dict) -> list[list[dict[str, Any]]]:
    """Every model's run summaries in seed order: one training after another, or --jobs at once."""
    if args.jobs == 1:
        return [[train_once(args, model, seed, out, data) for seed in seeds] for model in models]
    portable = argparse.Namespace(**{k: v for k, v in vars(args).items() if k not in ("handler", "command_actions")})
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch thread pools
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
        futures = [[pool.submit(_train_logged, portable, model, seed, out) for seed in seeds] for model in models]
        for model, per_seed in zip(models, futures):
            for seed, future in zip(seeds, per_seed):
                future.add_done_callback(lambda f, m=model, s=seed: print(_finished_line(m, s, f), flush=True))
        return [[future.result() for future in per_seed] for per_seed in futures]


def _train_logged(args: argparse.Namespace, model: ModelPlan, seed: int, out: Path) -> dict[str, Any]:
    """`train_once` in a worker process of --jobs, its output into the run folder's log.txt."""
    set_threads(args)
    run = out / "runs" / model.key / f"seed{seed}"
    run.mkdir(parents=True, exist_ok=True)
    with open(run / "log.txt", "a", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        return train_once(args, model, seed, out, {})


def _finished_line(model: ModelPlan, seed: int, future: Any) -> str:
    """What the parent prints when a parallel training ends."""
    if future.exception() is not None:
        return f"== {model.name}, seed {seed}: failed ({future.exception()})"
    test = future.result()["test"]
    return f"== {model.name}, seed {seed}: test top-1 {100 * test['top1']:.1f}%"


def data_key(args: argparse.Namespace, seed: int) -> int | None:
    """Which runs can share opened data: all for synthetic data; per seed for video folders (clip sampling)."""
    return None if args.data == "synthetic" else seed


def report_context(args: argparse.Namespace, command: str, seeds: list[int], paper: str | None, shape: tuple,
                   data: Any) -> dict:
    """What the table and the JSON say about how the numbers were made (`data`: the opened splits)."""
    if args.data == "synthetic":
        described = (f"synthetic {args.task} videos ({args.num_videos} of {args.frames} frames of {args.size}x{args.size}, "
                     f"data seed {args.data_seed})")
    else:
        described = f"video folder {args.data} ({args.frames}-frame clips)"
    optimizer = {"adamw": "AdamW", "sgd": "SGD"}[args.optimizer]
    recipe = (f"epochs {args.epochs}, batch {args.batch_size}, {optimizer} lr {args.lr} (cosine, {args.warmup_epochs} "
              f"warm-up epochs), weight decay {args.weight_decay}, label smoothing {args.label_smoothing}, "
              f"width {args.width}")
    return {
        "command": command, "version": __version__, "git_commit": git_commit(), "machine": machine(),
        "backbone": args.backbone,
        "data": args.data, "data_description": described, "recipe_description": recipe, "seeds": seeds,
        "proxy_input": list(shape), "paper_backbone": paper, "paper_input": list(compare_report.PAPER_INPUT),
        "num_classes": len(data.classes), "pairs": len(data.pairs),
        "match_pairs": len(data.match_pairs),
        "task": args.task if args.data == "synthetic" else None,
        "test_videos": len(data.test) if data.test is not None else 0,
    }


def run_comparison(args: argparse.Namespace, command: str) -> int:
    """Plan, count, train what is missing, then write the table, the figure and the JSON (`command`:
    the command line the page names)."""
    if args.stage != "train":
        raise UserError("nas compare reports accuracy on the test split: --stage must be train")
    if args.jobs > 1 and world_from_env().distributed:
        raise UserError("--jobs runs trainings side by side in one process each; under torchrun give --jobs 1")
    set_threads(args)
    out, seeds = Path(args.out), [args.seed + i for i in range(args.seeds)]
    models = plan_models(args)
    paper = args.paper_backbone or (args.backbone if args.backbone in PAPER_NAMES else None)
    first = data_key(args, args.seed)
    data = {first: open_run_data(run_args(args, models[0], args.seed, out))}
    num_classes, shape = len(data[first].classes), proxy_input(args)
    results = []
    for model in models:  # build and count every model first: a bad cell fails before any training
        proxy = count_flops(build(run_args(args, model, args.seed, out), num_classes), shape)
        paper_flops, note = paper_report(model, paper)
        results.append(compare_report.ModelResult(model.key, model.name, model.cells, proxy, paper_flops, note))
    cells = {m.key: load_model_genotype(m.cells).to_dict() for m in models if m.cells}
    recipe = {k: v for k, v in vars(args).items() if k not in NOT_RECIPE}
    check_settings(out, recipe, cells)
    main_process = world_from_env().is_main
    if main_process:
        atomic_write_json(out / "compare.json", {"recipe": recipe, "cells": {**_kept_cells(out), **cells}})
    for result, runs in zip(results, train_all(args, models, seeds, out, data)):
        result.runs.extend(runs)
    if not main_process:  # under torchrun every process trains its share; the first one reports
        return 0
    context = report_context(args, command, seeds, paper, shape, data[first])
    atomic_write_json(out / "comparison.json", compare_report.report_json(results, context))
    atomic_write_text(out / "comparison.md", compare_report.markdown_table(results, context))
    save_figure(compare_report.figure(results, context), out / "comparison.png")
    print(f"wrote {out / 'comparison.md'}, {out / 'comparison.png'} and {out / 'comparison.json'}")
    return 0
