"""Alignment-guided temporal attention (ATA, Zhao et al., NeurIPS 2022) as an op kind.

Following the supplementary's Algorithms 1 and 2:

1. alignment: frame 0 stays as it is; for t = 1 .. T-1 the H*W tokens of frame t are matched
   one-to-one to the tokens of the (already aligned) frame t-1 so that the total cosine
   similarity of the matched pairs is maximal (the assignment problem, solved by scipy's
   `linear_sum_assignment` on detached features), and frame t is permuted so that matched
   tokens share a position.  Position p of the aligned clip is then a chain of tokens across
   time;
2. temporal attention on the aligned tokens: each position attends over its T frames
   (`nas.ops.factorized.AxisAttention`, axis ``time``, the AttentionNAS dot-product op on
   token rows);
3. de-alignment: the inverse permutations put every output token back where it came from.

The permutations are computed from the op input x (its C channels, L2-normalised); with the
cell-level key/value source ``cell_input`` the cell input is aligned with the same
permutations before it gives keys and values.  No gradient flows through the assignment.

FLOPs: under `nas.flops.count_flops` the features are fake tensors (shapes, no values), so the
assignment cannot be solved; the op then aligns with the identity permutation.  The
similarity products are still computed, so fake and real counts agree (the FLOPs of gathers
do not depend on which permutation they apply).  The Hungarian assignment itself runs in
scipy, outside aten, and is not counted (O(T * (HW)^3) per clip).

Choices: ``activation`` (phi, default softmax) and ``scale`` (divide by sqrt(C), default on).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import nn
from torch._subclasses.fake_tensor import FakeTensor
from torch.utils._python_dispatch import _disable_current_modes

from nas.ops.factorized import AxisAttention
from nas.ops.registry import OpConfig


def has_values(tensor: torch.Tensor) -> bool:
    """False for fake (shape-only) and meta tensors, whose values cannot be read."""
    return not isinstance(tensor, FakeTensor) and tensor.device.type != "meta"


def best_matching(similarity: torch.Tensor) -> torch.Tensor:
    """For each (B, P, P) similarity matrix, the column matched to each row so that the total
    similarity is maximal: (B, P) indices.  Identity for tensors without values.

    Both cases run the same aten ops (a detached float64 copy, then indices made in numpy),
    so that a count of the ops on fake tensors equals one on real tensors op for op.
    """
    batch, positions, _ = similarity.shape
    scores = similarity.detach().to("cpu", torch.float64)  # (B, P, P)
    if has_values(scores):
        with _disable_current_modes():  # numpy() detaches once more: hidden from a FLOP counter's mode
            matrices = scores.numpy()
        columns = np.stack([linear_sum_assignment(s, maximize=True)[1] for s in matrices])  # (B, P)
    else:
        columns = np.tile(np.arange(positions), (batch, 1))  # (B, P)
    return torch.from_numpy(columns.astype(np.int64)).to(similarity.device)


def alignment(x: torch.Tensor) -> torch.Tensor:
    """The aligning permutation of every frame: (B, C, T, H, W) -> (B, T, H*W) token indices.

    Aligned frame t at position p holds the token of frame t at position ``perm[:, t, p]``;
    frame 0 keeps the identity.
    """
    b, c, t, h, w = x.shape
    tokens = F.normalize(x.detach().flatten(3), dim=1).permute(0, 2, 3, 1)  # (B, T, H*W, C)
    identity = torch.arange(h * w, device=x.device).expand(b, h * w)
    perms, previous = [identity], tokens[:, 0]  # previous: (B, H*W, C), already aligned
    for frame in range(1, t):
        current = tokens[:, frame]  # (B, H*W, C)
        similarity = torch.bmm(previous, current.transpose(1, 2))  # (B, H*W, H*W) cosine
        perm = best_matching(similarity)  # (B, H*W)
        perms.append(perm)
        previous = torch.gather(current, 1, perm[:, :, None].expand(-1, -1, c))  # (B, H*W, C)
    return torch.stack(perms, dim=1)  # (B, T, H*W)


def align(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Permute the tokens of every frame by `perm` (B, T, H*W): (B, C, T, H, W) -> same."""
    b, c, t, h, w = x.shape
    index = perm[:, None].expand(b, c, t, h * w)  # (B, C, T, H*W)
    return torch.gather(x.flatten(3), 3, index).view(b, c, t, h, w)


def dealign(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """The inverse of `align`: every token back at its original position."""
    return align(x, torch.argsort(perm, dim=-1))


class AlignedTemporalAttention(nn.Module):
    """ATA: align the tokens of adjacent frames, attend over time per position, de-align."""

    def __init__(self, config: OpConfig) -> None:
        super().__init__()
        activation, scale = str(config.choices["activation"]), bool(config.choices["scale"])
        self.temporal = AxisAttention(config.shape, "time", activation, scale, config.kv_source)

    def forward(self, x: torch.Tensor, cell_input: torch.Tensor) -> torch.Tensor:
        perm = alignment(x)  # (B, T, H*W)
        source = align(cell_input, perm) if self.temporal.reads_cell_input else cell_input
        y = self.temporal(align(x, perm), source)  # (B, C, T, H, W), aligned
        return dealign(y, perm)
