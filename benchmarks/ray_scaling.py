"""Trials per minute of `nas search gpb` on Ray with 1 and 2 workers, measured in one run.

Each search runs the toy objective with a fixed sleep per trial (standing in for training)
and the random controller (so the rate measures the Ray machinery, not the GP), as a separate
`nas` process with Ray started inside it.  Two rates are printed per worker count: the steady
rate (trials finished after the first round of W, per minute between the end of that round
and the last finish, from the store: Ray's and the workers' start-up excluded) and the rate over the whole command
(start-up and shutdown included), and the steady speed-up over the first worker count.

    python benchmarks/ray_scaling.py [--trials 12] [--sleep 2.0] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nas.store import TrialStore  # noqa: E402


def search(workers: int, trials: int, sleep: float, out: Path) -> tuple[float, float]:
    """(steady trials per minute, trials per minute over the whole command)."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "runners.cli", "search", "gpb", "--space",
               str(ROOT / "search_spaces" / "attentionnas_gpb.yaml"), "--out", str(out), "--controller", "random",
               "--trials", str(trials), "--workers", str(workers), "--objective", "toy", "--objective-option", f"sleep={sleep}"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    total = time.perf_counter() - start
    with TrialStore.open(out / "trials.db") as store:
        records = store.trials(("complete",))
    finishes = sorted(r.finished for r in records)
    # trials finished after the first `workers` ones, over the time since the first round ended
    steady = 60 * (len(finishes) - workers) / (finishes[-1] - finishes[workers - 1])
    return steady, 60 * len(records) / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--sleep", type=float, default=2.0, help="seconds each toy trial takes")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            rates[workers] = search(workers, args.trials, args.sleep, Path(tmp) / f"w{workers}")
    print(f"{args.trials} toy trials of {args.sleep} s each, random controller, Ray inside the process")
    print(f"{'workers':>7} | {'trials/min (steady)':>19} | {'trials/min (command)':>20} | steady speed-up over {args.workers[0]}")
    for workers, (inner, outer) in rates.items():
        base = rates[args.workers[0]][0]
        print(f"{workers:>7} | {inner:>19.1f} | {outer:>20.1f} | {inner / base:.2f}")


if __name__ == "__main__":
    main()
