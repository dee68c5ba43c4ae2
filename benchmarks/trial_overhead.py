"""Where a search trial's time goes, and how much of a quick search is overhead, in one run.

Phases: in a fresh Python process (a search worker's first moments), time importing torch and
the library, then two trials of the default `train` objective with the same cell, each split
into opening the data (`nas.data.sources.shared_data`: made once per process), building the
model, training (the epochs' training time) and the rest of the fit ("setup+eval": making the
optimizer, whose first construction in a process imports torch._dynamo, and evaluating).  The first
trial is what a new worker pays; the second what every later trial of that worker pays.

Overhead: the README's quick start, ``nas search gpb --space search_spaces/attentionnas_gpb.yaml
--preset quick`` (12 trials, 2 at a time on the embedded Ray) in a
fresh process.  Its wall time is set against the trials' own work, ``trial_seconds`` of every
trial (the time `evaluate_trial` took in the worker):
overhead share = 1 - sum(trial_seconds) / (workers x wall).  The time before the first trial
started (Ray and the search starting) and after the last one finished (shutdown) are shown.

    python benchmarks/trial_overhead.py [--trials 12] [--no-search] [--epochs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELL = ROOT / "results" / "synthetic" / "temporal_dot_product.json"
SPACE = "search_spaces/attentionnas_gpb.yaml"  # the README's quick start
PHASES = ("data", "model", "train", "setup+eval")


def phases(epochs: int | None) -> dict:
    """Seconds of importing and of each phase of two trials, in this (fresh) process."""
    start = time.perf_counter()
    import torch  # noqa: F401  (what a worker imports before its first trial)

    from nas.objectives import make_objective
    from nas.space import load_genotype

    imported = time.perf_counter() - start
    objective = make_objective("train", {"epochs": epochs} if epochs else {})
    genotype = load_genotype(str(CELL))
    torch.set_num_threads(objective.threads)
    trials = []
    for _ in range(2):
        times, t0 = {}, time.perf_counter()
        data = objective._data()
        times["data"], t0 = time.perf_counter() - t0, time.perf_counter()
        model = objective._model(genotype, len(data.classes))
        times["model"], t0 = time.perf_counter() - t0, time.perf_counter()
        _, metrics = objective.fit(model, data, objective.seed)
        fit = time.perf_counter() - t0
        times["train"], times["setup+eval"] = metrics["train_seconds"], fit - metrics["train_seconds"]
        trials.append(times)
    return {"import": imported, "trials": trials, "epochs": objective.epochs, "videos": objective.num_videos}


def print_phases(result: dict) -> None:
    """The phase table: seconds and share of each trial."""
    print(f"a trial's phases (train objective, {result['videos']} videos, {result['epochs']} epochs, 1 thread), "
          f"seconds (share of the trial):")
    print(f"  {'phase':10s} {'1st trial':>18s} {'2nd trial':>18s}")
    first, second = result["trials"]
    totals = [result["import"] + sum(first.values()), sum(second.values())]
    rows = [("import", result["import"], 0.0)] + [(p, first[p], second[p]) for p in PHASES]
    for name, a, b in rows:
        print(f"  {name:10s} {a:8.2f} ({a / totals[0]:5.1%}) {b:8.2f} ({b / totals[1]:5.1%})")
    print(f"  {'total':10s} {totals[0]:8.2f}          {totals[1]:8.2f}")


def quick_search(trials: int, epochs: int | None) -> dict:
    """Run the quick preset in a fresh process; its wall time and the trials' own seconds."""
    from nas.store import TrialStore

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run"
        command = [sys.executable, "-m", "runners.cli", "search", "gpb", "--space", SPACE, "--preset", "quick", "--trials", str(trials),
                   "--quiet", "--out", str(out)]
        if epochs:
            command += ["--objective-option", f"epochs={epochs}"]
        start = time.time()
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        end = time.time()
        with TrialStore.open(out / "trials.db") as store:
            records = store.trials(("complete",))
        workers = json.loads((out / "config.json").read_text())["workers"]
    seconds = [r.metrics["trial_seconds"] for r in records]
    return {"wall": end - start, "workers": workers, "trial_seconds": seconds,
            "to_first": min(r.started for r in records) - start, "after_last": end - max(r.finished for r in records)}


def print_search(result: dict) -> None:
    """Wall time, the trials' work and the overhead share of the quick search."""
    work, wall, workers = sum(result["trial_seconds"]), result["wall"], result["workers"]
    share = 1 - work / (workers * wall)
    print(f"nas search gpb --preset quick: {len(result['trial_seconds'])} trials, {workers} at a time")
    print(f"  wall {wall:.1f} s; trials' own work {work:.1f} s (median trial "
          f"{statistics.median(result['trial_seconds']):.1f} s)")
    print(f"  before the first trial started {result['to_first']:.1f} s; after the last finished "
          f"{result['after_last']:.1f} s")
    print(f"  overhead share 1 - work / (workers x wall) = {share:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12, help="trials of the quick search")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per trial (default: the objective's)")
    parser.add_argument("--no-search", action="store_true", help="measure the phases only")
    parser.add_argument("--phases-json", action="store_true", help=argparse.SUPPRESS)  # the fresh child process
    args = parser.parse_args()
    if args.phases_json:
        print(json.dumps(phases(args.epochs)))
        return
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
    child = [sys.executable, __file__, "--phases-json"] + (["--epochs", str(args.epochs)] if args.epochs else [])
    output = subprocess.run(child, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    print_phases(json.loads(output.strip().splitlines()[-1]))
    if not args.no_search:
        print_search(quick_search(args.trials, args.epochs))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
