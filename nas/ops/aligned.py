"""Alignment-guided temporal attention (ATA, Zhao et al., NeurIPS 2022) as an op kind.

Following the supplementary's Algorithms 1 and 2:

1. alignment: frame 0 stays as it is; for t = 1 .. T-1 the H*W tokens of frame t are matched
   one-to-one to the tokens of the (already aligned) frame t-1 so that the total cosine
   similarity of the matched pairs is maximal (the assignment problem, solved by scipy's
   `linear_sum_assignment` on detached features), and frame t is permuted so that matched
   tokens share a position.  Position p of the aligned clip is then a chain of tokens across
   time.  The similarities of all adjacent frame pairs are one batched product (aligning a
   frame only permutes the rows of its similarity to the next); the chain of assignments
   runs in numpy, one scipy call per clip and frame pair;
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


def best_matching(scores: np.ndarray) -> np.ndarray:
    """For each (P, P) similarity matrix of a (B, P, P) stack, the column matched to each row
    so that the total similarity is maximal: (B, P) indices.  One scipy call per matrix:
    scipy has no batched assignment solver, and the loop is over nothing else."""
    return np.stack([linear_sum_assignment(matrix, maximize=True)[1] for matrix in scores])  # (B, P)


def chain_matchings(similarity: np.ndarray) -> np.ndarray:
    """Align frame after frame: (B, T-1, P, P) similarities of unaligned adjacent frames ->
    (B, T, P) permutations, frame 0 the identity.

    Aligned frame t-1 holds token ``perm[t-1][p]`` at position p, so its similarity to frame t
    is the unaligned one with its rows permuted; each frame's assignment needs the previous
    frame's, hence the loop over frames (the matrices themselves come in one product).
    """
    batch, pairs, positions, _ = similarity.shape
    rows = np.arange(batch)[:, None]  # (B, 1)
    perms = [np.tile(np.arange(positions), (batch, 1))]  # [(B, P)]
    for pair in range(pairs):
        aligned_previous = similarity[:, pair][rows, perms[-1]]  # (B, P, P): rows in aligned order
        perms.append(best_matching(aligned_previous))
    return np.stack(perms, axis=1)  # (B, T, P)


def alignment(x: torch.Tensor) -> torch.Tensor:
    """The aligning permutation of every frame: (B, C, T, H, W) -> (B, T, H*W) token indices.

    Aligned frame t at position p holds the token of frame t at position ``perm[:, t, p]``;
    frame 0 keeps the identity.  The cosine similarities of all adjacent frame pairs are one
    batched product, moved to numpy once; identity permutations for tensors without values
    (the same aten ops run either way, so a count of the ops on fake tensors equals one on
    real tensors op for op).
    """
    b, c, t, h, w = x.shape
    tokens = F.normalize(x.detach().flatten(3), dim=1).permute(0, 2, 3, 1)  # (B, T, H*W, C)
    similarity = torch.matmul(tokens[:, :-1], tokens[:, 1:].transpose(2, 3))  # (B, T-1, H*W, H*W): t-1 vs t
    scores = similarity.to("cpu", torch.float64)  # (B, T-1, H*W, H*W)
    if has_values(scores):
        with _disable_current_modes():  # numpy() detaches once more: hidden from a FLOP counter's mode
            perms = chain_matchings(scores.numpy())  # (B, T, H*W)
    else:
        perms = np.tile(np.arange(h * w), (b, t, 1))  # (B, T, H*W)
    return torch.from_numpy(perms.astype(np.int64)).to(x.device)


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
