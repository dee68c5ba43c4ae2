"""The committed searches and comparisons in results/ agree with themselves and with the code.

Rerunning `bash results/search/run.sh` takes 25 to 35 minutes here, too long for the suite; these
checks take seconds: every best cell named in a summary is the one its run exported, its
canonical key is what the code computes today, and the FLOPs columns of the comparisons are
what `nas.flops` counts for the committed genotypes now.
"""

from __future__ import annotations

import json
import re

import pytest

from nas.flops import count_flops
from nas.models import build_model
from nas.space import load_model_genotype
from runners.engine.flops_table import count as paper_count
from tests.conftest import ROOT

SEARCH = ROOT / "results" / "search"
COMPARISONS = sorted(ROOT.glob("results/compare*/comparison.json"))
TRIAL_LINE = re.compile(r"trial +(\d+) complete score \S+ value (\S+) gflops (\S+) .* key (\w+)")


@pytest.mark.parametrize("name", ["gpb", "random"])
def test_a_search_exports_its_best_logged_trial_under_the_key_the_code_computes(name):
    lines = (SEARCH / name / "trials.log").read_text().splitlines()
    assert len(lines) == 20 and lines[-1].startswith("[20/20]")
    trials = [TRIAL_LINE.search(line).groups() for line in lines]
    number, value, gflops, key = max(trials, key=lambda t: (float(t[1]), -int(t[0])))
    genotype = load_model_genotype(str(SEARCH / name / "best_genotype.json"))
    assert genotype.meta["trial"] == int(number) and genotype.meta["key"] == key
    assert genotype.cells["*"].key().startswith(key)
    assert f"{genotype.meta['value']:.4f}" == value
    summary = (SEARCH / "summary.md").read_text()
    assert f"- {name}: best trial {number}, key `{key}`, {value}," in summary


def test_the_summary_names_its_command_and_its_best_so_far_columns_match_the_logs():
    summary = (SEARCH / "summary.md").read_text()
    assert "Made by `python results/search/summarize.py " in summary
    for name in ("gpb", "random"):
        values = [float(TRIAL_LINE.search(line).group(2)) for line in (SEARCH / name / "trials.log").read_text().splitlines()]
        row = next(line for line in summary.splitlines() if line.startswith(f"| {name} |"))
        assert row.split("|")[2:6] == [f" {max(values[:n]):.4f} " for n in (5, 10, 15, 20)]


@pytest.mark.parametrize("path", COMPARISONS, ids=lambda p: p.parent.name)
def test_a_comparison_counts_the_flops_of_the_committed_cells(path):
    report = json.loads(path.read_text())
    assert report["command"].startswith("nas compare ") and report["convention"] == "multiply-add = 2 FLOPs"
    assert f"Made by `{report['command']}`" in (path.parent / "comparison.md").read_text()
    for model in report["models"]:
        assert len(model["runs"]) == len(report["seeds"]) == 3
        cells = load_model_genotype(str(ROOT / model["cells"])) if model["cells"] else None
        nonlocal_blocks = model["key"] == "nonlocal"
        proxy = build_model(report["backbone"], cells, nonlocal_blocks=nonlocal_blocks, num_classes=report["num_classes"])
        assert count_flops(proxy, tuple(report["proxy_input"])).gflops == pytest.approx(model["proxy"]["gflops"], rel=1e-6)
        if model["paper"] is not None:
            counted = paper_count(report["paper_backbone"], cells=cells, nonlocal_blocks=nonlocal_blocks)
            assert counted.gflops == pytest.approx(model["paper"]["gflops"], rel=1e-6)


@pytest.mark.parametrize("page", ["search/summary.md", "compare/comparison.md"])
def test_the_readme_tables_are_the_committed_pages_tables(page):
    table = "\n".join(line for line in (ROOT / "results" / page).read_text().splitlines() if line.startswith("|"))
    assert table and table in (ROOT / "README.md").read_text()


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
