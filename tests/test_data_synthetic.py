"""The synthetic motion dataset: determinism, splits, time-reversed pairs, the motions themselves."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas.data import SyntheticConfig, make_synthetic, time_reversed_pairs
from nas.data.synthetic import CLASSES, TIME_REVERSED, _digit_pool, render_videos
from nas.errors import UserError

SMALL = SyntheticConfig(num_videos=60, frames=6, size=16, seed=3, task="motion")
CLEAN = SyntheticConfig(num_videos=60, frames=8, size=32, noise=0.0, task="motion")


def test_same_seed_same_videos_and_other_seed_other_videos():
    a, b = make_synthetic(SMALL), make_synthetic(SMALL)
    other = make_synthetic(SyntheticConfig(num_videos=60, frames=6, size=16, seed=4, task="motion"))
    for split in ("train", "val", "test"):
        assert torch.equal(a[split].clips, b[split].clips)
        assert not torch.equal(a[split].clips, other[split].clips)
    bigger = make_synthetic(SyntheticConfig(num_videos=120, frames=6, size=16, seed=3, task="motion"))
    n = len(a["train"])
    assert torch.equal(bigger["train"].clips[:n], a["train"].clips)  # a video does not depend on the dataset size


def test_samples_are_float_clips_in_unit_range():
    clip, label = make_synthetic(SMALL)["val"][5]
    assert clip.shape == (3, 6, 16, 16) and clip.dtype == torch.float32
    assert 0.0 <= float(clip.min()) and float(clip.max()) <= 1.0
    assert label == 5 and CLASSES[label] == "shrink"


def test_splits_sizes_search_carved_from_train_and_balanced_labels():
    data = make_synthetic(SMALL)
    sizes = SMALL.split_sizes()
    assert sizes == {"train": 42, "val": 9, "test": 9, "search_train": 32, "search_val": 10}
    assert {name: len(ds) for name, ds in data.splits.items()} == sizes
    joined = torch.cat([data["search_train"].clips, data["search_val"].clips])
    assert torch.equal(joined, data["train"].clips)
    counts = torch.bincount(data["train"].labels, minlength=len(CLASSES))
    assert int(counts.max() - counts.min()) <= 1
    with pytest.raises(UserError, match="unknown split 'dev'"):
        data["dev"]


def test_each_reversed_class_is_its_partner_played_backwards():
    for forward, backward in TIME_REVERSED:
        a = render_videos([forward, forward], [7, 8], "train", SMALL)
        b = render_videos([backward, backward], [7, 8], "train", SMALL)
        assert torch.equal(b, a.flip(2)), (forward, backward)
        assert not torch.equal(a, a.flip(2))
    pairs = make_synthetic(SMALL).pairs
    assert [(CLASSES[i], CLASSES[j]) for i, j in pairs] == list(TIME_REVERSED)
    assert time_reversed_pairs(["grow", "x", "shrink"]) == ((0, 2),)


def _foreground(clip: torch.Tensor) -> torch.Tensor:
    """Per-frame mask (T, H, W) of pixels that differ from the flat background (noise-free clips)."""
    background = clip.flatten(2).median(dim=2).values[:, :, None, None]  # (3, T, 1, 1)
    return (clip.float() - background.float()).abs().amax(dim=0) > 20  # (T, H, W)


def _trend(values: torch.Tensor) -> float:
    """Correlation of a per-frame series with time."""
    t = np.arange(len(values))
    return float(np.corrcoef(t, values.numpy())[0, 1])


@pytest.mark.parametrize("name, measure, sign", [
    ("move_right", "x", 1), ("move_left", "x", -1), ("move_down", "y", 1), ("move_up", "y", -1),
    ("grow", "area", 1), ("shrink", "area", -1), ("fade_in", "contrast", 1), ("fade_out", "contrast", -1),
    ("approach", "spread", -1), ("separate", "spread", 1),
])
def test_motions_move_the_way_their_names_say(name, measure, sign):
    clips = render_videos([name] * 6, range(6), "train", CLEAN)  # (6, 3, T, H, W)
    for clip in clips:
        mask = _foreground(clip)  # (T, H, W)
        ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
        area = mask.sum(dim=(1, 2)).float().clamp_min(1)
        contrast = (clip.float() - clip.float().flatten(2).median(dim=2).values[..., None, None]).abs()
        series = {
            "x": lambda: (mask * xs).sum(dim=(1, 2)) / area,
            "y": lambda: (mask * ys).sum(dim=(1, 2)) / area,
            "area": lambda: area,
            "contrast": lambda: contrast.sum(dim=(0, 2, 3)),  # (T,)
            "spread": lambda: torch.tensor([float(xs[m].std()) for m in mask]),  # (T,)
        }[measure]()
        assert sign * _trend(series) > 0.9, (name, series)


def test_static_and_noise_distractors_do_not_move():
    static = render_videos(["static"], [0], "train", CLEAN)[0]
    assert torch.equal(static, static[:, :1].expand_as(static))
    noise = render_videos(["noise"], [0], "train", SyntheticConfig(num_videos=60, frames=8, size=32, task="motion"))[0]
    assert float(noise.float().std()) > 5  # only noise, no sprite
    assert not _foreground(render_videos(["noise"], [0], "train", CLEAN)[0]).any()


def test_validation_and_test_show_digit_images_training_never_shows():
    pools = [_digit_pool(split) for split in ("train", "val", "test")]
    assert sum(len(p) for p in pools) == 1797
    flat = [{p.tobytes() for p in pool} for pool in pools]
    assert len(flat[1] & flat[0]) < 0.05 * len(flat[1])  # a few handwritten digits are pixel-identical


@pytest.mark.parametrize("changes, fragment", [
    ({"task": "motion", "frames": 1}, "frames must be at least 2"),
    ({"task": "relations", "frames": 3}, "frames must be at least 4 for task .relations."),
    ({"task": "chess"}, "unknown task .chess."),
    ({"size": 4}, "size must be at least 8"),
    ({"num_videos": 3}, "leave a split empty"),
    ({"val_fraction": 1.5}, "val_fraction must be between 0 and 1"),
])
def test_impossible_configs_are_user_errors(changes, fragment):
    with pytest.raises(UserError, match=fragment):
        make_synthetic(SyntheticConfig(**changes))


def test_digit_images_are_scikit_learns():
    from sklearn.datasets import load_digits

    from nas.data.synthetic import _digit_images

    np.testing.assert_array_equal(_digit_images(), load_digits().images / 16.0)
