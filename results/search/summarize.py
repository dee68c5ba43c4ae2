"""Summarise searches over search seeds: controllers side by side, paired with random search.

Reads each run folder ``RUNS/<controller>-s<seed>``'s trial store (the search's source of
truth) and writes, into OUT:

- ``summary.md``: the best search-val score after 10, 20, 30 trials (mean ± standard error over
  the search seeds); each controller minus random search, paired by search seed, with a paired
  t-test; each controller's best cell (over its seeds) and, given ``--compare`` (the
  `nas compare` JSON that retrained those cells under the labels ``<controller>``), its test
  scores over the training seeds, paired with random search's cell by training seed;
- ``summary.json``: every number of the page;
- ``best_so_far.png``: mean best-so-far per controller with a band of one standard error.

Usage: python results/search/summarize.py RUNS -o OUT [--controllers C ...] [--seeds S ...]
       [--marks 10 20 30] [--compare comparison.json]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from nas.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from nas.stats import mean_se, p_text, paired, verdict
from nas.viz import best_so_far, best_so_far_band_figure, save_figure
from runners.engine.run_figures import finished_trials

CONTROLLERS = ("gp_bandit", "random", "tpe", "optuna_gp")


def load(runs: Path, controllers: list[str], seeds: list[int]) -> dict[str, list[list[Any]]]:
    """{controller: [finished trial records of seed s, by trial number] for s in seeds}."""
    return {c: [finished_trials(runs / f"{c}-s{s}")[1] for s in seeds] for c in controllers}


def values(trials: list[Any]) -> list[float | None]:
    """Trial values in trial order (None for a failed trial)."""
    return [t.value if t.state == "complete" else None for t in trials]


def best_at(trials: list[Any], mark: int) -> float:
    """The best value among the first `mark` trials of one search."""
    best = best_so_far(values(trials))
    if len(best) < mark or best[mark - 1] is None:
        raise SystemExit(f"a search has fewer than {mark} finished trials")
    return best[mark - 1]


def search_table(searches: dict[str, list[list[Any]]], marks: list[int]) -> tuple[list[str], dict[str, Any]]:
    """Markdown rows of the best-so-far table, the paired table against random, and their numbers."""
    numbers: dict[str, Any] = {}
    rows = ["| controller | " + " | ".join(f"after {m}" for m in marks) + " |", "|---|" + "---|" * len(marks)]
    for c, runs in searches.items():
        cells = []
        for m in marks:
            mean, se = mean_se([best_at(r, m) for r in runs])
            numbers.setdefault(c, {})[str(m)] = {"values": [best_at(r, m) for r in runs], "mean": mean, "se": se}
            cells.append(f"{mean:.4f} ± {se:.4f}" if se is not None else f"{mean:.4f}")
        rows.append(f"| {c} | " + " | ".join(cells) + " |")
    lines = [*rows, ""]
    if "random" in searches and len(searches) > 1:
        lines += ["| controller - random | " + " | ".join(f"after {m}" for m in marks) + " |",
                  "|---|" + "---|" * len(marks)]
        for c in searches:
            if c == "random":
                continue
            cells = []
            for m in marks:
                test = paired(numbers[c][str(m)]["values"], numbers["random"][str(m)]["values"])
                numbers[c][str(m)]["versus_random"] = {**test.as_dict(), "verdict": verdict(test)}
                cells.append(f"{test.mean:+.4f} (one seed: not tested)" if test.se is None else
                             f"{test.mean:+.4f} ± {test.se:.4f} (p {p_text(test.t_p)}, {verdict(test)})")
            lines.append(f"| {c} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines, numbers


def trial_hours(searches: dict[str, list[list[Any]]]) -> dict[str, float]:
    """Hours the trials of each controller's searches ran (sum of each trial's finish - start)."""
    return {c: sum(t.finished - t.started for r in runs for t in r if t.started and t.finished) / 3600
            for c, runs in searches.items()}


def best_cells(searches: dict[str, list[list[Any]]], seeds: list[int]) -> dict[str, dict[str, Any]]:
    """Each controller's best trial over its searches (the store's rule within a search; ties: lower seed)."""
    chosen = {}
    for c, runs in searches.items():
        candidates = []
        for seed, trials in zip(seeds, runs):
            done = [t for t in trials if t.state == "complete"]
            best = max(done, key=lambda t: (t.value, -t.number))
            candidates.append((best.value, -seed, seed, best))
        value, _, seed, best = max(candidates, key=lambda x: (x[0], x[1]))
        chosen[c] = {"seed": seed, "trial": best.number, "key": best.key, "value": value, "gflops": best.gflops}
    return chosen


def retrained_table(chosen: dict[str, dict[str, Any]], compare: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Each chosen cell's retrained test scores (from the comparison), paired with random's cell by training seed."""
    models = {m["key"]: m for m in compare["models"]}
    metrics = [n for n in ("top1", "mean_top1") if n in models["backbone"]]
    names = {"top1": "test top-1", "mean_top1": "test top-1 over epochs"}
    header = ["controller", "best cell (search seed, trial, key)", "search-val", *(f"{names[n]} (%)" for n in metrics)]
    if "cell-random" in models:
        header += [f"{names[n]} - random's cell (points, p)" for n in metrics]
    rows, numbers = [], {}
    for c, cell in chosen.items():
        model = models.get(f"cell-{c}")
        if model is None:
            continue
        row = [c, f"seed {cell['seed']}, trial {cell['trial']}, `{cell['key']}`", f"{cell['value']:.4f}"]
        numbers[c] = {}
        for n in metrics:
            mean, se = mean_se(model[n]["values"])
            numbers[c][n] = {"mean": mean, "se": se, "values": model[n]["values"]}
            row.append(f"{100 * mean:.1f} ± {100 * (se or 0.0):.1f}")
        if "cell-random" in models:
            for n in metrics:
                if c == "random":
                    row.append("—")
                    continue
                test = paired(model[n]["values"], models["cell-random"][n]["values"])
                numbers[c][n]["versus_random"] = {**test.as_dict(), "verdict": verdict(test)}
                row.append(f"{100 * test.mean:+.1f} ± {100 * (test.se or 0.0):.1f} (p {p_text(test.t_p)}, {verdict(test)})")
        rows.append("| " + " | ".join(row) + " |")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *rows, ""]
    return lines, numbers


