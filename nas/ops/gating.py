"""Channel attention (the feature gating layer of S3D-G) applied after an operation."""

from __future__ import annotations

import torch
from torch import nn


class ChannelGate(nn.Module):
    """y = x * sigmoid(W mean_{T,H,W}(x) + b): one learned weight per channel, from a C x C map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, channels)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The per-channel gate of `x` (B, C, T, H, W): sigmoid(W mean(x) + b), (B, C)."""
        pooled = x.mean(dim=(2, 3, 4))  # (B, C)
        return torch.sigmoid(self.fc(pooled))  # (B, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weights(x)[:, :, None, None, None]


class Gated(nn.Module):
    """An op followed by channel gating: `forward(x, cell_input) = gate(op(x, cell_input))`."""

    def __init__(self, op: nn.Module, channels: int) -> None:
        super().__init__()
        self.op = op
        self.gate = ChannelGate(channels)

    def forward(self, x: torch.Tensor, cell_input: torch.Tensor) -> torch.Tensor:
        return self.gate(self.op(x, cell_input))
