"""The attention cell: identity at init, any input shape, the pre/post-processing, the DAG."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nas.cell import AttentionCell, group_frames, resize_frames, ungroup_frames
from nas.space import Genotype, load_space
from tests.conftest import SPACES


def genotype(ops, outputs, kv="cell_input", mode="concat", weights=None, pre=(0.5, 4, 3, 5)) -> Genotype:
    return Genotype.from_json(
        {
            "schema": "attention-nas/genotype@1",
            "kv_source": kv,
            "preprocess": dict(zip(("channels", "height", "width", "frames"), pre)),
            "ops": ops,
            "combine": {"mode": mode, "outputs": outputs, "weights": weights},
        }
    )


def op(op_id, kind="dot_product", inputs=((0, 1.0),), gating=False, **choices):
    return {
        "id": op_id,
        "kind": kind,
        "choices": choices,
        "gating": gating,
        "inputs": [{"from": s, "weight": w} for s, w in inputs],
    }


CHAIN = genotype(
    [op(1, dimension="temporal"), op(2, "map", ((1, 1.0),), dimension="spatial", activation="sigmoid", gating=True),
     op(3, inputs=((0, 0.5), (1, 0.5)), dimension="spatiotemporal")],
    [2, 3],
)


@pytest.mark.parametrize("shape", [(2, 48, 13, 9, 11), (1, 8, 5, 4, 3), (3, 16, 1, 1, 1), (2, 8, 10, 12, 7)])
def test_new_cell_is_exactly_the_identity_for_awkward_shapes(shape):
    torch.manual_seed(0)
    cell = AttentionCell(CHAIN, channels=shape[1])
    x = torch.randn(shape)
    for mode in (True, False):
        cell.train(mode)
        y = cell(x)
        assert y.shape == x.shape
        assert torch.equal(y, x)


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.stem)
def test_sampled_cells_keep_shape_and_pass_gradients(path):
    space = load_space(str(path))
    x = torch.randn(2, 24, 11, 6, 9, requires_grad=True)
    for seed in range(4):
        torch.manual_seed(seed)
        cell = AttentionCell(space.sample(seed), channels=24)
        torch.nn.init.ones_(cell.output.norm.weight)  # leave the identity so gradients flow inside
        y = cell(x)
        assert y.shape == x.shape
        (y * torch.randn_like(y)).sum().backward()
        for name, param in cell.named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_grouping_round_trip_pads_with_zeros():
    x = torch.randn(2, 3, 13, 4, 5)
    grouped, groups = group_frames(x, 5)
    assert groups == 3 and grouped.shape == (6, 3, 5, 4, 5)
    assert torch.equal(grouped[1, :, 3], x[0, :, 8])  # batch 0, group 1, frame 3 = frame 8
    assert torch.equal(grouped[2, :, 3:], torch.zeros(3, 2, 4, 5))  # frames 13, 14 are padding
    assert torch.equal(grouped[5, :, 2], x[1, :, 12])
    assert torch.equal(ungroup_frames(grouped, 2, 13), x)


def test_resize_is_per_frame_bilinear():
    x = torch.randn(2, 3, 4, 9, 11)
    y = resize_frames(x, 5, 6)
    expected = torch.stack([F.interpolate(x[:, :, t], size=(5, 6), mode="bilinear", align_corners=False) for t in range(4)], 2)
    torch.testing.assert_close(y, expected)
    assert resize_frames(x, 9, 11) is x


def test_cell_matches_its_definition_written_out():
    """pre-process -> ops -> concat -> conv -> BN -> ungroup -> resize back -> + x."""
    torch.manual_seed(0)
    cell = AttentionCell(CHAIN, channels=8).double().eval()
    torch.nn.init.normal_(cell.output.norm.weight)
    x = torch.randn(2, 8, 7, 6, 5, dtype=torch.float64)
    f = resize_frames(cell.input.reduce(x), 4, 3)
    f0, groups = group_frames(f, 5)
    f1 = cell.ops["1"](f0, f0)
    f2 = cell.ops["2"](f1, f0)
    f3 = cell.ops["3"](0.5 * f0 + 0.5 * f1, f0)
    y = cell.output.norm(cell.output.expand(torch.cat([f2, f3], 1)))
    expected = x + resize_frames(ungroup_frames(y, 2, 7), 6, 5)
    assert groups == 2 and f0.shape == (4, 4, 5, 4, 3)
    torch.testing.assert_close(cell(x), expected)


def test_sum_combination_and_absolute_channel_reduction():
    g = genotype(
        [op(1, dimension="temporal"), op(2, dimension="spatial")], [1, 2], mode="sum", weights=[0.25, 0.75], pre=(3, 2, 2, 2)
    )
    torch.manual_seed(0)
    cell = AttentionCell(g, channels=8).double().eval()
    assert cell.input.reduce.out_channels == 3 and cell.output.expand.in_channels == 3
    torch.nn.init.normal_(cell.output.norm.weight)
    x = torch.randn(1, 8, 4, 5, 5, dtype=torch.float64)
    f0, _ = group_frames(resize_frames(cell.input.reduce(x), 2, 2), 2)
    mixed = 0.25 * cell.ops["1"](f0, f0) + 0.75 * cell.ops["2"](f0, f0)
    expected = x + resize_frames(ungroup_frames(cell.output.norm(cell.output.expand(mixed)), 1, 4), 5, 5)
    torch.testing.assert_close(cell(x), expected)


def test_channel_reduction_never_exceeds_the_input_channels():
    g = genotype([op(1, dimension="temporal")], [1], pre=(64, 2, 2, 2))
    assert AttentionCell(g, channels=16).input.reduce.out_channels == 16