def shared_prefix(searches: dict[str, list[list[Any]]], seeds: list[int]) -> str:
    """How many first trials the GP bandit shares with random search for the same seed (its random design)."""
    if "gp_bandit" not in searches or "random" not in searches:
        return ""
    counts = []
    for g, r in zip(searches["gp_bandit"], searches["random"]):
        n = 0
        while n < min(len(g), len(r)) and g[n].key == r[n].key:
            n += 1
        counts.append(n)
    return (f"The GP bandit's random initial design draws as random search does for the same seed, so with seeds "
            f"{', '.join(map(str, seeds))} the two share their first {', '.join(map(str, counts))} trials.")


def export(runs: Path, chosen: dict[str, dict[str, Any]], folder: Path) -> None:
    """Each controller's chosen search's exported best cell, into folder/<controller>/."""
    from nas.space import load_model_genotype

    for c, cell in chosen.items():
        run = runs / f"{c}-s{cell['seed']}"
        genotype = load_model_genotype(str(run / "best_genotype.json"))
        if genotype.meta.get("key") != cell["key"]:
            raise SystemExit(f"{run}/best_genotype.json is not trial {cell['trial']} ({cell['key']})")
        (folder / c).mkdir(parents=True, exist_ok=True)
        for name in ("best_genotype.json", "best_cell.png"):
            atomic_write_bytes(folder / c / name, (run / name).read_bytes())


