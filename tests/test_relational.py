"""Relational self-attention: the memory-saving form equals the direct form and the formula."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from nas.ops import FeatureShape, OpConfig
from nas.ops.relational import RelationalSelfAttention, window_size
from tests.first_forms import first_rsa


def rsa(channels: int, window: str = "3x3x3", queries: int = 2, latent: float = 1.0, kv: str = "op_input"):
    torch.manual_seed(0)
    config = OpConfig(FeatureShape(channels, 3, 4, 5), {"window": window, "queries": queries, "latent": latent}, kv)
    return RelationalSelfAttention(config).double()


def maps(channels: int, frames=3, height=4, width=5, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    shape = (2, channels, frames, height, width)
    return torch.randn(shape, generator=g, dtype=torch.float64), torch.randn(shape, generator=g, dtype=torch.float64)


CASES = [
    # (C, window, L, latent, kv): divisible and not (C = 10, L = 4 -> width 3, one surplus
    # channel), L above C (C = 3, L = 4 -> 3 queries of one channel), windows larger than the map
    (8, "3x3x3", 2, 1.0, "op_input"),
    (8, "3x5x5", 4, 0.5, "cell_input"),
    (10, "5x7x7", 4, 1.0, "op_input"),
    (3, "3x7x7", 4, 0.5, "cell_input"),
    (12, "5x7x7", 8, 1.0, "cell_input"),
]


@pytest.mark.parametrize("channels, window, queries, latent, kv", CASES)
def test_memory_saving_form_equals_the_direct_form(channels, window, queries, latent, kv):
    op = rsa(channels, window, queries, latent, kv)
    x, f0 = maps(channels)
    saving, direct = op(x, f0), op.direct(x, f0)
    assert saving.shape == x.shape
    assert saving.abs().max() > 1e-3  # not trivially zero
    torch.testing.assert_close(saving, direct, rtol=1e-10, atol=1e-12)
    x.requires_grad_()
    grads = [torch.autograd.grad((form(x, f0) * f0).sum(), [x, op.h1, op.g])
             for form in (op.forward, op.direct)]  # fmt: skip
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("channels, window, queries, latent, kv", CASES)
@pytest.mark.parametrize("batch, frames, height, width", [(2, 3, 4, 5), (1, 5, 7, 3), (3, 1, 1, 9)])
def test_forward_and_gradients_equal_the_first_written_form(channels, window, queries, latent, kv, batch, frames, height, width):
    """Same outputs and the same gradients for the input, the cell input and every parameter,
    on odd map sizes too (a single frame, a single row, maps smaller than the window)."""
    op = rsa(channels, window, queries, latent, kv)
    g = torch.Generator().manual_seed(frames * 100 + width)
    x, f0, upstream = (torch.randn(batch, channels, frames, height, width, generator=g, dtype=torch.float64) for _ in range(3))
    x.requires_grad_(), f0.requires_grad_()
    inputs = [x, f0, *op.parameters()]
    results = []
    for form in (op.forward, lambda a, b: first_rsa(op, a, b)):
        y = form(x, f0)
        results.append((y, torch.autograd.grad(y, inputs, upstream, allow_unused=True)))
    (y_new, grads_new), (y_ref, grads_ref) = results
    assert y_ref.abs().max() > 1e-3
    torch.testing.assert_close(y_new, y_ref, rtol=1e-10, atol=1e-12)
    for new, ref in zip(grads_new, grads_ref):
        if ref is None:  # the input, for keys and values from the cell input: only queries read it
            assert new is None or new.abs().max() == 0
        else:
            assert ref.abs().max() > 0
            torch.testing.assert_close(new, ref, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize(
    "channels, queries, width, heads", [(120, 8, 15, 8), (132, 8, 17, 8), (4, 8, 1, 4), (9, 8, 2, 5), (10, 4, 3, 4)]
)
def test_query_widths_and_counts(channels, queries, width, heads):
    op = rsa(channels, queries=queries, latent=0.5)
    assert (op.width, op.queries, op.latent) == (width, heads, max(1, round(width / 2)))
    assert op.query.out_channels == width * heads >= channels > width * (heads - 1)
    assert op.h1.shape == (27, width, op.latent) and op.g.shape == (27, width)


def window_of(z: torch.Tensor, n: tuple[int, int, int], window: tuple[int, int, int]) -> torch.Tensor:
    """The zero-padded window around position n of z (c, T, H, W), as (M, c) in raster order."""
    c, t, h, w = z.shape
    rows = []
    for offset in itertools.product(*(range(-(k // 2), k // 2 + 1) for k in window)):
        p = [a + b for a, b in zip(n, offset)]
        inside = all(0 <= q < size for q, size in zip(p, (t, h, w)))
        rows.append(z[:, p[0], p[1], p[2]] if inside else torch.zeros(c, dtype=z.dtype))
    return torch.stack(rows)


def test_one_position_by_the_paper_formula():
    """y_n = (x^Q P^T + vec(1 x^Q^T (.) X^K^T) H) (X^V + X^V X^V^T G), P = P1 H2^T, H = H1 H2^T,
    per query, with L2-normalised embeddings, written out for a few positions by hand."""
    op = rsa(6, window="3x5x5", queries=2, kv="cell_input")
    x, f0 = maps(6)
    y = op(x, f0)
    win = window_size("3x5x5")
    c = op.width
    conv = lambda layer, z: torch.einsum("oc,cthw->othw", layer.weight[:, :, 0, 0, 0], z)
    H = torch.einsum("mcd,kd->mck", op.h1, op.h2).reshape(-1, op.h2.shape[0])  # (M*c, M)
    P = (op.p1 @ op.h2.t()).t()  # (M, c)
    for b, n in [(0, (0, 0, 0)), (1, (1, 2, 3)), (0, (2, 3, 4)), (1, (1, 0, 2))]:
        keys = F.normalize(window_of(conv(op.key, f0[b]), n, win), dim=1, eps=1e-6)  # (M, c), zero rows stay zero
        values = F.normalize(window_of(conv(op.value, f0[b]), n, win), dim=1, eps=1e-6)
        context = values + values @ (values.t() @ op.g)  # (M, c)
        query_all = conv(op.query, x[b])[:, n[0], n[1], n[2]]  # (L*c,)
        for l in range(op.queries):
            q = F.normalize(query_all[l * c : (l + 1) * c], dim=0, eps=1e-6)
            kernel = q @ P.t() + (q[None, :] * keys).reshape(-1) @ H  # (M,)
            torch.testing.assert_close(y[b, l * c : (l + 1) * c, n[0], n[1], n[2]], kernel @ context, rtol=1e-10, atol=1e-12)


def test_keys_and_values_follow_the_kv_source():
    x, f0 = maps(8)
    own, cell = rsa(8, kv="op_input"), rsa(8, kv="cell_input")
    assert torch.equal(own(x, f0), own(x, f0 * 3))
    assert not torch.allclose(cell(x, f0), cell(x, f0 + 1))
    torch.testing.assert_close(cell(x, f0), cell(x, f0 * 3))  # L2 normalisation: scale-free keys and values


# --- reference-exact options (official code, github.com/KimManjin/RSA) ---------------------------


def rsa_with(channels: int = 8, kv: str = "cell_input", **options) -> RelationalSelfAttention:
    torch.manual_seed(0)
    choices = {"window": "3x5x5", "queries": 2, "latent": 1.0, **options}
    return RelationalSelfAttention(OpConfig(FeatureShape(channels, 3, 4, 5), choices, kv)).double()


@pytest.mark.parametrize("channels, queries", [(8, 2), (10, 4), (12, 8)])
def test_learned_identity_adds_c_squared_parameters_and_starts_as_the_constant(channels, queries):
    constant = rsa_with(channels, queries=queries)
    learned = rsa_with(channels, queries=queries, identity="learned")
    count = lambda op: sum(p.numel() for p in op.parameters())
    c = constant.width
    assert count(learned) - count(constant) == c * c and c == -(-channels // queries)
    x, f0 = maps(channels)
    # same draws, identity starts at I (equal up to rounding: T (I + V_G) is one product, not T + T V_G)
    torch.testing.assert_close(learned(x, f0), constant(x, f0), rtol=1e-12, atol=1e-14)
    learned.identity.grad = None
    learned(x, f0).pow(2).sum().backward()
    assert learned.identity.grad is not None and learned.identity.grad.abs().max() > 1e-6


def test_learned_identity_replaces_the_one_in_the_context():
    """y_n = kernel (X^V E + X^V X^V^T G) for a learned E, at one position, by hand."""
    op = rsa_with(6, identity="learned")
    with torch.no_grad():
        g = torch.Generator().manual_seed(3)
        op.identity.copy_(torch.randn(op.width, op.width, generator=g, dtype=torch.float64))
    x, f0 = maps(6)
    y, constant = op(x, f0), rsa_with(6)(x, f0)
    torch.testing.assert_close(y, op.direct(x, f0), rtol=1e-10, atol=1e-12)
    assert not torch.allclose(y, constant)
    c, n, win = op.width, (1, 2, 3), window_size("3x5x5")
    conv = lambda layer, z: torch.einsum("oc,cthw->othw", layer.weight[:, :, 0, 0, 0], z)
    H = torch.einsum("mcd,kd->mck", op.h1, op.h2).reshape(-1, op.h2.shape[0])  # (M*c, M)
    P = (op.p1 @ op.h2.t()).t()  # (M, c)
    keys = F.normalize(window_of(conv(op.key, f0[0]), n, win), dim=1, eps=1e-6)  # (M, c)
    values = F.normalize(window_of(conv(op.value, f0[0]), n, win), dim=1, eps=1e-6)
    context = values @ op.identity + values @ (values.t() @ op.g)  # (M, c)
    q = F.normalize(conv(op.query, x[0])[:c, n[0], n[1], n[2]], dim=0, eps=1e-6)
    kernel = q @ P.t() + (q[None, :] * keys).reshape(-1) @ H  # (M,)
    torch.testing.assert_close(y[0, :c, n[0], n[1], n[2]], kernel @ context, rtol=1e-10, atol=1e-12)


def test_reference_norm_is_x_over_sqrt_of_squares_plus_eps():
    op, default = rsa_with(norm="reference"), rsa_with()
    x, f0 = maps(8)
    for scale, differs in [(1.0, False), (1e-4, True)]:  # |x| ~ 1e-3: the eps rules part ways
        q, k, v = op.embed(x * scale, f0 * scale)
        key = op.key.weight[:, :, 0, 0, 0]  # (c, C)
        raw = torch.einsum("oc,bcthw->bothw", key, f0 * scale)  # (B, c, T, H, W)
        torch.testing.assert_close(k, raw / torch.sqrt((raw**2).sum(1, keepdim=True) + 1e-6), rtol=1e-12, atol=0)
        norms = q.pow(2).sum(2).sqrt()  # (B, L, T, H, W)
        assert (norms < 1).all() and (norms > 0.999).all() != differs
        assert torch.allclose(k, default.embed(x * scale, f0 * scale)[1], rtol=1e-3, atol=0) != differs
    torch.testing.assert_close(op(x, f0), op.direct(x, f0), rtol=1e-10, atol=1e-12)
