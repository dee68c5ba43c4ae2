"""Temporal patch shift: Figure 1's offsets, shift-back is the identity, the wrapped attention."""

from __future__ import annotations

import math

import pytest
import torch

from nas.ops import FeatureShape, OpConfig
from nas.ops.patch_shift import PATTERNS, PatchShiftAttention, pattern_offsets

# The supplementary's Figure 1, (a) to (d), each 4 x 4 grid row by row as printed.
FIGURE_1 = {
    "A": [[0, 1, 0, 1], [-1, 0, -1, 0], [0, 1, 0, 1], [-1, 0, -1, 0]],
    "B": [[0, 1, 0, 1], [-1, 2, -1, 2], [0, 1, 0, 1], [-1, 2, -1, 2]],
    "C": [[-4, 1, 2, -4], [-1, 0, 3, -1], [-2, -3, 4, -2], [-4, 1, 2, -4]],
    "D": [[0, 1, 2, 3], [-1, -7, 4, 5], [-2, -4, 7, 6], [-3, -5, -6, 8]],
}


def tps(pattern: str, attention: str = "frame", kv: str = "op_input", shape=FeatureShape(3, 16, 4, 4)) -> PatchShiftAttention:
    torch.manual_seed(0)
    return PatchShiftAttention(OpConfig(shape, {"pattern": pattern, "attention": attention}, kv)).double()


@pytest.mark.parametrize("pattern", "ABCD")
def test_offsets_match_figure_1_position_by_position(pattern):
    assert pattern_offsets(pattern, 4, 4).tolist() == FIGURE_1[pattern]
    period = len(PATTERNS[pattern])
    tiled = pattern_offsets(pattern, 12, 12)
    assert torch.equal(tiled, tiled.roll((period, period), dims=(0, 1)))  # the tile repeats
    assert torch.equal(pattern_offsets(pattern, 7, 5), tiled[:7, :5])
    assert torch.equal(tiled[:4, :4], torch.tensor(FIGURE_1[pattern]))
    consecutive = {"A": None, "B": None, "C": list(range(-4, 5)), "D": list(range(-7, 9))}[pattern]
    if consecutive:  # C: 9 consecutive frames in 3 x 3, D: 16 in 4 x 4
        assert sorted(tiled[:period, :period].flatten().tolist()) == consecutive


@pytest.mark.parametrize("pattern", "ABCD")
def test_shift_brings_each_position_the_token_of_its_frame(pattern):
    op = tps(pattern)
    t = torch.arange(16, dtype=torch.float64)
    x = t.view(1, 1, 16, 1, 1).expand(2, 3, 16, 4, 4)  # every token holds its own frame index
    shifted = op.shift(x)
    offsets = torch.tensor(FIGURE_1[pattern], dtype=torch.float64)
    for frame in range(16):
        assert torch.equal(shifted[0, 0, frame], (frame + offsets) % 16), frame
    assert torch.equal(shifted[1], shifted[0]) and torch.equal(shifted[:, 2], shifted[:, 0])


@pytest.mark.parametrize("pattern", "ABCD")
@pytest.mark.parametrize("frames, height, width", [(16, 4, 4), (8, 7, 7), (3, 5, 6)])
def test_shift_then_shift_back_is_the_identity(pattern, frames, height, width):
    op = tps(pattern, shape=FeatureShape(3, frames, height, width))
    x = torch.randn(2, 3, frames, height, width, dtype=torch.float64)
    assert torch.equal(op.shift_back(op.shift(x)), x)
    assert torch.equal(op.shift(op.shift_back(x)), x)
    moved = (pattern_offsets(pattern, height, width) % frames != 0).any()
    assert moved == (not torch.equal(op.shift(x), x))


