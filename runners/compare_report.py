"""What `nas compare` writes: the markdown table, the JSON of every number, and the figure.

Accuracy is the mean over seeds with the sample standard deviation (n - 1) as the spread;
with one seed there is no spread.  FLOPs follow `nas.flops` (multiply-add = 2 FLOPs) and are
counted at batch 1: at the proxy clip size on the trained architecture, and, when a paper
backbone is named, with the same blocks in that backbone at the paper's 250 x 256 x 256 with
600 classes (`runners.flops_table.count`).  The page states what the proxy can and cannot show.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Sequence

from nas.flops import CONVENTION, FlopReport
from nas.viz.plots import Measured, comparison_figure
from runners.flops_table import INPUT as PAPER_INPUT

PAPER_SIZE = "x".join(map(str, PAPER_INPUT[2:]))  # "250x256x256"


@dataclass
class ModelResult:
    """One model of the comparison: how it is built, its cost, and its runs' test accuracies."""

    key: str  # run folder name: backbone | nonlocal | cell-<label>
    name: str  # table name: "tiny", "tiny + NL", "tiny + <label>"
    cells: str | None  # genotype file, for cell models
    proxy: FlopReport
    paper: FlopReport | None = None
    paper_note: str | None = None  # why there is no paper-size count
    runs: list[dict[str, Any]] = field(default_factory=list)  # per seed: seed, run folder, test/val metrics

    def metric(self, name: str) -> list[float]:
        """Test-split values of `name` ("top1", "top5") over the finished runs, in seed order."""
        return [run["test"][name] for run in self.runs]


def mean_spread(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value)."""
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def percent(values: Sequence[float]) -> str:
    """ "97.8 ± 0.5" (percent), or "97.8" for one value."""
    mean, spread = mean_spread(values)
    return f"{100 * mean:.1f}" + (f" ± {100 * spread:.1f}" if spread is not None else "")


def report_json(models: Sequence[ModelResult], context: dict[str, Any]) -> dict[str, Any]:
    """Every number of the comparison, with the context that produced it."""
    out = {"schema": "attention-nas/comparison@1", **context, "convention": CONVENTION, "models": []}
    for model in models:
        entry: dict[str, Any] = {"key": model.key, "name": model.name, "cells": model.cells}
        for name in ("top1", "top5"):
            mean, spread = mean_spread(model.metric(name))
            entry[name] = {"mean": mean, "std": spread, "values": model.metric(name)}
        entry["proxy"] = {"gflops": model.proxy.gflops, "params": model.proxy.params}
        entry["paper"] = None if model.paper is None else {"gflops": model.paper.gflops, "params": model.paper.params}
        entry["paper_note"] = model.paper_note
        entry["runs"] = model.runs
        out["models"].append(entry)
    return out


def markdown_table(models: Sequence[ModelResult], context: dict[str, Any]) -> str:
    """The comparison page: command, setting, table, FLOPs convention and what it can show."""
    proxy_size = "x".join(map(str, context["proxy_input"][2:]))
    paper = context["paper_backbone"]
    header = ["model", "top-1 (%)", "top-5 (%)", f"GFLOPs at {proxy_size}", "params (M)"]
    if paper:
        header += [f"GFLOPs at {PAPER_SIZE} ({paper})", f"params (M) in {paper}"]
    rows = []
    for model in models:
        row = [model.name, percent(model.metric("top1")), percent(model.metric("top5")),
               f"{model.proxy.gflops:#.4g}", f"{model.proxy.params / 1e6:.3f}"]
        if paper:
            row += [f"{model.paper.gflops:.1f}", f"{model.paper.params / 1e6:.2f}"] if model.paper else ["—", "—"]
        rows.append(row)
    seeds = ", ".join(map(str, context["seeds"]))
    lines = [
        f"# {context['backbone']}: backbone alone, with non-local blocks, with attention cells",
        "",
        f"Made by `{context['command']}` (attention-nas {context['version']}, "
        f"commit {context['git_commit'] or 'unknown'}).",
        "",
        f"Data: {context['data_description']}. Recipe: {context['recipe_description']}. "
        f"Top-1/top-5 on the test split ({context['test_videos']} videos): mean ± standard deviation over "
        f"seeds {seeds}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        f"FLOPs: {CONVENTION}, batch 1, counted by `nas.flops.count_flops`; the proxy column is the trained "
        f"network at its clip size with {context['num_classes']} classes.",
        paper_sentence(models, paper),
        "",
        f"**What this shows, and what it cannot.** {honesty(context)}",
        "",
    ]
    return "\n".join(line for line in lines if line is not None)


def paper_sentence(models: Sequence[ModelResult], paper: str | None) -> str:
    """How the paper-size column was made (or why there is none)."""
    if not paper:
        return (f"No {PAPER_SIZE} column: the proxy backbone at the paper's input size would be a meaningless "
                "number; give `--paper-backbone i3d|s3d|i3d_r50` to count the same blocks in a paper backbone.")
    text = (f"The {PAPER_SIZE} columns count the same blocks in `{paper}` at its own insertion points with 600 "
            "classes (the paper's Table A setting); they are counted on the architecture, not trained.")
    notes = [f"{m.name}: {m.paper_note}" for m in models if m.paper_note]
    return text + (" No count for " + "; ".join(notes) + "." if notes else "")


def honesty(context: dict[str, Any]) -> str:
    """The sentence the issue asks for: what the proxy shows and what it cannot show about Kinetics."""
    if context["data"] == "synthetic" and context.get("task") == "relations":
        what = (f"It compares the blocks on the synthetic relational proxy, where {2 * context['match_pairs']} of the "
                f"{context['num_classes']} classes form {context['match_pairs']} pairs that differ only in whether two "
                "squares far apart have the same colour (a relation the backbone alone cannot compute), so it shows "
                f"whether a block helps {context['backbone']}, trained from scratch with one short recipe, relate "
                "distant points, and how far the seed alone moves the result (a difference smaller than the spread "
                "is not evidence).")
    elif context["data"] == "synthetic":
        what = (f"It compares the blocks on the synthetic motion proxy, where {2 * context['pairs']} of the "
                f"{context['num_classes']} classes form {context['pairs']} pairs that differ only by the direction of "
                f"time, so it shows whether a block helps {context['backbone']}, trained from scratch with one "
                "short recipe, to tell motion directions apart, and how far the seed alone moves the result "
                "(a difference smaller than the spread is not evidence).")
    else:
        what = (f"It compares the blocks on the videos of {context['data']} with one recipe, and shows how far the "
                "seed alone moves the result (a difference smaller than the spread is not evidence).")
    return what + (" It cannot show how the cells rank on Kinetics: the paper trains full-size I3D/S3D backbones "
                   "(ImageNet-inflated) on Kinetics-600 and evaluates 250-frame videos of 256x256, where appearance, "
                   "scale and long-range context matter and a proxy's ranking of cells need not hold. Only FLOPs "
                   "counted at the paper's input size, which need no training, carry over.")


def figure(models: Sequence[ModelResult], context: dict[str, Any]):
    """Test top-1 (mean, one standard deviation) against GFLOPs at the proxy size."""
    points = []
    for model in models:
        mean, spread = mean_spread(model.metric("top1"))
        points.append(Measured(model.name, model.proxy.gflops, 100 * mean, None if spread is None else 100 * spread))
    proxy_size = "x".join(map(str, context["proxy_input"][2:]))
    return comparison_figure(points, value_label="test top-1 (%)", cost_label=f"GFLOPs at {proxy_size} ({CONVENTION})",
                             title=f"{context['backbone']} on {context['data']}, {len(context['seeds'])} seeds")
