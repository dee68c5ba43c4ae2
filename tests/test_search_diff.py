"""`nas search diff`: supergraph training end to end, resume, DDP, and export to `nas train`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from nas.space import ModelGenotype, load_model_genotype
from tests.conftest import ROOT, assert_one_line_error, run_nas

SG1 = str(ROOT / "supergraphs" / "sg1.yaml")
SMALL = ["--num-videos", "72", "--frames", "4", "--size", "16", "--batch-size", "8", "--threads", "1"]


def diff_command(out, *extra) -> list[str]:
    return ["search", "diff", "--supergraph", SG1, "--preset", "quick", "--epochs", "2", *SMALL, "--out", str(out), *extra]


def parsed_diff(*flags: str):
    from runners.cli import build_parser
    from runners.commands.search_diff import apply_preset

    return apply_preset(build_parser().parse_args(["search", "diff", "--supergraph", SG1, "--out", "o", *flags]))


def test_flags_typed_on_the_command_line_win_over_the_preset_even_at_their_default_values():
    quick = parsed_diff("--preset", "quick", "--epochs", "8", "--num-videos", "1800")  # both the defaults
    assert (quick.epochs, quick.num_videos, quick.arch_lr, quick.threads) == (8, 1800, 0.05, 1)
    assert parsed_diff("--preset", "quick").num_videos == 600
    plain = parsed_diff()
    assert (plain.epochs, plain.num_videos, plain.threads) == (plain.parser_defaults["epochs"], 1800, None)


@pytest.mark.slow
def test_search_diff_derives_cells_that_nas_train_trains(tmp_path):
    run = tmp_path / "run"
    code, out, err = run_nas(*diff_command(run))
    assert code == 0, err
    derived = load_model_genotype(str(run / "best_genotype.json"))
    assert set(derived.cells) == {"s2", "s3"}
    for cell in derived.cells.values():
        assert cell.combine.mode == "sum" and len(cell.combine.outputs) == 3  # alpha = 3
        assert all(len(op.inputs) <= 2 for op in cell.ops)  # beta = 2
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    sink = records[-1]["architecture"]["s2"]["sink"]
    assert len(sink) == 12 and abs(sum(sink.values()) - 1) < 1e-6 and max(sink.values()) > 1 / 12 + 1e-3
    assert json.loads((run / "run.json").read_text())["kind"] == "supergraph"
    assert "cell at s2" in out
    code, out, err = run_nas("train", "--backbone", "tiny", "--cells", run / "best_genotype.json", "--epochs", "1",
                             *SMALL, "--out", tmp_path / "train")
    assert code == 0, err
    assert "test: top1" in out


@pytest.mark.slow
def test_killed_search_resumes_to_the_same_cells(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert run_nas(*diff_command(straight, "--epochs", "3"))[0] == 0
    command = [sys.executable, "-m", "runners.cli", *diff_command(killed, "--epochs", "3")]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:  # kill it right after its first epoch is checkpointed
        if line.startswith("epoch 1/3"):
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=120)
    assert not (killed / "best_genotype.json").exists()
    assert len((killed / "metrics.jsonl").read_text().splitlines()) == 1
    assert run_nas(*diff_command(killed, "--epochs", "3"))[0] == 0
    assert load_model_genotype(str(killed / "best_genotype.json")) == load_model_genotype(str(straight / "best_genotype.json"))
    a = [json.loads(x)["architecture"] for x in (straight / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(x)["architecture"] for x in (killed / "metrics.jsonl").read_text().splitlines()]
    assert a == b


@pytest.mark.slow
def test_ddp_ranks_share_architecture_weights_and_derive_the_same_cells(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    out = tmp_path / "sg"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "tests.ddp_supergraph_worker", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (json.loads((tmp_path / f"sg.rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["weights"] == rank1["weights"]
    assert rank0["derived"] == rank1["derived"]
    assert ModelGenotype.from_json(rank0["derived"]).cells.keys() == {"s2", "s3"}
    sink = rank0["weights"]["s3"]["sink"]
    assert max(sink.values()) - min(sink.values()) > 1e-3  # the weights were trained


def test_bad_input_is_one_line(tmp_path):
    code, _, err = run_nas("search", "diff", "--supergraph", tmp_path / "none.yaml", "--out", tmp_path / "r")
    assert_one_line_error(code, err, "supergraph not found")
    code, _, err = run_nas("search", "diff", "--supergraph", SG1, "--alpha", "0", "--out", tmp_path / "r")
    assert_one_line_error(code, err, "argument --alpha: must be in 1 .. 1024, got 0")
    assert not (tmp_path / "r").exists()


def test_pruning_is_off_by_default_and_its_options_are_validated(tmp_path):
    from runners.engine.supergraph_search import pruning_option

    assert parsed_diff().prune_threshold == 0.0 and pruning_option(parsed_diff()) is None
    on = pruning_option(parsed_diff("--prune-threshold", "0.5", "--prune-epochs", "3", "--alpha", "4"))
    assert (on.threshold, on.epochs, on.keep) == (0.5, 3, 4)
    code, _, err = run_nas("search", "diff", "--supergraph", SG1, "--prune-threshold", "1.5", "--out", tmp_path / "r")
    assert_one_line_error(code, err, "argument --prune-threshold: must be in 0 .. 1, got 1.5")
    code, _, err = run_nas("search", "diff", "--supergraph", SG1, "--prune-threshold", "1", "--out", tmp_path / "r")
    assert_one_line_error(code, err, "--prune-threshold must be below 1")
    code, _, err = run_nas("search", "diff", "--supergraph", SG1, "--prune-epochs", "0", "--out", tmp_path / "r")
    assert_one_line_error(code, err, "argument --prune-epochs: must be in 1 .. 1000, got 0")
    assert not (tmp_path / "r").exists()


def test_a_pruning_search_records_what_it_pruned_and_derives_without_it(tmp_path, monkeypatch):
    """The per-epoch hook prunes every position's cell and lists the pruned nodes in the record."""
    import torch

    from nas.supergraph import Pruning, build_supergraph_model, load_supergraph
    from runners.engine.supergraph_search import architecture_record

    model = build_supergraph_model("tiny", load_supergraph(SG1), pruning=Pruning(0.5, epochs=1, keep=3))
    cell = model.inserted()["s2"]
    with torch.no_grad():
        cell.arch.sink[11] = -9.0  # node 12: level 1, so only its sink weight counts
    record = architecture_record(model)
    assert record["pruned"] == {"s2": [12], "s3": []}
    assert record["architecture"]["s2"]["sink"]["12"] == 0.0
    assert architecture_record(build_supergraph_model("tiny", load_supergraph(SG1))).keys() == {"architecture"}
