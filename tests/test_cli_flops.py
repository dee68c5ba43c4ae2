"""`nas flops`: one model as text or JSON, the paper table, and one-line errors."""

from __future__ import annotations

import json

import pytest

from nas.flops import count_flops
from nas.models import build_model
from nas.space import ModelGenotype, load_genotype
from tests.conftest import ROOT, assert_one_line_error, run_nas

CELL = ROOT / "results" / "genotypes" / "gpb_fig_a_like.json"


def flops_json(*args: str) -> dict:
    code, out, err = run_nas("flops", *args, "--json")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def test_json_reports_what_count_flops_counts():
    data = flops_json("--backbone", "tiny", "--frames", "16", "--size", "32", "--classes", "10")
    report = count_flops(build_model("tiny", num_classes=10), (1, 3, 16, 32, 32))
    assert data["flops"] == report.flops and data["params"] == report.params
    assert data["gflops"] == round(report.gflops, 3) and data["params_m"] == round(report.params_m, 3)
    assert data["convention"] == "multiply-add = 2 FLOPs"
    assert data["input_shape"] == [1, 3, 16, 32, 32]


def test_cells_and_nonlocal_blocks(tmp_path):
    common = ("--backbone", "tiny", "--frames", "8", "--size", "32")
    plain = flops_json(*common)
    everywhere = flops_json(*common, "--cells", str(CELL))
    assert [k for k in everywhere["by_module_gflops"] if k.startswith("insert:")] == ["insert:s2", "insert:s3"]
    one = tmp_path / "model.json"
    one.write_text(ModelGenotype({"s3": load_genotype(str(CELL))}).to_json())
    only_s3 = flops_json(*common, "--cells", str(one))
    assert [k for k in only_s3["by_module_gflops"] if k.startswith("insert:")] == ["insert:s3"]
    assert plain["flops"] < only_s3["flops"] < everywhere["flops"]
    nonlocal_ = flops_json(*common, "--nonlocal")
    assert nonlocal_["blocks"] == "non-local blocks" and nonlocal_["flops"] > plain["flops"]


def test_options_width_and_batch():
    plain = flops_json("--backbone", "s3d", "--frames", "8", "--size", "32", "--width", "0.25")
    gated = flops_json("--backbone", "s3d", "--frames", "8", "--size", "32", "--width", "0.25", "--option", "gating=true")
    assert gated["options"] == {"gating": True} and gated["params"] > plain["params"]
    double = flops_json("--backbone", "s3d", "--frames", "8", "--size", "32", "--width", "0.25", "--batch", "2")
    assert double["flops"] == 2 * plain["flops"]


def test_text_output_names_the_convention_and_every_part():
    code, out, err = run_nas("flops", "--backbone", "i3d", "--frames", "8", "--size", "32", "--nonlocal")
    assert code == 0, err
    assert "GFLOPs (multiply-add = 2 FLOPs)" in out.splitlines()[0]
    parts = [line.split()[0] for line in out.splitlines()[3:]]
    assert parts[:2] == ["conv1", "pool1"] and "insert:4e" in parts and parts[-1] == "head"


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--backbone", "vgg"], "unknown backbone 'vgg'"),
        (["--backbone", "i3d", "--frames", "0"], "--frames: must be in 1 .. 4096, got 0"),
        (["--backbone", "i3d", "--size", "-8"], "--size: must be in 1 .. 4096, got -8"),
        (["--backbone", "i3d", "--batch", "x"], "--batch: expected an integer, got 'x'"),
        (["--backbone", "i3d", "--width", "0"], "--width: must be above 0"),
        (["--backbone", "i3d", "--width", "inf"], "--width: expected a finite number"),
        (["--backbone", "i3d", "--frames", "10000000"], "--frames: must be in 1 .. 4096"),
        (["--backbone", "tiny", "--cells", "missing.json"], "genotype file not found: missing.json"),
        (["--backbone", "tiny", "--cells", str(ROOT / "pyproject.toml")], "invalid JSON"),
        (["--backbone", "tiny", "--cells", str(CELL), "--nonlocal"], "not allowed with argument --cells"),
        (["--backbone", "s3d", "--option", "gate=1"], "backbone 's3d' has no option 'gate'"),
        (["--backbone", "s3d", "--option", "gating"], "--option expects NAME=VALUE"),
        ([], "one of the arguments --backbone --table --op is required"),
        (["--table", "out.md"], "--table needs --cells"),
        (["--table", "out.md", "--cells", str(CELL), "--size", "64"], "drop --size"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_nas("flops", *args)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "out.md").exists()


def test_an_invalid_genotype_names_its_field(tmp_path):
    bad = json.loads(CELL.read_text())
    bad["ops"][1]["choices"]["dimension"] = "diagonal"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    code, _, err = run_nas("flops", "--backbone", "tiny", "--cells", str(path))
    assert_one_line_error(code, err, "ops[1].choices.dimension")


@pytest.mark.slow
def test_results_flops_md_is_what_its_command_writes(tmp_path):
    """The committed table is reproduced by the command written at its top (about 30 s)."""
    committed = (ROOT / "results" / "flops.md").read_text()
    command = committed.split("Made by `", 1)[1].split("`", 1)[0].split()
    assert command[:4] == ["nas", "flops", "--table", "results/flops.md"]
    args = [str(ROOT / a) if a.endswith((".json", ".yaml")) else a for a in command[4:]]
    code, _, err = run_nas("flops", "--table", str(tmp_path / "flops.md"), *args)
    assert code == 0, err
    written = (tmp_path / "flops.md").read_text()
    for arg, local in zip(command[4:], args):
        written = written.replace(local, arg)
    assert written.replace(str(tmp_path / "flops.md"), "results/flops.md") == committed
