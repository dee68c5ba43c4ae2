"""What `nas compare` writes: the markdown table, the JSON of every number, and the figure.

Accuracy is the mean over seeds with its standard error (sample standard deviation / sqrt(n));
with one seed there is none.  Two test-split metrics: ``top1`` after the last epoch and, when
the runs scored the test split after every epoch, ``mean_top1``, the test top-1 averaged over
the epochs (the held-out counterpart of the search's default score, which rewards learning the
task sooner as well as learning it at all).  Every model is compared with the backbone and with
non-local blocks pair by pair (the same seed trains both) by `nas.stats.paired`: mean difference,
its standard error, a paired t-test (which decides) and a Wilcoxon signed-rank test.  FLOPs
follow `nas.flops` (multiply-add = 2 FLOPs) at batch 1: at the proxy clip size on the trained
architecture and, when a paper backbone is named, with the same blocks in that backbone at the
paper's 250 x 256 x 256 with 600 classes (`runners.engine.flops_table.count`).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Sequence

from nas.flops import CONVENTION, FlopReport
from nas.stats import LEVEL, PRIMARY, mean_se, p_text, paired, signed, verdict
from nas.viz.plots import Measured, comparison_figure
from runners.engine.flops_table import INPUT as PAPER_INPUT

PAPER_SIZE = "x".join(map(str, PAPER_INPUT[2:]))  # "250x256x256"
METRICS = {"top1": "test top-1 after the last epoch", "mean_top1": "test top-1 averaged over the epochs",
           "top5": "test top-5 after the last epoch"}
REFERENCES = ("backbone", "nonlocal")  # the models every other model is compared with


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
        """Test-split values of `name` ("top1", "mean_top1", "top5") over the finished runs, in seed order."""
        return [run["test"].get(name) for run in self.runs]


def metrics_of(models: Sequence[ModelResult]) -> list[str]:
    """The metrics every run has (``mean_top1`` only when every run scored the test split per epoch)."""
    return [name for name in METRICS if all(v is not None for m in models for v in m.metric(name))]


def headline(models: Sequence[ModelResult]) -> str:
    """The metric the figure and the verdicts lead with: ``mean_top1`` when present (``top1`` saturates)."""
    return "mean_top1" if "mean_top1" in metrics_of(models) else "top1"


def percent(values: Sequence[float]) -> str:
    """ "97.8 ± 0.5" (percent, mean ± standard error), or "97.8" for one value."""
    mean, se = mean_se(values)
    return f"{100 * mean:.1f}" + (f" ± {100 * se:.1f}" if se is not None else "")


def comparisons(models: Sequence[ModelResult]) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """{model key: {reference key: {metric: paired test + verdict}}} for every model but the reference."""
    by_key = {m.key: m for m in models}
    out: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    for model in models:
        for ref in REFERENCES:
            if ref not in by_key or (model.key in REFERENCES and REFERENCES.index(ref) >= REFERENCES.index(model.key)):
                continue  # no self-comparison, and NL - backbone is not repeated as backbone - NL
            for name in metrics_of(models):
                test = paired(model.metric(name), by_key[ref].metric(name))
                entry = {**test.as_dict(), "verdict": verdict(test)}
                out.setdefault(model.key, {}).setdefault(ref, {})[name] = entry
    return out


def report_json(models: Sequence[ModelResult], context: dict[str, Any]) -> dict[str, Any]:
    """Every number of the comparison, with the context that produced it."""
    out = {"schema": "attention-nas/comparison@2", **context, "convention": CONVENTION,
           "test": {"primary": PRIMARY, "level": LEVEL, "paired_by": "seed"}, "models": []}
    paired_tests = comparisons(models)
    for model in models:
        entry: dict[str, Any] = {"key": model.key, "name": model.name, "cells": model.cells}
        for name in metrics_of(models):
            values = model.metric(name)
            mean, se = mean_se(values)
            std = statistics.stdev(values) if len(values) > 1 else None
            entry[name] = {"mean": mean, "se": se, "std": std, "values": values}
        entry["proxy"] = {"gflops": model.proxy.gflops, "params": model.proxy.params}
        entry["paper"] = None if model.paper is None else {"gflops": model.paper.gflops, "params": model.paper.params}
        entry["paper_note"] = model.paper_note
        entry["versus"] = paired_tests.get(model.key, {})
        entry["runs"] = model.runs
        out["models"].append(entry)
    return out


def markdown_table(models: Sequence[ModelResult], context: dict[str, Any]) -> str:
    """The comparison page: command, setting, table, paired tests, FLOPs convention and what it can show."""
    proxy_size = "x".join(map(str, context["proxy_input"][2:]))
    paper, names = context["paper_backbone"], metrics_of(models)
    header = ["model", *(_column(n) for n in names), f"GFLOPs at {proxy_size}", "params (M)"]
    if paper:
        header += [f"GFLOPs at {PAPER_SIZE} ({paper})", f"params (M) in {paper}"]
    rows = []
    for model in models:
        row = [model.name, *(percent(model.metric(n)) for n in names),
               f"{model.proxy.gflops:#.4g}", f"{model.proxy.params / 1e6:.3f}"]
        if paper:
            row += [f"{model.paper.gflops:.1f}", f"{model.paper.params / 1e6:.2f}"] if model.paper else ["—", "—"]
        rows.append(row)
    seeds = ", ".join(map(str, context["seeds"]))
    lines = [
        f"# {context['backbone']}: backbone alone, with non-local blocks, with attention cells",
        "",
        f"Made by `{context['command']}` (attention-nas {context['version']}, "
        f"commit {context['git_commit'] or 'unknown'}{machine_text(context.get('machine'))}).",
        "",
        f"Data: {context['data_description']}. Recipe: {context['recipe_description']}. "
        f"Accuracy on the test split ({context['test_videos']} videos): mean ± standard error over seeds {seeds}"
        + ("; \"top-1 over epochs\" is the test top-1 averaged over the epochs of training." if "mean_top1" in names
           else "."),
        "",
        *_markdown(header, rows),
        "",
        *paired_section(models),
        f"FLOPs: {CONVENTION}, batch 1, counted by `nas.flops.count_flops`; the proxy column is the trained "
        f"network at its clip size with {context['num_classes']} classes.",
        paper_sentence(models, paper),
        "",
        f"**What this shows, and what it cannot.** {honesty(context)}",
        "",
    ]
    return "\n".join(line for line in lines if line is not None)


def machine_text(machine: dict[str, Any] | None) -> str:
    """"; 2 CPUs, CPU capability AVX2, torch 2.13.0": where the runs were made."""
    if not machine:
        return ""
    gpus = f", GPU {', '.join(machine['gpus'])}" if machine.get("gpus") else ""
    return f"; {machine['cpus']} CPUs, CPU capability {machine['cpu_capability']}{gpus}, torch {machine['torch']}"


def _column(name: str) -> str:
    return {"top1": "top-1 (%)", "mean_top1": "top-1 over epochs (%)", "top5": "top-5 (%)"}[name]


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def paired_section(models: Sequence[ModelResult]) -> list[str]:
    """The paired differences against the backbone and non-local blocks, with the tests' p-values."""
    tests = comparisons(models)
    if not tests or len(models[0].runs) < 2:
        return ["One seed: no paired tests (give --seeds 2 or more).", ""]
    by_key = {m.key: m.name for m in models}
    header = ["model", "metric", "versus", "difference (points) ± SE", "t-test p", "Wilcoxon p", "reading"]
    rows = [[by_key[key], _column(name).replace(" (%)", ""), by_key[ref], f"{signed(t['mean'])} ± "
             f"{100 * (t['se'] or 0.0):.1f}", p_text(t["t_p"]), p_text(t["wilcoxon_p"]), t["verdict"]]
            for key, refs in tests.items() for ref, per_metric in refs.items() for name, t in per_metric.items()
            if name != "top5"]
    n = len(models[0].runs)
    return [
        f"Paired by seed (the same seed trains both models): model minus reference, in percentage points. "
        f"The reading is \"higher\"/\"lower\" when the two-sided {PRIMARY} over the {n} seeds gives p < {LEVEL}, "
        f"else \"no difference\"; the Wilcoxon signed-rank test is shown beside it "
        f"(with {n} seeds its smallest possible p is {2 / 2 ** n:.3g}).",
        "",
        *_markdown(header, rows),
        "",
    ]


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
                "distant points, and how far the seed alone moves the result (only a difference the "
                "paired test finds is evidence).")
    elif context["data"] == "synthetic":
        what = (f"It compares the blocks on the synthetic motion proxy, where {2 * context['pairs']} of the "
                f"{context['num_classes']} classes form {context['pairs']} pairs that differ only by the direction of "
                f"time, so it shows whether a block helps {context['backbone']}, trained from scratch with one "
                "short recipe, to tell motion directions apart, and how far the seed alone moves the result "
                "(only a difference the paired test finds is evidence).")
    else:
        what = (f"It compares the blocks on the videos of {context['data']} with one recipe, and shows how far the "
                "seed alone moves the result (only a difference the paired test finds is evidence).")
    return what + (" It cannot show how the cells rank on Kinetics: the paper trains full-size I3D/S3D backbones "
                   "(ImageNet-inflated) on Kinetics-600 and evaluates 250-frame videos of 256x256, where appearance, "
                   "scale and long-range context matter and a proxy's ranking of cells need not hold. Only FLOPs "
                   "counted at the paper's input size, which need no training, carry over.")


def figure(models: Sequence[ModelResult], context: dict[str, Any]):
    """The headline test metric (mean, one standard error) against GFLOPs at the proxy size."""
    name, points = headline(models), []
    for model in models:
        mean, se = mean_se(model.metric(name))
        points.append(Measured(model.name, model.proxy.gflops, 100 * mean, None if se is None else 100 * se))
    proxy_size = "x".join(map(str, context["proxy_input"][2:]))
    n = len(context["seeds"])
    return comparison_figure(points, value_label=f"{METRICS[name]} (%)", cost_label=f"GFLOPs at {proxy_size} ({CONVENTION})",
                             title=f"{context['backbone']} on {context['data']}: mean ± standard error over {n} seeds")
