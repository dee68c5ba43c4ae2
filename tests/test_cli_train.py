"""`nas data synth` and `nas train`: run folders, resume, folders of videos, one-line errors."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, assert_one_line_error, run_nas

SMALL = ("--num-videos", "36", "--frames", "4", "--size", "16")
QUICK = ("--epochs", "1", "--batch-size", "8", "--width", "0.25", "--device", "cpu", "--no-progress")
CELL = ROOT / "results" / "synthetic" / "temporal_dot_product.json"


def test_train_on_synthetic_data_with_a_cell_writes_the_run_folder_and_resumes(tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run_nas("train", "--backbone", "tiny", "--cells", CELL, *SMALL, *QUICK, "--out", out)
    assert code == 0, err
    lines = stdout.splitlines()
    assert lines[0].startswith("epoch 1/1: train loss ") and " pair " in lines[0]
    assert lines[1].startswith("val: top1 ") and lines[2].startswith("test: top1 ") and "(5 videos)" in lines[2]
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "metrics.jsonl", "result.json", "run.json"]
    run = json.loads((out / "run.json").read_text())
    assert run["seed"] == 0 and run["settings"]["cells"] == str(CELL) and run["train_config"]["epochs"] == 1
    result = json.loads((out / "result.json").read_text())
    assert result["test"]["count"] == 5 and result["seconds_per_epoch"] > 0
    # the same command again: the checkpoint says the run is done, the numbers are the same
    code, again, err = run_nas("train", "--backbone", "tiny", "--cells", CELL, *SMALL, *QUICK, "--out", out)
    assert code == 0, err
    assert again.splitlines()[:2] == lines[1:3]


def test_search_stage_trains_on_search_train_and_has_no_test(tmp_path):
    code, stdout, err = run_nas("train", "--backbone", "tiny2d", "--stage", "search", *SMALL, *QUICK,
                                "--out", tmp_path / "run")
    assert code == 0, err
    assert not any(line.startswith("test:") for line in stdout.splitlines())
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert record["val_count"] == 6  # search_val: a quarter of the 26 training videos


def test_data_synth_writes_a_folder_that_train_reads(tmp_path):
    data = tmp_path / "synth"
    code, stdout, err = run_nas("data", "synth", "--out", data, "--num", "36", "--frames", "4", "--size", "16")
    assert code == 0, err
    assert stdout.splitlines()[0] == f"train: 26 videos -> {data}/train.csv"
    assert len(list((data / "videos" / "train").glob("*.mp4"))) == 26
    assert (data / "classes.txt").read_text().splitlines()[:2] == ["move_right", "move_left"]
    code, stdout, err = run_nas("train", "--backbone", "tiny", "--data", data, "--frames", "4", *QUICK,
                                "--out", tmp_path / "run")
    assert code == 0, err
    assert "test: top1" in stdout and " pair " in stdout  # pairs found by class name


@pytest.mark.parametrize("args, fragments", [
    (("--data", "no/such/folder"), ("--data must be 'synthetic' or a folder", "no/such/folder")),
    (("--cells", "missing.json"), ("genotype file not found: missing.json",)),
    (("--cells", "x.json", "--nonlocal"), ("not allowed with argument",)),
    (("--lr", "-1"), ("argument --lr: must be above 0",)),
    (("--seed", "-1"), ("argument --seed: must be in 0 .. 4294967295",)),
    (("--width", "nan"), ("argument --width: expected a finite number",)),
    (("--frames", "10000000"), ("argument --frames: must be in 1 .. 4096",)),
    (("--frames", "1000", "--size", "512"), ("need 105.5 GiB in memory, more than the 16 GiB limit",)),
    (("--frames", "1"), ("frames must be at least 4",)),
    (("--batch-size", "500"), ("fewer than one batch of 500",)),
])
def test_bad_train_input_is_one_line(tmp_path, args, fragments):
    code, _, err = run_nas("train", "--backbone", "tiny", *SMALL, *QUICK, "--out", tmp_path / "run", *args)
    assert_one_line_error(code, err, *fragments)


def test_unknown_backbone_and_changed_settings_on_resume_are_one_line(tmp_path):
    out = tmp_path / "run"
    code, _, err = run_nas("train", "--backbone", "vgg", *SMALL, *QUICK, "--out", out)
    assert_one_line_error(code, err, "unknown backbone 'vgg'")
    assert run_nas("train", "--backbone", "tiny2d", *SMALL, *QUICK, "--out", out)[0] == 0
    record = (out / "run.json").read_text()
    code, _, err = run_nas("train", "--backbone", "tiny2d", *SMALL, *QUICK, "--lr", "0.3", "--out", out)
    assert_one_line_error(code, err, "was trained with lr=0.003, not 0.3")
    assert (out / "run.json").read_text() == record


def test_a_diverging_run_stops_with_one_line(tmp_path):
    code, _, err = run_nas("train", "--backbone", "tiny", *SMALL, *QUICK, "--lr", "1e30", "--warmup-epochs", "0",
                           "--out", tmp_path / "run")
    assert_one_line_error(code, err, "training diverged: the training loss is ", "at epoch 1", "lower --lr")
    assert not (tmp_path / "run").exists()  # nothing finished, nothing left behind


def test_training_into_a_folder_of_something_else_is_refused_before_any_work(tmp_path):
    search = tmp_path / "search"
    search.mkdir()
    (search / "trials.db").write_bytes(b"x")
    (search / "config.json").write_text("{}")
    code, _, err = run_nas("train", "--backbone", "tiny", *SMALL, *QUICK, "--out", search)
    assert_one_line_error(code, err, "holds a search run, not a training run")
    assert sorted(p.name for p in search.iterdir()) == ["config.json", "trials.db"]


def test_data_synth_refuses_odd_frame_sizes(tmp_path):
    code, _, err = run_nas("data", "synth", "--out", tmp_path / "d", "--num", "24", "--size", "15")
    assert_one_line_error(code, err, "even frame size")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("flags, expected", [(("--nonlocal",), {"nonlocal_blocks": True}), ((), {})])
def test_nonlocal_flag_reaches_build_model_only_when_given(tmp_path, monkeypatch, flags, expected):
    import runners.engine.training as cmd_train
    from nas.errors import UserError

    seen = {}

    def record(backbone, cells, num_classes, width, **options):
        seen.update(options)
        raise UserError("stop here")

    monkeypatch.setattr(cmd_train, "build_model", record)
    code, _, err = run_nas("train", "--backbone", "tiny", *flags, *SMALL, *QUICK, "--out", tmp_path / "run")
    assert_one_line_error(code, err, "stop here")
    assert seen == expected


def test_a_zero_byte_checkpoint_is_one_line(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text("{}")
    (out / "checkpoint.pt").write_bytes(b"")
    code, _, err = run_nas("train", "--backbone", "tiny", *SMALL, *QUICK, "--out", out)
    assert_one_line_error(code, err, "cannot read checkpoint", "checkpoint.pt: EOFError")
