"""The committed searches and comparisons in results/ agree with themselves and with the code.

Rerunning `bash results/search/run.sh` takes hours here, far too long for the suite; these
checks take seconds: the summary's best-so-far numbers are what the committed trial logs say,
every exported best cell is the best logged trial under the key the code computes today, the
comparison's FLOPs are what `nas.flops` counts for the committed genotypes now, its statistics
are what `nas.stats` computes from its own per-seed values, and the README shows the pages'
tables.
"""

from __future__ import annotations

import json
import re

import pytest

from nas.flops import count_flops
from nas.models import build_model
from nas.space import load_model_genotype
from nas.stats import mean_se, paired, verdict
from runners.engine.flops_table import count as paper_count
from tests.conftest import ROOT

SEARCH = ROOT / "results" / "search"
SUMMARY = json.loads((SEARCH / "summary.json").read_text())
CONTROLLERS = list(SUMMARY["best_so_far"])
COMPARISON = ROOT / "results" / "compare" / "comparison.json"
TRIAL_LINE = re.compile(r"trial +(\d+) complete score \S+ value (\S+) gflops (\S+) .* key (\w+)")


def logged(controller: str, seed: int) -> list[tuple[int, float, str]]:
    """(trial, value, key) of every finished trial in a committed search log."""
    lines = (SEARCH / "logs" / f"{controller}-s{seed}.log").read_text().splitlines()
    return [(int(m[1]), float(m[2]), m[4]) for m in map(TRIAL_LINE.search, lines) if m]


def test_the_summary_covers_four_controllers_over_three_seeds_of_thirty_trials():
    assert CONTROLLERS == ["gp_bandit", "random", "tpe", "optuna_gp"]
    assert SUMMARY["seeds"] == [0, 1, 2] and SUMMARY["marks"] == [10, 20, 30]
    for c in CONTROLLERS:
        for s in SUMMARY["seeds"]:
            assert [t for t, _, _ in logged(c, s)] == list(range(30)), f"{c}-s{s}"


@pytest.mark.parametrize("controller", ["gp_bandit", "random", "tpe", "optuna_gp"])
def test_the_best_so_far_numbers_are_the_logs_best_values_and_their_mean_and_se(controller):
    for mark in SUMMARY["marks"]:
        entry = SUMMARY["best_so_far"][controller][str(mark)]
        from_logs = [max(v for _, v, _ in logged(controller, s)[:mark]) for s in SUMMARY["seeds"]]
        assert [round(v, 4) for v in entry["values"]] == from_logs
        mean, se = mean_se(entry["values"])
        assert (entry["mean"], entry["se"]) == pytest.approx((mean, se))
        if controller != "random":
            test = paired(entry["values"], SUMMARY["best_so_far"]["random"][str(mark)]["values"])
            assert entry["versus_random"]["t_p"] == pytest.approx(test.t_p)
            assert entry["versus_random"]["verdict"] == verdict(test)


@pytest.mark.parametrize("controller", ["gp_bandit", "random", "tpe", "optuna_gp"])
def test_a_controllers_exported_cell_is_its_best_logged_trial_under_the_key_the_code_computes(controller):
    best = max(((v, -s, t, k, s) for s in SUMMARY["seeds"] for t, v, k in logged(controller, s)),
               key=lambda x: (x[0], x[1], -x[2]))
    value, _, trial, key, seed = best
    chosen = SUMMARY["best_cells"][controller]
    assert (chosen["seed"], chosen["trial"], chosen["key"]) == (seed, trial, key)
    genotype = load_model_genotype(str(SEARCH / controller / "best_genotype.json"))
    assert genotype.meta["trial"] == trial and genotype.meta["key"] == key
    assert genotype.cells["*"].key().startswith(key)
    assert round(genotype.meta["value"], 4) == value


def test_the_summary_page_names_its_commands_and_shows_the_summary_json_numbers():
    page = (SEARCH / "summary.md").read_text()
    assert f"Made by `{SUMMARY['command']}`" in page and "bash results/search/run.sh" in page
    for c in CONTROLLERS:
        row = next(line for line in page.splitlines() if line.startswith(f"| {c} | 0."))
        cells = [f" {e['mean']:.4f} ± {e['se']:.4f} " for e in (SUMMARY["best_so_far"][c][str(m)] for m in SUMMARY["marks"])]
        assert row.split("|")[2:5] == cells


def test_the_retrained_cells_in_the_summary_are_the_comparisons_runs():
    report = json.loads(COMPARISON.read_text())
    models = {m["key"]: m for m in report["models"]}
    for c in CONTROLLERS:
        model = models[f"cell-{c}"]
        assert model["cells"] == f"results/search/{c}/best_genotype.json"
        assert SUMMARY["retrained"][c]["mean_top1"]["values"] == model["mean_top1"]["values"]


