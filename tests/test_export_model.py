"""`nas export-model` and `nas.export`: a backbone with cells written to a file that plain PyTorch
loads, in a process that never imports this package, and that gives the network's own logits."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from nas.checkpoint import save_checkpoint
from nas.export import export_model
from nas.models import build_model
from nas.space import Genotype
from tests.conftest import ROOT, assert_one_line_error, run_nas

CLIP = (2, 3, 8, 32, 32)  # (N, C, T, H, W)
KINDS = ("dot_product", "map", "channel_shift", "divided_st", "non_local", "patch_shift", "relational")
LOAD_WITHOUT_NAS = """
import sys, torch
file_format, path, clip, out = sys.argv[1:]
x = torch.load(clip, weights_only=True)
model = torch.export.load(path).module() if file_format == "export" else torch.jit.load(path)
with torch.no_grad():
    torch.save(model(x), out)
print(sorted(name for name in sys.modules if name.split(".")[0] in ("nas", "runners")))
"""


def cell_of(*kinds: str) -> Genotype:
    """A cell with one op of each kind (default choices), all reading the cell input."""
    ops = [{"id": i, "kind": kind, "choices": {}, "gating": i == 1, "inputs": [{"from": 0, "weight": 1.0}]}
           for i, kind in enumerate(kinds, start=1)]
    return Genotype.from_json({
        "schema": "attention-nas/genotype@1", "kv_source": "cell_input",
        "preprocess": {"channels": 0.25, "height": 7, "width": 7, "frames": 8}, "ops": ops,
        "combine": {"mode": "concat", "outputs": list(range(1, len(kinds) + 1))},
    })


def trained_looking(model: torch.nn.Module) -> torch.nn.Module:
    """`model` with its zero-initialised parameters drawn at random, so that every cell changes the
    logits (a fresh cell is the identity, and an export that dropped it would pass unnoticed)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.abs().sum():
                parameter.normal_(0, 0.5)
    return model.eval()


def logits_without_nas(tmp_path, path, file_format: str, clip: torch.Tensor) -> torch.Tensor:
    """Load the exported file in a fresh Python outside the repository, without this package."""
    torch.save(clip, tmp_path / "clip.pt")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", LOAD_WITHOUT_NAS, file_format, str(path), "clip.pt", "logits.pt"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[-2] == "[]", done.stdout  # neither nas nor runners was imported
    return torch.load(tmp_path / "logits.pt", weights_only=True)


@pytest.mark.parametrize("file_format, name", [("export", "model.pt2"), ("torchscript", "model.pt")])
def test_a_cell_of_seven_op_kinds_exports_and_gives_the_same_logits_without_nas(tmp_path, file_format, name):
    torch.manual_seed(0)
    model = trained_looking(build_model("tiny", cell_of(*KINDS), num_classes=5, width=0.5))
    without_cells = trained_looking(build_model("tiny", num_classes=5, width=0.5))
    export_model(model, CLIP, tmp_path / name, file_format)
    clip = torch.randn(CLIP, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        want = model(clip)
        assert not torch.allclose(want, without_cells(clip), atol=1e-3)  # the cells matter to the logits
    got = logits_without_nas(tmp_path, tmp_path / name, file_format, clip)
    assert got.shape == (2, 5)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_the_command_exports_a_search_result_with_a_runs_trained_weights(tmp_path):
    cells = ROOT / "results" / "search" / "gp_bandit" / "best_genotype.json"  # a model genotype, "*"
    torch.manual_seed(3)
    model = trained_looking(build_model("tiny", str(cells), num_classes=8))
    save_checkpoint(tmp_path / "run", {"model": model.state_dict()})
    out = tmp_path / "exported" / "model.pt"
    code, stdout, err = run_nas("export-model", "--backbone", "tiny", "--cells", cells, "--run", tmp_path / "run",
                                "--classes", 8, "--frames", 8, "--size", 32, "--batch", 2, "--format", "torchscript",
                                "-o", out)
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}: tiny + {cells}, clips 2x3x8x32x32; load it with torch.jit.load(")
    clip = torch.randn(CLIP, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        want = model(clip)
    torch.testing.assert_close(logits_without_nas(tmp_path, out, "torchscript", clip), want, rtol=1e-4, atol=1e-5)


def test_an_op_that_leaves_torch_is_refused_by_name_and_nothing_is_written(tmp_path):
    (tmp_path / "ata.json").write_text(cell_of("dot_product", "aligned_temporal").to_json())
    code, _, err = run_nas("export-model", "--backbone", "tiny", "--cells", tmp_path / "ata.json",
                           "-o", tmp_path / "m.pt2")
    assert_one_line_error(code, err, "cannot export the cell at s2: op 2 is 'aligned_temporal'", "linear_sum_assignment")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ata.json"]


@pytest.mark.parametrize("argv, fragment", [
    (["--run", "{tmp}"], "no checkpoint.pt there"),
    (["--classes", "3", "--run", "{run}"], "does not fit this model (size mismatch for head.fc.weight"),
    (["--option", "depth=3"], "backbone 'tiny' has no option 'depth'"),
])
def test_bad_runs_and_options_are_one_line(tmp_path, argv, fragment):
    save_checkpoint(tmp_path / "run", {"model": build_model("tiny", num_classes=8).state_dict()})
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{run}", str(tmp_path / "run")) for a in argv]
    code, _, err = run_nas("export-model", "--backbone", "tiny", "-o", tmp_path / "m.pt2", *argv)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "m.pt2").exists()
