"""Alignment-guided temporal attention: optimal alignment, exact de-alignment, equivariance."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from nas.flops import count_flops
from nas.ops import FeatureShape, OpConfig
from nas.ops.aligned import AlignedTemporalAttention, align, alignment, dealign
from nas.ops.cost import op_module
from tests.first_forms import first_alignment


def ata(kv: str = "op_input", activation: str = "softmax", shape=FeatureShape(3, 4, 2, 3)) -> AlignedTemporalAttention:
    torch.manual_seed(0)
    return AlignedTemporalAttention(OpConfig(shape, {"activation": activation, "scale": True}, kv)).double()


def clip(seed: int, shape=(2, 3, 4, 2, 3)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def tokens(x: torch.Tensor, b: int, t: int) -> torch.Tensor:
    """Frame t of clip b as (H*W, C) unit vectors."""
    return F.normalize(x[b, :, t].flatten(1).t(), dim=1)


def test_alignment_is_the_maximum_total_similarity_by_brute_force():
    x = clip(0)  # 6 positions per frame: 720 matchings to try
    perm = alignment(x)
    aligned = align(x, perm)
    for b in range(2):
        assert perm[b, 0].tolist() == list(range(6))
        for t in range(1, 4):
            similarity = tokens(aligned, b, t - 1) @ tokens(x, b, t).t()  # aligned previous vs current
            best = max(sum(similarity[i, p[i]].item() for i in range(6)) for p in itertools.permutations(range(6)))
            chosen = sum(similarity[i, perm[b, t, i]].item() for i in range(6))
            assert chosen == pytest.approx(best, abs=1e-12)
            rows, cols = linear_sum_assignment(similarity.numpy(), maximize=True)
            assert perm[b, t].tolist() == cols.tolist()  # scipy's optimum, unique for random features
            assert torch.equal(aligned[b, :, t].flatten(1), x[b, :, t].flatten(1)[:, perm[b, t]])


def test_dealignment_inverts_the_alignment_exactly():
    x = clip(1, (3, 5, 6, 4, 4))
    perm = alignment(x)
    assert not torch.equal(perm, torch.arange(16).expand_as(perm))  # something moved
    assert torch.equal(dealign(align(x, perm), perm), x)
    assert torch.equal(align(dealign(x, perm), perm), x)
    assert torch.equal(perm.sort(dim=-1).values, torch.arange(16).expand_as(perm))  # permutations


def temporal_attention(op: AlignedTemporalAttention, x: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
    """Softmax attention of every position over its own frames, written with einsum."""
    inner = op.temporal.inner
    source = f0 if inner.kv_from_cell else x
    q, k, v = inner.query(x), inner.key(source), inner.value(source)
    logits = torch.einsum("bcthw,bcshw->bhwts", q, k) / math.sqrt(x.shape[1])
    return torch.einsum("bhwts,bcshw->bcthw", logits.softmax(-1), v)


@pytest.mark.parametrize("kv", ["op_input", "cell_input"])
def test_op_is_temporal_attention_on_the_aligned_tokens(kv):
    op = ata(kv)
    x, f0 = clip(2), clip(3)
    perm = alignment(x)
    expected = dealign(temporal_attention(op, align(x, perm), align(f0, perm)), perm)
    torch.testing.assert_close(op(x, f0), expected, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(op(x, f0), temporal_attention(op, x, f0))  # the alignment matters


def frame_permutations(seed: int, batch: int, frames: int, positions: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.as_tensor(np.stack([[rng.permutation(positions) for _ in range(frames)] for _ in range(batch)]))


@pytest.mark.parametrize("kv", ["op_input", "cell_input"])
@pytest.mark.parametrize("how", ["random per frame", "the alignment itself"])
def test_output_follows_any_consistent_permutation_of_the_tokens(kv, how):
    """Permuting the tokens of every frame (of the input and of the cell input alike) permutes
    the output the same way: the alignment undoes any reordering within a frame."""
    op = ata(kv)
    x, f0 = clip(4), clip(5)
    perm = frame_permutations(0, 2, 4, 6) if how == "random per frame" else alignment(x)
    torch.testing.assert_close(op(align(x, perm), align(f0, perm)), align(op(x, f0), perm), rtol=1e-10, atol=1e-12)


def test_flops_on_fake_tensors_equal_real_ones_and_the_formula():
    shape = FeatureShape(8, 4, 3, 5)
    module = op_module("aligned_temporal", {}, shape)
    fake, real = count_flops(module, (2, 8, 4, 3, 5)), count_flops(module, (2, 8, 4, 3, 5), real=True)
    assert fake == real
    b, c, t, positions = 2, 8, 4, 15
    similarity = 2 * b * (t - 1) * positions * positions * c  # one (HW x C)(C x HW) product per frame pair
    attention = 2 * 2 * b * positions * t * t * c  # Q K^T and W V per position
    assert fake.by_category["matmul"] == similarity + attention
    assert fake.by_category["conv"] == 3 * 2 * b * t * positions * c * c
    paper = count_flops(op_module("aligned_temporal", {}, FeatureShape(120, 8, 7, 7)), (32, 120, 8, 7, 7))
    assert paper.by_category["matmul"] == 2 * 32 * 7 * 49 * 49 * 120 + 2 * 2 * 32 * 49 * 8 * 8 * 120


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(2, 3, 4, 2, 3), (3, 16, 8, 7, 7), (1, 5, 2, 1, 9), (2, 4, 1, 3, 3), (4, 8, 5, 3, 5)])
def test_alignment_equals_the_frame_by_frame_alignment(shape, dtype):
    for seed in range(3):
        x = clip(seed, shape).to(dtype)
        perm = alignment(x)
        assert perm.dtype == torch.int64 and perm.shape == (shape[0], shape[2], shape[3] * shape[4])
        assert torch.equal(perm, first_alignment(x))
