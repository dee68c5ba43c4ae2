"""Max pooling with TensorFlow's SAME padding (used by the paper-scale backbones and the
non-local block): ceil(n / stride) outputs per dimension, whatever the input size; and
without padding (floor(n / stride), the Caffe2 non-local reference's)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


Triple = tuple[int, int, int]


def triple(value: int | Triple) -> Triple:
    """(t, h, w) from an int or a triple."""
    return (value, value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


def same_pads(sizes: tuple[int, ...], kernel: Triple, stride: Triple) -> list[int]:
    """F.pad's list (W, H, T pairs) for TensorFlow's SAME padding of a (T, H, W) input.

    Per dimension the total is max((ceil(n / s) - 1) * s + k - n, 0), split total // 2 before
    and the rest after, so an output has ceil(n / s) elements and any odd pixel goes at the end.
    """
    pads: list[int] = []
    for n, k, s in reversed(list(zip(sizes, kernel, stride))):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


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
        pads = same_pads(tuple(x.shape[2:]), self.kernel, self.stride)
        x = F.pad(x, pads, value=float("-inf"))  # (N, C, T + pt, H + ph, W + pw)
        return F.max_pool3d(x, self.kernel, self.stride)


class MaxPool3dFloor(nn.Module):
    """Max pooling without padding: floor(n / stride) outputs per dimension (kernel = stride,
    as Caffe2's MaxPool in the non-local reference), so a 7x7 map pools to 3x3 and the last
    row and column are dropped.  A dimension shorter than the kernel is pooled whole (one
    output) instead of failing, so a cell's short maps still work."""

    def __init__(self, kernel: int | Triple, stride: int | Triple) -> None:
        super().__init__()
        self.kernel, self.stride = triple(kernel), triple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = tuple(min(k, n) for k, n in zip(self.kernel, x.shape[2:]))
        stride = tuple(min(s, n) for s, n in zip(self.stride, x.shape[2:]))
        return F.max_pool3d(x, kernel, stride)  # (N, C, floor(T/st), floor(H/sh), floor(W/sw))
