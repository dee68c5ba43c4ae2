"""Maps shorter than T_group: `preprocess.pad_short_maps: false` groups them unpadded, every op
accepts T < T_group, and nothing changes for maps of T_group frames or more."""

from __future__ import annotations

import pytest
import torch

from nas.cell import AttentionCell, group_frames, resize_frames
from nas.flops import count_flops
from nas.ops import OPS, FeatureShape
from nas.space import Genotype
from nas.space.genotype import OpInput, OpSpec
from tests.test_cell import genotype, op
from tests.test_ops import CASES

PRE = (0.5, 4, 3, 8)  # C_reduction 0.5, 4 x 3, T_group 8


def unpadded(g: Genotype) -> Genotype:
    """`g` with pad_short_maps false (through JSON, as a user would write it)."""
    data = g.to_dict()
    data["preprocess"]["pad_short_maps"] = False
    return Genotype.from_json(data)


def cell_pair(g: Genotype, channels: int = 8, seed: int = 0) -> tuple[AttentionCell, AttentionCell]:
    """The padded and the unpadded cell of `g`, with the same (non-trivial) weights, in eval mode."""
    torch.manual_seed(seed)
    padded = AttentionCell(g, channels).double().eval()
    torch.nn.init.normal_(padded.output.norm.weight)
    padded.output.norm.running_mean.normal_()
    padded.output.norm.running_var.uniform_(0.5, 2.0)
    short = AttentionCell(unpadded(g), channels).double().eval()
    short.load_state_dict(padded.state_dict(), strict=True)
    return padded, short


# ops whose padded frames contribute nothing when they read the cell input: zero frames give
# zero keys (no key bias under softmax) and zero embeddings; a shift from beyond the clip is zero
F0_READERS = genotype(
    [op(1, dimension="spatial", activation="softmax"),
     op(2, "map", dimension="spatial", activation="softmax"),
     op(3, "channel_shift", fraction=0.25)],
    [1, 2, 3], pre=PRE,
)
TEMPORAL = genotype([op(1, dimension="temporal", activation="softmax")], [1], pre=PRE)


def test_grouping_leaves_a_short_map_unpadded_and_a_long_one_as_before():
    x = torch.randn(2, 3, 5, 4, 4)
    grouped, groups = group_frames(x, 8, pad_short=False)
    assert groups == 1 and torch.equal(grouped, x)
    padded, _ = group_frames(x, 8)
    assert padded.shape == (2, 3, 8, 4, 4) and torch.equal(padded[:, :, 5:], torch.zeros(2, 3, 3, 4, 4))
    long = torch.randn(2, 3, 13, 4, 4)
    assert torch.equal(group_frames(long, 8, pad_short=False)[0], group_frames(long, 8)[0])


def test_the_option_round_trips_through_json_and_changes_the_key_only_when_set():
    text = TEMPORAL.to_json()
    assert "pad_short_maps" not in text  # files written before the option mean padding, and still do
    short = unpadded(TEMPORAL)
    assert short.preprocess.pad_short_maps is False and TEMPORAL.preprocess.pad_short_maps is True
    assert Genotype.from_json(short.to_json()) == short
    assert short.key() != TEMPORAL.key()
    assert Genotype.from_json(TEMPORAL.to_dict()).key() == TEMPORAL.key()


def test_a_bad_option_value_names_the_field():
    data = TEMPORAL.to_dict()
    data["preprocess"]["pad_short_maps"] = "no"
    with pytest.raises(Exception, match="pad_short_maps"):
        Genotype.from_json(data)


@pytest.mark.parametrize("frames", [8, 13, 16])
@pytest.mark.parametrize("g", [F0_READERS, TEMPORAL], ids=["f0_readers", "temporal"])
def test_maps_of_t_group_frames_or_more_are_unchanged(g, frames):
    padded, short = cell_pair(g)
    x = torch.randn(2, 8, frames, 5, 6, dtype=torch.float64)
    assert torch.equal(short(x), padded(x))


