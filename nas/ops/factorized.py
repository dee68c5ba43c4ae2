"""Token attention along one axis, built from the registry's dot-product op on re-folded maps.

TimeSformer-style operators (divided space-time, aligned temporal, patch shift) attend between
*tokens* (one position in one frame, C channels) along one axis:

- ``time``:  each spatial position attends over its own T frames (L = T rows of length C),
             a T x T attention matrix per position;
- ``space``: each frame attends over its own H*W positions (L = H*W rows of length C),
             an HW x HW attention matrix per frame.

Both are the AttentionNAS dot-product op (`nas.ops.attention.DotProductAttention`, Eq. A/B)
applied to a folded map: ``time`` folds the H*W positions into the batch, (B*H*W, C, T, 1, 1),
where the op's ``temporal`` rows are single tokens; ``space`` folds the T frames into the
batch, (B*T, C, 1, H, W), where its ``spatial`` rows are single tokens.  So the weights, the
activation, the 1/sqrt(C) scaling and the key/value source mean exactly what they mean for
the basic op, and the 1x1x1 query/key/value convolutions commute with the folding.
"""

from __future__ import annotations

import torch
from torch import nn

from nas.ops.attention import DotProductAttention
from nas.ops.registry import FeatureShape, OpConfig

AXES = ("time", "space")


def fold(x: torch.Tensor, axis: str) -> torch.Tensor:
    """(B, C, T, H, W) -> (B*H*W, C, T, 1, 1) for ``time``, (B*T, C, 1, H, W) for ``space``."""
    b, c, t, h, w = x.shape
    if axis == "time":
        return x.permute(0, 3, 4, 1, 2).reshape(b * h * w, c, t, 1, 1)  # (B*H*W, C, T, 1, 1)
    if axis == "space":
        return x.transpose(1, 2).reshape(b * t, c, 1, h, w)  # (B*T, C, 1, H, W)
    raise ValueError(f"unknown axis {axis!r}")


def unfold(y: torch.Tensor, axis: str, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """Inverse of `fold` for a map of `shape` (B, C, T, H, W)."""
    b, c, t, h, w = shape
    if axis == "time":
        return y.reshape(b, h, w, c, t).permute(0, 3, 4, 1, 2)  # (B, C, T, H, W)
    if axis == "space":
        return y.reshape(b, t, c, h, w).transpose(1, 2)  # (B, C, T, H, W)
    raise ValueError(f"unknown axis {axis!r}")


def folded_shape(shape: FeatureShape, axis: str) -> FeatureShape:
    """The shape the inner dot-product op sees for `axis`."""
    if axis == "time":
        return FeatureShape(shape.channels, shape.frames, 1, 1)
    if axis == "space":
        return FeatureShape(shape.channels, 1, shape.height, shape.width)
    raise ValueError(f"unknown axis {axis!r}")


class AxisAttention(nn.Module):
    """Dot-product attention between tokens along `axis` (``time`` or ``space``).

    `inner` is a registry `dot_product` op (dimension ``temporal`` for time, ``spatial`` for
    space) at the folded shape; its parameters are the query/key/value convolutions.
    """

    def __init__(self, shape: FeatureShape, axis: str, activation: str, scale: bool, kv_source: str) -> None:
        super().__init__()
        self.axis = axis
        dimension = {"time": "temporal", "space": "spatial"}[axis]
        choices = {"dimension": dimension, "activation": activation, "scale": scale}
        self.inner = DotProductAttention(OpConfig(folded_shape(shape, axis), choices, kv_source))

    @property
    def reads_cell_input(self) -> bool:
        """Whether keys and values come from the cell input."""
        return self.inner.kv_from_cell

    def forward(self, x: torch.Tensor, cell_input: torch.Tensor) -> torch.Tensor:
        source = fold(cell_input, self.axis) if self.reads_cell_input else None
        folded = fold(x, self.axis)
        y = self.inner(folded, folded if source is None else source)  # folded shape
        return unfold(y, self.axis, x.shape)  # (B, C, T, H, W)
