"""`nas compare`: a tiny comparison end to end (table, figure, JSON), its runs equal to `nas train`
runs, reruns that skip finished runs, the paper-size column, and one-line refusals."""

from __future__ import annotations

import json
import statistics

import pytest
from scipy.stats import ttest_rel

from nas.space import load_space
from runners.engine.comparison import ModelPlan, paper_report
from runners.engine.compare_report import percent
from runners.engine.flops_table import count
from tests.conftest import ROOT, assert_one_line_error, run_nas
from tests.test_viz import PNG_MAGIC

CELL = ROOT / "results" / "synthetic" / "temporal_dot_product.json"
TINY = ["--epochs", "1", "--num-videos", "72", "--frames", "4", "--size", "16", "--batch-size", "8", "--threads", "1"]
MODELS = ["backbone", "nonlocal", "cell-dot"]


def compare(out, *extra) -> tuple[int, str, str]:
    return run_nas("compare", "--backbone", "tiny", "--cells", f"dot={CELL}", "--seeds", "2", *TINY, "--out", out, *extra)


def run_files(out) -> dict[str, float]:
    """Modification times of every run's metrics, to see which runs a rerun touched."""
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in sorted(out.glob("runs/*/*/metrics.jsonl"))}


def test_compare_writes_table_figure_and_json_and_a_rerun_skips_finished_runs(tmp_path):
    out = tmp_path / "cmp"
    code, stdout, err = compare(out)
    assert code == 0, err
    assert stdout.count("epoch 1/1") == 6
    report = json.loads((out / "comparison.json").read_text())
    assert [m["key"] for m in report["models"]] == MODELS and report["seeds"] == [0, 1]
    table = (out / "comparison.md").read_text()
    for model in report["models"]:
        results = [json.loads((out / "runs" / model["key"] / f"seed{s}" / "result.json").read_text()) for s in (0, 1)]
        top1 = [r["test"]["top1"] for r in results]
        assert model["top1"]["values"] == top1 and model["top1"]["mean"] == statistics.fmean(top1)
        assert model["top1"]["std"] == statistics.stdev(top1)
        assert model["top1"]["se"] == pytest.approx(statistics.stdev(top1) / 2 ** 0.5)
        for r in results:  # the test split scored after every epoch; its last point is the final test score
            assert len(r["test_curve"]["top1"]) == 1 and r["test_curve"]["top1"][-1] == r["test"]["top1"]
        curve = [r["test_curve"]["mean_top1"] for r in results]
        assert model["mean_top1"]["values"] == curve
        row = f"| {model['name']} | {percent(top1)} | {percent(curve)} | {percent([r['test']['top5'] for r in results])} |"
        assert row in table
        assert model["proxy"]["gflops"] > 0 and model["paper"] is None
    assert report["models"][2]["proxy"]["gflops"] > report["models"][0]["proxy"]["gflops"]  # the cell costs FLOPs
    cell, backbone, nonlocal_model = report["models"][2], report["models"][0], report["models"][1]
    assert backbone["versus"] == {} and set(nonlocal_model["versus"]) == {"backbone"}
    for ref, other in (("backbone", backbone), ("nonlocal", nonlocal_model)):
        test = cell["versus"][ref]["top1"]
        diffs = [a - b for a, b in zip(cell["top1"]["values"], other["top1"]["values"])]
        assert test["n"] == 2 and test["mean"] == pytest.approx(statistics.fmean(diffs))
        if len(set(diffs)) > 1:
            assert test["t_p"] == pytest.approx(ttest_rel(cell["top1"]["values"], other["top1"]["values"]).pvalue)
        assert test["verdict"] in ("higher", "lower", "no difference")
    assert "| tiny + dot | top-1 | tiny + NL | " in table and "paired t-test" in table
    assert report["test"] == {"primary": "paired t-test", "level": 0.05, "paired_by": "seed"}
    assert "`nas compare --backbone tiny --cells dot=" in table and "--seeds 2" in table
    assert "cannot show how the cells rank on Kinetics" in table and "No 250x256x256 column" in table
    assert "relational proxy, where 4 of the 8 classes form 2 pairs" in table  # the default task, described
    assert report["task"] == "relations" and report["match_pairs"] == 2
    assert (out / "comparison.png").read_bytes().startswith(PNG_MAGIC)

    before = run_files(out)
    code, stdout, err = compare(out)
    assert code == 0, err
    assert stdout.count("finished, skipped") == 6 and "epoch 1/1" not in stdout
    assert run_files(out) == before
    assert json.loads((out / "comparison.json").read_text()) == report

    for path in (out / "runs" / "nonlocal" / "seed1").iterdir():  # a run lost: only it is trained again
        path.unlink()
    code, stdout, err = compare(out)
    assert code == 0, err
    assert stdout.count("epoch 1/1") == 1 and stdout.count("finished, skipped") == 5
    assert json.loads((out / "comparison.json").read_text()) == report  # same seed, same numbers

    code, stdout, err = compare(out, "--seeds", "3")  # a third seed: three new runs, six kept
    assert code == 0, err
    assert stdout.count("epoch 1/1") == 3 and stdout.count("finished, skipped") == 6
    grown = json.loads((out / "comparison.json").read_text())
    assert [len(m["runs"]) for m in grown["models"]] == [3, 3, 3]
    assert [m["runs"][:2] for m in grown["models"]] == [m["runs"] for m in report["models"]]