def test_short_maps_equal_the_padded_cell_where_padding_contributed_nothing():
    padded, short = cell_pair(F0_READERS)
    x = torch.randn(2, 8, 4, 5, 6, dtype=torch.float64)
    out = short(x)
    assert not torch.allclose(out, x)
    torch.testing.assert_close(out, padded(x), rtol=1e-12, atol=1e-12)


def test_short_maps_run_the_op_on_the_clips_own_frames():
    padded, short = cell_pair(TEMPORAL)
    x = torch.randn(2, 8, 4, 5, 6, dtype=torch.float64)
    f0 = resize_frames(short.input.reduce(x), 4, 3)  # (2, 4, 4, 4, 3): no padding frame
    y = short.output.norm(short.output.expand(short.ops["1"](f0, f0)))
    expected = x + resize_frames(y, 5, 6)
    torch.testing.assert_close(short(x), expected, rtol=1e-12, atol=1e-12)
    # padding frames get softmax weight in a temporal attention, so the padded cell differs
    assert (short(x) - padded(x)).abs().max() > 1e-3


def test_short_maps_spend_no_flops_on_padding_frames():
    padded, short = cell_pair(TEMPORAL, channels=16)
    ops = lambda cell, t: count_flops(cell, (2, 16, t, 7, 7)).by_module["(outside any part)"]  # the op DAG

    def temporal_attention(frames: int, batch: int = 2, channels: int = 8, positions: int = 4 * 3) -> int:
        """q, k, v 1x1x1 convs, then Q K^T and W V over T rows of length H*W*C (2 FLOPs a multiply-add)."""
        return 3 * 2 * batch * frames * positions * channels**2 + 2 * 2 * batch * frames**2 * positions * channels

    assert ops(padded, 4) == ops(padded, 8) == temporal_attention(8)  # padding pays for 8 frames
    assert ops(short, 4) == temporal_attention(4) == 0.4 * temporal_attention(8)
    assert ops(short, 8) == ops(padded, 8)


SHORT = FeatureShape(channels=4, frames=8, height=4, width=5)


@pytest.mark.parametrize("kind,choices,kv,gating", CASES[::2], ids=lambda v: str(v))
def test_every_op_accepts_maps_shorter_than_t_group(kind, choices, kv, gating):
    torch.manual_seed(0)
    module = OPS.build(OpSpec(1, kind, choices, (OpInput(0),), gating), SHORT, kv).double()
    x, f0 = torch.randn(2, 2, 4, 3, 4, 5, dtype=torch.float64).unbind(0)
    x.requires_grad_()
    y = module(x, f0)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.sum().backward()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("kind,choices", [
    ("patch_shift", {"pattern": "C", "attention": "frame"}),
    ("patch_shift", {"pattern": "D", "attention": "temporal"}),
    ("map", {"dimension": "spatial", "activation": "sigmoid"}),
])
def test_an_op_built_for_t_group_equals_one_built_for_the_short_map(kind, choices):
    """Patch shift wraps its offsets modulo the map's own T; spatial map attention weighs a
    short row with the weights of the frames it has.  (A spatial dot product keeps the
    1/sqrt(T_group * C) scale it was built with, which is what makes it equal to the padded
    cell above; an op built for the short map would scale by 1/sqrt(T * C).)"""
    torch.manual_seed(0)
    spec = OpSpec(1, kind, OPS.resolve_choices(kind, choices), (OpInput(0),))
    wide = OPS.build(spec, SHORT, "cell_input").double()
    narrow = OPS.build(spec, FeatureShape(4, 3, 4, 5), "cell_input").double()
    state = wide.state_dict()
    if kind == "map":
        state["row_weight"] = state["row_weight"][: 3 * 4]
    narrow.load_state_dict(state, strict=True)
    x, f0 = torch.randn(2, 2, 4, 3, 4, 5, dtype=torch.float64).unbind(0)
    torch.testing.assert_close(wide(x, f0), narrow(x, f0), rtol=1e-12, atol=1e-12)
