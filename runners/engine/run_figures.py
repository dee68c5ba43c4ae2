"""Figures of run folders: a GP-bandit search's trials, Pareto front and best-so-far curves, and a
supergraph search's architecture weights per epoch.  `RUN_PLOTS` maps a run's kind (``run.json``
"kind") to its plot; `finished_trials` is the one reader of a search's finished trials for every
figure and report (results/search/summarize.py uses it too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from matplotlib.figure import Figure

from nas.errors import UserError
from nas.io import load_json, parse_json, parse_yaml, read_text
from nas.supergraph import parse_supergraph
from nas.viz import accuracy_flops_figure, best_so_far_figure, trial_values_figure
from nas.viz.supergraph_plot import supergraph_weights_figure, weight_history


def supergraph_run_figure(run: Path, info: dict, title: str | None) -> Figure:
    """Architecture weights per epoch of a `nas search diff` run folder."""
    text = info.get("supergraph", {}).get("yaml")
    if not isinstance(text, str):
        raise UserError(f"{run / 'run.json'}: supergraph.yaml: missing; the run folder is incomplete")
    source = f"{run / 'run.json'} (supergraph)"
    graph = parse_supergraph(parse_yaml(text, source), source=source)
    metrics = run / "metrics.jsonl"
    lines = [line for line in read_text(metrics, "metrics file").splitlines() if line.strip()]
    records = [load_json_line(line, metrics, number) for number, line in enumerate(lines, 1)]
    epochs, history = weight_history(graph, records)
    settings = info.get("settings", {}) if isinstance(info.get("settings"), dict) else {}
    default = (f"architecture weights of {graph.name} in {settings.get('backbone', 'the backbone')}, "
               f"{len(epochs)} epochs, seed {settings.get('seed', '?')}")
    return supergraph_weights_figure(graph, epochs, history, title if title is not None else default)


def load_json_line(line: str, path: Path, number: int) -> dict:
    """One record of a JSON-lines file; a malformed line is a `UserError` naming it."""
    record = parse_json(line, f"{path} record {number}")
    if not isinstance(record, dict):
        raise UserError(f"{path} line {number}: expected a JSON object")
    return record


def finished_trials(run: Path) -> tuple[Any, list[Any]]:
    """A GP-bandit run's configuration and its finished (complete, stopped or failed) trial records, by trial number."""
    from nas.store import TrialStore
    from runners.engine.run_folder import RunFolder

    if not run.is_dir():
        raise UserError(f"run folder not found: {run}")
    folder = RunFolder.open(run)
    with TrialStore.open(folder.store_path) as store:
        trials = [r for r in store.trials() if r.state in ("complete", "stopped", "failed")]
    return folder.config(), sorted(trials, key=lambda r: r.number)


def as_records(trials: list[Any]) -> list[tuple[int, float | None, float | None, int | None]]:
    """(trial, value or None if failed, GFLOPs, epoch it was stopped at or None) of trial records, as the
    search plots take them."""
    return [(r.number, r.value if r.state in ("complete", "stopped") else None, r.gflops,
             r.metrics.get("epochs_trained", 0) if r.state == "stopped" else None) for r in trials]


def value_label(config: Any) -> str:
    """The axis name of a search's value: the metric the objective scores, not the objective's name."""
    if config.objective != "train":
        return f"value ({config.objective} objective)"
    options = config.objective_options
    reading = "after the last epoch" if options.get("score") == "final" else "mean over epochs"
    penalty = ", FLOPs-penalised" if config.target_gflops is not None else ""
    return f"search-val top-1 ({reading}{penalty})"


def clip_text(config: Any) -> str:
    """The input one FLOPs count of a trial is made at ("4x32x32 clip"), from the objective's options."""
    from nas.objectives import make_objective

    objective = make_objective(config.objective, config.objective_options)
    frames, size = getattr(objective, "frames", None), getattr(objective, "size", None)
    return f"a {frames}x{size}x{size} clip" if frames and size else "the objective's input"


def search_title(run: Path, config: Any) -> str:
    """A figure title from what the search was: controller, space, objective and seed."""
    from runners.engine.run_folder import RunFolder

    space = RunFolder.open(run).space_text()
    name = next((line.split(":", 1)[1].strip() for line in space.splitlines() if line.startswith("name:")), "space")
    return f"{config.controller} over {name}, objective {config.objective}, seed {config.seed}"


def best_runs_figure(runs: list[Path], title: str | None) -> Figure:
    """The best value so far of each GP-bandit run, labelled by its controller and seed."""
    loaded = [finished_trials(run) for run in runs]
    labels = {value_label(config) for config, _ in loaded}
    if len(labels) > 1:
        raise UserError(f"the runs maximise different values ({'; '.join(sorted(labels))}): not one axis")
    names = [f"{config.controller}, seed {config.seed}" for config, _ in loaded]
    if len(set(names)) < len(names):
        names = [f"{name} ({run.name})" for name, run in zip(names, runs)]
    series = {name: as_records(trials) for name, (_, trials) in zip(names, loaded)}
    return best_so_far_figure(series, value_label=labels.pop(), title=title if title is not None else "best cell so far")


def gpb_run_figure(run: Path, plot: str, title: str | None) -> Figure:
    """A GP-bandit search's value per trial with the best so far, or value against GFLOPs."""
    config, trials = finished_trials(run)
    records = as_records(trials)
    title = title if title is not None else search_title(run, config)
    if plot == "pareto":
        flops = f"GFLOPs at {clip_text(config)} (multiply-add = 2)"
        return accuracy_flops_figure(records, value_label=value_label(config), flops_label=flops, title=title)
    return trial_values_figure(records, value_label=value_label(config), title=title)


RUN_PLOTS: dict[str, Callable[[Path, dict, str | None], Figure]] = {"supergraph": supergraph_run_figure}
"""Run kind (run.json "kind") -> the function making its figure."""


def run_figure(run: Path, title: str | None, plot: str = "trials") -> Figure:
    """The figure of a run folder: a GP-bandit search (it has a trial store), or the kind its run.json names."""
    if not run.is_dir():
        raise UserError(f"run folder not found: {run}")
    if (run / "trials.db").is_file():
        return gpb_run_figure(run, plot, title)
    info = load_json(run / "run.json", "run record")
    kind = info.get("kind") if isinstance(info, dict) else None
    if kind not in RUN_PLOTS:
        known = ", ".join(RUN_PLOTS)
        raise UserError(f"{run}: no plots for a run of kind {kind or 'training'!r} (plots exist for: {known})")
    return RUN_PLOTS[kind](run, info, title)
