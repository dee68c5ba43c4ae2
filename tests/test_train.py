"""The training loop: schedule, optimizer groups, metrics, exact resume, NaN stop, checkpoints."""

from __future__ import annotations

import json
import math

import pytest
import torch

from nas.data import ClipDataset, SyntheticConfig, make_synthetic
from nas.distributed import World, epoch_batches
from nas.errors import UserError
from nas.evaluation import pair_counts, topk_correct
from nas.models import build_model
from nas.optim import learning_rate, make_optimizer
from nas.train import NonFiniteLoss, TrainConfig, seeded, train

DATA = SyntheticConfig(num_videos=40, frames=4, size=16, seed=2)
RECIPE = TrainConfig(epochs=2, batch_size=8, lr=0.05, warmup_epochs=0.5, device="cpu")


@pytest.fixture(scope="module")
def data():
    return make_synthetic(DATA)


def small_model(seed: int = 0, **options) -> torch.nn.Module:
    with seeded(seed):
        return build_model("tiny", num_classes=12, width=0.25, **options)


def test_learning_rate_warms_up_linearly_then_follows_a_cosine():
    peak, total, warmup = 0.4, 100, 10
    assert [learning_rate(s, total, warmup, peak) for s in (0, 4, 9)] == pytest.approx([0.04, 0.2, 0.4])
    assert learning_rate(55, total, warmup, peak) == pytest.approx(0.2)  # half way through the cosine
    for step in (10, 30, 77, 99):
        expected = 0.5 * peak * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))
        assert learning_rate(step, total, warmup, peak) == pytest.approx(expected)
    assert learning_rate(0, total, 0, peak) == pytest.approx(peak)


def test_weight_decay_only_on_conv_and_linear_weights():
    model = small_model()
    decay, other = make_optimizer(model, TrainConfig(weight_decay=0.01)).param_groups
    assert decay["weight_decay"] == 0.01 and other["weight_decay"] == 0.0
    assert all(p.dim() > 1 for p in decay["params"]) and all(p.dim() == 1 for p in other["params"])
    assert len(decay["params"]) + len(other["params"]) == len(list(model.parameters()))


def test_topk_and_pair_counts_on_hand_made_scores():
    scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    labels = torch.tensor([1, 2, 0, 1])
    assert topk_correct(scores, labels, 1) == 1
    assert topk_correct(scores, labels, 2) == 3
    assert topk_correct(scores, labels, 5) == 4  # k above the class count means every class
    # pair (0, 1): rows 0 (label 1: 0.7 > 0.1), 2 (label 0: 0.2 < 0.3), 3 (label 1: 0.3 < 0.6)
    assert pair_counts(scores, labels, [(0, 1)]) == (1, 3)


def test_batches_cover_full_batches_and_processes_split_each_global_batch():
    batches = list(epoch_batches(10, 4, seed=0, epoch=0))
    assert [len(b) for b in batches] == [4, 4] and len(set(sum(batches, []))) == 8
    assert batches == list(epoch_batches(10, 4, seed=0, epoch=0))
    assert batches != list(epoch_batches(10, 4, seed=0, epoch=1))
    halves = [list(epoch_batches(10, 4, 0, 0, World(rank, 2))) for rank in (0, 1)]
    for whole, first, second in zip(batches, *halves):
        assert sorted(first + second) == sorted(whole) and first == whole[0::2]


