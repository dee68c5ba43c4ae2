"""A backbone with a supergraph cell at every insertion point, and its derived model genotype."""

from __future__ import annotations

from typing import Any

from nas.backbones import Backbone
from nas.models import build_model
from nas.space.genotype import ModelGenotype
from nas.supergraph.cell import SupergraphCell
from nas.supergraph.derive import SupergraphWeights, derive
from nas.supergraph.pruning import Pruning
from nas.supergraph.spec import Supergraph


def build_supergraph_model(backbone: str, graph: Supergraph, num_classes: int = 10, width: float = 1.0,
                           pruning: Pruning | None = None, **options: Any) -> Backbone:
    """Backbone `backbone` with one `SupergraphCell(graph, pruning=pruning)` at each of its insertion points."""
    net = build_model(backbone, num_classes=num_classes, width=width, **options)
    for position in net.insertion_points:
        net.insert(position, SupergraphCell(graph, net.insertion_channels[position], pruning))
    return net


def supergraph_cells(model: Backbone) -> dict[str, SupergraphCell]:
    """The supergraph cells of `model` by insertion position."""
    return {p: block for p, block in model.inserted().items() if isinstance(block, SupergraphCell)}


def model_weights(model: Backbone) -> dict[str, SupergraphWeights]:
    """The architecture weights of every supergraph cell, by position."""
    return {position: cell.weights() for position, cell in supergraph_cells(model).items()}


def derive_model(model: Backbone, alpha: int = 3, beta: int = 2) -> ModelGenotype:
    """One derived cell per insertion position (a position-specific model genotype)."""
    cells = {position: derive(weights, alpha, beta) for position, weights in model_weights(model).items()}
    return ModelGenotype(cells, {"method": "supergraph", "alpha": alpha, "beta": beta})
