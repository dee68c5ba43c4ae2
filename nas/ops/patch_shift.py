"""Temporal patch shift (TPS, Xiang et al., ECCV 2022) around an attention, as an op kind.

Before the attention, the token at spatial position (h, w) of frame t is replaced by the token
at (h, w) of frame t + offset(h, w) (cyclically, as TPS's `roll`); after the attention every
token is shifted back, so shift followed by shift-back is the identity.  A per-frame spatial
attention thereby sees tokens of up to 16 frames: a sparse spatiotemporal attention at the
cost of a spatial one.

The offsets tile the frame with the patterns of the supplementary's Figure 1 (row by row):

    A (2x2)   0  1        B (2x2)   0  1        C (3x3)  -4  1  2      D (4x4)   0  1  2  3
             -1  0                 -1  2                -1  0  3               -1 -7  4  5
                                                        -2 -3  4               -2 -4  7  6
                                                                               -3 -5 -6  8

B replaces a quarter of A's zeros by +2; C places 9 consecutive frames in a 3x3 grid, D 16 in
a 4x4 grid.  Offsets wrap modulo T (T_group, or the map's own T when the cell leaves a shorter
map unpadded; e.g. D's 8 and -7 are 0 and +1 when T = 8).
Sign convention: offset o brings the token of frame t + o (the supplementary's pseudo-code,
labelled "pattern B" but with pattern A's offsets, rolls the other way; the figure is the
reference here, and a mirrored pattern is the same family).

Choices:
- ``pattern``: A | B | C | D (default C, the paper's best);
- ``direction`` (optional): ``forward`` (default) - offset o brings frame t + o, as the figure
  reads; ``reference`` - frame t - o, as the official code's ``torch.roll(shifts=o)``
  (github.com/MartinXM/TPS), i.e. the patterns mirrored in time.  ``forward`` is kept: the
  figure is the paper's statement of the patterns, and mirroring in time gives an equally
  good pattern family, so the search loses nothing;
- ``tiling`` (optional) and ``shift_window``: ``map`` (default) - the tile repeats over the
  whole map; ``window`` - it restarts at the corner of every ``shift_window`` x
  ``shift_window`` window (default 7), as the official code shifts inside each 7x7 Swin
  window.  The two are equal on maps up to the window size (the paper's 7x7 windows) and
  differ beyond; ``map`` is kept because the cell's maps are not Swin windows, and a tile
  cut off at a window edge (7 is no multiple of 2, 3 or 4) breaks the pattern's frame mix;
- ``attention``: the attention it wraps (softmax, logits scaled by 1/sqrt(row length)):
  ``frame`` (default) - each frame's H*W tokens attend to each other (row length C), the
  ViT/Swin spatial attention TPS is made for; ``temporal`` / ``spatial`` - the AttentionNAS
  dot-product op of that dimension.  (The global ``spatiotemporal`` attention is left out:
  without position encodings it is equivariant to any token permutation, so shifting before
  and back after it would change nothing.)
"""

from __future__ import annotations

import torch
from torch import nn

from nas.ops.attention import DotProductAttention
from nas.ops.catalog import DIRECTION, PATTERNS, SHIFT_WINDOW, TILING  # PATTERNS: Figure 1
from nas.ops.factorized import AxisAttention
from nas.ops.registry import FeatureShape, OpConfig


def pattern_offsets(pattern: str, height: int, width: int, window: int | None = None) -> torch.Tensor:
    """The frame offset of every spatial position, (H, W): the pattern's tile repeated over the
    map, or restarted at the corner of every `window` x `window` window when `window` is given."""
    tile = torch.tensor(PATTERNS[pattern], dtype=torch.long)  # (p, p)
    rows, cols = torch.arange(height), torch.arange(width)
    if window is not None:
        rows, cols = rows % window, cols % window  # position inside its window
    return tile[(rows % tile.shape[0])[:, None], (cols % tile.shape[1])[None, :]]  # (H, W)


def shift_index(offsets: torch.Tensor, frames: int, back: bool = False) -> torch.Tensor:
    """Source frame of every (t, h, w): (t + offset) mod T, or (t - offset) mod T to shift back."""
    sign = -1 if back else 1
    t = torch.arange(frames)[:, None, None]  # (T, 1, 1)
    return (t + sign * offsets[None]) % frames  # (T, H, W)


def gather_frames(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """y[:, :, t, h, w] = x[:, :, index[t, h, w], h, w] for x (B, C, T, H, W)."""
    return torch.gather(x, 2, index.expand(x.shape[0], x.shape[1], *index.shape))


def wrapped_attention(shape: FeatureShape, attention: str, kv_source: str) -> nn.Module:
    """The attention `attention` names, at `shape` (softmax, scaled)."""
    if attention == "frame":
        return AxisAttention(shape, "space", "softmax", True, kv_source)
    choices = {"dimension": attention, "activation": "softmax", "scale": True}
    return DotProductAttention(OpConfig(shape, choices, kv_source))


class PatchShiftAttention(nn.Module):
    """TPS: shift tokens across frames by a fixed pattern, attend, shift back."""

    def __init__(self, config: OpConfig) -> None:
        super().__init__()
        shape = config.shape
        choices = config.choices
        self.pattern = str(choices["pattern"])
        self.attention = wrapped_attention(shape, str(choices["attention"]), config.kv_source)
        self.reads_cell_input = config.kv_source == "cell_input"
        tiling = choices.get(TILING.name, TILING.default)
        window = int(choices.get(SHIFT_WINDOW.name, SHIFT_WINDOW.default)) if tiling == "window" else None
        offsets = pattern_offsets(self.pattern, shape.height, shape.width, window)
        if choices.get(DIRECTION.name, DIRECTION.default) == "reference":
            offsets = -offsets  # torch.roll(shifts=o) brings frame t - o
        self.register_buffer("offsets", offsets, persistent=False)
        self.register_buffer("forward_index", shift_index(offsets, shape.frames), persistent=False)
        self.register_buffer("back_index", shift_index(offsets, shape.frames, back=True), persistent=False)

    def index(self, frames: int, back: bool) -> torch.Tensor:
        """The gather index for a map of `frames` frames (offsets wrap modulo its own T: a cell
        map shorter than T_group is not padded, `nas.cell.group_frames`)."""
        if frames == self.forward_index.shape[0]:
            return self.back_index if back else self.forward_index
        return shift_index(self.offsets, frames, back=back)

    def shift(self, x: torch.Tensor) -> torch.Tensor:
        """Bring every position the token of its pattern's frame: (B, C, T, H, W) -> same."""
        return gather_frames(x, self.index(x.shape[2], back=False))

    def shift_back(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse of `shift`."""
        return gather_frames(x, self.index(x.shape[2], back=True))

    def forward(self, x: torch.Tensor, cell_input: torch.Tensor) -> torch.Tensor:
        source = self.shift(cell_input) if self.reads_cell_input else cell_input
        return self.shift_back(self.attention(self.shift(x), source))
