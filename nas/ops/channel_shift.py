"""Temporal channel shift (TSM, Lin, Gan, Han, ICCV 2019) as an op kind.

Of the C channels, the first ``floor(fraction * C)`` take their values from the next frame
(t + 1), the following ``floor(fraction * C)`` from the previous frame (t - 1), and the rest
stay; frames shifted in from beyond the clip are zeros (TSM's offline shift, not a roll).
The floor is TSM's own rule (``C // fold_div``), so a map with fewer than 1/fraction channels
is passed through unchanged.  No parameters and no FLOPs: the mixing happens in whatever
reads the shifted map (the next op, or the cell's 1x1x1 convolution).

Choice ``fraction``: the share of channels shifted in each direction, any number in (0, 0.5]
(default 1/8, TSM's default: a quarter of the channels move in total).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas.ops.registry import OpConfig




def shifted_channels(channels: int, fraction: float) -> int:
    """Channels shifted in each direction: floor(fraction * C) (rounded first, so that
    0.29 * 100 is 29 and not 28.999...)."""
    return int(round(channels * fraction, 9))


def temporal_shift(x: torch.Tensor, fold: int) -> torch.Tensor:
    """Shift `fold` channels one frame back in time and the next `fold` one frame forward.

    (B, C, T, H, W) -> same: y[:, :fold, t] = x[:, :fold, t + 1], y[:, fold:2 fold, t] =
    x[:, fold:2 fold, t - 1], zeros where t + 1 or t - 1 falls outside the clip.
    """
    if fold == 0:
        return x
    from_next = F.pad(x[:, :fold, 1:], (0, 0, 0, 0, 0, 1))  # (B, fold, T, H, W), last frame zero
    from_previous = F.pad(x[:, fold : 2 * fold, :-1], (0, 0, 0, 0, 1, 0))  # (B, fold, T, H, W), first frame zero
    return torch.cat([from_next, from_previous, x[:, 2 * fold :]], dim=1)  # (B, C, T, H, W)


class ChannelShift(nn.Module):
    """TSM: a fraction of the channels from the next frame, as many from the previous one."""

    def __init__(self, config: OpConfig) -> None:
        super().__init__()
        self.fold = shifted_channels(config.shape.channels, float(config.choices["fraction"]))

    def forward(self, x: torch.Tensor, cell_input: torch.Tensor) -> torch.Tensor:
        return temporal_shift(x, self.fold)
