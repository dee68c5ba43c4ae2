"""Data a run opens: only the splits its stage needs, made once per process for a search's trials."""

from __future__ import annotations

import os

import pytest
import torch

import nas.data.synthetic as synthetic
from nas.data import SyntheticConfig, make_synthetic
from nas.data.export import export_synthetic
from nas.data.sources import open_data, shared_data
from nas.data.video_folder import ClipSampling
from nas.errors import UserError
from nas.objectives import TrialContext, make_objective
from nas.space import load_genotype
from tests.conftest import ROOT


def _count_renders(monkeypatch) -> list[str]:
    """Record the base split of every `render_split` call."""
    calls: list[str] = []
    render = synthetic.render_split

    def counted(config, split, count, chunk=64):
        calls.append(split)
        return render(config, split, count, chunk)

    monkeypatch.setattr(synthetic, "render_split", counted)
    return calls


def test_search_splits_render_only_the_training_videos_and_equal_the_full_dataset(monkeypatch):
    config = SyntheticConfig(num_videos=60, frames=4, size=16, seed=3)
    full = make_synthetic(config)
    calls = _count_renders(monkeypatch)
    search = make_synthetic(config, ["search_train", "search_val"])
    assert calls == ["train"]
    assert set(search.splits) == {"search_train", "search_val"}
    for name in ("search_train", "search_val"):
        assert torch.equal(search[name].clips, full[name].clips)
        assert torch.equal(search[name].labels, full[name].labels)
    with pytest.raises(UserError, match="unknown split 'train'"):
        search["train"]
    calls.clear()
    test_only = make_synthetic(config, ["test"])
    assert calls == ["test"] and torch.equal(test_only["test"].clips, full["test"].clips)


def test_unknown_or_no_split_is_a_user_error():
    config = SyntheticConfig(num_videos=60, frames=4, size=16)
    with pytest.raises(UserError, match="unknown split 'tests'"):
        make_synthetic(config, ["train", "tests"])
    with pytest.raises(UserError, match="no split"):
        make_synthetic(config, [])


def test_search_stage_opens_no_test_split_and_renders_train_only(monkeypatch):
    calls = _count_renders(monkeypatch)
    data = open_data("synthetic", "search", SyntheticConfig(num_videos=60, frames=4, size=16, seed=4))
    assert calls == ["train"] and data.test is None
    assert len(data.train) + len(data.val) == SyntheticConfig(num_videos=60).split_sizes()["train"]


def test_shared_data_is_made_once_per_arguments(monkeypatch):
    calls = _count_renders(monkeypatch)
    config = SyntheticConfig(num_videos=60, frames=4, size=16, seed=11)
    first = shared_data("synthetic", "search", config)
    again = shared_data("synthetic", "search", SyntheticConfig(num_videos=60, frames=4, size=16, seed=11))
    other = shared_data("synthetic", "search", SyntheticConfig(num_videos=60, frames=4, size=16, seed=12))
    assert again is first and other is not first
    assert calls == ["train", "train"]  # seed 11 once, seed 12 once


def test_shared_folder_is_reopened_when_its_annotations_change(tmp_path):
    export_synthetic(SyntheticConfig(num_videos=24, frames=4, size=16, seed=1), tmp_path)
    sampling = ClipSampling("train", frames=4)
    first = shared_data(str(tmp_path), "search", sampling=sampling)
    assert shared_data(str(tmp_path), "search", sampling=sampling) is first
    annotations = tmp_path / "search_train.csv"
    lines = annotations.read_text().splitlines()
    annotations.write_text("\n".join(lines[:-1]) + "\n")  # one video fewer
    stat = annotations.stat()
    os.utime(annotations, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a coarse clock still sees a change
    second = shared_data(str(tmp_path), "search", sampling=sampling)
    assert second is not first and len(second.train) == len(first.train) - 1


def test_trials_of_one_process_render_the_data_once_and_score_as_when_rendered_afresh(monkeypatch):
    """Two trials in one worker: one render, and the same scores as trials that each made their data."""
    options = {"num_videos": 60, "frames": 4, "size": 16, "epochs": 1, "batch_size": 8, "data_seed": 21}
    objective = make_objective("train", options)
    genotype = load_genotype(str(ROOT / "results" / "synthetic" / "temporal_dot_product.json"))
    calls = _count_renders(monkeypatch)
    first = objective.evaluate(genotype, TrialContext(seed=0, proposal_id="a"))
    second = objective.evaluate(genotype, TrialContext(seed=1, proposal_id="b"))
    assert calls == ["train"]
    monkeypatch.setattr("nas.data.sources.shared_data", open_data)  # afresh: no reuse
    fresh = objective.evaluate(genotype, TrialContext(seed=0, proposal_id="c"))
    assert calls == ["train", "train"]
    assert first.score == second.score == fresh.score
    assert first.metrics["val_loss"] == fresh.metrics["val_loss"]
