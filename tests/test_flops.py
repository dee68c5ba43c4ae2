"""FLOPs counting: formulas per op family, fake = real, breakdowns, and fvcore agreement."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas.errors import UserError
from nas.flops import CONVENTION, count_flops
from nas.models import build_model
from nas.space import load_genotype
from tests.conftest import ROOT

CELL = ROOT / "results" / "genotypes" / "gpb_fig_a_like.json"


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def flops_of(fn, shape, **kw):
    return count_flops(Lambda(fn), shape, **kw)


def test_convolution_counts_two_per_multiply_add():
    conv = nn.Conv3d(8, 12, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2), groups=4)
    report = count_flops(nn.Sequential(conv), (2, 8, 6, 20, 20))
    out = 2 * 12 * 6 * 10 * 10
    assert report.flops == report.by_category["conv"] == 2 * out * (8 // 4) * 3 * 5 * 5
    assert report.params == sum(p.numel() for p in conv.parameters())
    assert report.convention == CONVENTION == "multiply-add = 2 FLOPs"


def test_matrix_products_through_einsum_matmul_linear_and_vectors():
    b, m, k, n = 3, 7, 5, 4
    w = torch.randn(k, n)
    report = flops_of(lambda x: torch.einsum("bmk,kn->bmn", x[0, :, 0], w), (1, b, 1, m, k))
    assert report.flops == report.by_category["matmul"] == 2 * b * m * k * n
    assert flops_of(lambda x: torch.matmul(x, x.transpose(-1, -2)), (1, 1, b, m, k)).flops == 2 * b * m * m * k
    assert flops_of(lambda x: torch.matmul(x[0, 0], w[:, 0]), (1, 1, b, m, k)).flops == 2 * b * m * k
    linear = nn.Linear(k, n)
    assert count_flops(nn.Sequential(linear), (1, 1, b, m, k)).flops == 2 * b * m * k * n


def test_pooling_and_interpolation():
    shape = (2, 4, 6, 8, 10)
    assert flops_of(lambda x: F.max_pool3d(x, (1, 3, 3), (1, 2, 2), (0, 1, 1)), shape).flops == 2 * 4 * 6 * 4 * 5 * 9
    assert flops_of(lambda x: F.avg_pool3d(x, 2), shape).flops == 2 * 4 * 3 * 4 * 5 * 8
    assert flops_of(lambda x: x.mean(dim=(2, 3, 4)), shape).flops == math.prod(shape)
    bilinear = flops_of(lambda x: F.interpolate(x[:, :, 0], size=(7, 9), mode="bilinear"), shape)
    assert bilinear.flops == bilinear.by_category["interpolate"] == 2 * 4 * 7 * 9 * 4 * 2
    assert flops_of(lambda x: F.interpolate(x, size=(3, 5, 5), mode="trilinear"), shape).flops == 2 * 4 * 75 * 8 * 2
    assert flops_of(lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), shape).flops == 0


def test_elementwise_work_is_not_counted_but_listed():
    report = flops_of(lambda x: torch.relu(x) * 2 + x.softmax(-1), (1, 2, 3, 4, 5))
    assert report.flops == 0
    assert {"aten.relu", "aten.mul", "aten._softmax", "aten.add"} <= set(report.uncounted)


def test_fake_and_real_counts_agree_and_the_model_is_left_as_it_was():
    torch.manual_seed(0)
    model = build_model("tiny", load_genotype(str(CELL)), nonlocal_blocks=False, num_classes=5)
    model.inserted()["s3"].eval()  # a mixed train/eval state must survive counting
    modes = {name: m.training for name, m in model.named_modules()}
    state = {k: v.clone() for k, v in model.state_dict().items()}
    fake = count_flops(model, (2, 3, 9, 24, 40))
    real = count_flops(model, (2, 3, 9, 24, 40), real=True)
    assert fake == real
    assert fake.by_category["matmul"] > 0 and fake.by_category["interpolate"] > 0
    assert {name: m.training for name, m in model.named_modules()} == modes
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_breakdown_by_part_in_network_order():
    model = build_model("i3d_r50", width=0.25, nonlocal_blocks=True)
    report = count_flops(model, (1, 3, 8, 32, 32))
    parts = list(report.by_module)
    assert parts[:3] == ["conv1", "pool1", "res2.0"] and parts[-1] == "head"
    assert parts.index("insert:res3.1") == parts.index("res3.1") + 1
    assert [p for p in parts if p.startswith("insert:")] == [f"insert:{p}" for p in model.insertion_points]
    assert sum(report.by_module.values()) == report.flops == sum(report.by_category.values())
    assert sum(report.params_by_module.values()) == report.params
    assert report.params_by_module["insert:res4.1"] == sum(p.numel() for p in model.inserted()["res4.1"].parameters())
    assert report.to_dict()["params_m"] == round(report.params / 1e6, 3)


def test_flops_scale_with_the_input_and_bad_shapes_are_user_errors():
    model = build_model("tiny")
    one = count_flops(model, (1, 3, 16, 32, 32))
    two = count_flops(model, (2, 3, 16, 32, 32))
    assert two.flops == 2 * one.flops
    assert count_flops(build_model("tiny").double(), (1, 3, 16, 32, 32), real=True).flops == one.flops  # input follows dtype
    for shape in [(1, 3, 0, 32, 32), (1, 3, 16, 32), (1, 3, -4, 32, 32)]:
        with pytest.raises(UserError, match="five positive sizes"):
            count_flops(model, shape)


def fvcore_flops(model: nn.Module, shape) -> int:
    """fvcore's count (multiply-adds) of what we count as conv + matmul + interpolate, doubled.

    BatchNorm is left out (we do not count elementwise work), and fvcore's matmul handle is
    given vector right-hand sides (the map op's row weights), which its own handle rejects.
    """
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.jit_handles import get_shape, matmul_flop_jit

    def matmul(inputs, outputs):
        a, b = (get_shape(v) for v in inputs[:2])
        return math.prod(a) if len(b) == 1 else matmul_flop_jit(inputs, outputs)

    analysis = FlopCountAnalysis(model.eval(), torch.randn(shape)).set_op_handle("aten::matmul", matmul)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return 2 * sum(v for k, v in analysis.by_operator().items() if k != "batch_norm")


VARIANTS = [
    ("i3d", {}), ("s3d", {}), ("s3d", {"gating": True}), ("i3d_r50", {}), ("tiny", {}),
    ("i3d", {"nonlocal_blocks": True}), ("i3d_r50", {"cells": "cell"}), ("s3d", {"cells": "cell"}),
]  # fmt: skip


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fvcore traces with torch.jit
@pytest.mark.parametrize("name, extra", VARIANTS, ids=lambda v: v if isinstance(v, str) else "+".join(v) or "plain")
def test_agrees_with_fvcore_within_one_percent(name, extra):
    torch.manual_seed(0)
    if extra.get("cells") == "cell":
        extra = {**extra, "cells": load_genotype(str(CELL))}
    model = build_model(name, num_classes=10, **extra)
    shape = (1, 3, 16, 64, 64)
    ours = count_flops(model, shape)
    comparable = ours.flops - ours.by_category["pool"]  # fvcore does not count pooling
    reference = fvcore_flops(model, shape)
    assert reference > 0
    assert abs(comparable / reference - 1) < 0.01, (comparable, reference)


def op_module(kind: str, choices: dict, gating: bool = False) -> nn.Module:
    """An op of the registry as a one-input module: forward(x) = op(x, x)."""
    from nas.ops import OPS, FeatureShape
    from nas.space.genotype import OpInput, OpSpec

    op = OPS.build(OpSpec(1, kind, choices, (OpInput(0),), gating), FeatureShape(8, 4, 3, 5), "cell_input")
    module = Lambda(lambda x: op(x, x))
    module.op = op  # registered, so its parameters are counted
    return module


def test_every_registered_op_kind_is_counted_from_its_aten_ops():
    """Fake and real runs agree for every kind and choice combination in the registry, so a new
    op kind is counted without code of its own (or this test says it needs ``real=True``)."""
    from nas.ops import OPS
    from tests.test_ops import finite_combinations

    for kind in OPS.names():
        for choices in finite_combinations(kind):
            module = op_module(kind, choices, gating=True)
            assert count_flops(module, (2, 8, 4, 3, 5)) == count_flops(module, (2, 8, 4, 3, 5), real=True), (kind, choices)


@pytest.mark.parametrize("dimension, rows", [("temporal", 4), ("spatial", 15), ("spatiotemporal", 60)])
def test_attention_ops_match_their_formulas(dimension, rows):
    b, c, positions = 2, 8, 4 * 3 * 5  # batch, C_reduction, T_group * H_resize * W_resize
    length = positions * c // rows  # D, the row length
    dot = count_flops(op_module("dot_product", {"dimension": dimension}), (b, c, 4, 3, 5))
    assert dot.by_category == {"conv": 3 * 2 * b * positions * c * c, "matmul": 2 * 2 * b * rows * rows * length,
                               "pool": 0, "interpolate": 0}  # fmt: skip
    gated_map = count_flops(op_module("map", {"dimension": dimension}, gating=True), (b, c, 4, 3, 5))
    assert gated_map.by_category == {"conv": 2 * 2 * b * positions * c * c, "matmul": 2 * b * rows * length + 2 * b * c * c,
                                     "pool": b * c * positions, "interpolate": 0}  # fmt: skip