def test_a_compare_run_is_the_nas_train_run_of_its_seed(tmp_path):
    out = tmp_path / "cmp"
    code, _, err = run_nas("compare", "--backbone", "tiny", "--seeds", "1", "--seed", "3", *TINY, "--out", out)
    assert code == 0, err
    code, _, err = run_nas("train", "--backbone", "tiny", "--nonlocal", "--seed", "3", *TINY, "--out", tmp_path / "train")
    assert code == 0, err
    alone = json.loads((tmp_path / "train" / "result.json").read_text())["test"]
    report = json.loads((out / "comparison.json").read_text())
    nonlocal_run = report["models"][1]["runs"][0]
    assert nonlocal_run["seed"] == 3 and nonlocal_run["test"]["loss"] == alone["loss"]
    assert report["models"][1]["top1"]["se"] is None and "± " not in (out / "comparison.md").read_text().split("|---")[1]
    assert "One seed: no paired tests" in (out / "comparison.md").read_text()


def test_paper_column_counts_the_blocks_in_the_paper_backbone_or_says_why_not(tmp_path):
    cell = load_space(str(ROOT / "search_spaces" / "attentionnas_gpb.yaml")).sample(seed=0)
    everywhere = tmp_path / "cell.json"
    everywhere.write_text(cell.to_json())
    per_position = tmp_path / "model.json"
    body = {k: v for k, v in cell.to_dict().items() if k != "schema"}
    per_position.write_text(json.dumps({"schema": "attention-nas/model-genotype@1", "cells": {"s2": body, "s3": body}}))
    report, note = paper_report(ModelPlan("cell-a", "tiny + a", cells=str(everywhere)), "s3d")
    assert note is None and report.flops == count("s3d", cells=cell).flops
    report, note = paper_report(ModelPlan("cell-b", "tiny + b", cells=str(per_position)), "s3d")
    assert report is None and "s2, s3" in note and "4a" in note
    report, note = paper_report(ModelPlan("nonlocal", "tiny + NL", nonlocal_blocks=True), "s3d")
    assert note is None and report.flops == count("s3d", nonlocal_blocks=True).flops
    assert paper_report(ModelPlan("backbone", "tiny"), None) == (None, None)


@pytest.mark.parametrize("extra, fragments", [
    (["--cells", f"dot={CELL}"], ("label 'dot' is given twice",)),
    (["--cells", "bad label=x.json"], ("a label is letters",)),
    (["--cells", "missing.json"], ("not found: missing.json",)),
    (["--stage", "search"], ("--stage must be train",)),
    (["--seeds", "0"], ("argument --seeds: must be in 1 .. 1000, got 0",)),
])
def test_bad_compare_input_is_one_line_and_trains_nothing(tmp_path, extra, fragments):
    code, _, err = compare(tmp_path / "cmp", *extra)
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "cmp" / "runs").exists()


def test_cells_at_positions_the_backbone_lacks_are_refused_before_training(tmp_path):
    cell = json.loads(CELL.read_text())
    cell.pop("schema")
    bad = tmp_path / "i3d_cells.json"
    bad.write_text(json.dumps({"schema": "attention-nas/model-genotype@1", "cells": {"4a": cell}}))
    code, _, err = run_nas("compare", "--backbone", "tiny", "--cells", bad, *TINY, "--out", tmp_path / "cmp")
    assert_one_line_error(code, err, "'4a'", "s2, s3")
    assert not (tmp_path / "cmp").exists()


