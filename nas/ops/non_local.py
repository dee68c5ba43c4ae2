"""The non-local block (Wang, Girshick, Gupta, He, CVPR 2018), embedded-Gaussian version.

    theta = W_theta x,  phi = W_phi pool(x),  g = W_g pool(x)       (1x1x1 convs to C/2)
    y_i   = sum_j softmax_j(theta_i . phi_j / sqrt(C/2)) g_j        (i over T*H*W positions,
                                                                     j over the pooled ones)
    z     = x + BN(W_z y)                                           (1x1x1 conv back to C)

As in the reference implementation (facebookresearch/video-nonlocal-net): keys and values
come from a 1x2x2 max-pooled map (a quarter of the positions), the convolutions have
biases, the affinity is scaled by 1/sqrt(C/2) (`scale`), and the BatchNorm scale starts at
zero, so a new block is exactly the identity.  A plain module on (N, C, T, H, W) that any
backbone insertion point takes (`nas.models.build_model(..., nonlocal_blocks=True)`).

`pool_rounding`: ``ceil`` (default) pools with SAME padding, ceil(n / 2) outputs, so a 7x7
map gives 4x4 keys and no position is left out; ``floor`` pools without padding, as the
Caffe2 reference (``MaxPool`` kernel 2, stride 2), so a 7x7 map gives 3x3 and the last row
and column never serve as keys.  Both agree on even sizes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nas.ops.pooling import MaxPool3dFloor, MaxPool3dSame, Triple, triple


class NonLocalBlock(nn.Module):
    """Residual embedded-Gaussian non-local block: (N, C, T, H, W) -> (N, C, T, H, W)."""

    def __init__(
        self,
        channels: int,
        inner_channels: int | None = None,
        pool: int | Triple = (1, 2, 2),
        scale: bool = True,
        pool_rounding: str = "ceil",
    ) -> None:
        super().__init__()
        inner = inner_channels or max(1, channels // 2)
        self.theta = nn.Conv3d(channels, inner, kernel_size=1)
        self.phi = nn.Conv3d(channels, inner, kernel_size=1)
        self.g = nn.Conv3d(channels, inner, kernel_size=1)
        if pool_rounding not in ("ceil", "floor"):
            raise ValueError(f"pool_rounding must be 'ceil' or 'floor', got {pool_rounding!r}")
        pooling = MaxPool3dSame if pool_rounding == "ceil" else MaxPool3dFloor
        self.pool = pooling(pool, pool) if triple(pool) != (1, 1, 1) else nn.Identity()
        self.out = nn.Conv3d(inner, channels, kernel_size=1)
        self.bn = nn.BatchNorm3d(channels)
        nn.init.zeros_(self.bn.weight)
        self.scale = 1.0 / math.sqrt(inner) if scale else 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, t, h, w = x.shape
        pooled = self.pool(x)  # (N, C, T', H', W')
        theta = self.theta(x).flatten(2).transpose(1, 2)  # (N, T*H*W, C/2)
        phi = self.phi(pooled).flatten(2)  # (N, C/2, M) with M = T'*H'*W'
        g = self.g(pooled).flatten(2).transpose(1, 2)  # (N, M, C/2)
        weights = torch.softmax(torch.matmul(theta, phi) * self.scale, dim=-1)  # (N, T*H*W, M)
        y = torch.matmul(weights, g)  # (N, T*H*W, C/2)
        y = y.transpose(1, 2).reshape(n, -1, t, h, w)  # (N, C/2, T, H, W)
        return x + self.bn(self.out(y))
