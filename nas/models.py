"""Build a network: a backbone with attention cells at its insertion points."""

from __future__ import annotations

from typing import Any

from nas.backbones import BACKBONES, Backbone
from nas.cell import AttentionCell
from nas.space.genotype import Genotype, ModelGenotype


def build_model(
    backbone: str,
    cells: ModelGenotype | Genotype | None = None,
    num_classes: int = 10,
    width: float = 1.0,
    **options: Any,
) -> Backbone:
    """Backbone `backbone` with the cells of `cells` inserted (a `Genotype` means that cell everywhere)."""
    net = BACKBONES.get(backbone)(num_classes=num_classes, width=width, **options)
    if isinstance(cells, Genotype):
        cells = ModelGenotype.everywhere(cells)
    if cells is not None:
        for position, genotype in cells.resolve(net.insertion_points).items():
            net.insert(position, AttentionCell(genotype, net.insertion_channels[position]))
    return net
