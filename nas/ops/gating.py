"""Channel attention (the feature gating layer of S3D-G) applied after an operation."""

from __future__ import annotations

import torch
from torch import nn


class ChannelGate(nn.Module):
    """y = x * sigmoid(W mean_{T,H,W}(x) + b): one learned weight per channel, from a C x C map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3, 4))  # (B, C)
        weights = torch.sigmoid(self.fc(pooled))  # (B, C)
        return x * weights[:, :, None, None, None]


class Gated(nn.Module):
    """An op followed by channel gating: `forward(x, cell_input) = gate(op(x, cell_input))`."""

    def __init__(self, op: nn.Module, channels: int) -> None:
        super().__init__()
        self.op = op
        self.gate = ChannelGate(channels)

    def forward(self, x: torch.Tensor, cell_input: torch.Tensor) -> torch.Tensor:
        return self.gate(self.op(x, cell_input))