def test_training_writes_metrics_and_checkpoint_and_leaves_global_rng_alone(data, tmp_path):
    state = torch.get_rng_state()
    seen = []
    result = train(small_model(), data["train"], data["val"], RECIPE, tmp_path, data.pairs, on_epoch=seen.append)
    assert torch.equal(torch.get_rng_state(), state)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2] and lines == seen == result.history
    assert {"train_loss", "val_top1", "val_top5", "val_pair_accuracy", "lr", "clips_per_second"} <= set(lines[0])
    assert result.final_top1 == lines[-1]["val_top1"] and result.best_top1 == max(r["val_top1"] for r in lines)
    assert 0 <= result.final_top1 <= result.final_top5 <= 1 and result.wall_time > 0
    assert lines[-1]["val_count"] == len(data["val"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "metrics.jsonl"]  # no temporary files


def test_resume_continues_exactly_where_it_stopped(data, tmp_path):
    straight = small_model(dropout=0.3)
    train(straight, data["train"], data["val"], RECIPE)

    class Stop(Exception):
        pass

    def stop_after_first(record):
        raise Stop

    with pytest.raises(Stop):
        train(small_model(dropout=0.3), data["train"], data["val"], RECIPE, tmp_path, on_epoch=stop_after_first)
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1
    resumed = small_model(seed=99, dropout=0.3)  # other initial weights: the checkpoint's replace them
    result = train(resumed, data["train"], data["val"], RECIPE, tmp_path)
    assert result.resumed_from == 1 and len(result.history) == 2
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    again = train(small_model(), data["train"], data["val"], RECIPE, tmp_path)  # already finished: nothing to do
    assert again.resumed_from == 2 and again.history == result.history


def test_resuming_with_other_settings_or_another_model_is_refused(data, tmp_path):
    one = TrainConfig(epochs=1, batch_size=8, device="cpu")
    train(small_model(), data["train"], data["val"], one, tmp_path)
    with pytest.raises(UserError, match=r"trained with lr=0\.003, not 0\.2"):
        train(small_model(), data["train"], data["val"], TrainConfig(epochs=1, batch_size=8, lr=0.2), tmp_path)
    with pytest.raises(UserError, match="does not fit this model"):
        with seeded(0):
            other = build_model("tiny", num_classes=12, width=0.5)
        train(other, data["train"], data["val"], one, tmp_path)
    (tmp_path / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(UserError, match="cannot read checkpoint"):
        train(small_model(), data["train"], data["val"], one, tmp_path)


def test_a_nan_loss_stops_training_with_a_clear_error(data, tmp_path):
    clips = data["train"].clips.clone()
    poisoned = _FloatClips(clips, data["train"].labels, nan_index=5)
    with pytest.raises(NonFiniteLoss, match=r"loss is nan at epoch 1, step \d"):
        train(small_model(), poisoned, data["val"], RECIPE, tmp_path)
    assert not (tmp_path / "checkpoint.pt").exists()  # no epoch finished, nothing half-written


class _FloatClips(ClipDataset):
    """Clips with one NaN video."""

    def __init__(self, clips, labels, nan_index):
        super().__init__(clips, labels, [str(i) for i in range(12)])
        self.nan_index = nan_index

    def __getitem__(self, index):
        clip, label = super().__getitem__(index)
        return (clip * float("nan"), label) if index == self.nan_index else (clip, label)


def test_a_small_model_fits_a_handful_of_clips(data):
    few = data["train"].subset(0, 8)  # eight clips of eight classes
    result = train(small_model(), few, few, TrainConfig(epochs=25, batch_size=8, lr=0.2, device="cpu"))
    first, last = result.history[0], result.history[-1]
    assert last["train_loss"] < 0.1 * first["train_loss"]
    assert last["val_top1"] >= 0.75  # chance is 1/12


@pytest.mark.parametrize("changes, fragment", [
    ({"epochs": 0}, "epochs must be at least 1"),
    ({"lr": -1.0}, "lr must be a positive number"),
    ({"warmup_epochs": 5.0, "epochs": 2}, "warmup_epochs must be between 0 and epochs"),
    ({"batch_size": 1000}, "fewer than one batch of 1000"),
])
def test_bad_training_settings_are_user_errors(data, changes, fragment):
    with pytest.raises(UserError, match=fragment):
        train(small_model(), data["train"], data["val"], TrainConfig(**{"device": "cpu", **changes}))


def test_adamw_keeps_the_weight_decay_groups_and_gradient_clipping_bounds_the_first_step(data):
    model = small_model()
    adamw = make_optimizer(model, TrainConfig(optimizer="adamw", weight_decay=0.01))
    assert isinstance(adamw, torch.optim.AdamW)
    assert [g["weight_decay"] for g in adamw.param_groups] == [0.01, 0.0]
    assert all(p.dim() > 1 for p in adamw.param_groups[0]["params"])

    one_batch = data["train"].subset(0, 8)
    lr, clip = 0.5, 1e-3
    moved = {}
    for name, norm in (("clipped", clip), ("free", 0.0)):
        model = small_model()
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        config = TrainConfig(epochs=1, batch_size=8, lr=lr, optimizer="sgd", weight_decay=0.0, warmup_epochs=0.0,
                             clip_grad_norm=norm, device="cpu")
        train(model, one_batch, one_batch, config)
        moved[name] = float((torch.cat([p.detach().flatten() for p in model.parameters()]) - before).norm())
    assert moved["clipped"] <= lr * clip * 1.001  # one SGD step of a gradient clipped to norm `clip`
    assert moved["free"] > 10 * moved["clipped"]
    with pytest.raises(UserError, match="clip_grad_norm must not be negative"):
        TrainConfig(clip_grad_norm=-1.0).validate()
