"""Temporal channel shift: exactly the configured fractions move, zeros at the clip ends."""

from __future__ import annotations

import pytest
import torch

from nas.errors import UserError
from nas.ops import OPS, FeatureShape
from nas.ops.channel_shift import shifted_channels, temporal_shift
from nas.space.dsl import parse_space
from nas.space.genotype import OpInput, OpSpec


@pytest.mark.parametrize(
    "channels, fraction, fold", [(16, 0.125, 2), (16, 0.25, 4), (16, 0.5, 8), (12, 0.125, 1), (100, 0.29, 29), (4, 0.125, 0)]
)
def test_moves_exactly_the_configured_fractions(channels, fraction, fold):
    op = OPS.build(OpSpec(1, "channel_shift", {"fraction": fraction}, (OpInput(0),)), FeatureShape(channels, 5, 2, 3), "op_input")
    assert op.fold == shifted_channels(channels, fraction) == fold
    x = torch.randn(2, channels, 5, 2, 3)
    y = op(x, torch.zeros_like(x))
    assert y.shape == x.shape
    back, forward, rest = slice(0, fold), slice(fold, 2 * fold), slice(2 * fold, None)
    assert torch.equal(y[:, back, :-1], x[:, back, 1:])  # frame t takes frame t + 1 ...
    assert torch.equal(y[:, back, -1], torch.zeros_like(y[:, back, -1]))  # ... and the last frame zeros
    assert torch.equal(y[:, forward, 1:], x[:, forward, :-1])  # frame t takes frame t - 1 ...
    assert torch.equal(y[:, forward, 0], torch.zeros_like(y[:, forward, 0]))  # ... and the first frame zeros
    assert torch.equal(y[:, rest], x[:, rest])
    moved = (y != x).any(dim=(0, 2, 3, 4))
    assert moved.sum() == 2 * fold  # random values: every shifted channel changes


def test_a_single_frame_keeps_only_the_unshifted_channels():
    x = torch.randn(1, 8, 1, 2, 2)
    y = temporal_shift(x, 2)
    assert torch.equal(y[:, :4], torch.zeros_like(y[:, :4])) and torch.equal(y[:, 4:], x[:, 4:])


@pytest.mark.parametrize("fraction, fragment", [(0.75, "must lie in (0, 0.5]"), (0, "must lie in (0, 0.5]"), ("half", "a number")])
def test_bad_fractions_are_named(fraction, fragment):
    doc = {
        "schema": "attention-nas/space@1", "name": "tsm",
        "cell": {"num_ops": 1, "inputs_per_op": 1, "kv_source": ["op_input"]},
        "preprocess": {"channels": [8], "height": [4], "width": [4], "frames": [4]},
        "ops": {"gating": [False], "kinds": {"channel_shift": {"fraction": [0.125, fraction]}}},
    }  # fmt: skip
    with pytest.raises(UserError) as error:
        parse_space(doc, "tsm.yaml")
    assert "ops.kinds.channel_shift.fraction[1]: " in str(error.value) and fragment in str(error.value)
