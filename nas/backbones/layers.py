"""3D building blocks shared by the paper-scale backbones (I3D, S3D, I3D-R50).

Module attribute names follow the torchvision 2D networks (`conv`, `bn`) so that a 2D
ImageNet state dict maps onto these modules by name (`nas.backbones.inflate`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas.errors import UserError
from nas.ops.gating import ChannelGate
from nas.ops.pooling import MaxPool3dSame, Triple, same_pads, triple

__all__ = [
    "PADDINGS", "Conv3dSame", "MaxPool3dSame", "SeparableUnit3D", "Unit3D", "center_identity_", "conv3d",
    "max_pool3d", "same_padding", "scaled", "triple",
]

PADDINGS = ("symmetric", "tf")  # k // 2 on both sides | TensorFlow's SAME (extra pixel at the end)


def same_padding(kernel: int | Triple) -> Triple:
    """Symmetric padding k // 2 per dimension.

    With an odd kernel and stride s the output has ceil(n / s) elements, as TensorFlow's SAME
    gives, but when s divides an even n TensorFlow pads one less before than after, so the
    windows sit one pixel later than here (`Conv3dSame`, ``padding="tf"``, computes theirs).
    """
    return tuple(k // 2 for k in triple(kernel))  # type: ignore[return-value]


def check_padding(padding: str) -> str:
    """`padding` if it names a mode of `PADDINGS`, else a `UserError`."""
    if padding not in PADDINGS:
        raise UserError(f"padding must be one of {', '.join(PADDINGS)} (got {padding!r})")
    return padding


class Conv3dSame(nn.Conv3d):
    """A Conv3d with TensorFlow's SAME padding, computed from each input's size (`same_pads`).

    The I3D reference (pytorch-i3d, converted from DeepMind's TensorFlow weights) pads this
    way; the parameters are those of an unpadded `nn.Conv3d`, so state dicts are unchanged.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = same_pads(tuple(x.shape[2:]), self.kernel_size, self.stride)  # type: ignore[arg-type]
        return self._conv_forward(F.pad(x, pads), self.weight, self.bias)  # (N, O, ceil(T/st), ceil(H/sh), ceil(W/sw))


def conv3d(
    cin: int, cout: int, kernel: int | Triple, stride: int | Triple = 1, padding: str = "symmetric", bias: bool = False
) -> nn.Conv3d:
    """A 3D convolution padded the `padding` way ("symmetric": k // 2 per side; "tf": SAME)."""
    if check_padding(padding) == "tf":
        return Conv3dSame(cin, cout, triple(kernel), triple(stride), 0, bias=bias)
    return nn.Conv3d(cin, cout, triple(kernel), triple(stride), same_padding(kernel), bias=bias)


def max_pool3d(kernel: int | Triple, stride: int | Triple, padding: str = "symmetric") -> nn.Module:
    """Max pooling padded the `padding` way (odd kernels only for "symmetric")."""
    if check_padding(padding) == "tf":
        return MaxPool3dSame(kernel, stride)
    return nn.MaxPool3d(triple(kernel), triple(stride), same_padding(kernel))


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
        padding: str = "symmetric",
    ) -> None:
        super().__init__()
        self.conv = conv3d(cin, cout, kernel, stride, padding)
        self.bn = nn.BatchNorm3d(cout, eps=eps)
        self.relu = nn.ReLU(inplace=True) if relu else nn.Identity()
        self.gate = ChannelGate(cout) if gate else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.relu(self.bn(self.conv(x))))


class SeparableUnit3D(nn.Module):
    """The S3D separable convolution: a 1 x k x k spatial conv + BN + ReLU, then a kt x 1 x 1
    temporal conv (with bias, no BN) + ReLU, optionally followed by feature gating (S3D-G).

    `temporal_bn=True` gives the temporal conv no bias and a BatchNorm (`temporal_bn`) instead,
    the layout of kylemin/S3D's ``SepConv3d`` (``conv_t`` + ``bn_t``).

    As in the S3D-G reference code (tensorflow/models, ``i3d_utils.conv3d_spatiotemporal``)
    the temporal conv starts as the identity (centre tap 1 on the channel diagonal), so a new
    separable unit computes per-frame 2D features; the spatial part keeps the names `conv`
    and `bn` of a 2D unit, so 2D weights load into it unchanged.
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int | Triple,
        stride: int | Triple = 1,
        eps: float = 1e-3,
        gate: bool = False,
        padding: str = "symmetric",
        temporal_bn: bool = False,
    ) -> None:
        super().__init__()
        kt, kh, kw = triple(kernel)
        st, sh, sw = triple(stride)
        self.conv = conv3d(cin, cout, (1, kh, kw), (1, sh, sw), padding)
        self.bn = nn.BatchNorm3d(cout, eps=eps)
        self.temporal = conv3d(cout, cout, (kt, 1, 1), (st, 1, 1), padding, bias=not temporal_bn)
        self.temporal_bn = nn.BatchNorm3d(cout, eps=eps) if temporal_bn else nn.Identity()
        self.relu = nn.ReLU(inplace=True)
        self.gate = ChannelGate(cout) if gate else nn.Identity()
        center_identity_(self.temporal)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn(self.conv(x)))
        return self.gate(self.relu(self.temporal_bn(self.temporal(x))))


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
