"""One op of the registry on its own, as a module of one input: for FLOPs, parameters, timing.

The op runs on a feature map of the cell's pre-processed shape (B, C, T_group, H, W) that
doubles as the cell input, so an op that takes its keys and values from the cell input costs
what it costs inside a cell.  `nas flops --op` and `benchmarks/ops_table.py` use this.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from nas.flops import FlopReport, count_flops
from nas.ops.registry import OPS, FeatureShape
from nas.space.genotype import OpInput, OpSpec


class OpOnInput(nn.Module):
    """``forward(x) = op(x, x)``: an op whose input is also the cell input."""

    def __init__(self, op: nn.Module) -> None:
        super().__init__()
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x, x)


def op_module(
    kind: str, choices: Mapping[str, Any], shape: FeatureShape, kv_source: str = "cell_input", gating: bool = False
) -> OpOnInput:
    """The op `kind` with `choices` (defaults filled in, checked: `UserError` when bad) at `shape`."""
    spec = OpSpec(1, kind, dict(choices), (OpInput(0),), gating)
    return OpOnInput(OPS.build(spec, shape, kv_source))


def op_flops(
    kind: str,
    choices: Mapping[str, Any],
    shape: FeatureShape,
    batch: int = 1,
    kv_source: str = "cell_input",
    gating: bool = False,
) -> FlopReport:
    """FLOPs (multiply-add = 2) and parameters of one op on a (batch, C, T, H, W) feature map."""
    module = op_module(kind, choices, shape, kv_source, gating)
    return count_flops(module, (batch, shape.channels, shape.frames, shape.height, shape.width))
