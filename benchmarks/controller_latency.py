"""CPU seconds per proposal of the search controllers after N observations, for ask(1) and ask(B).

Each controller is built with ``initial=N``, so its first N proposals are random (cheap) and
are told their toy scores; then `--repeats` asks of one cell (each told before the next) and
one ask of `--batch` cells are timed, fitted to N, N+1, ... observations.  The GP bandit
searches its hyperparameters afresh on one model-based ask in `refit_every` (5) and
warm-starts the others, so the default 5 repeats include one fresh search; the mean and the
slowest single ask are both printed.  Everything is measured side by side in this one run,
one process, BLAS limited to one thread.

    python benchmarks/controller_latency.py [--observations 50 200 1000] [--repeats 5] [--batch 32]
        [--controllers gp_bandit gp_bandit:engine=sklearn optuna_gp] [--skip gp_bandit:engine=sklearn@1000]

``name@N`` in `--skip` leaves that controller out at N observations (the earlier scikit-learn
engine takes about a minute per proposal at 1000).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import optuna
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.controller_quality import parse_spec  # noqa: E402
from nas.controllers import make_controller  # noqa: E402
from nas.objectives import TrialContext, make_objective  # noqa: E402
from nas.space import load_space  # noqa: E402


def timed_asks(spec: str, space, observations: int, repeats: int, batch: int) -> tuple[float, float, float]:
    """(mean CPU s of an ask(1), slowest ask(1), CPU s per proposal of one ask(batch)) after `observations`."""
    name, options = parse_spec(spec)
    toy = make_objective("toy", {"seed": 0})
    controller = make_controller(name, space, seed=0, **{**options, "initial": observations})

    def tell(proposals) -> None:
        for p in proposals:
            controller.tell(p.id, toy.evaluate(p.genotype, TrialContext(0, p.id)).score)

    tell(controller.ask(observations))
    singles = []
    for _ in range(repeats):
        start = time.process_time()
        proposals = controller.ask(1)
        singles.append(time.process_time() - start)
        tell(proposals)
    start = time.process_time()
    proposals = controller.ask(batch)
    per_proposal = (time.process_time() - start) / len(proposals)
    return sum(singles) / len(singles), max(singles), per_proposal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--observations", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--controllers", nargs="+", default=["gp_bandit", "gp_bandit:engine=sklearn", "optuna_gp"])
    parser.add_argument("--skip", nargs="*", default=["gp_bandit:engine=sklearn@1000"])
    parser.add_argument("--space", default=str(ROOT / "search_spaces" / "attentionnas_gpb.yaml"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space(args.space)
    print(f"$ python benchmarks/controller_latency.py {' '.join(sys.argv[1:])}")
    print(f"CPU seconds per proposal over {space.name} (this process's CPU time, BLAS on one thread; "
          f"ask(1): mean and slowest of {args.repeats}; ask({args.batch}): its time / {args.batch})")
    print(f"{'observations':>12} | {'controller':<26} | {'ask(1) mean':>11} {'slowest':>8} | {f'ask({args.batch})':>9}")
    with threadpool_limits(limits=1):
        for n in args.observations:
            for spec in args.controllers:
                if f"{spec}@{n}" in args.skip:
                    continue
                mean, slowest, batched = timed_asks(spec, space, n, args.repeats, args.batch)
                print(f"{n:>12} | {spec:<26} | {mean:>11.3f} {slowest:>8.3f} | {batched:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
