"""Regret of the search controllers on the structured toy objective over the GP-bandit space.

For each seed s (a different toy landscape and controller seed), each controller proposes
cells one at a time and is told their toy score; regret after t trials is the exact optimum
of the landscape (`nas.objectives.toy.optimum`) minus the best score among the first t.
Prints the mean regret over seeds after each budget, its standard error, and its ratio to
random search's, all measured in this one run.

    python benchmarks/controller_quality.py [--seeds 5] [--budgets 30 60] [--batch 1]
        [--controllers random gp_bandit tpe optuna_gp optuna_gp:flat=true]
        [--space search_spaces/attentionnas_gpb.yaml]

A controller may carry options: ``gp_bandit:kernel=matern``.  ``optuna_gp:flat=true`` lets
Optuna's GP see every variable (it models no conditional one otherwise); it is slow (about
10 s per proposal here), so the default run takes about an hour on two cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nas.controllers import make_controller  # noqa: E402
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


def run(spec: str, space, seed: int, trials: int, batch: int) -> tuple[list[float], float]:
    """True scores of the proposals in order, and the CPU seconds the controller spent."""
    name, options = parse_spec(spec)
    controller = make_controller(name, space, seed=seed, **options)
    objective = make_objective("toy", {"seed": seed})
    scores: list[float] = []
    spent = 0.0
    while len(scores) < trials:
        start = time.process_time()
        proposals = controller.ask(min(batch, trials - len(scores)))
        spent += time.process_time() - start
        for p in proposals:
            result = objective.evaluate(p.genotype, TrialContext(seed=seed, proposal_id=p.id))
            start = time.process_time()
            controller.tell(p.id, result.score)
            spent += time.process_time() - start
            scores.append(objective.true_score(p.genotype))
    return scores, spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budgets", type=int, nargs="+", default=[30, 60])
    parser.add_argument("--batch", type=int, default=1, help="proposals per ask (pending ones count)")
    parser.add_argument("--controllers", nargs="+",
                        default=["random", "gp_bandit", "tpe", "optuna_gp", "optuna_gp:flat=true"])
    parser.add_argument("--space", default=str(ROOT / "search_spaces" / "attentionnas_gpb.yaml"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space(args.space)
    trials = max(args.budgets)
    regrets: dict[str, np.ndarray] = {}
    times: dict[str, float] = {}
    for spec in args.controllers:
        rows, total = [], 0.0
        for seed in range(args.seeds):
            best = optimum(space, seed)
            scores, spent = run(spec, space, seed, trials, args.batch)
            rows.append([best - max(scores[:t]) for t in args.budgets])
            total += spent
        regrets[spec] = np.array(rows)  # (seeds, budgets)
        times[spec] = total / (args.seeds * trials)
        print(f"  done {spec}: {time.strftime('%H:%M:%S')}", file=sys.stderr, flush=True)
    reference = regrets.get("random")
    print(f"toy objective over {space.name}, {args.seeds} seeds, batch {args.batch}; regret = optimum - best score so far")
    head = "".join(f" | regret@{t:<3} (sem)  x random" for t in args.budgets)
    print(f"{'controller':<34}{head} | cpu s/trial")
    for spec, r in regrets.items():
        cells = []
        for j in range(len(args.budgets)):
            mean, sem = r[:, j].mean(), r[:, j].std(ddof=1) / np.sqrt(len(r)) if len(r) > 1 else 0.0
            ratio = mean / reference[:, j].mean() if reference is not None and reference[:, j].mean() > 0 else float("nan")
            cells.append(f" | {mean:.4f} ({sem:.4f})  {ratio:6.3f}")
        print(f"{spec:<34}{''.join(cells)} | {times[spec]:.3f}")


if __name__ == "__main__":
    main()
