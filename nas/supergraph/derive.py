"""From learned supergraph weights to a cell: the alpha/beta rule (AttentionNAS, B.3).

1. The sink keeps its top-alpha nodes by sink weight.
2. Every kept node keeps its top-beta inputs, with their weights renormalised to sum to one.
3. Walking back from the sink, every node those inputs need is kept the same way; every
   other node (and so any node only dropped nodes read) is dropped.
4. A kept node uses channel gating when its gating probability is above one half.
5. The derived cell sums the top-alpha nodes weighted by their renormalised sink weights.

Ties are broken towards the earlier node (lower id; the cell input 0 first), so the rule is a
deterministic function of the weights.  A weight that underflowed to exactly zero cannot
contribute and is not kept (the largest weight of a softmax is never zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from nas.space.genotype import Combine, Genotype, OpInput, OpSpec
from nas.supergraph.spec import Supergraph


@dataclass(frozen=True)
class SupergraphWeights:
    """The architecture weights of one supergraph cell, as probabilities."""

    graph: Supergraph
    edges: Mapping[int, Mapping[int, float]]  # node -> {input node: softmax weight}
    gating: Mapping[int, float]  # node -> probability of using channel gating
    sink: Mapping[int, float]  # node -> softmax weight in the sink

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (string keys), as logged per epoch."""
        return {
            "edges": {str(n): {str(s): w for s, w in ws.items()} for n, ws in self.edges.items()},
            "gating": {str(n): p for n, p in self.gating.items()},
            "sink": {str(n): w for n, w in self.sink.items()},
        }

    @classmethod
    def from_dict(cls, graph: Supergraph, data: Mapping[str, Any]) -> "SupergraphWeights":
        """Inverse of `to_dict`."""
        return cls(
            graph,
            {int(n): {int(s): float(w) for s, w in ws.items()} for n, ws in data["edges"].items()},
            {int(n): float(p) for n, p in data["gating"].items()},
            {int(n): float(w) for n, w in data["sink"].items()},
        )


def top_k(weights: Mapping[int, float], k: int) -> list[tuple[int, float]]:
    """The k largest (id, weight) pairs, ties to the lower id, zero weights left out."""
    ranked = sorted(weights.items(), key=lambda item: (-item[1], item[0]))
    return [(i, w) for i, w in ranked[: max(k, 1)] if w > 0.0]


def renormalised(pairs: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """The pairs sorted by id with weights scaled to sum to one."""
    total = sum(w for _, w in pairs)
    return [(i, w / total) for i, w in sorted(pairs)]


def derive(weights: SupergraphWeights, alpha: int = 3, beta: int = 2) -> Genotype:
    """The cell genotype the alpha/beta rule derives from `weights` (see the module docstring)."""
    if alpha < 1 or beta < 1:
        raise ValueError(f"alpha and beta must be at least 1, got alpha={alpha} beta={beta}")
    graph = weights.graph
    outputs = renormalised(top_k(weights.sink, alpha))
    kept_inputs: dict[int, list[tuple[int, float]]] = {}
    pending = [node for node, _ in outputs]
    while pending:
        node = pending.pop()
        if node in kept_inputs:
            continue
        kept_inputs[node] = renormalised(top_k(weights.edges[node], beta))
        pending.extend(source for source, _ in kept_inputs[node] if source != 0)
    ops = tuple(
        OpSpec(
            spec.id,
            spec.kind,
            dict(spec.choices),
            tuple(OpInput(source, w) for source, w in kept_inputs[spec.id]),
            weights.gating[spec.id] > 0.5,
        )
        for spec in graph.nodes
        if spec.id in kept_inputs
    )
    combine = Combine("sum", tuple(n for n, _ in outputs), tuple(w for _, w in outputs))
    return Genotype(graph.kv_source, graph.preprocess, ops, combine, {"derived_from": graph.name, "alpha": alpha, "beta": beta})