def objective_text(runs: Path, controller: str, seed: int) -> str:
    """What a trial's value is, from one run's resolved configuration."""
    config = finished_trials(runs / f"{controller}-s{seed}")[0]
    if config.objective != "train":
        return f"the `{config.objective}` objective"
    options = ", ".join(f"{k}={v}" for k, v in sorted(config.objective_options.items())) or "its defaults"
    reading = "after the last epoch" if config.objective_options.get("score") == "final" else "averaged over the epochs"
    return (f"search-val top-1 ({reading}) of the backbone with the cell at every insertion point, trained on "
            f"search-train (objective `train`, {options})")


def main(argv: list[str] | None = None) -> int:
    """Write summary.md, summary.json and best_so_far.png for the searches under RUNS."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="folder holding <controller>-s<seed> run folders")
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--controllers", nargs="+", default=list(CONTROLLERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--marks", nargs="+", type=int, default=[10, 20, 30])
    parser.add_argument("--compare", type=Path, help="comparison.json of the retrained best cells")
    parser.add_argument("--export", type=Path,
                        help="copy each controller's best cell (best_genotype.json, best_cell.png) to EXPORT/<controller>/")
    args = parser.parse_args(argv)
    searches = load(args.runs, args.controllers, args.seeds)
    table, numbers = search_table(searches, args.marks)
    chosen = best_cells(searches, args.seeds)
    hours = trial_hours(searches)
    if args.export is not None:
        export(args.runs, chosen, args.export)
    command = "python results/search/summarize.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    body = [
        "# Controllers over search seeds",
        "",
        f"Made by `{command}` from the runs of `bash results/search/run.sh`.",
        f"Value: {objective_text(args.runs, args.controllers[0], args.seeds[0])}.",
        f"Every controller searched `search_spaces/attentionnas_gpb.yaml` with search seeds "
        f"{', '.join(map(str, args.seeds))}; the training seed is the same in every trial, so a search seed changes "
        "only the controller's draws.",
        "",
        f"## Best search-val score after N trials (mean ± standard error over {len(args.seeds)} search seeds)",
        "",
        *table,
        "Differences from random search are paired by search seed (two-sided paired t-test; \"no difference\" "
        f"when p >= 0.05). {shared_prefix(searches, args.seeds)}",
        "",
        "Trial time (sum over a controller's searches of each trial's start to finish; one CPU thread per trial, "
        "two searches side by side, as `results/search/run.sh` runs them): "
        + ", ".join(f"{c} {h:.1f} h" for c, h in hours.items()) + f"; {sum(hours.values()):.1f} h in all.",
        "",
    ]
    retrained: dict[str, Any] = {}
    if args.compare is not None:
        compare = json.loads(args.compare.read_text())
        lines, retrained = retrained_table(chosen, compare)
        body += [
            "## Each controller's best cell, retrained and scored on the held-out test split",
            "",
            f"The cell with the best search-val score over a controller's {len(args.seeds)} searches, trained on the "
            f"train split with seeds {', '.join(map(str, compare['seeds']))} and scored on the test split "
            f"(`{compare['command']}`; mean ± standard error over training seeds; differences paired by "
            "training seed, paired t-test).",
            "",
            *lines,
        ]
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "summary.md", "\n".join(body))
    atomic_write_json(args.out / "summary.json", {"command": command, "seeds": args.seeds, "marks": args.marks,
                                                  "best_so_far": numbers, "best_cells": chosen, "retrained": retrained,
                                                  "trial_hours": hours})
    groups = {c: [values(r) for r in runs] for c, runs in searches.items()}
    figure = best_so_far_band_figure(groups, value_label="search-val top-1",
                                     title=f"{len(args.seeds)} search seed{'s' if len(args.seeds) != 1 else ''} per controller, "
                                           "band: ± 1 standard error")
    save_figure(figure, args.out / "best_so_far.png")
    print(f"wrote {args.out / 'summary.md'}, {args.out / 'summary.json'} and {args.out / 'best_so_far.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
