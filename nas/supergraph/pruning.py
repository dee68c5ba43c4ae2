"""Optional pruning of supergraph nodes that the architecture weights have given up on.

An approximation to the full search, off by default.  After every epoch a node is *quiet* when
its sink weight and the weight of each of its out-edges (its entry in every later node's input
softmax) are all below ``threshold`` times the uniform weight of that softmax (1 / number of
entries): e.g. threshold 0.5 in SG-1's sink of 12 nodes means below 1/24.  A node quiet for
``epochs`` epochs in a row is pruned: it is no longer computed, and its logits are left out of
every softmax it took part in (the remaining weights renormalise over the live entries, so a
pruned node has weight exactly zero and `derive` never keeps it).  At least ``keep`` nodes
stay alive (the search's alpha, so the sink can still keep alpha nodes); when more would go,
the quietest go first (lowest sink weight, ties to the later node).  Pruning is irreversible,
and its state (`alive`, `quiet_epochs`) is in the state dict, so a resumed search continues it.
"""

from __future__ import annotations

from dataclasses import dataclass

from nas.supergraph.derive import SupergraphWeights


@dataclass(frozen=True)
class Pruning:
    """When to prune a supergraph node (see the module docstring)."""

    threshold: float  # fraction of the uniform weight below which a weight counts as quiet, in (0, 1)
    epochs: int = 2  # consecutive quiet epochs before a node is pruned
    keep: int = 3  # never fewer live nodes than this (the search's alpha)

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"pruning threshold must lie in (0, 1) (a fraction of the uniform weight), got {self.threshold}")
        if self.epochs < 1:
            raise ValueError(f"pruning epochs must be at least 1, got {self.epochs}")
        if self.keep < 1:
            raise ValueError(f"pruning must keep at least 1 node, got {self.keep}")


def quiet_nodes(weights: SupergraphWeights, threshold: float, alive: set[int]) -> set[int]:
    """The live nodes whose sink weight and every out-edge weight are below `threshold` x uniform.

    The uniform weight of a softmax counts only its live entries (a pruned entry has none)."""
    graph = weights.graph
    live_sink = len(alive)
    quiet = {n for n in alive if weights.sink[n] < threshold / live_sink}
    for node in graph.nodes:
        if node.id not in alive:
            continue
        live_inputs = [s for s in weights.edges[node.id] if s == 0 or s in alive]
        if len(live_inputs) < 2:
            continue  # a single input is not a choice
        for source in live_inputs:
            if source in quiet and weights.edges[node.id][source] >= threshold / len(live_inputs):
                quiet.discard(source)
    return quiet


def to_prune(weights: SupergraphWeights, quiet_epochs: dict[int, int], pruning: Pruning) -> list[int]:
    """The live nodes (the keys of `quiet_epochs`, after this epoch's update) to prune now."""
    due = [n for n, count in quiet_epochs.items() if count >= pruning.epochs]
    room = max(0, len(quiet_epochs) - pruning.keep)
    due.sort(key=lambda n: (weights.sink[n], -n))
    return sorted(due[:room])
