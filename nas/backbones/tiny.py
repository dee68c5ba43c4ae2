"""Tiny proxy backbones: small (2+1)D residual networks that train in minutes on a CPU.

``tiny``: temporal kernels of 3, so it can see motion.  ``tiny2d``: every temporal kernel is
1 and there is no temporal stride, so it computes per-frame features averaged over time: a
frame-order-blind baseline that cannot tell a clip from its time reversal.

Shapes for a (N, 3, 16, 32, 32) clip at width 1 (insertion points "s2" and "s3"):
stem (N, 16, 16, 16, 16) -> s1 (N, 16, 16, 16, 16) -> s2 (N, 32, 16, 8, 8) -> s3 (N, 64, 8, 4, 4).
"""

from __future__ import annotations

import torch
from torch import nn

from nas.backbones.base import BACKBONES, Backbone, ClassifierHead


def conv_bn_relu(cin: int, cout: int, kernel: tuple[int, int, int], stride: tuple[int, int, int], relu: bool = True) -> nn.Sequential:
    """Conv3d (same padding, no bias) + BatchNorm3d (+ ReLU)."""
    padding = tuple(k // 2 for k in kernel)
    layers: list[nn.Module] = [nn.Conv3d(cin, cout, kernel, stride, padding, bias=False), nn.BatchNorm3d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class SeparableBlock(nn.Module):
    """Residual (2+1)D block: 1xkxk spatial conv, then kt x1x1 temporal conv, plus a shortcut."""

    def __init__(self, cin: int, cout: int, stride: tuple[int, int, int], temporal_kernel: int) -> None:
        super().__init__()
        self.spatial = conv_bn_relu(cin, cout, (1, 3, 3), (1, stride[1], stride[2]))
        self.temporal = conv_bn_relu(cout, cout, (temporal_kernel, 1, 1), (stride[0], 1, 1), relu=False)
        self.shortcut = (
            nn.Identity() if cin == cout and stride == (1, 1, 1) else conv_bn_relu(cin, cout, (1, 1, 1), stride, relu=False)
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.temporal(self.spatial(x)) + self.shortcut(x))


def _tiny(num_classes: int, width: float, temporal_kernel: int, temporal_stride: int, dropout: float) -> Backbone:
    c1, c2, c3 = (max(4, int(round(c * width))) for c in (16, 32, 64))
    layers = [
        ("stem", conv_bn_relu(3, c1, (1, 3, 3), (1, 2, 2))),
        ("s1", SeparableBlock(c1, c1, (1, 1, 1), temporal_kernel)),
        ("s2", SeparableBlock(c1, c2, (1, 2, 2), temporal_kernel)),
        ("s3", SeparableBlock(c2, c3, (temporal_stride, 2, 2), temporal_kernel)),
    ]
    return Backbone(layers, {"s2": c2, "s3": c3}, ClassifierHead(c3, num_classes, dropout))


@BACKBONES.decorator("tiny")
def tiny(num_classes: int = 10, width: float = 1.0, dropout: float = 0.0) -> Backbone:
    """The tiny (2+1)D proxy backbone (insertion points s2, s3)."""
    return _tiny(num_classes, width, temporal_kernel=3, temporal_stride=2, dropout=dropout)


@BACKBONES.decorator("tiny2d")
def tiny2d(num_classes: int = 10, width: float = 1.0, dropout: float = 0.0) -> Backbone:
    """The frame-order-blind proxy: per-frame 2D features averaged over time."""
    return _tiny(num_classes, width, temporal_kernel=1, temporal_stride=1, dropout=dropout)
