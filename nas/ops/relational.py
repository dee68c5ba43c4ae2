"""Relational self-attention (RSA, Kim et al., NeurIPS 2021) as an op kind.

Every position n (of the N = T*H*W) attends over its local window of M = m_t x m_h x m_w
positions (zero-padded at the borders).  With L2-normalised query x_n^Q (per query), keys
X_n^K and values X_n^V (M x c each, from 1x1x1 convolutions without bias):

    basic kernel        k_V[m] = x^Q . P[:, m]                  P = P1 H2^T   (c x M)
    relational kernel   k_R[m] = vec(x^Q (.) X^K) H1 H2^T       H1: (M c x D), H2: (M x D)
    basic context       X^V                                     (M x c)
    relational context  X^R = X^V (X^V^T G)                     G: (M x c)
    output              y_n = (k_V + k_R) (X^V + X^R)           (c)

(x^Q (.) X^K is the query multiplied into every key, M x c.)  The basic kernel's P is
factored through H2, as the memory-saving form requires (supplementary Fig. 2, ``P1``).

Two implementations of the same function:
- `forward`, the memory-saving form (Eq. 12): the windows are never materialised; H1, H2 and
  G act as window-sized 3D convolutions over the key and value maps (one grouped convolution
  for the keys, one bank of D + c filters for all value channels) and
  only per-position c x D and c x c matrices exist, O(N c^2) memory.  The per-position
  products are three batched matrix products over all B*N positions, associated as
  (Q K_H) V_H^T (1 + V_G) so that the c x D context is never formed;
- `direct`, the definition (Eq. 9 kernel, Eq. 11 contexts): keys and values unfolded into
  their windows, O(N L M c) memory.  Kept for testing (`tests/test_relational.py`) and
  for the memory comparison (`benchmarks/rsa_memory.py`).

Multi-query (L queries): the query convolution gives L queries of c = ceil(C / L) channels;
keys and values have c channels and are shared by the queries; the L outputs of c channels
are concatenated.  When L does not divide C the last query's surplus channels are dropped,
and L is lowered to ceil(C / c) so that no query is dropped whole (so L <= C).

Choices:
- ``window``: M as ``TxHxW`` (odd sizes), ``3x3x3`` | ``3x5x5`` | ``3x7x7`` | ``5x7x7``
  (default ``5x7x7``, the paper's);
- ``queries``: L, 2 | 4 | 8 (default 8, the paper's);
- ``latent``: D as a fraction of the key width c, 0.5 | 1.0 (default 1.0: D = C^Q, the
  best row of the paper's Table 4b);
- ``identity`` (optional): the identity in the context X^V (1 + V_G) - ``constant``
  (default, the paper's Eq. 11) or ``learned``: a c x c parameter that starts at the
  identity, as in the official code (github.com/KimManjin/RSA), c^2 more parameters per op.
  ``constant`` is kept: it is the paper's formula, and the learned matrix adds nothing V_G's
  own G cannot learn except a position-independent channel mixing;
- ``norm`` (optional): the L2 normalisation of queries, keys and values - ``max`` (default,
  x / max(|x|, 1e-6), `torch.nn.functional.normalize`) or ``reference``:
  x / sqrt(|x|^2 + 1e-6), as the official code.  The two differ by more than 1% only for
  |x| below 7e-3; ``max`` is kept as the exact unit-length normalisation the paper writes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from nas.ops.catalog import IDENTITY, NORM
from nas.ops.registry import OpConfig

NORM_EPS = 1e-6


def window_size(text: str) -> tuple[int, int, int]:
    """"5x7x7" -> (5, 7, 7)."""
    t, h, w = (int(part) for part in text.split("x"))
    return t, h, w


def unfold_windows(x: torch.Tensor, window: tuple[int, int, int]) -> torch.Tensor:
    """Every position's zero-padded window: (B, c, T, H, W) -> (B, N, M, c), raster order."""
    b, c, t, h, w = x.shape
    pt, ph, pw = (k // 2 for k in window)
    padded = F.pad(x, (pw, pw, ph, ph, pt, pt))  # (B, c, T + 2pt, H + 2ph, W + 2pw)
    patches = padded.unfold(2, window[0], 1).unfold(3, window[1], 1).unfold(4, window[2], 1)  # (B, c, T, H, W, mt, mh, mw)
    return patches.reshape(b, c, t * h * w, -1).permute(0, 2, 3, 1)  # (B, N, M, c)


def l2_normalise(x: torch.Tensor, dim: int, rule: str) -> torch.Tensor:
    """x / max(|x|, eps) (``max``) or x / sqrt(|x|^2 + eps) (``reference``, the official RSA code)."""
    if rule == "reference":
        return x * torch.rsqrt(x.pow(2).sum(dim, keepdim=True) + NORM_EPS)
    return F.normalize(x, dim=dim, eps=NORM_EPS)


def per_position(z: torch.Tensor) -> torch.Tensor:
    """(B, X, Y, N) -> (B*N, X, Y), contiguous: one small matrix per position for `torch.bmm`."""
    b, rows, cols, n = z.shape
    return z.permute(0, 3, 1, 2).reshape(b * n, rows, cols)  # (B*N, X, Y)


class RelationalSelfAttention(nn.Module):
    """RSA over a local window: basic + relational kernels applied to basic + relational contexts."""

    def __init__(self, config: OpConfig) -> None:
        super().__init__()
        channels = config.shape.channels
        self.window = window_size(str(config.choices["window"]))
        self.width = math.ceil(channels / int(config.choices["queries"]))  # c: key/value/query width
        self.queries = math.ceil(channels / self.width)  # L
        self.latent = max(1, round(float(config.choices["latent"]) * self.width))  # D
        self.channels = channels
        self.kv_from_cell = config.kv_source == "cell_input"
        size = math.prod(self.window)  # M
        self.query = nn.Conv3d(channels, self.queries * self.width, kernel_size=1, bias=False)
        self.key = nn.Conv3d(channels, self.width, kernel_size=1, bias=False)
        self.value = nn.Conv3d(channels, self.width, kernel_size=1, bias=False)
        bound = 1.0 / math.sqrt(size)  # a convolution's default bound for M inputs
        self.h1 = nn.Parameter(torch.empty(size, self.width, self.latent).uniform_(-bound, bound))  # (M, c, D)
        self.h2 = nn.Parameter(torch.empty(size, self.latent).uniform_(-bound, bound))  # (M, D)
        self.g = nn.Parameter(torch.empty(size, self.width).uniform_(-bound, bound))  # (M, c)
        self.p1 = nn.Parameter(torch.randn(self.width, self.latent) / math.sqrt(size * self.latent))  # (c, D)
        self.norm = str(config.choices.get(NORM.name, NORM.default))
        # the identity of X^V (1 + V_G): a constant, or a learned (c, c) matrix from I (official code)
        learned = config.choices.get(IDENTITY.name, IDENTITY.default) == "learned"
        self.identity = nn.Parameter(torch.eye(self.width)) if learned else None  # (c, c)

    def embed(self, x: torch.Tensor, cell_input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """L2-normalised queries (B, L, c, T, H, W), keys and values (B, c, T, H, W)."""
        b, _, t, h, w = x.shape
        source = cell_input if self.kv_from_cell else x
        q = l2_normalise(self.query(x).view(b, self.queries, self.width, t, h, w), 2, self.norm)
        k = l2_normalise(self.key(source), 1, self.norm)
        v = l2_normalise(self.value(source), 1, self.norm)
        return q, k, v

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, groups: int = 1) -> torch.Tensor:
        """A window-sized 3D convolution with zero padding (same size out)."""
        return F.conv3d(x, weight, padding=tuple(k // 2 for k in self.window), groups=groups)

    def filter_banks(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The window-sized filterings of Eq. 12, per position: K H1 + P1 (B*N, c, D), V H2
        (B*N, c, D) and V G (B*N, c', c), row b*N + n for batch element b at position n."""
        b, c, t, h, w = k.shape
        n, d = t * h * w, self.latent
        h1 = self.h1.permute(1, 2, 0).reshape(c * d, 1, *self.window)  # (c*D, 1, mt, mh, mw): D filters per key channel
        k_h1 = self._conv(k, h1, groups=c).view(b, c, d, n) + self.p1[None, :, :, None]  # (B, c, D, N)
        # H2 and G filter every value channel alike: one bank of D + c filters over B*c maps
        bank = torch.cat([self.h2, self.g], dim=1).t().reshape(d + c, 1, *self.window)  # (D+c, 1, mt, mh, mw)
        filtered = self._conv(v.reshape(b * c, 1, t, h, w), bank).view(b, c, d + c, n)  # (B, c, D+c, N)
        return per_position(k_h1), per_position(filtered[:, :, :d]), per_position(filtered[:, :, d:])

    def forward(self, x: torch.Tensor, cell_input: torch.Tensor) -> torch.Tensor:
        """The memory-saving form (Eq. 12), its per-position products as batched matrix products.

        Per position, with Q (L x c) the queries, K_H = K H1 + P1 (c x D), V_H = V H2 (c x D)
        and V_G = V^T G (c x c): y = Q K_H (V_H + V_G^T V_H)^T = T + T V_G with
        T = (Q K_H) V_H^T (L x c), so the c x D context is never formed (with a learned
        identity E: y = T (E + V_G)).
        """
        b, _, t, h, w = x.shape
        n, c = t * h * w, self.width
        q, k, v = self.embed(x, cell_input)
        k_h, v_h, v_g = self.filter_banks(k, v)  # (B*N, c, D), (B*N, c, D), (B*N, c', c)
        queries = per_position(q.reshape(b, self.queries, c, n))  # (B*N, L, c)
        kernel = torch.bmm(queries, k_h)  # (B*N, L, D): basic + relational kernel, Eq. 12
        basic = torch.bmm(kernel, v_h.transpose(1, 2))  # (B*N, L, c): kernel times the basic context
        if self.identity is None:
            out = torch.baddbmm(basic, basic, v_g)  # (B*N, L, c): + kernel times the relational context
        else:
            out = torch.bmm(basic, v_g + self.identity)  # (B*N, L, c): learned identity in place of 1
        out = out.view(b, n, self.queries * c).transpose(1, 2)  # (B, L*c, N)
        return out.reshape(b, self.queries * c, t, h, w)[:, : self.channels]  # (B, C, T, H, W)

    def direct(self, x: torch.Tensor, cell_input: torch.Tensor) -> torch.Tensor:
        """The same function written as its definition, with unfolded windows (Eq. 9 and 11)."""
        b, _, t, h, w = x.shape
        q, k, v = self.embed(x, cell_input)
        queries = q.flatten(3)  # (B, L, c, N)
        keys, values = unfold_windows(k, self.window), unfold_windows(v, self.window)  # (B, N, M, c)
        basic = torch.einsum("blcn,cm->bnlm", queries, self.p1 @ self.h2.t())  # (B, N, L, M)
        hadamard = torch.einsum("blcn,bnmc->bnlmc", queries, keys)  # (B, N, L, M, c)
        relational = torch.einsum("bnlmc,mcd,kd->bnlk", hadamard, self.h1, self.h2)  # (B, N, L, M)
        v_g = torch.einsum("bnmc,me->bnce", values, self.g)  # (B, N, c, c)
        basic_context = values if self.identity is None else values @ self.identity  # (B, N, M, c)
        context = basic_context + torch.einsum("bnmc,bnce->bnme", values, v_g)  # (B, N, M, c)
        out = torch.einsum("bnlm,bnme->blen", basic + relational, context)  # (B, L, c, N)
        return out.reshape(b, self.queries * self.width, t, h, w)[:, : self.channels]  # (B, C, T, H, W)
