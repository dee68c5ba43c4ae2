"""Differentiable search: supergraph cells and the alpha/beta derivation of cells from them."""

from nas.supergraph.cell import (
    ArchitectureWeights,
    SupergraphCell,
    architecture_parameters,
    derived_state_dict,
    network_parameters,
)
from nas.supergraph.derive import SupergraphWeights, derive
from nas.supergraph.model import build_supergraph_model, derive_model, model_weights, supergraph_cells
from nas.supergraph.spec import NodeSpec, Supergraph, load_supergraph, parse_supergraph

__all__ = [
    "ArchitectureWeights",
    "NodeSpec",
    "Supergraph",
    "SupergraphCell",
    "SupergraphWeights",
    "architecture_parameters",
    "build_supergraph_model",
    "derive_model",
    "model_weights",
    "supergraph_cells",
    "derive",
    "derived_state_dict",
    "load_supergraph",
    "network_parameters",
    "parse_supergraph",
]
