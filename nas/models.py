"""Build a network: a backbone with attention cells or non-local blocks at its insertion points."""

from __future__ import annotations

from typing import Any

from nas.backbones import BACKBONES, Backbone
from nas.cell import AttentionCell
from nas.errors import UserError
from nas.ops.non_local import NonLocalBlock
from nas.space.genotype import Genotype, GenotypeSource, ModelGenotype, as_model_genotype, read_genotype


def build_model(
    backbone: str,
    cells: ModelGenotype | Genotype | GenotypeSource | None = None,
    num_classes: int = 10,
    width: float = 1.0,
    *,
    nonlocal_blocks: bool = False,
    **options: Any,
) -> Backbone:
    """Backbone `backbone` with the cells of `cells` inserted (a `Genotype` means that cell everywhere).

    `cells` may also be anything `nas.space.read_genotype` reads: a path such as
    ``"RUN/best_genotype.json"``, JSON text or a dict, of a cell or a model genotype.

    `nonlocal_blocks=True` inserts a non-local block at every insertion point (the paper's
    "+NL" baseline); a position cannot take both a cell and a non-local block.
    """
    if cells is not None and not isinstance(cells, (Genotype, ModelGenotype)):
        cells = read_genotype(cells)  # before the backbone: a bad file costs nothing
    net = BACKBONES.get(backbone)(num_classes=num_classes, width=width, **options)
    placed = as_model_genotype(cells).resolve(net.insertion_points) if cells is not None else {}
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
