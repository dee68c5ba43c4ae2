"""The built-in op kinds as data: name, choices (values, defaults), key/value source, summary, and
where the module that builds it lives.

This module imports no torch, so everything that only reads the registry (the search-space DSL,
genotype validation, `nas space ...`, `nas genotype ...`, `nas list ops`) starts in a fraction of
a second; an op's module (and torch) is imported the first time the op is built
(`OpKind.make`).  Importing `nas.ops` declares every kind below.
"""

from __future__ import annotations

from typing import Any

from nas.ops.registry import OPS, Choice

DIMENSIONS = ("temporal", "spatial", "spatiotemporal")
"""Attention dimensions (`nas.ops.layout` turns a map into rows for each)."""
ACTIVATIONS = ("none", "relu", "sigmoid", "softmax")
"""phi of the attention logits."""
PATTERNS: dict[str, tuple[tuple[int, ...], ...]] = {  # TPS, Figure 1: frame offset per position of the tile
    "A": ((0, 1), (-1, 0)),
    "B": ((0, 1), (-1, 2)),
    "C": ((-4, 1, 2), (-1, 0, 3), (-2, -3, 4)),
    "D": ((0, 1, 2, 3), (-1, -7, 4, 5), (-2, -4, 7, 6), (-3, -5, -6, 8)),
}
WRAPPED = ("frame", "temporal", "spatial")
"""The attentions TPS can wrap between its shift and shift-back."""


def _fraction_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number in (0, 0.5], got {value!r}"
    if not 0 < value <= 0.5:
        return f"must lie in (0, 0.5] (that share moves each way), got {value!r}"
    return None


def _window_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"must be a positive integer (tokens per window side), got {value!r}"
    return None


DIMENSION = Choice("dimension", "spatiotemporal", DIMENSIONS, doc="rows the attention relates")
ACTIVATION = Choice("activation", "softmax", ACTIVATIONS, doc="phi applied to the attention logits")
SCALE = Choice("scale", True, (True, False), doc="divide dot products by sqrt(row length)")
FRACTION = Choice("fraction", 0.125, check=_fraction_problem, doc="share of channels shifted each way")
POOL = Choice("pool", "1x2x2", ("1x2x2", "2x2x2", "1x1x1"), doc="max-pooling window (t x h x w) of keys and values")
PATTERN = Choice("pattern", "C", tuple(PATTERNS), doc="frame offsets per spatial position (Figure 1)")
# reference-exact variants (optional: left out of genotypes at their default, `Choice.optional`)
DIRECTION = Choice("direction", "forward", ("forward", "reference"), optional=True,
                   doc="offset o takes frame t+o (forward) or t-o (reference: the official torch.roll)")
TILING = Choice("tiling", "map", ("map", "window"), optional=True,
                doc="pattern tiles the whole map, or restarts in every shift_window (Swin window, official code)")
SHIFT_WINDOW = Choice("shift_window", 7, check=_window_problem, optional=True,
                      doc="window side (tokens) for tiling: window; 7 as Swin's")
IDENTITY = Choice("identity", "constant", ("constant", "learned"), optional=True,
                  doc="the identity added to V_G: constant, or a learned c x c matrix from I (official code)")
NORM = Choice("norm", "max", ("max", "reference"), optional=True,
              doc="L2 normalisation x/max(|x|, eps), or x/sqrt(|x|^2 + eps) (official code)")
POOL_ROUNDING = Choice("pool_rounding", "ceil", ("ceil", "floor"), optional=True,
                       doc="pooled size ceil(n/s) (SAME padding), or floor(n/s) (Caffe2 reference)")
TEMPORAL_INIT = Choice("temporal_init", "default", ("default", "zero"), optional=True,
                       doc="no temporal output projection, or one that starts at zero (TimeSformer)")
ATTENTION = Choice("attention", "frame", WRAPPED, doc="the attention between shift and shift-back")
WINDOW = Choice("window", "5x7x7", ("3x3x3", "3x5x5", "3x7x7", "5x7x7"), doc="local window M (t x h x w)")
QUERIES = Choice("queries", 8, (2, 4, 8), doc="number of queries L")
LATENT = Choice("latent", 1.0, (0.5, 1.0), doc="latent size D as a fraction of the key width C/L")

OPS.declare("dot_product", "nas.ops.attention:DotProductAttention", choices=(DIMENSION, ACTIVATION, SCALE),
            uses_kv_source=True,
            summary="Dot-product attention over one dimension; keys/values from the op or the cell input.")
OPS.declare("map", "nas.ops.attention:MapAttention", choices=(DIMENSION, ACTIVATION),
            summary="Map-based attention: one learned weight per row, W = diag(phi(G(f)' w)).")
OPS.declare("aligned_temporal", "nas.ops.aligned:AlignedTemporalAttention", choices=(ACTIVATION, SCALE),
            uses_kv_source=True,
            summary="ATA: align the tokens of adjacent frames, attend over time per position, de-align.")
OPS.declare("channel_shift", "nas.ops.channel_shift:ChannelShift", choices=(FRACTION,),
            summary="TSM: a fraction of the channels from the next frame, as many from the previous one.")
OPS.declare("divided_st", "nas.ops.divided:DividedSpaceTime", choices=(ACTIVATION, SCALE, TEMPORAL_INIT),
            uses_kv_source=True,
            summary="TimeSformer's divided attention: temporal then spatial token attention, each residual.")
OPS.declare("non_local", "nas.ops.non_local_op:NonLocalOp", choices=(POOL, POOL_ROUNDING),
            summary="The embedded-Gaussian non-local block (with its residual) on the op input.")
OPS.declare("patch_shift", "nas.ops.patch_shift:PatchShiftAttention",
            choices=(PATTERN, ATTENTION, DIRECTION, TILING, SHIFT_WINDOW),
            uses_kv_source=True, summary="TPS: shift tokens across frames by a fixed pattern, attend, shift back.")
OPS.declare("relational", "nas.ops.relational:RelationalSelfAttention",
            choices=(WINDOW, QUERIES, LATENT, IDENTITY, NORM),
            uses_kv_source=True,
            summary="RSA over a local window: basic + relational kernels applied to basic + relational contexts.")
