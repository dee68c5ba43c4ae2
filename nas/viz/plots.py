"""Search and comparison plots from plain records.

GP-bandit (or random, TPE) searches are plotted from a list of ``(trial, value, flops[,
stopped])`` records, whatever store they come from: `value` is the score the search maximises
(None for a failed trial), `flops` the trial model's cost (None when not counted), in the unit
the axis label names, and `stopped` the epoch at which a scheduler stopped the trial (None when
it trained to the end): a stopped trial's value is drawn, hollow, but it is never the best so far
and takes no part in the Pareto front.  The comparison plot of `nas compare` takes one `Measured` point per model.
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple, Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
"""Okabe and Ito's colour-blind-safe palette (darker colours first), shared by every plot here."""
LINE_STYLES = ("-", "--", "-.", ":")


class TrialPoint(NamedTuple):
    """One trial of a search: its number, its value (None: failed) and its FLOPs (None: unknown)."""

    trial: int
    value: float | None
    flops: float | None = None
    stopped: int | None = None  # the epoch a scheduler stopped it at (its value is a lower-fidelity one)

    @property
    def final(self) -> float | None:
        """The value if the trial trained to the end (what best-so-far lines and fronts use), else None."""
        return self.value if self.stopped is None else None


class Measured(NamedTuple):
    """One model of a comparison: a cost, the mean of a score over seeds and its spread."""

    label: str
    cost: float
    mean: float
    spread: float | None  # the error bar (the caller says which: `nas compare` gives a standard error); None: one seed


def as_points(records: Iterable[Sequence]) -> list[TrialPoint]:
    """`TrialPoint`s from (trial, value[, flops]) tuples, sorted by trial number."""
    return sorted((TrialPoint(*record) for record in records), key=lambda p: p.trial)


def best_so_far(values: Sequence[float | None], maximize: bool = True) -> list[float | None]:
    """The best value among the first i+1 (failed trials, None, are skipped; None before any)."""
    best: float | None = None
    out = []
    for value in values:
        if value is not None and (best is None or (value > best if maximize else value < best)):
            best = value
        out.append(best)
    return out


def pareto_front(points: Iterable[Sequence]) -> list[TrialPoint]:
    """The trials no other trial beats on both counts (higher value, fewer FLOPs), by FLOPs;
    `points` are `TrialPoint`s or plain (trial, value, flops) tuples.

    Failed trials and trials without FLOPs take no part; the rule is `nas.budget.pareto_front`'s
    (of two equal trials the earlier stays).
    """
    from nas.budget import pareto_front as front_of

    valid = [p for p in (TrialPoint(*record) for record in points) if p.final is not None and p.flops is not None]
    return [p for _, _, p in front_of([(p.value, p.flops, p) for p in valid])]


