"""The relational synthetic task: determinism, balance, match pairs, time-reversed pairs, the order-blind bound."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas.data import SyntheticConfig, make_synthetic
from nas.data.relations import HUES, MATCH_PAIRS, flash_times
from nas.data.synthetic import TASKS, render_videos

SMALL = SyntheticConfig(num_videos=96, frames=8, size=24, seed=5, task="relations")
CLEAN = SyntheticConfig(num_videos=96, frames=8, size=32, noise=0.0, task="relations")
CLASSES = TASKS["relations"].classes


def test_same_seed_same_videos_and_a_video_does_not_depend_on_the_dataset_size():
    a, b = make_synthetic(SMALL), make_synthetic(SMALL)
    bigger = make_synthetic(SyntheticConfig(num_videos=192, frames=8, size=24, seed=5, task="relations"))
    for split in ("train", "val", "test"):
        assert torch.equal(a[split].clips, b[split].clips)
    assert torch.equal(bigger["train"].clips[: len(a["train"])], a["train"].clips)
    assert not torch.equal(a["train"].clips, make_synthetic(SyntheticConfig(**{**SMALL.__dict__, "seed": 6}))["train"].clips)


def test_classes_are_balanced_and_named_with_their_pairs():
    data = make_synthetic(SMALL)
    assert data.classes == CLASSES and len(CLASSES) == 8
    counts = torch.bincount(data["train"].labels, minlength=len(CLASSES))
    assert int(counts.max() - counts.min()) <= 1
    assert [(CLASSES[i], CLASSES[j]) for i, j in data.pairs] == [("move_right", "move_left"), ("grow", "shrink")]
    assert [(CLASSES[i], CLASSES[j]) for i, j in data.match_pairs] == list(MATCH_PAIRS)


def test_reversed_classes_are_their_partners_played_backwards():
    for forward, backward in TASKS["relations"].time_reversed:
        a = render_videos([forward] * 3, [1, 2, 3], "train", SMALL)
        b = render_videos([backward] * 3, [1, 2, 3], "train", SMALL)
        assert torch.equal(b, a.flip(2)) and not torch.equal(a, a.flip(2))


def _showings(clip: torch.Tensor) -> list[torch.Tensor]:
    """Mean colour (3,) of the foreground in each frame that shows a digit (noise-free clip)."""
    background = clip.flatten(2).median(dim=2).values[:, :, None, None]  # (3, T, 1, 1)
    mask = (clip.float() - background.float()).abs().amax(dim=0) > 40  # (T, H, W)
    return [clip[:, t][:, mask[t]].float().mean(dim=1) for t in range(clip.shape[1]) if mask[t].sum() > 3]


def _hue(rgb: torch.Tensor) -> int:
    """The nearest of `HUES` to a colour."""
    import colorsys

    h = colorsys.rgb_to_hsv(*(rgb / 255).tolist())[0]
    return int(np.argmin([min(abs(h - c), 1 - abs(h - c)) for c in HUES]))


@pytest.mark.parametrize("same, other", MATCH_PAIRS)
def test_match_pairs_differ_only_in_whether_the_first_and_last_showings_share_a_hue(same, other):
    for name, expect_same in ((same, True), (other, False)):
        for clip in render_videos([name] * 8, range(8), "train", CLEAN):
            shown = _showings(clip)
            assert len(shown) >= 2, name
            assert (_hue(shown[0]) == _hue(shown[-1])) == expect_same, name


def test_flashes_are_too_far_apart_for_the_tiny_backbones_receptive_field():
    for frames in (8, 16, 32):
        duration, first, second = flash_times(frames)
        assert first == 0 and second + duration == frames
        assert second - (first + duration - 1) >= 7  # no 7-frame window sees both
    clip = render_videos(["flash_same"], [0], "train", CLEAN)[0]  # (3, T, H, W)
    background = clip.flatten(2).median(dim=2).values[:, :, None, None]
    shows = ((clip.float() - background.float()).abs().amax(dim=0) > 40).flatten(1).any(dim=1)  # (T,)
    assert shows.tolist() == [True] + [False] * 6 + [True]


def test_an_order_blind_model_cannot_separate_reversed_pairs_frames_are_the_same_multiset():
    # The frame-order-blind bound: a reversed pair's clips hold the same frames, so any
    # function of the multiset of frames (e.g. tiny2d) scores 1/2 within the pair.
    for forward, backward in TASKS["relations"].time_reversed:
        a = render_videos([forward], [4], "val", SMALL)[0]
        b = render_videos([backward], [4], "val", SMALL)[0]
        frames_a = sorted(a[:, t].flatten().tolist() for t in range(a.shape[1]))
        frames_b = sorted(b[:, t].flatten().tolist() for t in range(b.shape[1]))
        assert frames_a == frames_b
