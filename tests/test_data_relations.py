"""The relational synthetic task: determinism, balance, match pairs, equal marginals, the order-blind bound."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from nas.data import SyntheticConfig, make_synthetic
from nas.data.relations import COLOR_CLASSES, HUES, MATCH_PAIRS, halves, two_hues
from nas.data.synthetic import TASKS, render_videos

SMALL = SyntheticConfig(num_videos=96, frames=4, size=24, seed=5, task="relations")
CLEAN = SyntheticConfig(num_videos=96, frames=8, size=32, noise=0.0, task="relations")
CLASSES = TASKS["relations"].classes


def test_relations_is_the_default_task():
    assert SyntheticConfig().task == "relations"


def test_same_seed_same_videos_and_a_video_does_not_depend_on_the_dataset_size():
    a, b = make_synthetic(SMALL), make_synthetic(SMALL)
    bigger = make_synthetic(SyntheticConfig(num_videos=192, frames=4, size=24, seed=5, task="relations"))
    for split in ("train", "val", "test"):
        assert torch.equal(a[split].clips, b[split].clips)
    assert torch.equal(bigger["train"].clips[: len(a["train"])], a["train"].clips)
    assert not torch.equal(a["train"].clips, make_synthetic(SyntheticConfig(**{**SMALL.__dict__, "seed": 6}))["train"].clips)


def test_classes_are_balanced_and_named_with_their_pairs():
    data = make_synthetic(SMALL)
    assert data.classes == CLASSES and len(CLASSES) == 8
    assert set(CLASSES) == {"move_right", "move_left", *COLOR_CLASSES, *(n for pair in MATCH_PAIRS for n in pair)}
    counts = torch.bincount(data["train"].labels, minlength=len(CLASSES))
    assert int(counts.max() - counts.min()) <= 1
    assert [(CLASSES[i], CLASSES[j]) for i, j in data.pairs] == [("move_right", "move_left")]
    assert [(CLASSES[i], CLASSES[j]) for i, j in data.match_pairs] == list(MATCH_PAIRS)


def test_reversed_classes_are_their_partners_played_backwards():
    for forward, backward in TASKS["relations"].time_reversed:
        a = render_videos([forward] * 3, [1, 2, 3], "train", SMALL)
        b = render_videos([backward] * 3, [1, 2, 3], "train", SMALL)
        assert torch.equal(b, a.flip(2)) and not torch.equal(a, a.flip(2))


def _squares(clip: torch.Tensor) -> dict[tuple[int, int, int], int]:
    """{(frame, quadrant row, quadrant column): hue index} of the squares of a noise-free clip (3, T, H, W)."""
    found = {}
    size = clip.shape[-1]
    for t in range(clip.shape[1]):
        frame = clip[:, t].float()  # (3, H, W)
        saturated = (frame.amax(dim=0) - frame.amin(dim=0)) > 100  # (H, W): a red or green square, not grey
        for qy in range(2):
            for qx in range(2):
                block = saturated[qy * size // 2:(qy + 1) * size // 2, qx * size // 2:(qx + 1) * size // 2]
                if block.sum() > 4:
                    pixels = frame[:, qy * size // 2:(qy + 1) * size // 2, qx * size // 2:(qx + 1) * size // 2][:, block]
                    found[(t, qy, qx)] = int(pixels[1].mean() > pixels[0].mean())  # 0 red, 1 green
    return found


@pytest.mark.parametrize("same, other", MATCH_PAIRS)
def test_match_pairs_differ_only_in_whether_the_two_corner_squares_share_a_colour(same, other):
    apart_in_time = same == "same_both"
    first_half, second_half = halves(CLEAN.frames)
    for name, expect_same in ((same, True), (other, False)):
        for clip in render_videos([name] * 8, range(8), "train", CLEAN):
            squares = _squares(clip)
            corners = sorted({(qy, qx) for _, qy, qx in squares})
            assert len(corners) == 2 and corners[0][0] != corners[1][0] and corners[0][1] != corners[1][1], name
            frames_of = {c: {t for t, qy, qx in squares if (qy, qx) == c} for c in corners}
            if apart_in_time:  # one corner in the first half only, the other in the second half only
                spans = sorted(frames_of.values(), key=min)
                assert spans == [set(np.flatnonzero(first_half)), set(np.flatnonzero(second_half))], name
            else:
                assert all(len(f) == CLEAN.frames for f in frames_of.values()), name
            hues = {c: {squares[(t, *c)] for t in frames_of[c]} for c in corners}
            assert all(len(h) == 1 for h in hues.values()), name  # a square keeps its colour
            assert (hues[corners[0]] == hues[corners[1]]) == expect_same, name


def test_each_square_alone_has_the_same_colour_distribution_in_both_classes_of_a_match_pair():
    # What makes the pair relational: P(first hue), P(second hue) are uniform for "same" and for "different".
    for same in (True, False):
        draws = [two_hues(np.random.default_rng(i), same) for i in range(4000)]
        for position in (0, 1):
            counts = Counter(d[position] for d in draws)
            assert set(counts) == set(range(len(HUES)))
            assert max(abs(c / len(draws) - 1 / len(HUES)) for c in counts.values()) < 0.03
        assert all((a == b) == same for a, b in draws)


def test_colour_classes_show_one_square_of_their_colour():
    for hue, name in enumerate(COLOR_CLASSES):
        for clip in render_videos([name] * 4, range(4), "val", CLEAN):
            squares = _squares(clip)
            assert set(squares.values()) == {hue}
            assert len({t for t, _, _ in squares}) == CLEAN.frames


def test_an_order_blind_model_cannot_separate_reversed_pairs_frames_are_the_same_multiset():
    # The frame-order-blind bound: a reversed pair's clips hold the same frames, so any
    # function of the multiset of frames (e.g. tiny2d) scores 1/2 within the pair.
    for forward, backward in TASKS["relations"].time_reversed:
        a = render_videos([forward], [4], "val", SMALL)[0]
        b = render_videos([backward], [4], "val", SMALL)[0]
        frames_a = sorted(a[:, t].flatten().tolist() for t in range(a.shape[1]))
        frames_b = sorted(b[:, t].flatten().tolist() for t in range(b.shape[1]))
        assert frames_a == frames_b


def test_backgrounds_are_grey():
    clips = render_videos(list(CLASSES), range(len(CLASSES)), "test", CLEAN)  # (B, 3, T, H, W)
    background = clips.flatten(2).median(dim=2).values.float()  # (B, 3): most pixels are background
    assert (background.amax(dim=1) - background.amin(dim=1)).max() <= 1
    assert len(set(background[:, 0].tolist())) > 1  # a random level per video
