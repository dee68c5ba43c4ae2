"""Build a network: a backbone with attention cells or non-local blocks at its insertion points."""

from __future__ import annotations

from typing import Any

from nas.backbones import BACKBONES, Backbone
from nas.cell import AttentionCell
from nas.errors import UserError
from nas.ops.non_local import NonLocalBlock
from nas.space.genotype import Genotype, ModelGenotype


def build_model(
    backbone: str,
    cells: ModelGenotype | Genotype | None = None,
    num_classes: int = 10,
    width: float = 1.0,
    *,
    nonlocal_blocks: bool = False,
    **options: Any,
) -> Backbone:
    """Backbone `backbone` with the cells of `cells` inserted (a `Genotype` means that cell everywhere).

    `nonlocal_blocks=True` inserts a non-local block at every insertion point (the paper's
    "+NL" baseline); a position cannot take both a cell and a non-local block.
    """
    net = BACKBONES.get(backbone)(num_classes=num_classes, width=width, **options)
    if isinstance(cells, Genotype):
        cells = ModelGenotype.everywhere(cells)
    placed = cells.resolve(net.insertion_points) if cells is not None else {}
    if nonlocal_blocks and placed:
        raise UserError(
            f"cells and non-local blocks at the same position {next(iter(placed))!r}: choose one per position"
        )
    for position, genotype in placed.items():
        net.insert(position, AttentionCell(genotype, net.insertion_channels[position]))
    if nonlocal_blocks:
        for position in net.insertion_points:
            net.insert(position, NonLocalBlock(net.insertion_channels[position]))
    return net
