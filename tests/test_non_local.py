"""The non-local block: the embedded-Gaussian formula, identity at init, insertion by build_model."""

from __future__ import annotations

import math

import pytest
import torch

from nas.errors import UserError
from nas.models import build_model
from nas.ops.non_local import NonLocalBlock
from nas.space import ModelGenotype


def reference(block: NonLocalBlock, x: torch.Tensor, rounding: str = "ceil") -> torch.Tensor:
    """The block written out position by position, with max pooling over 1x2x2 windows: the
    odd last row/column padded (ceil) or dropped (floor, the Caffe2 reference)."""
    n, c, t, h, w = x.shape
    if rounding == "ceil":
        padded = torch.nn.functional.pad(x, (0, w % 2, 0, h % 2), value=float("-inf"))
    else:
        padded = x[:, :, :, : h - h % 2, : w - w % 2]
    pooled = padded.unfold(3, 2, 2).unfold(4, 2, 2).amax(dim=(-1, -2))  # (N, C, T, H', W')

    def conv(layer, z):  # a 1x1x1 convolution with bias
        return torch.einsum("oc,nc...->no...", layer.weight[:, :, 0, 0, 0], z) + layer.bias.view(1, -1, 1, 1, 1)

    theta = conv(block.theta, x).flatten(2)  # (N, C', P)
    phi, g = conv(block.phi, pooled).flatten(2), conv(block.g, pooled).flatten(2)  # (N, C', M)
    inner = theta.shape[1]
    logits = torch.einsum("ncp,ncm->npm", theta, phi) / math.sqrt(inner)
    y = torch.einsum("npm,ncm->ncp", logits.softmax(-1), g).reshape(n, inner, t, h, w)
    z = conv(block.out, y)
    bn = block.bn
    z = (z - bn.running_mean.view(1, -1, 1, 1, 1)) / torch.sqrt(bn.running_var.view(1, -1, 1, 1, 1) + bn.eps)
    return x + z * bn.weight.view(1, -1, 1, 1, 1) + bn.bias.view(1, -1, 1, 1, 1)


@pytest.mark.parametrize("shape", [(2, 8, 3, 6, 4), (1, 6, 2, 5, 7), (1, 4, 1, 1, 1)])
def test_matches_the_formula_written_out(shape):
    torch.manual_seed(0)
    block = NonLocalBlock(shape[1]).double().eval()
    torch.nn.init.normal_(block.bn.weight)
    torch.nn.init.normal_(block.bn.bias)
    x = torch.randn(shape, dtype=torch.float64)
    torch.testing.assert_close(block(x), reference(block, x))
    assert block.theta.out_channels == shape[1] // 2


def test_new_block_is_exactly_the_identity_and_learns():
    torch.manual_seed(0)
    block = NonLocalBlock(16)
    x = torch.randn(2, 16, 4, 6, 6, requires_grad=True)
    y = block(x)
    assert torch.equal(y, x)
    (y * torch.randn_like(y)).sum().backward()
    assert block.bn.weight.grad.abs().sum() > 0
    assert block.theta.weight.grad.abs().sum() == 0  # behind the zero BN scale at first


def test_build_model_puts_blocks_at_every_insertion_point(gpb_space):
    model = build_model("tiny", nonlocal_blocks=True)
    blocks = model.inserted()
    assert list(blocks) == ["s2", "s3"]
    assert all(isinstance(b, NonLocalBlock) for b in blocks.values())
    assert [b.out.out_channels for b in blocks.values()] == [model.insertion_channels["s2"], model.insertion_channels["s3"]]
    with pytest.raises(UserError, match="cells and non-local blocks at the same position 's3'"):
        build_model("tiny", ModelGenotype({"s3": gpb_space.sample(0)}), nonlocal_blocks=True)
    with pytest.raises(UserError, match="same position 's2'"):
        build_model("tiny", gpb_space.sample(0), nonlocal_blocks=True)


@pytest.mark.parametrize("shape", [(2, 8, 3, 7, 7), (1, 6, 2, 5, 6), (1, 4, 2, 4, 4)])
def test_floor_rounding_matches_the_caffe2_pooling(shape):
    torch.manual_seed(0)
    block = NonLocalBlock(shape[1], pool_rounding="floor").double().eval()
    torch.nn.init.normal_(block.bn.weight)
    x = torch.randn(shape, dtype=torch.float64)
    torch.testing.assert_close(block(x), reference(block, x, "floor"), rtol=1e-10, atol=1e-12)
    ceil = NonLocalBlock(shape[1]).double().eval()
    ceil.load_state_dict(block.state_dict())
    assert torch.allclose(ceil(x), block(x)) == (shape[3] % 2 == 0 and shape[4] % 2 == 0)  # equal on even maps


def test_floor_pools_7x7_to_3x3_and_ceil_to_4x4():
    x = torch.randn(1, 4, 2, 7, 7)
    assert NonLocalBlock(4, pool_rounding="floor").pool(x).shape == (1, 4, 2, 3, 3)
    assert NonLocalBlock(4).pool(x).shape == (1, 4, 2, 4, 4)
    assert NonLocalBlock(4, pool=(2, 2, 2), pool_rounding="floor").pool(x).shape == (1, 4, 1, 3, 3)
    tiny = torch.randn(1, 4, 1, 1, 3)  # shorter than the kernel: pooled whole, not an error
    assert NonLocalBlock(4, pool=(2, 2, 2), pool_rounding="floor").pool(tiny).shape == (1, 4, 1, 1, 1)
    with pytest.raises(ValueError, match="pool_rounding"):
        NonLocalBlock(4, pool_rounding="round")
