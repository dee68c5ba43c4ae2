"""The attention cell: a drop-in block (N, C, T, H, W) -> (N, C, T, H, W) built from a genotype.

Following the AttentionNAS supplementary (B.2):

1. pre-processing (`CellInput`): 1x1x1 conv C -> C_reduction, bilinear resize of every frame
   to (H_resize, W_resize), and temporal grouping: T is zero-padded to a multiple of T_group
   and the groups are folded into the batch, so every op sees the shape
   (N * groups, C_reduction, T_group, H_resize, W_resize) whatever the input size -- except,
   with ``preprocess.pad_short_maps: false`` (the shipped supergraphs and the cells derived
   from them), a map shorter than T_group is one group of its own T frames: padding it
   would spend T_group - T of every op's frames on zeros (half of each cell's compute at
   I3D's 4a-4e with 16-frame clips, T = 4 < T_group = 8).  The ops are built for T_group
   frames and accept any T <= T_group (`nas.ops.registry`), keeping the constants they were
   built with (a spatial dot product's 1/sqrt(T_group * C) scale); where the padded frames
   contributed nothing (e.g. keys of zero frames without bias under softmax) the result is
   the same as with padding, elsewhere it is the op on the clip's own frames.  Maps of T >=
   T_group frames are grouped exactly as before (the last group zero-padded).  Padding
   stays the default so that committed cells and results keep the meaning they were
   measured with;
2. the op DAG: op k reads the weighted sum of its inputs among f_0 .. f_(k-1);
3. combination (`CellOutput`): concatenate the outputs no op reads (or sum them with weights,
   for supergraph-derived cells), 1x1x1 conv back to C, BatchNorm whose scale starts at
   zero, then undo the grouping and the resize and add the cell input.

Because the BatchNorm scale (and shift) start at zero, a new cell is exactly the identity.
`CellInput` and `CellOutput` are shared with the supergraph cell (`nas.supergraph`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nas.ops import OPS, FeatureShape
from nas.space.genotype import Genotype, OpInput, Preprocess


@dataclass(frozen=True)
class Layout:
    """What pre-processing changed, so that post-processing can undo it."""

    batch: int
    frames: int
    height: int
    width: int
    groups: int


def resize_frames(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize of every frame: (N, C, T, H, W) -> (N, C, T, height, width)."""
    n, c, t, h, w = x.shape
    if (h, w) == (height, width):
        return x
    frames = x.transpose(1, 2).reshape(n * t, c, h, w)  # (N*T, C, H, W)
    frames = F.interpolate(frames, size=(height, width), mode="bilinear", align_corners=False)
    return frames.reshape(n, t, c, height, width).transpose(1, 2)  # (N, C, T, height, width)


def group_frames(x: torch.Tensor, group: int, pad_short: bool = True) -> tuple[torch.Tensor, int]:
    """Zero-pad T to a multiple of `group` and fold the groups into the batch.

    (N, C, T, H, W) -> (N * G, C, group, H, W) with G = ceil(T / group); returns (x, G).
    With `pad_short` False a map shorter than `group` is one group of its T frames,
    unpadded: (N, C, T, H, W).
    """
    n, c, t, h, w = x.shape
    if not pad_short:
        group = min(group, t)
    groups = -(-t // group)
    if groups * group != t:
        x = F.pad(x, (0, 0, 0, 0, 0, groups * group - t))  # (N, C, G*group, H, W)
    x = x.reshape(n, c, groups, group, h, w).transpose(1, 2)  # (N, G, C, group, H, W)
    return x.reshape(n * groups, c, group, h, w), groups  # (N*G, C, group, H, W)


def ungroup_frames(x: torch.Tensor, batch: int, frames: int) -> torch.Tensor:
    """Inverse of `group_frames`: (N * G, C, group, H, W) -> (N, C, frames, H, W)."""
    ng, c, group, h, w = x.shape
    groups = ng // batch
    x = x.reshape(batch, groups, c, group, h, w).transpose(1, 2)  # (N, C, G, group, H, W)
    return x.reshape(batch, c, groups * group, h, w)[:, :, :frames]  # (N, C, T, H, W)


class CellInput(nn.Module):
    """Pre-processing: channel reduction, spatial resize, temporal grouping."""

    def __init__(self, channels: int, preprocess: Preprocess) -> None:
        super().__init__()
        self.sizes = preprocess
        self.shape = FeatureShape(
            preprocess.reduced_channels(channels), preprocess.frames, preprocess.height, preprocess.width
        )
        self.reduce = nn.Conv3d(channels, self.shape.channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Layout]:
        n, _, t, h, w = x.shape
        f = self.reduce(x)  # (N, Cr, T, H, W)
        f = resize_frames(f, self.shape.height, self.shape.width)  # (N, Cr, T, Hr, Wr)
        f, groups = group_frames(f, self.shape.frames, self.sizes.pad_short_maps)  # (N*G, Cr, Tg, Hr, Wr), Tg <= T_group
        return f, Layout(n, t, h, w, groups)


class CellOutput(nn.Module):
    """Combination tail: 1x1x1 conv to C, zero-scale BatchNorm, ungroup, resize back."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.expand = nn.Conv3d(in_channels, channels, kernel_size=1)
        self.norm = nn.BatchNorm3d(channels)
        nn.init.zeros_(self.norm.weight)

    def forward(self, y: torch.Tensor, layout: Layout) -> torch.Tensor:
        y = self.norm(self.expand(y))  # (N*G, C, Tg, Hr, Wr)
        y = ungroup_frames(y, layout.batch, layout.frames)  # (N, C, T, Hr, Wr)
        return resize_frames(y, layout.height, layout.width)  # (N, C, T, H, W)


def weighted_sum(nodes: dict[int, torch.Tensor], inputs: tuple[OpInput, ...]) -> torch.Tensor:
    """sum_j w_j f_j over an op's inputs (a single weight-1 input is passed through)."""
    if len(inputs) == 1 and inputs[0].weight == 1.0:
        return nodes[inputs[0].source]
    total = nodes[inputs[0].source] * inputs[0].weight
    for edge in inputs[1:]:
        total = total + nodes[edge.source] * edge.weight
    return total


class AttentionCell(nn.Module):
    """The attention cell of `genotype` for feature maps with `channels` channels."""

    def __init__(self, genotype: Genotype, channels: int) -> None:
        super().__init__()
        self.genotype = genotype
        self.input = CellInput(channels, genotype.preprocess)
        shape = self.input.shape
        self.ops = nn.ModuleDict({str(spec.id): OPS.build(spec, shape, genotype.kv_source) for spec in genotype.ops})
        combined = shape.channels * (len(genotype.combine.outputs) if genotype.combine.mode == "concat" else 1)
        self.output = CellOutput(combined, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f0, layout = self.input(x)  # (N*G, Cr, Tg, Hr, Wr)
        nodes = {0: f0}
        for spec in self.genotype.ops:
            nodes[spec.id] = self.ops[str(spec.id)](weighted_sum(nodes, spec.inputs), f0)
        combine = self.genotype.combine
        if combine.mode == "concat":
            y = torch.cat([nodes[o] for o in combine.outputs], dim=1)  # (N*G, K_out*Cr, Tg, Hr, Wr)
        else:
            y = weighted_sum(nodes, tuple(OpInput(o, w) for o, w in zip(combine.outputs, combine.weights or ())))
        return x + self.output(y, layout)