def frame_attention(op: PatchShiftAttention, x: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
    """Softmax attention among the tokens of each frame, written with einsum (row length C)."""
    inner = op.attention.inner
    source = f0 if inner.kv_from_cell else x
    q, k, v = inner.query(x), inner.key(source), inner.value(source)
    c = x.shape[1]
    logits = torch.einsum("bcthw,bctuv->bthwuv", q, k) / math.sqrt(c)
    b, t, h, w = logits.shape[:4]
    weights = logits.reshape(b, t, h, w, h * w).softmax(-1).reshape(logits.shape)
    return torch.einsum("bthwuv,bctuv->bcthw", weights, v)


@pytest.mark.parametrize("kv", ["op_input", "cell_input"])
def test_op_is_frame_attention_between_shift_and_shift_back(kv):
    op = tps("C", kv=kv, shape=FeatureShape(3, 8, 5, 6))
    x, f0 = torch.randn(2, 2, 3, 8, 5, 6, dtype=torch.float64)
    expected = op.shift_back(frame_attention(op, op.shift(x), op.shift(f0)))
    torch.testing.assert_close(op(x, f0), expected, rtol=1e-10, atol=1e-12)
    # frame attention alone never mixes frames; with the shift, frame 0 sees tokens of frame 3
    # (C's offset 3 at row 1, column 2), through the keys and values (whichever map gives them)
    changed = (x.clone(), f0) if kv == "op_input" else (x, f0.clone())
    changed[0 if kv == "op_input" else 1][:, :, 3] += 1.0
    assert not torch.allclose(op(*changed)[:, :, 0], op(x, f0)[:, :, 0])
    assert torch.equal(frame_attention(op, *changed)[:, :, 0], frame_attention(op, x, f0)[:, :, 0])


@pytest.mark.parametrize("attention", ["temporal", "spatial"])
def test_wraps_the_attentionnas_dot_product_op(attention):
    op = tps("A", attention=attention, shape=FeatureShape(3, 4, 4, 4))
    x, f0 = torch.randn(2, 2, 3, 4, 4, 4, dtype=torch.float64)
    assert op.attention.dimension == attention
    torch.testing.assert_close(op(x, f0), op.shift_back(op.attention(op.shift(x), f0)))
    assert not torch.allclose(op(x, f0), op.attention(x, f0))


# --- reference-exact options (official code, github.com/MartinXM/TPS) ---------------------------


def tps_with(shape: FeatureShape, **options) -> PatchShiftAttention:
    torch.manual_seed(0)
    choices = {"pattern": options.pop("pattern", "C"), "attention": "frame", **options}
    return PatchShiftAttention(OpConfig(shape, choices, "op_input")).double()


def roll_per_position(x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """The official code's shift: every position's time line rolled by its offset (frame t - o)."""
    y = torch.empty_like(x)
    for h in range(x.shape[3]):
        for w in range(x.shape[4]):
            y[:, :, :, h, w] = torch.roll(x[:, :, :, h, w], shifts=int(offsets[h, w]), dims=2)
    return y


@pytest.mark.parametrize("pattern", "ABCD")
def test_reference_direction_is_torch_roll_by_the_offset(pattern):
    shape = FeatureShape(3, 8, 4, 4)
    op = tps_with(shape, pattern=pattern, direction="reference")
    x = torch.randn(2, 3, 8, 4, 4, dtype=torch.float64)
    offsets = torch.tensor(FIGURE_1[pattern])
    assert torch.equal(op.shift(x), roll_per_position(x, offsets))
    assert torch.equal(op.shift_back(op.shift(x)), x)
    # the default reads frame t + o: the same offsets mirrored in time
    forward = tps_with(shape, pattern=pattern)
    assert torch.equal(forward.shift(x), roll_per_position(x, -offsets))
    assert torch.equal(forward.shift(x), op.shift(x)) == (offsets % 8 == 0).all().item()
    frames = torch.arange(8, dtype=torch.float64).view(1, 1, 8, 1, 1).expand(1, 1, 8, 4, 4)
    assert op.shift(frames)[0, 0, 0, 0, 1].item() == 7.0  # C/A/B/D all have +1 at (0, 1): frame 0 - 1 = 7


@pytest.mark.parametrize("pattern", "ABCD")
def test_window_tiling_restarts_the_tile_in_every_window(pattern):
    window = pattern_offsets(pattern, 16, 16, window=7)
    whole = pattern_offsets(pattern, 16, 16)
    assert torch.equal(window[:7, :7], whole[:7, :7])  # one 7x7 window: the same
    assert torch.equal(window[7:14, 7:14], whole[:7, :7]) and torch.equal(window[14:, :7], whole[:2, :7])
    assert not torch.equal(window, whole)  # beyond 7x7: the tile restarts at row/column 7
    assert window[7, 7].item() == PATTERNS[pattern][0][0]
    assert whole[7, 7].item() == PATTERNS[pattern][7 % len(PATTERNS[pattern])][7 % len(PATTERNS[pattern])]


@pytest.mark.parametrize("size, equal", [(7, True), (5, True), (8, False), (14, False)])
def test_window_tiling_op_equals_map_tiling_up_to_the_window(size, equal):
    shape = FeatureShape(3, 8, size, size)
    x = torch.randn(2, 3, 8, size, size, dtype=torch.float64)
    by_window = tps_with(shape, tiling="window", shift_window=7)(x, x)
    assert torch.equal(by_window, tps_with(shape)(x, x)) == equal
    # a smaller window: already different at 7x7 (the tile restarts at row 4 for shift_window 4)
    if size == 7:
        assert not torch.equal(tps_with(shape, tiling="window", shift_window=4)(x, x), by_window)
