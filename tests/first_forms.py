"""RSA's and ATA's forms as first written: the references the tests check the current forms
against and benchmarks/op_speed.py times them against (not a second code path of the library)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment


def first_rsa(op: torch.nn.Module, x: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
    """RSA's memory-saving form as first written (the reference for the speed-up)."""
    b, _, t, h, w = x.shape
    n, c, d, pad = t * h * w, op.width, op.latent, tuple(k // 2 for k in op.window)
    q, k, v = op.embed(x, f0)
    h1 = op.h1.permute(1, 2, 0).reshape(c * d, 1, *op.window)  # (c*D, 1, mt, mh, mw)
    k_h1 = F.conv3d(k, h1, padding=pad, groups=c).view(b, c, d, n) + op.p1[None, :, :, None]  # (B, c, D, N)
    kernel = torch.einsum("blcn,bcdn->bnld", q.reshape(b, op.queries, c, n), k_h1)  # (B, N, L, D)
    values = v.reshape(b * c, 1, t, h, w)  # (B*c, 1, T, H, W)
    h2_v = F.conv3d(values, op.h2.t().reshape(d, 1, *op.window), padding=pad).view(b, c, d, n)  # (B, c, D, N)
    v_g = F.conv3d(values, op.g.t().reshape(c, 1, *op.window), padding=pad).view(b, c, c, n)  # (B, c', c, N)
    context = h2_v + torch.einsum("bxcn,bxdn->bcdn", v_g, h2_v)  # (B, c, D, N)
    out = torch.einsum("bnld,bcdn->blcn", kernel, context)  # (B, L, c, N)
    return out.reshape(b, op.queries * c, t, h, w)[:, : op.channels]  # (B, C, T, H, W)


def first_alignment(x: torch.Tensor) -> torch.Tensor:
    """ATA's alignment as first written: per frame pair a torch product, scipy calls, a gather."""
    b, c, t, h, w = x.shape
    frames = F.normalize(x.detach().flatten(3), dim=1).permute(0, 2, 3, 1)  # (B, T, H*W, C)
    perms, previous = [torch.arange(h * w).expand(b, h * w)], frames[:, 0]
    for frame in range(1, t):
        current = frames[:, frame]  # (B, H*W, C)
        scores = torch.bmm(previous, current.transpose(1, 2)).to(torch.float64).numpy()  # (B, H*W, H*W)
        perm = torch.as_tensor(np.stack([linear_sum_assignment(s, maximize=True)[1] for s in scores]))
        perms.append(perm)
        previous = torch.gather(current, 1, perm[:, :, None].expand(-1, -1, c))  # (B, H*W, C)
    return torch.stack(perms, dim=1)  # (B, T, H*W)
