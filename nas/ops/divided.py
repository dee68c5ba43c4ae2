"""Divided space-time attention (TimeSformer, Bertasius et al., ICML 2021) as an op kind.

    y = x + A_time(x)          every token attends over its own position in the T frames
    z = y + A_space(y)         then over the H*W positions of its own frame

in TimeSformer's order (temporal first), each with a residual.  A_time and A_space are
`nas.ops.factorized.AxisAttention`: the AttentionNAS dot-product op on token rows (length C),
so query/key/value are 1x1x1 convolutions; with the cell-level key/value source
``cell_input`` both stages take their keys and values from the cell input (Eq. B).
TimeSformer's LayerNorm, multi-head split, output projection and MLP are left out, as the
AttentionNAS ops have none: the cell's own 1x1x1 convolution and BatchNorm follow.

Choices: ``activation`` (phi of both stages, default softmax, as in TimeSformer), ``scale``
(divide the logits by sqrt(C), default on) and ``temporal_init`` (optional): ``default`` - no
projection after A_time, the temporal stage acts from the first step; ``zero`` - a 1x1x1
convolution C -> C (TimeSformer's ``temporal_fc``, C^2 + C more parameters) after A_time whose
weight and bias start at zero, as the official code initialises it
(github.com/facebookresearch/TimeSformer), so the op starts as pure spatial attention and
the temporal stage grows in from the projection's gradient (A_time's own convolutions get
none until the projection has moved).  ``default`` is kept: TimeSformer zeroes the projection
so that ImageNet-pretrained spatial weights start undisturbed, and a searched cell has no
pretrained spatial stage to protect; it would only delay the temporal stage in a short
search trial.
"""

from __future__ import annotations

import torch
from torch import nn

from nas.ops.catalog import TEMPORAL_INIT
from nas.ops.factorized import AxisAttention
from nas.ops.registry import OpConfig


class DividedSpaceTime(nn.Module):
    """TimeSformer's divided attention: temporal then spatial token attention, each residual."""

    def __init__(self, config: OpConfig) -> None:
        super().__init__()
        activation, scale = str(config.choices["activation"]), bool(config.choices["scale"])
        self.temporal = AxisAttention(config.shape, "time", activation, scale, config.kv_source)
        self.spatial = AxisAttention(config.shape, "space", activation, scale, config.kv_source)
        self.temporal_out: nn.Conv3d | None = None
        if config.choices.get(TEMPORAL_INIT.name, TEMPORAL_INIT.default) == "zero":
            self.temporal_out = nn.Conv3d(config.shape.channels, config.shape.channels, kernel_size=1)
            nn.init.zeros_(self.temporal_out.weight)
            nn.init.zeros_(self.temporal_out.bias)

    def forward(self, x: torch.Tensor, cell_input: torch.Tensor) -> torch.Tensor:
        temporal = self.temporal(x, cell_input)  # (B, C, T, H, W)
        y = x + (temporal if self.temporal_out is None else self.temporal_out(temporal))  # (B, C, T, H, W)
        return y + self.spatial(y, cell_input)  # (B, C, T, H, W)
