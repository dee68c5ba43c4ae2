"""I3D, S3D(-G) and I3D-R50: paper-size shapes, insertion points, training passes, any clip size."""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from nas.backbones import BACKBONES
from nas.backbones.inception import INCEPTION_V1, output_channels
from nas.backbones.layers import SeparableUnit3D
from nas.models import build_model
from nas.ops.gating import ChannelGate
from nas.ops.non_local import NonLocalBlock
from nas.space import load_genotype
from tests.conftest import ROOT

PAPER = ["i3d", "s3d", "i3d_r50"]
CELL = ROOT / "results" / "genotypes" / "gpb_fig_a_like.json"


def features_at(net, shape):
    """Shapes after every layer for an input of `shape`, without memory (fake tensors)."""
    shapes = {}

    def record(name):
        return lambda module, args, out: shapes.__setitem__(name, tuple(out.shape))

    hooks = [net.layers[name.replace(".", "_")].register_forward_hook(record(name)) for name in net.layer_names]
    with FakeTensorMode(allow_non_fake_inputs=True), torch.no_grad():
        net.eval()(torch.zeros(shape))
    for hook in hooks:
        hook.remove()
    return shapes


@pytest.mark.parametrize("name", ["i3d", "s3d"])
def test_inception_backbones_at_paper_size(name):
    shapes = features_at(BACKBONES.get(name)(), (1, 3, 250, 256, 256))
    assert shapes["conv1"] == (1, 64, 125, 128, 128)
    assert shapes["3b"] == (1, 480, 125, 32, 32)
    for position in ["4a", "4b", "4c", "4d", "4e"]:
        assert shapes[position] == (1, output_channels(position, 1.0), 63, 16, 16)
    assert shapes["5b"] == (1, 1024, 32, 8, 8)  # the 2x2x2 pool keeps the odd last frame (SAME padding)
    assert [output_channels(p, 1.0) for p in ["4a", "4b", "4c", "4d", "4e"]] == [512, 512, 512, 528, 832]


def test_i3d_r50_at_paper_size_and_its_temporal_kernels():
    net = BACKBONES.get("i3d_r50")()
    shapes = features_at(net, (1, 3, 250, 256, 256))
    assert shapes["conv1"] == (1, 64, 250, 128, 128)
    assert shapes["res2.2"] == (1, 256, 125, 64, 64)
    assert shapes["res3.1"] == shapes["res3.3"] == (1, 512, 63, 32, 32)
    assert shapes["res4.1"] == shapes["res4.5"] == (1, 1024, 63, 16, 16)
    assert shapes["res5.2"] == (1, 2048, 63, 8, 8)
    assert net.insertion_points == ["res3.1", "res3.3", "res4.1", "res4.3", "res4.5"]
    kernels = {n: net.layers[n.replace(".", "_")].conv1.kernel_size[0] for n in net.layer_names if n.startswith("res")}
    # the non-local paper's I3D 3x1x1: every res2 block, then every other block (res5 from the 2nd)
    assert [kernels[f"res2.{i}"] for i in range(3)] == [3, 3, 3]
    assert [kernels[f"res3.{i}"] for i in range(4)] == [3, 1, 3, 1]
    assert [kernels[f"res4.{i}"] for i in range(6)] == [3, 1, 3, 1, 3, 1]
    assert [kernels[f"res5.{i}"] for i in range(3)] == [1, 3, 1]
    assert net.layers["conv1"].conv.kernel_size == (5, 7, 7)
    stride2 = BACKBONES.get("i3d_r50")(width=0.25, conv1_temporal_stride=2)
    assert features_at(stride2, (1, 3, 250, 64, 64))["res3.1"][2] == 32


@pytest.mark.parametrize("name", PAPER)
def test_insertion_channels_are_the_feature_channels(name):
    net = BACKBONES.get(name)(width=0.5)
    shapes = features_at(net, (1, 3, 8, 32, 32))
    assert {p: shapes[p][1] for p in net.insertion_points} == net.insertion_channels
    assert len(net.insertion_points) == 5


def variants():
    cell = load_genotype(str(CELL))
    for name in PAPER:
        yield name, {}
        yield name, {"nonlocal_blocks": True}
        yield name, {"cells": cell}
    yield "s3d", {"gating": True}


@pytest.mark.parametrize("name, extra", list(variants()), ids=lambda v: v if isinstance(v, str) else "+".join(v) or "plain")
def test_forward_and_backward_at_a_small_input(name, extra):
    torch.manual_seed(0)
    model = build_model(name, num_classes=7, width=0.25, **extra)
    x = torch.randn(2, 3, 8, 32, 32)
    logits = model(x)
    assert logits.shape == (2, 7)
    torch.nn.functional.cross_entropy(logits, torch.tensor([1, 5])).backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None for g in grads.values())
    assert grads["layers.conv1.conv.weight"].abs().sum() > 0
    for position, block in model.inserted().items():
        # a new cell / non-local block is the identity, but its zero-initialised BN scale learns
        norm = block.bn if isinstance(block, NonLocalBlock) else block.output.norm
        assert norm.weight.grad.abs().sum() > 0, position


@pytest.mark.parametrize("name", PAPER)
def test_full_length_inference_at_another_size(name):
    """Trained on 8 x 32 x 32 clips, a 13 x 40 x 56 video is classified in one pass; the
    head is fully convolutional: the logits are the mean of per-position logits."""
    torch.manual_seed(0)
    model = build_model(name, num_classes=5, width=0.25, cells=load_genotype(str(CELL)))
    model(torch.randn(2, 3, 8, 32, 32)).sum().backward()
    model.eval()
    video = torch.randn(1, 3, 13, 40, 56)
    with torch.no_grad():
        logits = model(video)
        features = model.features(video)  # (1, C, T', H', W')
        per_position = torch.einsum("ncthw,kc->nkthw", features, model.head.fc.weight)
        expected = per_position.mean(dim=(2, 3, 4)) + model.head.fc.bias
    assert logits.shape == (1, 5)
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5)


def test_s3d_g_gates_every_branch_and_conv3():
    plain, gated = BACKBONES.get("s3d")(), BACKBONES.get("s3d")(gating=True)
    gates = [m for m in gated.modules() if isinstance(m, ChannelGate)]
    assert len(gates) == 1 + 4 * len(INCEPTION_V1)
    assert not any(isinstance(m, ChannelGate) for m in plain.modules())
    _, b1, _, b2, _, b3, b4 = zip(*INCEPTION_V1.values())
    gated_channels = [192, *b1, *b2, *b3, *b4]  # a C x C gate with bias per gated output
    extra = sum(c * c + c for c in gated_channels)
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(gated) - count(plain) == extra


def test_new_separable_unit_computes_per_frame_2d_features():
    torch.manual_seed(0)
    unit = SeparableUnit3D(6, 10, 3).eval()
    x = torch.randn(2, 6, 5, 9, 9)
    with torch.no_grad():
        spatial = torch.relu(unit.bn(unit.conv(x)))
        torch.testing.assert_close(unit(x), spatial)


def test_width_scales_channels_with_a_floor():
    half = BACKBONES.get("i3d")(width=0.5)
    assert half.insertion_channels == {p: output_channels(p, 0.5) for p in ["4a", "4b", "4c", "4d", "4e"]}
    assert half.insertion_channels["4a"] == 96 + 104 + 24 + 32
    tiny = BACKBONES.get("i3d_r50")(width=0.01)
    assert min(m.out_channels for m in tiny.modules() if isinstance(m, torch.nn.Conv3d)) == 8
