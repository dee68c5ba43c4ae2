"""Time per proposal of the GP bandit next to Optuna's GP sampler, at 50 and 200 observations.

Each controller is built with ``initial=N`` so its first N proposals are random (cheap) and
told their toy scores; the next `--repeats` proposals are then model-based, fitted to N, N+1,
... observations.  Prints the mean process CPU time and wall time per model-based proposal of
each, and their ratio, measured side by side in this one run.

    python benchmarks/controller_latency.py [--observations 50 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import optuna

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nas.controllers import make_controller  # noqa: E402
from nas.objectives import TrialContext, make_objective  # noqa: E402
from nas.space import load_space  # noqa: E402


def time_per_proposal(name: str, space, observations: int, repeats: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per model-based proposal after `observations` random ones."""
    toy = make_objective("toy", {"seed": 0})
    controller = make_controller(name, space, seed=0, initial=observations)
    for _ in range(observations):
        [p] = controller.ask(1)
        controller.tell(p.id, toy.evaluate(p.genotype, TrialContext(0, p.id)).score)
    cpu = wall = 0.0
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        [p] = controller.ask(1)
        cpu, wall = cpu + time.process_time() - c0, wall + time.perf_counter() - w0
        controller.tell(p.id, toy.evaluate(p.genotype, TrialContext(0, p.id)).score)
    return cpu / repeats, wall / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--observations", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--space", default=str(ROOT / "search_spaces" / "attentionnas_gpb.yaml"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space(args.space)
    print(f"seconds per proposal over {space.name} (mean of {args.repeats}; CPU = this process's CPU time)")
    print(f"{'observations':>12} | {'gp_bandit cpu':>13} {'wall':>7} | {'optuna_gp cpu':>13} {'wall':>7} | cpu ratio gp_bandit/optuna_gp")
    for n in args.observations:
        ours = time_per_proposal("gp_bandit", space, n, args.repeats)
        theirs = time_per_proposal("optuna_gp", space, n, args.repeats)
        print(f"{n:>12} | {ours[0]:>13.3f} {ours[1]:>7.3f} | {theirs[0]:>13.3f} {theirs[1]:>7.3f} | {ours[0] / theirs[0]:.2f}",
              flush=True)


if __name__ == "__main__":
    main()
