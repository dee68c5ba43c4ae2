"""The AttentionNAS operations: dot-product and map-based attention (supplementary Eq. A/B).

dot_product:  W = phi(Q K^T),  out = W V,  Q = G1(f_in), K = G2(src), V = G3(src)
map:          W = diag(phi(G(f_in)' w)),  out = W V,  V = G3(f_in)
where ' is ReshapeTo2D for the op's dimension (`nas.ops.layout`), G* are 1x1x1 convolutions
and src is f_in or the cell input f_0 (the cell-level key/value source).  phi is one of
none, relu, sigmoid, softmax; softmax is over keys for dot_product and over rows for map.

Deviation flag `scale` (default on): dot products are divided by sqrt(D), the row length,
as in the Transformer; the paper does not say whether it scales.  Off gives Eq. A exactly.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nas.ops.layout import from_rows, rows_and_length, to_rows
from nas.ops.registry import OpConfig




def activate(logits: torch.Tensor, activation: str, dim: int = -1) -> torch.Tensor:
    """phi(logits); softmax normalises over `dim`."""
    if activation == "none":
        return logits
    if activation == "relu":
        return torch.relu(logits)
    if activation == "sigmoid":
        return torch.sigmoid(logits)
    if activation == "softmax":
        return torch.softmax(logits, dim=dim)
    raise ValueError(f"unknown activation {activation!r}")


def pointwise(channels: int, bias: bool = True) -> nn.Conv3d:
    """A 1x1x1 convolution C -> C."""
    return nn.Conv3d(channels, channels, kernel_size=1, bias=bias)


class DotProductAttention(nn.Module):
    """Dot-product attention over one dimension; keys/values from the op or the cell input."""

    def __init__(self, config: OpConfig) -> None:
        super().__init__()
        shape = config.shape
        self.dimension = str(config.choices["dimension"])
        self.activation = str(config.choices["activation"])
        self.kv_from_cell = config.kv_source == "cell_input"
        _, row_length = rows_and_length(self.dimension, shape.frames, shape.height, shape.width, shape.channels)
        self.scale = 1.0 / math.sqrt(row_length) if config.choices["scale"] else 1.0
        self.query = pointwise(shape.channels)
        # softmax over keys ignores a shift shared by all keys, so a key bias could never learn
        self.key = pointwise(shape.channels, bias=self.activation != "softmax")
        self.value = pointwise(shape.channels)

    def attention(self, x: torch.Tensor, cell_input: torch.Tensor) -> torch.Tensor:
        """The attention matrix W, (B, L, L)."""
        source = cell_input if self.kv_from_cell else x
        q = to_rows(self.query(x), self.dimension)  # (B, L, D)
        k = to_rows(self.key(source), self.dimension)  # (B, L, D)
        logits = torch.matmul(q, k.transpose(1, 2)) * self.scale  # (B, L, L)
        return activate(logits, self.activation, dim=-1)

    def forward(self, x: torch.Tensor, cell_input: torch.Tensor) -> torch.Tensor:
        source = cell_input if self.kv_from_cell else x
        v = to_rows(self.value(source), self.dimension)  # (B, L, D)
        out = torch.matmul(self.attention(x, cell_input), v)  # (B, L, D)
        return from_rows(out, self.dimension, x.shape)  # (B, C, T, H, W)


class MapAttention(nn.Module):
    """Map-based attention: one learned weight per row, W = diag(phi(G(f)' w))."""

    def __init__(self, config: OpConfig) -> None:
        super().__init__()
        shape = config.shape
        self.dimension = str(config.choices["dimension"])
        self.activation = str(config.choices["activation"])
        _, row_length = rows_and_length(self.dimension, shape.frames, shape.height, shape.width, shape.channels)
        # the embedding bias adds the same logit to every row, which softmax over rows ignores
        self.embed = pointwise(shape.channels, bias=self.activation != "softmax")
        self.value = pointwise(shape.channels)
        self.row_weight = nn.Parameter(torch.randn(row_length) / math.sqrt(row_length))

    def attention(self, x: torch.Tensor, cell_input: torch.Tensor | None = None) -> torch.Tensor:
        """The diagonal of W, (B, L)."""
        rows = to_rows(self.embed(x), self.dimension)  # (B, L, D)
        # a spatial row of a map shorter than T_group (cell grouping) is its first frames' part:
        # D = T*C, frame-major, so the weights of the frames it has are the first D
        logits = torch.matmul(rows, self.row_weight[: rows.shape[-1]])  # (B, L)
        return activate(logits, self.activation, dim=-1)

    def forward(self, x: torch.Tensor, cell_input: torch.Tensor) -> torch.Tensor:
        v = to_rows(self.value(x), self.dimension)  # (B, L, D)
        out = self.attention(x)[:, :, None] * v  # (B, L, D)
        return from_rows(out, self.dimension, x.shape)  # (B, C, T, H, W)
