"""Differentiable search: supergraph cells and the alpha/beta derivation of cells from them.

The names below load their submodule on first use (PEP 562), so that reading and checking a
supergraph file (`nas.supergraph.spec`) needs no torch."""

from __future__ import annotations

import importlib
from typing import Any

from nas.supergraph.derive import SupergraphWeights, derive  # torch-free; `derive` names the function, not the module
from nas.supergraph.pruning import Pruning
from nas.supergraph.spec import NodeSpec, Supergraph, load_supergraph, parse_supergraph

_HOMES = {
    "ArchitectureWeights": "cell", "SupergraphCell": "cell", "architecture_parameters": "cell",
    "derived_state_dict": "cell", "network_parameters": "cell",
    "build_supergraph_model": "model", "derive_model": "model", "model_weights": "model", "supergraph_cells": "model",
}

__all__ = [
    "ArchitectureWeights", "NodeSpec", "Pruning", "Supergraph", "SupergraphCell", "SupergraphWeights", "architecture_parameters",
    "build_supergraph_model", "derive", "derive_model", "derived_state_dict", "load_supergraph", "model_weights",
    "network_parameters", "parse_supergraph", "supergraph_cells",
]


def __getattr__(name: str) -> Any:
    """The public name `name`, imported from its submodule."""
    if name not in _HOMES:
        raise AttributeError(f"module 'nas.supergraph' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nas.supergraph.{_HOMES[name]}"), name)
    globals()[name] = value  # looked up once
    return value