def trial_values_figure(
    records: Iterable[Sequence], maximize: bool = True, value_label: str = "value", title: str | None = None
) -> Figure:
    """Every trial's value in trial order and the best so far as a step line; failed trials (no
    value) as crosses on a row of their own below the data, not at any value's height."""
    points = as_points(records)
    figure = Figure(figsize=(7.2, 3.8))
    ax = figure.add_subplot()
    done = [p for p in points if p.final is not None]
    stopped = [p for p in points if p.stopped is not None and p.value is not None]
    failed = [p for p in points if p.value is None]
    ax.plot([p.trial for p in done], [p.value for p in done], "o", color=OKABE_ITO[0], markersize=4, label="trial")
    if stopped:
        ax.plot([p.trial for p in stopped], [p.value for p in stopped], "o", markerfacecolor="none",
                color=OKABE_ITO[2], markersize=4, label=f"stopped early ({len(stopped)}, value at its last epoch)")
    done = done + stopped  # the failed row goes below every drawn value
    best = best_so_far([p.final for p in points], maximize)
    steps = [(p.trial, b) for p, b in zip(points, best) if b is not None]
    if steps:
        ax.step([t for t, _ in steps], [b for _, b in steps], where="post", color=OKABE_ITO[1], label="best so far")
    if failed:
        low, high = min((p.value for p in done), default=0.0), max((p.value for p in done), default=1.0)
        row = low - 0.08 * max(high - low, 1e-3)
        ax.plot([p.trial for p in failed], [row] * len(failed), "x", color="#000000", markersize=6,
                label=f"failed ({len(failed)}, no value)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _finish(figure, ax, "trial", value_label, title)


def best_so_far_figure(
    runs: dict[str, Iterable[Sequence]], maximize: bool = True, value_label: str = "value", title: str | None = None
) -> Figure:
    """The best value so far against the trial number, one step line per labelled search (each its
    own colour and line style, so lines that coincide stay visible)."""
    figure = Figure(figsize=(7.2, 3.8))
    ax = figure.add_subplot()
    for index, (label, records) in enumerate(runs.items()):
        points = as_points(records)
        steps = [(p.trial, b) for p, b in zip(points, best_so_far([p.final for p in points], maximize)) if b is not None]
        ax.step([t for t, _ in steps], [b for _, b in steps], where="post", color=OKABE_ITO[index % len(OKABE_ITO)],
                linestyle=LINE_STYLES[index % len(LINE_STYLES)], linewidth=1.6, label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _finish(figure, ax, "trial", f"best {value_label} so far", title)


def best_so_far_band_figure(
    groups: dict[str, Sequence[Sequence[float | None]]], value_label: str = "value", title: str | None = None
) -> Figure:
    """Per labelled group of searches (one value list per search seed, in trial order): the mean
    best value so far against the number of trials, with a band of one standard error over seeds.

    A trial count is drawn only once every search of the group has a value by then.
    """
    from nas.stats import mean_se

    figure = Figure(figsize=(7.6, 4.0))
    ax = figure.add_subplot()
    for index, (label, searches) in enumerate(groups.items()):
        curves = [best_so_far(list(values)) for values in searches]
        counts, means, lows, highs = [], [], [], []
        for t in range(1, min(len(c) for c in curves) + 1):
            at = [c[t - 1] for c in curves]
            if any(v is None for v in at):
                continue
            mean, se = mean_se(at)
            counts.append(t)
            means.append(mean)
            lows.append(mean - (se or 0.0))
            highs.append(mean + (se or 0.0))
        colour = OKABE_ITO[index % len(OKABE_ITO)]
        ax.step(counts, means, where="post", color=colour, linestyle=LINE_STYLES[index % len(LINE_STYLES)],
                linewidth=1.6, label=f"{label} ({len(searches)} seed{'s' if len(searches) != 1 else ''})")
        ax.fill_between(counts, lows, highs, step="post", color=colour, alpha=0.15, linewidth=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _finish(figure, ax, "trials", f"best {value_label} so far\n(mean, band: ± 1 SE over seeds)", title)


def accuracy_flops_figure(
    records: Iterable[Sequence], value_label: str = "value", flops_label: str = "GFLOPs", title: str | None = None
) -> Figure:
    """Value against FLOPs for every trial, with the Pareto front as a staircase, its trials named
    (labels alternate above and below the front so neighbours do not overlap)."""
    points = [p for p in as_points(records) if p.value is not None and p.flops is not None]
    front = pareto_front(points)
    figure = Figure(figsize=(7.2, 4.2))
    ax = figure.add_subplot()
    ax.plot([p.flops for p in points], [p.value for p in points], "o", color="#999999", markersize=4, label="trial")
    if front:
        ax.step([p.flops for p in front], [p.value for p in front], where="post", color=OKABE_ITO[1], linewidth=1)
        ax.plot([p.flops for p in front], [p.value for p in front], "o", color=OKABE_ITO[1], markersize=5,
                label=f"Pareto front ({len(front)}), trial numbers")
        for index, p in enumerate(front):
            ax.annotate(str(p.trial), (p.flops, p.value), textcoords="offset points", fontsize=7,
                        xytext=(5, 6) if index % 2 else (5, -11), color=OKABE_ITO[1])
    return _finish(figure, ax, flops_label, value_label, title)


def comparison_figure(
    points: Sequence[Measured], value_label: str = "test top-1", cost_label: str = "GFLOPs", title: str | None = None
) -> Figure:
    """Mean score against cost for each model, its error bar (the caller's title says what it is),
    the models named in a legend beside the axes."""
    figure = Figure(figsize=(7.6, 4.2))
    ax = figure.add_subplot()
    markers = ("o", "s", "^", "D", "v", "P", "X", "*", "h")  # 9 against 8 colours: 72 distinct pairs
    for index, point in enumerate(points):
        ax.errorbar([point.cost], [point.mean], yerr=None if point.spread is None else [point.spread],
                    fmt=markers[index % len(markers)], capsize=4, color=OKABE_ITO[index % len(OKABE_ITO)],
                    label=point.label)
    ax.margins(x=0.25, y=0.2)
    return _finish(figure, ax, cost_label, value_label, title)


def _finish(figure: Figure, ax: Any, xlabel: str, ylabel: str, title: str | None) -> Figure:
    """Labels, grid, the legend outside the axes (it never covers data) and the title; laid out."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure
