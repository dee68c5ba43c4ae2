"""Max pooling with TensorFlow's SAME padding (used by the paper-scale backbones and the
non-local block): ceil(n / stride) outputs per dimension, whatever the input size."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


Triple = tuple[int, int, int]


def triple(value: int | Triple) -> Triple:
    """(t, h, w) from an int or a triple."""
    return (value, value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


class MaxPool3dSame(nn.Module):
    """Max pooling with SAME padding: ceil(n / stride) outputs per dimension.

    For even kernels symmetric padding cannot give that size; the extra padding goes at the
    end, as in TensorFlow, so no frame or pixel of the input is dropped, and an input smaller
    than the kernel still gives one output.
    """

    def __init__(self, kernel: int | Triple, stride: int | Triple) -> None:
        super().__init__()
        self.kernel, self.stride = triple(kernel), triple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads: list[int] = []
        for n, k, s in reversed(list(zip(x.shape[2:], self.kernel, self.stride))):
            total = max((-(-n // s) - 1) * s + k - n, 0)
            pads += [total // 2, total - total // 2]  # F.pad wants (W, H, T) pairs
        x = F.pad(x, pads, value=float("-inf"))  # (N, C, T + pt, H + ph, W + pw)
        return F.max_pool3d(x, self.kernel, self.stride)
