"""The non-local block (`nas.ops.non_local.NonLocalBlock`) as a searchable op kind.

``forward(x, cell_input) = block(x)``: the embedded-Gaussian block with its own residual; it
reads only the op input (no key/value source).  One difference from the block the backbones
insert: its BatchNorm scale starts at one, not zero.  Inside a cell the cell's own zero-scale
BatchNorm already makes the cell the identity at first, and a zero scale here would also
keep theta, phi and g from getting any gradient until the scale has moved.

Choice ``pool``: the max-pooling window of keys and values, ``1x2x2`` (default, the reference
code's), ``2x2x2`` (an eighth of the positions) or ``1x1x1`` (no pooling).

Choice ``pool_rounding`` (optional): ``ceil`` (default; SAME padding, a 7x7 map gives 4x4 keys
and values) or ``floor`` (no padding, as the Caffe2 reference, facebookresearch/video-nonlocal-net:
7x7 gives 3x3).  ``ceil`` is kept because at the small odd maps of a cell (7x7, 5x5) floor
drops the last row and column from the keys and values, and it is what the backbones' blocks use.
"""

from __future__ import annotations

import torch
from torch import nn

from nas.ops.catalog import POOL_ROUNDING
from nas.ops.non_local import NonLocalBlock
from nas.ops.registry import OpConfig


def parse_size(text: str) -> tuple[int, int, int]:
    """"1x2x2" -> (1, 2, 2)."""
    t, h, w = (int(part) for part in text.split("x"))
    return t, h, w


class NonLocalOp(nn.Module):
    """The embedded-Gaussian non-local block (with its residual) on the op input."""

    def __init__(self, config: OpConfig) -> None:
        super().__init__()
        rounding = str(config.choices.get(POOL_ROUNDING.name, POOL_ROUNDING.default))
        pool = parse_size(str(config.choices["pool"]))
        self.block = NonLocalBlock(config.shape.channels, pool=pool, pool_rounding=rounding)
        nn.init.ones_(self.block.bn.weight)

    def forward(self, x: torch.Tensor, cell_input: torch.Tensor) -> torch.Tensor:
        return self.block(x)
