"""Divided space-time attention (TimeSformer, Bertasius et al., ICML 2021) as an op kind.

    y = x + A_time(x)          every token attends over its own position in the T frames
    z = y + A_space(y)         then over the H*W positions of its own frame

in TimeSformer's order (temporal first), each with a residual.  A_time and A_space are
`nas.ops.factorized.AxisAttention`: the AttentionNAS dot-product op on token rows (length C),
so query/key/value are 1x1x1 convolutions; with the cell-level key/value source
``cell_input`` both stages take their keys and values from the cell input (Eq. B).
TimeSformer's LayerNorm, multi-head split, output projection and MLP are left out, as the
AttentionNAS ops have none: the cell's own 1x1x1 convolution and BatchNorm follow.

Choices: ``activation`` (phi of both stages, default softmax, as in TimeSformer) and ``scale``
(divide the logits by sqrt(C), default on).
"""

from __future__ import annotations

import torch
from torch import nn

from nas.ops.factorized import AxisAttention
from nas.ops.registry import OpConfig


class DividedSpaceTime(nn.Module):
    """TimeSformer's divided attention: temporal then spatial token attention, each residual."""

    def __init__(self, config: OpConfig) -> None:
        super().__init__()
        activation, scale = str(config.choices["activation"]), bool(config.choices["scale"])
        self.temporal = AxisAttention(config.shape, "time", activation, scale, config.kv_source)
        self.spatial = AxisAttention(config.shape, "space", activation, scale, config.kv_source)

    def forward(self, x: torch.Tensor, cell_input: torch.Tensor) -> torch.Tensor:
        y = x + self.temporal(x, cell_input)  # (B, C, T, H, W)
        return y + self.spatial(y, cell_input)  # (B, C, T, H, W)
