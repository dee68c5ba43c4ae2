"""Divided space-time attention: temporal then spatial attention, from the basic op, each residual."""

from __future__ import annotations

import math

import pytest
import torch

from nas.ops import OPS, FeatureShape
from nas.ops.divided import DividedSpaceTime
from nas.space.genotype import OpInput, OpSpec

SHAPE = FeatureShape(4, 3, 4, 5)
ACTIVATIONS = ["none", "relu", "sigmoid", "softmax"]


def basic_op(dimension: str, activation: str, shape: FeatureShape, kv: str) -> torch.nn.Module:
    """The registry's plain dot-product op."""
    spec = OpSpec(1, "dot_product", {"dimension": dimension, "activation": activation}, (OpInput(0),))
    return OPS.build(spec, shape, kv).double()


def inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(2, 4, 3, 4, 5, generator=g, dtype=torch.float64) for _ in range(2))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("kv", ["op_input", "cell_input"])
def test_equals_temporal_then_spatial_basic_ops_with_the_same_weights(activation, kv):
    torch.manual_seed(0)
    spec = OpSpec(1, "divided_st", {"activation": activation}, (OpInput(0),))
    op = OPS.build(spec, SHAPE, kv).double()
    assert isinstance(op, DividedSpaceTime)
    # dot-product temporal attention on (N*H*W) sequences of T tokens, spatial on (N*T) frames
    temporal = basic_op("temporal", activation, FeatureShape(4, 3, 1, 1), kv)
    spatial = basic_op("spatial", activation, FeatureShape(4, 1, 4, 5), kv)
    temporal.load_state_dict(op.temporal.inner.state_dict())
    spatial.load_state_dict(op.spatial.inner.state_dict())
    x, f0 = inputs()
    per_position = lambda z: z.permute(0, 3, 4, 1, 2).reshape(40, 4, 3, 1, 1)  # (N*H*W, C, T, 1, 1)
    per_frame = lambda z: z.permute(0, 2, 1, 3, 4).reshape(6, 4, 1, 4, 5)  # (N*T, C, 1, H, W)
    t_out = temporal(per_position(x), per_position(f0)).reshape(2, 4, 5, 4, 3).permute(0, 3, 4, 1, 2)
    y = x + t_out
    s_out = spatial(per_frame(y), per_frame(f0)).reshape(2, 3, 4, 4, 5).permute(0, 2, 1, 3, 4)
    torch.testing.assert_close(op(x, f0), y + s_out, rtol=1e-10, atol=1e-12)


def test_matches_timesformer_formula_written_with_einsum():
    torch.manual_seed(0)
    op = OPS.build(OpSpec(1, "divided_st", {}, (OpInput(0),)), SHAPE, "op_input").double()
    x, f0 = inputs(1)

    def attend(stage, z, subscripts_logits, subscripts_out, keys):
        inner = stage.inner
        q, k, v = inner.query(z), inner.key(z), inner.value(z)
        logits = torch.einsum(subscripts_logits, q, k) / math.sqrt(z.shape[1])
        shape = logits.shape
        weights = logits.reshape(*shape[: len(shape) - keys], -1).softmax(-1).reshape(shape)
        return torch.einsum(subscripts_out, weights, v)

    y = x + attend(op.temporal, x, "bcthw,bcshw->bhwts", "bhwts,bcshw->bcthw", 1)  # over frames, per position
    z = y + attend(op.spatial, y, "bcthw,bctuv->bthwuv", "bthwuv,bctuv->bcthw", 2)  # over positions, per frame
    torch.testing.assert_close(op(x, f0), z, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(op(x, f0), x + attend(op.spatial, x, "bcthw,bctuv->bthwuv", "bthwuv,bctuv->bcthw", 2))


def spatial_only(op: DividedSpaceTime, x: torch.Tensor) -> torch.Tensor:
    """x + softmax attention among the tokens of each frame (row length C), written with einsum."""
    inner = op.spatial.inner
    q, k, v = inner.query(x), inner.key(x), inner.value(x)
    logits = torch.einsum("bcthw,bctuv->bthwuv", q, k) / math.sqrt(x.shape[1])
    weights = logits.flatten(-2).softmax(-1).reshape(logits.shape)
    return x + torch.einsum("bthwuv,bctuv->bcthw", weights, v)


def test_zero_temporal_init_starts_as_spatial_attention_and_still_learns_time():
    """TimeSformer's temporal_fc starts at zero: the op starts as x + A_space(x); the projection
    gets a gradient at once, and once it has moved the temporal stage acts (and learns)."""
    torch.manual_seed(0)
    op = OPS.build(OpSpec(1, "divided_st", {"temporal_init": "zero"}, (OpInput(0),)), SHAPE, "op_input").double()
    default = OPS.build(OpSpec(1, "divided_st", {}, (OpInput(0),)), SHAPE, "op_input")
    c = SHAPE.channels
    assert sum(p.numel() for p in op.parameters()) - sum(p.numel() for p in default.parameters()) == c * c + c
    x, f0 = inputs(2)
    torch.testing.assert_close(op(x, f0), spatial_only(op, x), rtol=1e-12, atol=1e-14)
    assert not torch.allclose(spatial_only(op, x), x)  # the spatial stage does act
    op(x, f0).pow(2).sum().backward()
    assert op.temporal_out.weight.grad.abs().max() > 1e-6 and op.temporal_out.bias.grad.abs().max() > 1e-6
    assert op.temporal.inner.query.weight.grad.abs().max() == 0  # behind a zero projection, at first
    with torch.no_grad():
        op.temporal_out.weight -= 0.1 * op.temporal_out.weight.grad  # one SGD step on the projection
    op.zero_grad()
    assert not torch.allclose(op(x, f0), spatial_only(op, x))
    op(x, f0).pow(2).sum().backward()
    assert op.temporal.inner.query.weight.grad.abs().max() > 1e-8
