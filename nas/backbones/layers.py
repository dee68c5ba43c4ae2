"""3D building blocks shared by the paper-scale backbones (I3D, S3D, I3D-R50).

Module attribute names follow the torchvision 2D networks (`conv`, `bn`) so that a 2D
ImageNet state dict maps onto these modules by name (`nas.backbones.inflate`).
"""

from __future__ import annotations

import torch
from torch import nn

from nas.ops.gating import ChannelGate
from nas.ops.pooling import MaxPool3dSame, Triple, triple

__all__ = ["MaxPool3dSame", "SeparableUnit3D", "Unit3D", "center_identity_", "same_padding", "scaled", "triple"]

def same_padding(kernel: int | Triple) -> Triple:
    """Symmetric padding k // 2 per dimension: with stride s the output has ceil(n / s) elements
    for odd kernels, as TensorFlow's SAME padding gives (the I3D/S3D reference code)."""
    return tuple(k // 2 for k in triple(kernel))  # type: ignore[return-value]


def scaled(channels: int, width: float, minimum: int = 8) -> int:
    """A channel count times the width multiplier, never below `minimum` (nor below 1)."""
    return max(min(minimum, channels), int(round(channels * width)))


class Unit3D(nn.Module):
    """Conv3d (no bias, same padding) + BatchNorm3d + ReLU, optionally followed by feature gating."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int | Triple = 1,
        stride: int | Triple = 1,
        eps: float = 1e-3,
        gate: bool = False,
        relu: bool = True,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, triple(kernel), triple(stride), same_padding(kernel), bias=False)
        self.bn = nn.BatchNorm3d(cout, eps=eps)
        self.relu = nn.ReLU(inplace=True) if relu else nn.Identity()
        self.gate = ChannelGate(cout) if gate else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.relu(self.bn(self.conv(x))))


class SeparableUnit3D(nn.Module):
    """The S3D separable convolution: a 1 x k x k spatial conv + BN + ReLU, then a kt x 1 x 1
    temporal conv (with bias, no BN) + ReLU, optionally followed by feature gating (S3D-G).

    As in the S3D-G reference code (tensorflow/models, ``i3d_utils.conv3d_spatiotemporal``)
    the temporal conv starts as the identity (centre tap 1 on the channel diagonal), so a new
    separable unit computes per-frame 2D features; the spatial part keeps the names `conv`
    and `bn` of a 2D unit, so 2D weights load into it unchanged.
    """

    def __init__(
        self, cin: int, cout: int, kernel: int | Triple, stride: int | Triple = 1, eps: float = 1e-3, gate: bool = False
    ) -> None:
        super().__init__()
        kt, kh, kw = triple(kernel)
        st, sh, sw = triple(stride)
        self.conv = nn.Conv3d(cin, cout, (1, kh, kw), (1, sh, sw), same_padding((1, kh, kw)), bias=False)
        self.bn = nn.BatchNorm3d(cout, eps=eps)
        self.temporal = nn.Conv3d(cout, cout, (kt, 1, 1), (st, 1, 1), same_padding((kt, 1, 1)))
        self.relu = nn.ReLU(inplace=True)
        self.gate = ChannelGate(cout) if gate else nn.Identity()
        center_identity_(self.temporal)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn(self.conv(x)))
        return self.gate(self.relu(self.temporal(x)))


@torch.no_grad()
def center_identity_(conv: nn.Conv3d) -> None:
    """Make a C -> C temporal conv (kt x 1 x 1, odd kt) the identity: the centre tap is eye(C)."""
    out_channels, in_channels, kt, kh, kw = conv.weight.shape
    if out_channels != in_channels or (kh, kw) != (1, 1) or kt % 2 == 0:
        raise ValueError(f"identity initialisation needs a C -> C odd-length temporal conv, got {tuple(conv.weight.shape)}")
    conv.weight.zero_()
    conv.weight[:, :, kt // 2, 0, 0] = torch.eye(out_channels)
    if conv.bias is not None:
        conv.bias.zero_()
