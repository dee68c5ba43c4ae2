"""Paired before/after regrets of the same controllers, from two `controller_quality.py --json` files.

Runs are matched by (controller, objective, batch, seed): the same seed is the same toy
landscape and the same controller seed, so the difference is paired.  Prints, for every
controller present in both files, the mean regret before and after at each budget and the
mean paired difference (after - before) with its standard error and its size in standard
errors; the reading says only whether it is beyond one standard error (the issue's criterion),
not that it is significant: read anything under about two as no measurable difference.

    python benchmarks/compare_regrets.py BEFORE.json AFTER.json [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.controller_quality import mean_se  # noqa: E402
from nas.io import atomic_write_text  # noqa: E402


def load(path: str) -> tuple[str, dict[tuple, list[float]], list[int]]:
    """(command, {(controller, objective, batch, seed): regrets}, budgets) of one JSON file."""
    data = json.loads(Path(path).read_text())
    runs = {(r["controller"], r["objective"], r["batch"], r["seed"]): r["regret"] for r in data["runs"]}
    return data["command"], runs, data["runs"][0]["budgets"]


def rows(before: dict, after: dict, budgets: list[int]) -> list[str]:
    """One Markdown row per (controller, objective, batch, budget) present in both files."""
    groups = sorted({key[:3] for key in before} & {key[:3] for key in after})
    out = []
    for group in groups:
        seeds = sorted(k[3] for k in before if k[:3] == group and k in after)
        old = np.array([before[(*group, s)] for s in seeds])  # (seeds, budgets)
        new = np.array([after[(*group, s)] for s in seeds])
        mean, se = mean_se(new - old)
        for j, t in enumerate(budgets):
            m = mean[j]
            size = m / se[j] if se[j] > 0 else float("nan")
            verdict = "within 1 SE" if abs(size) <= 1 or not np.isfinite(size) else ("higher, > 1 SE" if m > 0 else "lower, > 1 SE")
            out.append(f"| {group[0]} | {group[1]} | {group[2]} | {t} | {len(seeds)} | {old[:, j].mean():.4f} | "
                       f"{new[:, j].mean():.4f} | {m:+.4f} ({se[j]:.4f}) | {size:+.1f} | {verdict} |")
    return out


def main() -> None:
    """Print (and optionally write) the paired before/after table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--out")
    args = parser.parse_args()
    before_cmd, before, budgets = load(args.before)
    after_cmd, after, after_budgets = load(args.after)
    if budgets != after_budgets:
        parser.error(f"the files measured other budgets ({budgets} and {after_budgets})")
    lines = [f"# python benchmarks/compare_regrets.py {' '.join(sys.argv[1:])}",
             f"# before: {before_cmd}", f"# after: {after_cmd}", "",
             "| controller | objective | batch | trials | seeds | regret before | regret after | after - before (SE) "
             "| SEs | reading |", "|---|---|---|---|---|---|---|---|---|---|", *rows(before, after, budgets)]
    text = "\n".join(lines)
    print(text)
    if args.out:
        atomic_write_text(args.out, text + "\n")


if __name__ == "__main__":
    main()
