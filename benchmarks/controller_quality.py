"""Regret of the search controllers on toy objectives over the GP-bandit space, with standard errors.

A run is one (controller, objective, batch, seed): the controller asks `batch` cells at a time
(told their observed, possibly noisy, score before the next ask) until it has made the largest
budget of proposals.  Seed s gives both the controller's seed and the toy landscape, so the
controllers meet the same landscapes and differences are paired by seed.  Regret after t
proposals is the exact optimum of the landscape (`nas.objectives.toy.optimum`) minus the best
*noiseless* score (`true_score`) among the first t.  For each objective and batch it prints
the mean regret over seeds with its standard error, the ratio to random search's mean, the
controller's CPU seconds per proposal, and each controller's paired difference from random.

    python benchmarks/controller_quality.py [--seeds 8] [--budgets 30 60 100] [--batches 1 4]
        [--objectives toy toy:interaction=3,noise=2] [--controllers random gp_bandit tpe optuna_gp]
        [--jobs 2] [--space search_spaces/attentionnas_gpb.yaml] [--out FILE]

Controllers and objectives may carry options: ``gp_bandit:kernel=matern``,
``toy:interaction=3,noise=2`` (a toy landscape dominated by interactions, observed with noise;
the seed option is set per run).  Runs are independent and go to `--jobs` processes, each
limited to one BLAS/OpenMP thread.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, astuple, dataclass
from pathlib import Path

import numpy as np
import optuna
import yaml
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nas.controllers import make_controller  # noqa: E402
from nas.errors import UserError  # noqa: E402
from nas.io import atomic_write_text  # noqa: E402
from nas.objectives import TrialContext, make_objective  # noqa: E402
from nas.objectives.toy import optimum  # noqa: E402
from nas.space import load_space  # noqa: E402


def parse_spec(spec: str) -> tuple[str, dict]:
    """"name:a=1,b=x" -> ("name", {"a": 1, "b": "x"}) (values parsed as YAML scalars)."""
    name, _, rest = spec.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        options[key] = yaml.safe_load(value)
    return name, options


@dataclass(frozen=True)
class Run:
    """One independent search: a controller on an objective's landscape `seed`, `batch` cells per ask."""

    controller: str
    objective: str
    batch: int
    seed: int


def one_thread() -> None:
    """Worker initializer: one BLAS/OpenMP thread per run (the environment before torch loads, in load_space)."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"
    threadpool_limits(1)  # numpy's BLAS, already loaded
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def search(run: Run, space_path: str, budgets: list[int]) -> tuple[list[float], float]:
    """Regret after each budget, and the controller's CPU seconds per proposal."""
    space = load_space(space_path)
    name, options = parse_spec(run.controller)
    controller = make_controller(name, space, seed=run.seed, **options)
    objective_name, objective_options = parse_spec(run.objective)
    objective = make_objective(objective_name, {**objective_options, "seed": run.seed})
    scores: list[float] = []
    spent = 0.0
    while len(scores) < max(budgets):
        start = time.process_time()
        proposals = controller.ask(min(run.batch, max(budgets) - len(scores)))
        spent += time.process_time() - start
        for p in proposals:
            observed = objective.evaluate(p.genotype, TrialContext(seed=run.seed, proposal_id=p.id)).score
            start = time.process_time()
            controller.tell(p.id, observed)
            spent += time.process_time() - start
            scores.append(objective.true_score(p.genotype))
    best = optimum(space, run.seed, objective.interaction)
    return [best - max(scores[:t]) for t in budgets], spent / len(scores)


def run_all(runs: list[Run], space_path: str, budgets: list[int], jobs: int) -> dict[Run, tuple[list[float], float]]:
    """Every run's result, computed in `jobs` worker processes."""
    results = {}
    with ProcessPoolExecutor(max_workers=jobs, initializer=one_thread) as pool:
        futures = {pool.submit(search, run, space_path, budgets): run for run in runs}
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            print(f"  {done}/{len(runs)} runs done {time.strftime('%H:%M:%S')}", file=sys.stderr, flush=True)
    return results


