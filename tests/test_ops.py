"""Op conformance (every registered kind) and the attention ops against einsum references."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from nas.ops import OPS, FeatureShape
from nas.space.genotype import OpInput, OpSpec
from nas.registry import Registry

SHAPE = FeatureShape(channels=4, frames=3, height=4, width=5)
BATCH = 2


def finite_combinations(kind: str) -> list[dict]:
    """Every combination of a kind's enumerable choices (open ranges take their default); each
    other value of an optional (reference-variant) choice once, the rest at their defaults."""
    entry = OPS.get(kind)
    searched = [c for c in entry.choices if not c.optional]
    names = [c.name for c in searched]
    values = [c.values or (c.default,) for c in searched]
    combos = [dict(zip(names, combo)) for combo in itertools.product(*values)]
    defaults = {c.name: c.default for c in searched}
    for choice in (c for c in entry.choices if c.optional):
        combos += [{**defaults, choice.name: v} for v in choice.values if v != choice.default]
    return combos


def start_moved(op: torch.nn.Module) -> None:
    """Move a projection that starts at zero by design (divided_st ``temporal_init: zero``, as
    TimeSformer), which holds back the gradient of what lies behind it at the first step only
    (`tests/test_divided_st.py` checks that first step)."""
    for module in op.modules():
        if getattr(module, "temporal_out", None) is not None:
            torch.nn.init.normal_(module.temporal_out.weight, std=0.1)


CASES = [
    (kind, choices, kv, gating)
    for kind in OPS.names()
    for choices in finite_combinations(kind)
    for kv in ("op_input", "cell_input")
    for gating in (False, True)
]


def build(kind: str, choices: dict, kv: str = "op_input", gating: bool = False, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    spec = OpSpec(1, kind, choices, (OpInput(0),), gating)
    return OPS.build(spec, SHAPE, kv).double()


def inputs(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shape = (BATCH, SHAPE.channels, SHAPE.frames, SHAPE.height, SHAPE.width)
    return torch.randn(shape, generator=g, dtype=torch.float64), torch.randn(shape, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("kind,choices,kv,gating", CASES, ids=lambda v: str(v))
def test_op_keeps_shape_and_every_parameter_gets_a_gradient(kind, choices, kv, gating):
    op = build(kind, choices, kv, gating)
    start_moved(op)
    x, f0 = (t.requires_grad_() for t in inputs())  # parameter-free ops (channel_shift) backpropagate too
    y = op(x, f0)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    weights = torch.randn_like(y)
    (y * weights).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0, "no gradient reaches the op input"
    for name, param in op.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, f"{name} gets no gradient"


def test_registry_refuses_duplicate_names():
    registry = Registry("thing")
    registry.add("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        registry.add("a", 2)
    with pytest.raises(ValueError, match="already registered"):
        OPS.op("dot_product")(lambda config: None)


def test_unknown_op_kind_is_named():
    from nas.errors import UserError

    with pytest.raises(UserError, match="unknown op kind 'nope'"):
        OPS.resolve_choices("nope", {})


def _phi(logits: torch.Tensor, activation: str) -> torch.Tensor:
    return {
        "none": lambda t: t,
        "relu": torch.relu,
        "sigmoid": torch.sigmoid,
        "softmax": lambda t: torch.softmax(t, dim=-1),
    }[activation](logits)


def reference_dot_product(op, x, f0, dimension, activation, kv, scale):
    """Eq. A / Eq. B written index by index with einsum."""
    src = f0 if kv == "cell_input" else x
    q, k, v = op.query(x), op.key(src), op.value(src)
    b, c, t, h, w = x.shape
    if dimension == "temporal":
        logits = torch.einsum("bcthw,bcshw->bts", q, k) / (math.sqrt(h * w * c) if scale else 1)
        return torch.einsum("bts,bcshw->bcthw", _phi(logits, activation), v)
    if dimension == "spatial":
        logits = torch.einsum("bcthw,bctuv->bhwuv", q, k).reshape(b, h * w, h * w) / (math.sqrt(t * c) if scale else 1)
        weights = _phi(logits, activation).reshape(b, h, w, h, w)
        return torch.einsum("bhwuv,bctuv->bcthw", weights, v)
    logits = torch.einsum("bcthw,bcsuv->bthwsuv", q, k).reshape(b, t * h * w, t * h * w) / (math.sqrt(c) if scale else 1)
    weights = _phi(logits, activation).reshape(b, t, h, w, t, h, w)
    return torch.einsum("bthwsuv,bcsuv->bcthw", weights, v)


@pytest.mark.parametrize("dimension", ["temporal", "spatial", "spatiotemporal"])
@pytest.mark.parametrize("activation", ["none", "relu", "sigmoid", "softmax"])
@pytest.mark.parametrize("kv", ["op_input", "cell_input"])
@pytest.mark.parametrize("scale", [True, False])
def test_dot_product_equals_einsum_reference(dimension, activation, kv, scale):
    op = build("dot_product", {"dimension": dimension, "activation": activation, "scale": scale}, kv)
    x, f0 = inputs()
    expected = reference_dot_product(op, x, f0, dimension, activation, kv, scale)
    torch.testing.assert_close(op(x, f0), expected, rtol=1e-10, atol=1e-10)


def reference_map(op, x, dimension, activation):
    """W = diag(phi(f' w)), out = W V, with the row weight laid out as ReshapeTo2D lays rows."""
    f, v = op.embed(x), op.value(x)
    b, c, t, h, w = x.shape
    if dimension == "temporal":
        logits = torch.einsum("bcthw,hwc->bt", f, op.row_weight.reshape(h, w, c))
        return torch.einsum("bt,bcthw->bcthw", _phi(logits, activation), v)
    if dimension == "spatial":
        logits = torch.einsum("bcthw,tc->bhw", f, op.row_weight.reshape(t, c)).reshape(b, h * w)
        return torch.einsum("bhw,bcthw->bcthw", _phi(logits, activation).reshape(b, h, w), v)
    logits = torch.einsum("bcthw,c->bthw", f, op.row_weight).reshape(b, t * h * w)
    return torch.einsum("bthw,bcthw->bcthw", _phi(logits, activation).reshape(b, t, h, w), v)


@pytest.mark.parametrize("dimension", ["temporal", "spatial", "spatiotemporal"])
@pytest.mark.parametrize("activation", ["none", "relu", "sigmoid", "softmax"])
@pytest.mark.parametrize("kv", ["op_input", "cell_input"])
def test_map_equals_einsum_reference_and_ignores_kv_source(dimension, activation, kv):
    op = build("map", {"dimension": dimension, "activation": activation}, kv)
    x, f0 = inputs()
    expected = reference_map(op, x, dimension, activation)
    torch.testing.assert_close(op(x, f0), expected, rtol=1e-10, atol=1e-10)
    assert torch.equal(op(x, torch.zeros_like(f0)), op(x, f0))


@pytest.mark.parametrize("dimension,rows", [("temporal", 3), ("spatial", 20), ("spatiotemporal", 60)])
def test_softmax_rows_sum_to_one(dimension, rows):
    x, f0 = inputs()
    dot = build("dot_product", {"dimension": dimension, "activation": "softmax", "scale": True}, "cell_input")
    weights = dot.attention(x, f0)
    assert weights.shape == (BATCH, rows, rows)
    torch.testing.assert_close(weights.sum(-1), torch.ones(BATCH, rows, dtype=torch.float64))
    mapped = build("map", {"dimension": dimension, "activation": "softmax"})
    diag = mapped.attention(x)
    assert diag.shape == (BATCH, rows)
    torch.testing.assert_close(diag.sum(-1), torch.ones(BATCH, dtype=torch.float64))


def test_cell_input_keys_change_the_output_only_for_cell_input_source():
    x, f0 = inputs()
    choices = {"dimension": "spatial", "activation": "softmax", "scale": True}
    own = build("dot_product", choices, "op_input")
    cell = build("dot_product", choices, "cell_input")
    assert torch.equal(own(x, f0), own(x, f0 * 3))
    assert not torch.allclose(cell(x, f0), cell(x, f0 * 3))


def test_gating_multiplies_each_channel_by_a_sigmoid_of_its_mean():
    op = build("map", {"dimension": "temporal", "activation": "sigmoid"}, gating=True)
    x, f0 = inputs()
    inner = op.op(x, f0)
    pooled = inner.mean(dim=(2, 3, 4))
    expected = inner * torch.sigmoid(pooled @ op.gate.fc.weight.T + op.gate.fc.bias)[:, :, None, None, None]
    torch.testing.assert_close(op(x, f0), expected)
