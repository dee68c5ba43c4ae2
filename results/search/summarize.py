"""Summarise GP-bandit-style searches side by side: best value so far after every five trials.

Reads each run folder's trial store (the search's source of truth) and writes, into OUT,
``summary.md`` (a table of the best search-val top-1 after 5, 10, ... trials, the best cell's
key, GFLOPs and trial) and ``best_so_far.png`` (one step line per run).  The run folder names
(their last path component) label the runs.

Usage: python results/search/summarize.py RUN [RUN ...] -o OUT
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from nas.io import atomic_write_text
from nas.store import TrialStore
from nas.viz import best_so_far, best_so_far_figure, save_figure
from runners.cmd_viz import as_records, finished_trials
from runners.run_folder import RunFolder, SearchConfig


def best_row(run: Path) -> str:
    """The best trial of a run (the store's rule): number, key, value, GFLOPs."""
    with TrialStore.open(RunFolder.open(run).store_path) as store:
        best = store.best()
    return f"trial {best.number}, key `{best.key}`, {best.value:.4f}, {best.gflops:.4g} GFLOPs"


def objective_text(config: SearchConfig) -> str:
    """What a trial's value is, from a run's resolved configuration."""
    if config.objective != "train":
        return f"the `{config.objective}` objective"
    options = ", ".join(f"{k}={v}" for k, v in sorted(config.objective_options.items())) or "its defaults"
    reading = "after the last epoch" if config.objective_options.get("score") == "final" else "averaged over the epochs"
    return (f"search-val top-1 ({reading}) of the backbone with the cell at every insertion point, trained on "
            f"search-train (objective `train`, {options})")


def shared_prefix(keys: dict[str, list[str]]) -> str:
    """A sentence on how many first trials all runs share (the same cells in the same order)."""
    orders = list(keys.values())
    shared = 0
    while all(len(k) > shared for k in orders) and len({k[shared] for k in orders}) == 1:
        shared += 1
    if not shared:
        return "The runs share no first trial."
    return (f"The first {shared} trials are the same cells in every run (the GP bandit's random initial design "
            "draws as random search does for the same seed), so the curves part only after that.")


def table(runs: dict[str, list], every: int = 5) -> str:
    """Markdown: a row per run, a column per `every` trials, each cell the best value so far."""
    longest = max(len(r) for r in runs.values())
    marks = list(range(every, longest + 1, every)) or [longest]
    lines = ["| search | " + " | ".join(f"after {m}" for m in marks) + " |",
             "| --- |" + " --- |" * len(marks)]
    for label, points in runs.items():
        best = best_so_far([value for _, value, _ in points])
        cells = [f"{best[m - 1]:.4f}" if m <= len(best) and best[m - 1] is not None else "-" for m in marks]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write summary.md and best_so_far.png for the given runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args(argv)
    loaded = {run.name: finished_trials(run) for run in args.runs}
    runs = {name: as_records(trials) for name, (_, trials) in loaded.items()}
    first_config = next(iter(loaded.values()))[0]
    command = "python results/search/summarize.py " + " ".join(shlex.quote(str(a)) for a in sys.argv[1:])
    body = [
        "# Searches side by side",
        "",
        f"Made by `{command}` (the runs by `bash results/search/run.sh`).",
        f"Value: {objective_text(first_config)}; best so far after N trials.",
        "",
        table(runs),
        "",
        shared_prefix({name: [r.key for r in trials] for name, (_, trials) in loaded.items()}),
        "",
        *[f"- {label}: best {best_row(run)}" for label, run in zip(runs, args.runs)],
        "",
        "One search seed per controller: the gap between two single runs is not a measured",
        "controller difference (`benchmarks/controller_quality.py` measures that over seeds).",
        "",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "summary.md", "\n".join(body))
    save_figure(best_so_far_figure(runs, value_label="search-val top-1", title="best cell so far"),
                args.out / "best_so_far.png")
    print(f"wrote {args.out / 'summary.md'} and {args.out / 'best_so_far.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
