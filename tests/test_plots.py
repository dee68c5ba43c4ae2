"""Search plots: best-so-far and Pareto front on synthetic trial records, the comparison plot, and
`nas viz --run` on supergraph run folders (hand-written and, slow, a real `nas search diff`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nas.supergraph import SupergraphWeights, load_supergraph
from nas.viz.plots import (
    best_so_far_figure,
    Measured,
    TrialPoint,
    accuracy_flops_figure,
    best_so_far,
    comparison_figure,
    pareto_front,
    trial_values_figure,
)
from nas.viz.supergraph_plot import supergraph_weights_figure, weight_history
from tests.conftest import ROOT, assert_one_line_error, run_nas
from tests.test_viz import MAX_PNG_BYTES, PNG_MAGIC

SG1 = ROOT / "supergraphs" / "sg1.yaml"
# (trial, value, GFLOPs); trial 4 failed, trial 6 has no FLOPs
RECORDS = [(1, 0.50, 3.0), (2, 0.40, 1.0), (3, 0.60, 5.0), (4, None, 2.0), (5, 0.55, 2.0),
           (6, 0.70, None), (7, 0.60, 4.0), (8, 0.45, 2.5), (9, 0.58, 6.0)]


def test_best_so_far_skips_failures_and_follows_the_direction():
    assert best_so_far([None, 0.3, 0.2, None, 0.5, 0.4]) == [None, 0.3, 0.3, 0.3, 0.5, 0.5]
    assert best_so_far([0.3, 0.2, None, 0.5], maximize=False) == [0.3, 0.2, 0.2, 0.2]


def test_pareto_front_keeps_exactly_the_undominated_trials():
    front = pareto_front([TrialPoint(*r) for r in RECORDS])
    # 2 (cheapest), 5 (better than 1 and 8 for less), 7 (as good as 3 for less); 9 is worse than 7
    assert [p.trial for p in front] == [2, 5, 7]
    assert pareto_front([TrialPoint(2, 0.5, 1.0), TrialPoint(1, 0.5, 1.0)]) == [TrialPoint(2, 0.5, 1.0)]  # the earlier listed stays
    assert pareto_front([TrialPoint(1, None, 1.0)]) == []


def test_trial_values_figure_plots_values_best_so_far_and_failures():
    figure = trial_values_figure(RECORDS, value_label="search-val top-1")
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert list(lines["trial"].get_xdata()) == [1, 2, 3, 5, 6, 7, 8, 9]
    assert list(lines["best so far"].get_ydata()) == [0.5, 0.5, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7]
    failed = lines["failed (1, no value)"]
    values = [v for _, v, _ in RECORDS if v is not None]
    assert list(failed.get_xdata()) == [4] and failed.get_ydata()[0] < min(values)  # its own row, below every value
    ax = figure.axes[0]
    assert ax.get_ylabel() == "search-val top-1"
    assert all(float(t).is_integer() for t in ax.get_xticks())  # trial numbers, no fractional ticks
    legend = ax.get_legend()  # beside the axes, never over the data
    assert legend.get_bbox_to_anchor().x0 >= ax.get_window_extent().x1


def test_stopped_trials_are_drawn_hollow_and_are_never_the_best_or_on_the_front():
    records = RECORDS + [(10, 0.9, 0.5, 2), (11, 0.2, 1.0, 1)]  # stopped at epochs 2 and 1; 10 beats every value
    figure = trial_values_figure(records)
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    stopped = lines["stopped early (2, value at its last epoch)"]
    assert list(stopped.get_xdata()) == [10, 11] and stopped.get_markerfacecolor() == "none"
    assert list(lines["best so far"].get_ydata())[-2:] == [0.7, 0.7]
    assert list(lines["failed (1, no value)"].get_ydata())[0] < 0.2  # still below every drawn value
    assert 10 not in [p.trial for p in pareto_front(records)]  # cheapest and best, but low fidelity
    band = {line.get_label(): line for line in best_so_far_figure({"asha": records}).axes[0].get_lines()}
    assert max(band["asha"].get_ydata()) == 0.7


def test_best_so_far_figure_has_one_step_line_per_search():
    other = [(1, None, 1.0), (2, 0.3, 1.0), (3, 0.8, 1.0)]
    figure = best_so_far_figure({"gpb": RECORDS, "random": other}, value_label="top-1")
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert sorted(lines) == ["gpb", "random"]
    assert list(lines["gpb"].get_ydata()) == [0.5, 0.5, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7]
    assert list(lines["random"].get_xdata()) == [2, 3] and list(lines["random"].get_ydata()) == [0.3, 0.8]
    assert figure.axes[0].get_ylabel() == "best top-1 so far"


def test_accuracy_flops_figure_draws_the_front_as_a_staircase():
    figure = accuracy_flops_figure(RECORDS, value_label="top-1")
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert len(lines["trial"].get_xdata()) == 7  # no failed trial, no trial without FLOPs
    front = lines["Pareto front (3), trial numbers"]
    assert list(front.get_xdata()) == [1.0, 2.0, 4.0] and list(front.get_ydata()) == [0.40, 0.55, 0.60]
    assert sorted(t.get_text() for t in figure.axes[0].texts) == ["2", "5", "7"]


def test_comparison_figure_has_a_point_and_error_bar_per_model(tmp_path):
    from nas.viz import save_figure

    points = [Measured("tiny", 0.1, 0.5, 0.02), Measured("+NL", 0.2, 0.6, None), Measured("+cell", 0.15, 0.7, 0.05)]
    figure = comparison_figure(points)
    ax = figure.axes[0]
    assert [c.get_label() for c in ax.containers] == ["tiny", "+NL", "+cell"]
    spans = [c.lines[2][0].get_segments()[0] if c.lines[2] else None for c in ax.containers]
    assert np.allclose(spans[0], [[0.1, 0.48], [0.1, 0.52]]) and spans[1] is None
    save_figure(figure, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes().startswith(PNG_MAGIC)


def test_comparison_figure_never_draws_two_models_alike():
    """Nine models (a comparison of results/compare has that many): no two share colour and marker."""
    points = [Measured(f"model {i}", 0.1 * i, 0.5, 0.01) for i in range(12)]
    styles = {(c.lines[0].get_color(), c.lines[0].get_marker()) for c in comparison_figure(points).axes[0].containers}
    assert len(styles) == 12


def fake_supergraph_run(folder, epochs: int = 3, seed: int = 0) -> list[dict]:
    """A run folder as `nas search diff` writes it, with random weights at positions s2 and s3."""
    graph, rng = load_supergraph(str(SG1)), np.random.default_rng(seed)

    def softmax(ids):
        w = np.exp(rng.normal(size=len(ids)))
        return {i: float(x) for i, x in zip(ids, w / w.sum())}

    records = []
    for epoch in range(1, epochs + 1):
        weights = {p: SupergraphWeights(graph, {n.id: softmax(graph.candidates(n.id)) for n in graph.nodes},
                                        {n.id: float(rng.uniform()) for n in graph.nodes},
                                        softmax([n.id for n in graph.nodes])).to_dict() for p in ("s2", "s3")}
        records.append({"epoch": epoch, "val_top1": 0.1, "architecture": weights})
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"kind": "supergraph", "supergraph": {"yaml": SG1.read_text()}}))
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return records


def test_supergraph_weights_figure_has_sink_connection_and_gating_panels_with_the_logged_values(tmp_path):
    records = fake_supergraph_run(tmp_path / "run")
    graph = load_supergraph(str(SG1))
    epochs, history = weight_history(graph, records)
    figure = supergraph_weights_figure(graph, epochs, history)
    titles = [ax.get_title() for ax in figure.axes]
    # SG-1: level-0 nodes 1-6 read only the cell input; level-1 nodes 7-12 choose among 7 inputs
    assert titles[:8] == ["s2: sink weights", *(f"s2: inputs of node {n}" for n in
                          ("7 temporal", "8 temporal", "9 spatial", "10 spatial", "11 spatiotemporal", "12 spatiotemporal")),
                          "s2: gating probability"]
    assert len(titles) == 16 and titles[8] == "s3: sink weights"
    sink = figure.axes[8].get_lines()
    assert len(sink) == 12 and list(sink[4].get_xdata()) == [1, 2, 3]
    assert list(sink[4].get_ydata()) == [r["architecture"]["s3"]["sink"]["5"] for r in records]
    node9 = figure.axes[3].get_lines()
    assert len(node9) == 7 and list(node9[0].get_ydata()) == [r["architecture"]["s2"]["edges"]["9"]["0"] for r in records]


def test_nas_viz_run_plots_a_supergraph_run_and_refuses_other_folders(tmp_path):
    fake_supergraph_run(tmp_path / "run")
    code, out, err = run_nas("viz", "--run", tmp_path / "run", "-o", tmp_path / "weights.png")
    assert code == 0, err
    data = (tmp_path / "weights.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) < MAX_PNG_BYTES
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "run.json").write_text(json.dumps({"command": ["nas", "train"]}))
    code, _, err = run_nas("viz", "--run", tmp_path / "train", "-o", tmp_path / "x.png")
    assert_one_line_error(code, err, "no plots for a run of kind 'training'")
    code, _, err = run_nas("viz", "--run", tmp_path / "nothing", "-o", tmp_path / "x.png")
    assert_one_line_error(code, err, "run folder not found")
    with open(tmp_path / "run" / "metrics.jsonl", "a") as handle:
        handle.write('{"epoch": 4, "architecture": \n')
    code, _, err = run_nas("viz", "--run", tmp_path / "run", "-o", tmp_path / "x.svg")
    assert_one_line_error(code, err, "metrics.jsonl record 4")
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.svg").exists()


@pytest.mark.slow
def test_nas_viz_draws_a_real_supergraph_search(tmp_path):
    run = tmp_path / "sg"
    small = ["--num-videos", "72", "--frames", "4", "--size", "16", "--batch-size", "8", "--threads", "1"]
    assert run_nas("search", "diff", "--supergraph", SG1, "--preset", "quick", "--epochs", "2", *small, "--out", run)[0] == 0
    code, _, err = run_nas("viz", "--run", run, "-o", tmp_path / "weights.svg")
    assert code == 0, err
    code, _, err = run_nas("viz", run / "best_genotype.json", "-o", tmp_path / "cells.png")
    assert code == 0, err
    assert (tmp_path / "cells.png").read_bytes().startswith(PNG_MAGIC)


def toy_search(path, seed):
    """A finished 6-trial random search on the toy objective, run in this process (no Ray)."""
    from tests.test_search_driver import drive, new_run, open_driver

    run = new_run(path, seed=seed, objective_options={"seed": 1, "fail_fraction": 0.2})
    drive(open_driver(run))
    return run


def test_nas_viz_plots_gp_bandit_runs_alone_and_side_by_side(tmp_path):
    from nas.store import TrialStore
    from runners.engine.run_figures import best_runs_figure, gpb_run_figure

    first, second = toy_search(tmp_path / "a", 0), toy_search(tmp_path / "b", 1)
    with TrialStore.open(first.store_path) as store:
        values = [r.value if r.state == "complete" else None for r in sorted(store.trials(), key=lambda r: r.number)]
    figure = gpb_run_figure(first.path, "trials", None)
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert list(lines["best so far"].get_ydata()) == [b for b in best_so_far(values) if b is not None]
    pareto = gpb_run_figure(first.path, "pareto", None)
    assert any(label.startswith("Pareto front") for label in (line.get_label() for line in pareto.axes[0].get_lines()))
    both = {line.get_label(): line for line in best_runs_figure([first.path, second.path], None).axes[0].get_lines()}
    assert sorted(both) == ["random, seed 0", "random, seed 1"]  # named by what the searches were, not by folder
    assert list(both["random, seed 0"].get_ydata()) == list(lines["best so far"].get_ydata())
    assert figure.axes[0].get_title() == "random over attentionnas_gpb, objective toy, seed 0"
    assert pareto.axes[0].get_xlabel() == "GFLOPs at the objective's input (multiply-add = 2)"
    for plot in ("trials", "pareto"):
        code, out, err = run_nas("viz", "--run", first.path, "--plot", plot, "-o", tmp_path / f"{plot}.png")
        assert code == 0, err
        assert (tmp_path / f"{plot}.png").read_bytes()[:8] == PNG_MAGIC
    code, _, err = run_nas("viz", "--run", first.path, "--run", second.path, "--plot", "best", "-o", tmp_path / "b.svg")
    assert code == 0 and (tmp_path / "b.svg").read_text().lstrip().startswith("<?xml"), err
    code, _, err = run_nas("viz", "--run", first.path, "--run", second.path, "-o", tmp_path / "x.png")
    assert_one_line_error(code, err, "only with --plot best")
    code, _, err = run_nas("viz", "--run", first.path, "--run", tmp_path / "none", "--plot", "best", "-o", tmp_path / "y.png")
    assert_one_line_error(code, err, "not found")
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_pareto_front_takes_the_plain_tuples_the_readme_shows():
    records = [(1, 0.61, 2.3), (2, None, 2.1), (3, 0.66, 2.8)]
    assert pareto_front(records) == [TrialPoint(1, 0.61, 2.3), TrialPoint(3, 0.66, 2.8)]
