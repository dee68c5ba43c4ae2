"""The proxy's comparison next to the AttentionNAS supplementary's Table A and Table B.

Reads a `nas compare` JSON (backbone, + non-local, + cells labelled ``gp_bandit``, ``sg1``,
``sg2``, ``sg3``) and writes a page that puts each proxy model beside the paper's row it stands
for.  The paper's figures are quoted (`runners.engine.flops_table.PAPER_ACCURACY`, `PAPER_GFLOPS`) and
labelled as the paper's; every other number is read from the JSON.

Usage: python results/compare/paper_tables.py comparison.json -o tables.md
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from nas.io import atomic_write_text
from nas.stats import p_text
from runners.engine.flops_table import PAPER_ACCURACY, PAPER_GFLOPS

TABLE_A = (("I3D", "backbone"), ("I3D+NL", "nonlocal"), ("I3D+Cell", "cell-gp_bandit"))
TABLE_B = (("I3D", "backbone"), ("I3D+NL", "nonlocal"), ("I3D+SG-1 Cell", "cell-sg1"),
           ("I3D+SG-2 Cell", "cell-sg2"), ("I3D+SG-3 Cell", "cell-sg3"))


def score(model: dict[str, Any], name: str) -> str:
    """'97.8 ± 0.5' in percent (mean ± standard error) or '—' when the comparison lacks the metric."""
    if name not in model:
        return "—"
    se = model[name]["se"]
    return f"{100 * model[name]['mean']:.1f}" + (f" ± {100 * se:.1f}" if se is not None else "")


def reading(model: dict[str, Any], reference: str, name: str) -> str:
    """The comparison's paired verdict against `reference` on `name`, with its p-value."""
    test = model.get("versus", {}).get(reference, {}).get(name)
    if test is None:
        return "—"
    return f"{test['verdict']} (p {p_text(test['t_p'])})"


def table(rows: tuple[tuple[str, str], ...], models: dict[str, dict[str, Any]], headline: str,
          flops: bool) -> list[str]:
    """Markdown: the paper's row, then the proxy model standing for it, with the paired readings."""
    header = ["paper's model", "paper's top-1", "paper's top-5"] + (["paper's GFLOPs"] if flops else [])
    header += ["proxy model", "proxy test top-1 (%)", "proxy test top-1 over epochs (%)",
               "vs proxy backbone", "vs proxy + NL"] + (["GFLOPs counted here, i3d at 250x256x256"] if flops else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for paper, key in rows:
        model = models.get(key)
        top1, top5 = PAPER_ACCURACY[paper]
        row = [paper, f"{top1:.2f}", f"{top5:.2f}"] + ([str(PAPER_GFLOPS[paper])] if flops else [])
        if model is None:
            row += ["(not in this comparison)", "—", "—", "—", "—"] + (["—"] if flops else [])
        else:
            row += [model["name"], score(model, "top1"), score(model, "mean_top1"),
                    reading(model, "backbone", headline), reading(model, "nonlocal", headline)]
            if flops:
                row.append(f"{model['paper']['gflops']:.1f}" if model.get("paper") else "—")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def page(report: dict[str, Any], command: str) -> str:
    """The whole page."""
    models = {m["key"]: m for m in report["models"]}
    headline = "mean_top1" if "mean_top1" in report["models"][0] else "top1"
    metric = "test top-1 averaged over the epochs" if headline == "mean_top1" else "test top-1"
    n = len(report["seeds"])
    return "\n".join([
        "# The proxy next to the paper's Table A and Table B",
        "",
        f"Made by `{command}`. Columns named \"paper's\" are quoted from the AttentionNAS supplementary (Kinetics-600, "
        "ImageNet-inflated full-size backbones, 250 frames of 256x256, one run each); every other number is from "
        f"`{report['command']}` ({report['data_description']}, tiny backbone, {n} training seeds, mean ± standard "
        "error). The two measure different things: compare the orderings, not the numbers.",
        "",
        f"\"vs proxy backbone\" and \"vs proxy + NL\" are the comparison's paired readings on the {metric} "
        f"({report['test']['primary']} over the {n} seeds, level {report['test']['level']}).",
        "",
        "## Table A: backbone alone, with non-local blocks, with the GP-bandit cell (I3D)",
        "",
        *table(TABLE_A, models, headline, flops=True),
        "",
        "The paper's S3D and I3D-R50 rows of Table A have no proxy counterpart; `results/flops.md` counts their "
        "FLOPs here.",
        "",
        "## Table B: the supergraph designs SG-1, SG-2, SG-3 (I3D)",
        "",
        *table(TABLE_B, models, headline, flops=False),
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    """Write the page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comparison", type=Path)
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args(argv)
    command = "python results/compare/paper_tables.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    atomic_write_text(args.out, page(json.loads(args.comparison.read_text()), command))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
