"""How much of a trial's score the cell explains: the signal of a search objective.

For each recipe (the `train` objective with some options), trains N cells sampled from a
space, the backbone alone, the backbone with non-local blocks and the frame-order-blind
control (tiny2d), each with S training seeds, and prints per model mean ± standard deviation,
then per recipe:

- ICC(1) of single-trial scores over the N cells (one-way random effects: the share of a
  single trial's variance that lies between cells rather than between training seeds);
- Kendall's tau between the cells' scores under training seed 0 and under seed 1;
- the median |change| of a cell's seed-0 score when every initial weight w becomes
  w * (1 + 1e-6 * e), e ~ N(0, 1) (a stand-in for another machine's rounding);
- the best cell's mean minus the backbone's, with the standard error of that difference;
- the control's accuracy within time-reversed pairs (its chance bound is 0.5);
- CPU seconds per trial (process time of one trial on one thread, data generation included).

    python benchmarks/objective_signal.py [--cells 12] [--seeds 3] [--jobs 2] [--out FILE]
        [--recipe NAME:opt=value,opt=value ...]

Without --recipe it measures `motion` (the proxy before the relational task: the motion task,
8 frames, 1200 videos, 3 epochs of SGD at 0.1, scored by the final top-1) and `default` (the
`train` objective's defaults: the relational task and the recipe results/signal.md chose).
--out writes the tables as Markdown too.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

MOTION_RECIPE = ("motion:task=motion,frames=8,num_videos=1200,epochs=3,lr=0.1,optimizer=sgd,"
                 "weight_decay=0.0001,score=final")
DEFAULT_RECIPES = (MOTION_RECIPE, "default:")
BASELINES = ("backbone", "non-local", "order-blind")
PERTURBATION = 1e-6


@dataclass(frozen=True)
class Job:
    """One trial: a recipe, a model (a sampled cell's index or a baseline name), a seed."""

    recipe: str
    options: tuple[tuple[str, object], ...]
    model: str  # "cell3", "backbone", "non-local" or "order-blind"
    seed: int
    perturbed: bool = False


def parse_recipe(text: str) -> tuple[str, dict[str, object]]:
    """``NAME:opt=value,opt=value`` -> (NAME, options) with numbers parsed."""
    name, _, rest = text.partition(":")
    options: dict[str, object] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        options[key] = _number(value)
    return name, options


def _number(value: str) -> object:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def run_job(job: Job, space_path: str) -> tuple[Job, float, float | None, float]:
    """Train one model; (job, search-val top-1, pair accuracy, CPU seconds)."""
    import torch

    from nas.objectives import make_objective
    from nas.space import load_space

    torch.set_num_threads(1)
    started = time.process_time()
    options = dict(job.options)
    if job.model == "order-blind":
        options["backbone"] = "tiny2d"
    objective = make_objective("train", options)
    data = objective._data()
    genotype = None
    if job.model.startswith("cell"):
        genotype = load_space(space_path).sample(int(job.model[4:]))
    model = objective._model(genotype, len(data.classes), job.seed, nonlocal_blocks=job.model == "non-local")
    if job.perturbed:
        generator = torch.Generator().manual_seed(10_000 + job.seed)
        with torch.no_grad():
            for parameter in model.parameters():
                noise = torch.randn(parameter.shape, generator=generator)
                parameter.mul_(1 + PERTURBATION * noise)
    score, metrics = objective.fit(model, data, job.seed)
    return job, score, metrics.get("val_pair_accuracy"), time.process_time() - started


def icc1(scores: np.ndarray) -> float:
    """ICC(1) of a (models, seeds) table: (MSB - MSW) / (MSB + (k - 1) MSW)."""
    n, k = scores.shape
    means = scores.mean(axis=1)
    msb = k * ((means - scores.mean()) ** 2).sum() / (n - 1)
    msw = ((scores - means[:, None]) ** 2).sum() / (n * (k - 1))
    return float((msb - msw) / (msb + (k - 1) * msw)) if msb + (k - 1) * msw > 0 else float("nan")


def summarize(name: str, results: dict, cells: int, seeds: int) -> tuple[list[str], list[str]]:
    """(per-model lines, the recipe's summary row) as Markdown."""
    from scipy.stats import kendalltau

    from nas.stats import standard_error

    table = {model: [results[(model, s, False)][0] for s in range(seeds)] for model in _models(cells)}
    cell_scores = np.array([table[f"cell{i}"] for i in range(cells)])  # (cells, seeds)
    lines = [f"| {name} | {model} | {np.mean(v):.3f} ± {np.std(v, ddof=1):.3f} | "
             + " ".join(f"{x:.3f}" for x in v) + " |" for model, v in table.items()]
    tau = kendalltau(cell_scores[:, 0], cell_scores[:, 1]).statistic
    changes = [abs(results[(f"cell{i}", 0, True)][0] - results[(f"cell{i}", 0, False)][0]) for i in range(cells)]
    best = int(np.argmax(cell_scores.mean(axis=1)))
    backbone = np.array(table["backbone"])
    diff = cell_scores[best].mean() - backbone.mean()
    se = math.hypot(standard_error(list(cell_scores[best])) or 0.0, standard_error(list(backbone)) or 0.0)
    pair = [results[("order-blind", s, False)][1] for s in range(seeds)]
    pair_text = f"{np.mean(pair):.3f}" if all(p is not None for p in pair) else "n/a"
    seconds = statistics.median(r[2] for r in results.values())
    row = (f"| {name} | {icc1(cell_scores):.2f} | {tau:.2f} | {statistics.median(changes):.3f} | "
           f"cell{best} {diff * 100:+.1f} ± {se * 100:.1f} | {pair_text} | {seconds:.1f} |")
    return lines, [row]


def _models(cells: int) -> list[str]:
    return [f"cell{i}" for i in range(cells)] + list(BASELINES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", action="append", help="NAME:opt=value,... (repeatable)")
    parser.add_argument("--space", default="search_spaces/attentionnas_gpb.yaml")
    parser.add_argument("--cells", type=int, default=12, help="cells sampled from the space (seeds 0..N-1)")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per model")
    parser.add_argument("--jobs", type=int, default=2, help="trials run side by side, one thread each")
    parser.add_argument("--out", help="also write the tables as Markdown to this file")
    args = parser.parse_args()
    if args.cells < 3 or args.seeds < 2:
        parser.error("need at least 3 cells and 2 seeds")
    recipes = [parse_recipe(text) for text in (args.recipe or DEFAULT_RECIPES)]
    jobs = [Job(name, tuple(sorted(options.items())), model, seed)
            for name, options in recipes for model in _models(args.cells) for seed in range(args.seeds)]
    jobs += [Job(name, tuple(sorted(options.items())), f"cell{i}", 0, True)
             for name, options in recipes for i in range(args.cells)]
    results: dict[str, dict] = {name: {} for name, _ in recipes}
    started = time.time()
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_job, job, args.space) for job in jobs]
        for done, future in enumerate(futures, 1):
            job, score, pair, seconds = future.result()
            results[job.recipe][(job.model, job.seed, job.perturbed)] = (score, pair, seconds)
            print(f"[{done}/{len(jobs)}] {job.recipe} {job.model} seed {job.seed}"
                  f"{' perturbed' if job.perturbed else ''}: {score:.4f} ({seconds:.1f} CPU s)",
                  file=sys.stderr, flush=True)
    model_lines, summary_rows = [], []
    for name, options in recipes:
        lines, row = summarize(name, results[name], args.cells, args.seeds)
        model_lines += lines
        summary_rows += row
    recipes_text = [f"- `{name}`: train objective defaults" + (f" with {options}" if options else "")
                    for name, options in recipes]
    text = "\n".join([
        f"{args.cells} cells sampled from {args.space} (sample seeds 0..{args.cells - 1}), {args.seeds} training "
        f"seeds each; {args.jobs} trials side by side, one thread each; {time.time() - started:.0f} s wall.",
        "", *recipes_text, "",
        "| recipe | ICC(1) | Kendall tau (seed 0 vs 1) | median change at 1e-6 | best cell - backbone (points ± SE) "
        "| order-blind pair accuracy (chance 0.5) | CPU s / trial |",
        "|---|---|---|---|---|---|---|", *summary_rows, "",
        "| recipe | model | search-val top-1 mean ± sd | per seed |", "|---|---|---|---|", *model_lines,
    ])
    print(text)
    if args.out:
        from nas.io import atomic_write_text

        atomic_write_text(args.out, text + "\n")


if __name__ == "__main__":
    main()
