"""results/search/summarize.py: searches over seeds summarised with means, standard errors and
paired tests that equal their formulas, on small toy-objective searches run in this process."""

from __future__ import annotations

import importlib.util
import json
import statistics

import pytest
from scipy.stats import ttest_rel

from nas.space import load_model_genotype
from nas.stats import mean_se
from runners.engine.run_folder import RunFolder
from tests.conftest import ROOT
from tests.test_search_driver import FAST_GP, drive, finished, new_run, open_driver
from tests.test_viz import PNG_MAGIC

SPEC = importlib.util.spec_from_file_location("summarize", ROOT / "results" / "search" / "summarize.py")
summarize = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(summarize)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """gp_bandit and random, seeds 0 and 1, 6 toy trials each."""
    root = tmp_path_factory.mktemp("runs")
    for controller in ("gp_bandit", "random"):
        for seed in (0, 1):
            options = FAST_GP if controller == "gp_bandit" else {}
            run = new_run(root / f"{controller}-s{seed}", controller=controller, seed=seed, controller_options=options)
            drive(open_driver(run))
    return root


def best_after(rows, mark):
    return max(r[3] for r in rows[:mark])


def test_the_tables_are_the_means_standard_errors_and_paired_tests_of_the_searches(runs, tmp_path):
    compare = {"command": "nas compare ...", "seeds": [0, 1, 2], "models": [
        {"key": "backbone", "top1": {"values": [0.5, 0.6, 0.55]}, "mean_top1": {"values": [0.4, 0.5, 0.45]}},
        {"key": "cell-gp_bandit", "top1": {"values": [0.9, 0.8, 0.95]}, "mean_top1": {"values": [0.7, 0.72, 0.8]}},
        {"key": "cell-random", "top1": {"values": [0.85, 0.8, 0.9]}, "mean_top1": {"values": [0.6, 0.71, 0.74]}},
    ]}
    (tmp_path / "comparison.json").write_text(json.dumps(compare))
    out = tmp_path / "out"
    assert summarize.main([str(runs), "-o", str(out), "--controllers", "gp_bandit", "random", "--seeds", "0", "1",
                           "--marks", "3", "6", "--compare", str(tmp_path / "comparison.json"),
                           "--export", str(tmp_path / "cells")]) == 0
    page, numbers = (out / "summary.md").read_text(), json.loads((out / "summary.json").read_text())
    rows = {c: [finished(RunFolder.open(runs / f"{c}-s{s}")) for s in (0, 1)]
            for c in ("gp_bandit", "random")}
    for c in rows:
        cells = []
        for mark in (3, 6):
            mean, se = mean_se([best_after(r, mark) for r in rows[c]])
            assert numbers["best_so_far"][c][str(mark)]["mean"] == pytest.approx(mean)
            cells.append(f"{mean:.4f} ± {se:.4f}")
        assert f"| {c} | " + " | ".join(cells) + " |" in page
    at6 = [[best_after(r, 6) for r in rows[c]] for c in ("gp_bandit", "random")]
    versus = numbers["best_so_far"]["gp_bandit"]["6"]["versus_random"]
    assert versus["mean"] == pytest.approx(statistics.fmean(a - b for a, b in zip(*at6)))
    if len({a - b for a, b in zip(*at6)}) > 1:
        assert versus["t_p"] == pytest.approx(ttest_rel(*at6).pvalue)
    assert "| controller - random |" in page and "share their first" in page

    best = numbers["best_cells"]["random"]
    every = [(r[3], r[0], s) for s in (0, 1) for r in rows["random"][s]]
    assert best["value"] == max(v for v, _, _ in every)
    retrained = numbers["retrained"]["gp_bandit"]["mean_top1"]
    assert retrained["versus_random"]["mean"] == pytest.approx(statistics.fmean([0.1, 0.01, 0.06]))
    assert retrained["versus_random"]["t_p"] == pytest.approx(ttest_rel([0.7, 0.72, 0.8], [0.6, 0.71, 0.74]).pvalue)
    assert "| random | seed " in page and "held-out test split" in page
    assert (out / "best_so_far.png").read_bytes().startswith(PNG_MAGIC)
    for c in ("gp_bandit", "random"):  # the chosen search's best cell, exported under the controller's name
        exported = load_model_genotype(str(tmp_path / "cells" / c / "best_genotype.json"))
        assert exported.meta["key"] == numbers["best_cells"][c]["key"]
        assert (tmp_path / "cells" / c / "best_cell.png").read_bytes().startswith(PNG_MAGIC)