def mean_se(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and its standard error over seeds (axis 0); SE is NaN for one seed."""
    se = values.std(axis=0, ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.full(values.shape[1:], np.nan)
    return values.mean(axis=0), se


def ratios_to(mean: np.ndarray, random: np.ndarray | None) -> str:
    """Mean regret over random's mean regret at each budget ("-" without random, "nan" where it is 0)."""
    if random is None:
        return "-"
    return " / ".join(f"{m / rm:.3f}" if rm > 0 else "nan" for m, rm in zip(mean, random.mean(axis=0)))


def _over(mean: float, se: float) -> str:
    return f"{mean / se:+.1f}" if se > 0 else "-"


def markdown(rows: list[list[str]]) -> list[str]:
    """`rows` (the first is the header) as a Markdown table with padded columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    return lines[:1] + ["|" + "|".join("-" * (w + 2) for w in widths) + "|"] + lines[1:]


def table(results: dict, args: argparse.Namespace, objective: str, batch: int) -> list[str]:
    """The regret table and the paired comparison with random for one objective and batch."""
    regret = {c: np.array([results[Run(c, objective, batch, s)][0] for s in range(args.seeds)]) for c in args.controllers}
    cpu = {c: np.mean([results[Run(c, objective, batch, s)][1] for s in range(args.seeds)]) for c in args.controllers}
    random = regret.get("random")
    at = [f"@{t}" for t in args.budgets]
    rows = [["controller", *(f"regret{t} (SE)" for t in at), f"x random {' / '.join(at)}", "CPU s/proposal"]]
    for c, r in regret.items():
        mean, se = mean_se(r)
        rows.append([c, *(f"{m:.4f} ({e:.4f})" for m, e in zip(mean, se)), ratios_to(mean, random), f"{cpu[c]:.3f}"])
    lines = [f"## objective {objective}, batch {batch}", "", *markdown(rows), ""]
    if random is not None and len(regret) > 1:
        rows = [["controller - random", *at]]
        for c, r in regret.items():
            if c != "random":
                mean, se = mean_se(r - random)
                rows.append([c, *(f"{m:+.4f} ({e:.4f}) [{_over(m, e)} SE]" for m, e in zip(mean, se))])
        lines += ["Paired by seed: mean regret difference from random (SE) [number of SEs from 0]", "", *markdown(rows), ""]
    return lines


def report(results: dict, args: argparse.Namespace, space_name: str) -> str:
    """The whole text: a header with the command line, then one table per objective and batch."""
    lines = [
        f"# python {shlex.join(sys.argv)}",
        f"# space {space_name}; {args.seeds} seeds (seed s: the controller's seed and toy landscape s, "
        "so controllers are paired by seed)",
        "# regret@t = exact optimum - best noiseless score (true_score) among the first t proposals; "
        "controllers are told the observed (noisy) score",
        "",
    ]
    for objective in args.objectives:
        for batch in args.batches:
            lines += table(results, args, objective, batch)
    return "\n".join(lines)


def main() -> None:
    """Parse the command line, run every search, print (and optionally write) the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--budgets", type=int, nargs="+", default=[30, 60, 100])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4], help="proposals per ask")
    parser.add_argument("--objectives", nargs="+", default=["toy", "toy:interaction=3,noise=2"])
    parser.add_argument("--controllers", nargs="+", default=["random", "gp_bandit", "tpe", "optuna_gp"])
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--space", default=str(ROOT / "search_spaces" / "attentionnas_gpb.yaml"))
    parser.add_argument("--out", help="also write the report to this file")
    parser.add_argument("--json", help="also write every run's regrets (per seed) to this JSON file")
    args = parser.parse_args()
    args.budgets = sorted(args.budgets)
    if any(parse_spec(o)[0] != "toy" for o in args.objectives):
        parser.error("only toy objectives have an exact optimum to measure regret against")
    try:
        for spec in args.objectives:
            make_objective("toy", parse_spec(spec)[1])  # a bad option fails here, not in a worker
    except UserError as exc:
        parser.error(str(exc))
    seeds = range(args.seeds)
    runs = [Run(c, o, b, s) for o in args.objectives for b in args.batches for c in args.controllers for s in seeds]
    results = run_all(runs, args.space, args.budgets, args.jobs)
    text = report(results, args, load_space(args.space).name)
    print(text)
    if args.out:
        atomic_write_text(args.out, text + "\n")
    if args.json:
        records = [{**asdict(run), "regret": regret, "cpu_per_proposal": cpu, "budgets": args.budgets}
                   for run, (regret, cpu) in sorted(results.items(), key=lambda item: astuple(item[0]))]
        atomic_write_text(args.json, json.dumps({"command": shlex.join(sys.argv), "runs": records}, indent=1) + "\n")


if __name__ == "__main__":
    main()
