"""Window-sized 3D filtering of single-channel maps, with a backward pass built from convolutions.

RSA (`nas.ops.relational`) filters every key channel and every value channel with a bank of
window-sized filters (M = m_t x m_h x m_w taps): a 3D convolution whose groups have one input
channel each and F output channels.  On CPU the forward pass of such a convolution runs close
to matrix-multiply speed (oneDNN), but its backward pass through
`aten.convolution_backward` runs 5-10 times slower than the forward pass at I3D 4a shapes
(8 x 7 x 7 maps, 5 x 7 x 7 windows) and was most of RSA's time.  `window_filter` computes the
same function and the same gradients, with both gradients written as *forward* convolutions:

- grad input: every output channel's gradient correlated with its own filter turned round
  (a depthwise convolution, one group per output channel), summed over the F channels of
  each group;
- grad weight: the zero-padded input correlated with the output gradient, the batch acting as
  the input channels and the gradient as a map-sized kernel (output: the M taps of every
  filter).

The forward pass is the plain convolution, so FLOP counts (`nas.flops`) are unchanged, and
the backward ops are themselves differentiable (double backward works).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def _padding(weight: torch.Tensor) -> tuple[int, int, int]:
    """Zero padding that keeps the map size for an odd window: half of each window side."""
    return tuple(k // 2 for k in weight.shape[2:])  # type: ignore[return-value]


def grad_input(grad: torch.Tensor, weight: torch.Tensor, groups: int) -> torch.Tensor:
    """Gradient of `window_filter` with respect to its input: (B, G*F, T, H, W) -> (B, G, T, H, W)."""
    b, channels, t, h, w = grad.shape
    turned = weight.flip(2, 3, 4)  # (G*F, 1, mt, mh, mw): correlation with the filter turned round
    per_channel = F.conv3d(grad, turned, padding=_padding(weight), groups=channels)  # (B, G*F, T, H, W)
    return per_channel.view(b, groups, channels // groups, t, h, w).sum(2)  # (B, G, T, H, W)


def grad_weight(grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, groups: int) -> torch.Tensor:
    """Gradient of `window_filter` with respect to its filters: (G*F, 1, mt, mh, mw)."""
    b, _, t, h, w = x.shape
    pt, ph, pw = _padding(weight)
    padded = F.pad(x, (pw, pw, ph, ph, pt, pt))  # (B, G, T + 2pt, H + 2ph, W + 2pw)
    batch_as_channels = padded.transpose(0, 1).reshape(1, groups * b, *padded.shape[2:])  # (1, G*B, T', H', W')
    kernels = grad.transpose(0, 1)  # (G*F, B, T, H, W): the gradient map as the kernel
    taps = F.conv3d(batch_as_channels, kernels, groups=groups)  # (1, G*F, mt, mh, mw)
    return taps.transpose(0, 1)  # (G*F, 1, mt, mh, mw)


class _WindowFilter(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, groups: int) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.groups = groups
        return F.conv3d(x, weight, padding=_padding(weight), groups=groups)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        dx = grad_input(grad, weight, ctx.groups) if ctx.needs_input_grad[0] else None
        dw = grad_weight(grad, x, weight, ctx.groups) if ctx.needs_input_grad[1] else None
        return dx, dw, None


def window_filter(x: torch.Tensor, weight: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """``F.conv3d(x, weight, padding=window // 2, groups=groups)`` for groups of one input channel.

    x: (B, G, T, H, W); weight: (G*F, 1, mt, mh, mw), odd window sides; out: (B, G*F, T, H, W),
    output channel g*F + f is channel g filtered by filter g*F + f.
    """
    if x.shape[1] != groups or weight.shape[1] != 1 or any(k % 2 == 0 for k in weight.shape[2:]):
        raise ValueError(f"window_filter: one input channel per group and odd windows, got {tuple(x.shape)}, {tuple(weight.shape)}")
    return _WindowFilter.apply(x, weight, groups)