def test_a_folder_of_another_recipe_or_cell_is_refused(tmp_path):
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "compare.json").write_text(json.dumps({"recipe": {"epochs": 5}, "cells": {}}))
    code, _, err = compare(out)
    assert_one_line_error(code, err, "another recipe", "epochs")
    (out / "compare.json").write_text("[]")
    code, _, err = compare(out)
    assert_one_line_error(code, err, "not the settings of a comparison")
    code, _, err = compare(tmp_path / "fresh", "--seeds", "1", "--epochs", "1")
    assert code == 0, err
    kept = json.loads((tmp_path / "fresh" / "compare.json").read_text())
    kept["cells"]["cell-dot"]["kv_source"] = "cell_input"
    (tmp_path / "fresh" / "compare.json").write_text(json.dumps(kept))
    code, _, err = compare(tmp_path / "fresh", "--seeds", "1")
    assert_one_line_error(code, err, "another cell under 'cell-dot'")


def test_the_command_in_the_table_does_not_depend_on_the_order_of_the_flags():
    from runners.cli import build_parser
    from runners.commands.compare import command_line

    parser = build_parser()
    a = parser.parse_args(["compare", "--backbone", "tiny", "--epochs", "2", "--out", "o", "--cells", "x=a.json", "--no-amp"])
    b = parser.parse_args(["compare", "--no-amp", "--out", "o", "--cells", "x=a.json", "--epochs", "2", "--backbone", "tiny"])
    assert command_line(a) == command_line(b) == "nas compare --backbone tiny --cells x=a.json --out o --epochs 2 --no-amp"


def test_parallel_jobs_give_the_same_numbers_as_one_training_after_another(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert compare(one, "--seeds", "1")[0] == 0
    code, stdout, err = compare(two, "--seeds", "1", "--jobs", "2")
    assert code == 0, err
    assert stdout.count(": test top-1 ") == 3 and "epoch 1/1" not in stdout  # each run's log is in its folder
    assert "epoch 1/1" in (two / "runs" / "cell-dot" / "seed0" / "log.txt").read_text()
    first, second = (json.loads((p / "comparison.json").read_text()) for p in (one, two))
    assert first["command"].replace(str(one), "") == second["command"].replace(str(two), "")  # --jobs is not recipe
    for a, b in zip(first["models"], second["models"]):
        assert [r["test"] for r in a["runs"]] == [r["test"] for r in b["runs"]]


def test_compare_refuses_jobs_below_one(tmp_path):
    code, _, err = compare(tmp_path / "cmp", "--jobs", "0")
    assert_one_line_error(code, err, "argument --jobs: must be in 1 .. 1024, got 0")
    assert not (tmp_path / "cmp").exists()


def test_the_paper_tables_page_puts_the_comparison_beside_the_quoted_rows(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("paper_tables", ROOT / "results" / "compare" / "paper_tables.py")
    paper_tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(paper_tables)
    out = tmp_path / "cmp"
    code, _, err = run_nas("compare", "--backbone", "tiny", "--cells", f"gp_bandit={CELL}", "--cells", f"sg1={CELL}",
                           "--seeds", "2", "--paper-backbone", "i3d", *TINY, "--out", out)
    assert code == 0, err
    assert paper_tables.main([str(out / "comparison.json"), "-o", str(tmp_path / "tables.md")]) == 0
    text = (tmp_path / "tables.md").read_text()
    report = json.loads((out / "comparison.json").read_text())
    cell = report["models"][2]
    row = next(line for line in text.splitlines() if line.startswith("| I3D+Cell |"))
    assert row.startswith("| I3D+Cell | 77.86 | 93.75 | 1170 | tiny + gp_bandit | ")
    assert f"| {paper_tables.score(cell, 'top1')} | {paper_tables.score(cell, 'mean_top1')} |" in row
    assert row.endswith(f"| {cell['paper']['gflops']:.1f} |")
    verdict = cell["versus"]["nonlocal"]["mean_top1"]["verdict"]
    assert f"| {verdict} (p " in row
    assert "| I3D+SG-2 Cell | 77.82 | 93.75 | (not in this comparison) |" in text
    assert "quoted from the AttentionNAS supplementary" in text