def test_the_comparison_has_five_seeds_and_its_paired_tests_are_recomputable():
    report = json.loads(COMPARISON.read_text())
    assert report["schema"] == "attention-nas/comparison@2" and len(report["seeds"]) == 5
    models = {m["key"]: m for m in report["models"]}
    expected = {"backbone", "nonlocal", *(f"cell-{c}" for c in CONTROLLERS), "cell-sg1", "cell-sg2", "cell-sg3"}
    assert set(models) == expected
    for key, model in models.items():
        assert [run["seed"] for run in model["runs"]] == report["seeds"]
        for ref, metrics in model["versus"].items():
            for name, entry in metrics.items():
                test = paired(model[name]["values"], models[ref][name]["values"])
                assert (entry["mean"], entry["t_p"], entry["wilcoxon_p"]) == pytest.approx((test.mean, test.t_p, test.wilcoxon_p))
                assert entry["verdict"] == verdict(test)
        if key not in ("backbone", "nonlocal"):
            assert set(model["versus"]) == {"backbone", "nonlocal"}


def test_the_comparison_counts_the_flops_of_the_committed_cells():
    report = json.loads(COMPARISON.read_text())
    assert report["command"].startswith("nas compare ") and report["convention"] == "multiply-add = 2 FLOPs"
    assert f"Made by `{report['command']}`" in (COMPARISON.parent / "comparison.md").read_text()
    for model in report["models"]:
        cells = load_model_genotype(str(ROOT / model["cells"])) if model["cells"] else None
        nonlocal_blocks = model["key"] == "nonlocal"
        proxy = build_model(report["backbone"], cells, nonlocal_blocks=nonlocal_blocks, num_classes=report["num_classes"])
        assert count_flops(proxy, tuple(report["proxy_input"])).gflops == pytest.approx(model["proxy"]["gflops"], rel=1e-6)
        if model["paper"] is not None:
            counted = paper_count(report["paper_backbone"], cells=cells, nonlocal_blocks=nonlocal_blocks)
            assert counted.gflops == pytest.approx(model["paper"]["gflops"], rel=1e-6)


def tables(text: str) -> list[str]:
    """The markdown tables of a page: each run of consecutive lines that start with '|'."""
    blocks, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            blocks.append("\n".join(current))
            current = []
    return blocks


@pytest.mark.parametrize("page", ["search/summary.md", "compare/comparison.md"])
def test_the_readme_shows_every_table_of_the_committed_pages(page):
    found = tables((ROOT / "results" / page).read_text())
    readme = (ROOT / "README.md").read_text()
    assert found and all(table in readme for table in found)


def test_the_table_reader_splits_tables_at_prose():
    assert tables("| a |\n|---|\n| 1 |\n\ntext\n| b |\n") == ["| a |\n|---|\n| 1 |", "| b |"]


def test_the_readme_controller_table_is_the_quality_page_batch_1():
    """README's regret table (batch 1, both toy objectives) equals results/controllers/quality.md."""
    page = (ROOT / "results" / "controllers" / "quality.md").read_text()
    assert page.startswith("# python benchmarks/controller_quality.py ")

    def cells(objective: str) -> dict[str, list[str]]:
        section = page.split(f"## objective {objective}, batch 1\n")[1].split("## ")[0]
        rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines() if line.startswith("| ")]
        return {row[0]: row[1:4] for row in rows if len(row) == 6}

    toy, hard = cells("toy"), cells("toy:interaction=3,noise=2")
    readme = (ROOT / "README.md").read_text()
    for controller in ("random", "gp_bandit", "tpe", "optuna_gp"):
        assert f"| {controller} | " + " | ".join(toy[controller] + hard[controller]) + " |" in readme


def test_the_readme_quick_start_excerpt_is_lines_of_the_committed_output():
    """The console excerpt under "Quick start" is copied from results/quickstart/output.txt."""
    section = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    excerpt = section.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    output = (ROOT / "results" / "quickstart" / "output.txt").read_text().splitlines()
    shown = [line for line in excerpt if line != "..."]
    assert len(shown) >= 5 and all(line in output for line in shown)
    assert excerpt[-1] == output[-1] and excerpt[-1].startswith("done: 12 complete; best trial ")
    best = load_model_genotype(str(ROOT / "results" / "quickstart" / "best_genotype.json"))
    assert f"key {best.meta['key']}" in excerpt[-1]


def test_the_fidelity_page_is_its_numbers_rendered_and_the_readme_copies_its_table():
    import importlib.util

    spec = importlib.util.spec_from_file_location("fidelity", ROOT / "benchmarks" / "fidelity.py")
    fidelity = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fidelity)
    result = json.loads((ROOT / "results" / "fidelity" / "fidelity.json").read_text())
    page = (ROOT / "results" / "fidelity" / "fidelity.md").read_text()
    assert page == fidelity.markdown(result)
    for label, seeds in result["per_search"].items():  # the summary is the per-search numbers' mean and SE
        assert result["summary"][label]["epochs"] == pytest.approx(list(mean_se([s["epochs"] for s in seeds])))
    rows = [line for line in page.splitlines() if line.startswith("| gp_bandit+") or line.startswith("| random+")]
    readme = (ROOT / "README.md").read_text()
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert "| " + " | ".join(cells[:2] + cells[3:]) + " |" in readme  # the README leaves out trial-hours
