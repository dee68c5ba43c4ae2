"""Exact counting of the cells in a search space.

`raw_size` counts variable assignments.  `distinct_size` counts cells up to renumbering of
their ops (the canonical key), exactly, by Burnside's lemma: for each distinct wiring shape
(the unlabelled DAG), the number of distinct labellings of its ops is
``(1 / |Aut|) * sum over automorphisms s of L ** cycles(s)``, where L is the number of labels
an op can take (kind x choices x gating).  The key ignores the key/value source when no op
reads it, so a shape contributes ``kv * orbits(L) - (kv - 1) * orbits(N)``, N counting the
labels of kinds that do not read it.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import networkx as nx
from networkx.algorithms.isomorphism import DiGraphMatcher

from nas.errors import UserError
from nas.io import short
from nas.space.canonical import _serialise, canonical_order
from nas.space.genotype import Combine, Genotype, OpInput, OpSpec, Preprocess
from nas.space.variables import parse_subset

if TYPE_CHECKING:
    from nas.space.space import SearchSpace

MAX_WIRINGS = 2_000_000


def labels_per_op(space: "SearchSpace", kv_readers: bool | None = None) -> int:
    """Labels an op can take; only kinds that read (or don't read) the kv source if given."""
    from nas.ops import OPS

    total = 0
    for kc in space.kinds:
        if kv_readers is not None and OPS.get(kc.kind).uses_kv_source != kv_readers:
            continue
        total += math.prod(len(values) for _, values in kc.choices)
    return total * len(space.gating)


def _preprocess_count(space: "SearchSpace") -> int:
    return len(space.channels) * len(space.heights) * len(space.widths) * len(space.frames)


def raw_size(space: "SearchSpace") -> int:
    """Number of variable assignments of `space`."""
    per_op = labels_per_op(space)
    wirings = math.prod(len(space.input_subsets(k)) for k in range(1, space.num_ops + 1))
    return len(space.kv_sources) * _preprocess_count(space) * per_op**space.num_ops * wirings


def wiring_shapes(space: "SearchSpace") -> list[Genotype]:
    """One unlabelled genotype (every op the same dummy label) per distinct wiring shape."""
    subsets = [space.input_subsets(k) for k in range(1, space.num_ops + 1)]
    if math.prod(len(s) for s in subsets) > MAX_WIRINGS:
        raise UserError(f"space {short(space.name)} has too many wirings to count exactly (> {MAX_WIRINGS})")
    pre = Preprocess(1, 1, 1, 1)
    shapes: dict[str, Genotype] = {}
    for wiring in itertools.product(*subsets):
        ops = []
        for k, subset in enumerate(wiring, start=1):
            sources = parse_subset(subset)
            ops.append(OpSpec(k, "_", {}, tuple(OpInput(s, 1.0 / len(sources)) for s in sources)))
        draft = Genotype("op_input", pre, tuple(ops), Combine("concat", (1,)))
        shape = Genotype("op_input", pre, tuple(ops), Combine("concat", draft.leaves()))
        shapes.setdefault(_serialise(shape, canonical_order(shape)), shape)
    return list(shapes.values())


def automorphism_cycles(shape: Genotype) -> list[int]:
    """For each automorphism of the shape, the number of cycles it has on the ops."""
    graph = nx.DiGraph()
    graph.add_node(0, is_input=True)
    for spec in shape.ops:
        graph.add_node(spec.id, is_input=False)
        for edge in spec.inputs:
            graph.add_edge(edge.source, spec.id, weight=edge.weight)
    matcher = DiGraphMatcher(
        graph,
        graph,
        node_match=lambda a, b: a["is_input"] == b["is_input"],
        edge_match=lambda a, b: a["weight"] == b["weight"],
    )
    cycles = []
    for mapping in matcher.isomorphisms_iter():
        seen: set[int] = set()
        count = 0
        for start in (spec.id for spec in shape.ops):
            if start in seen:
                continue
            count += 1
            node = start
            while node not in seen:
                seen.add(node)
                node = mapping[node]
        cycles.append(count)
    return cycles


def orbits(cycles: list[int], labels: int) -> int:
    """Burnside: distinct labellings of a shape with `labels` labels per op."""
    total = sum(labels**c for c in cycles)
    assert total % len(cycles) == 0
    return total // len(cycles)


def distinct_size(space: "SearchSpace") -> int:
    """Exact number of distinct cells (canonical keys) in `space`."""
    all_labels = labels_per_op(space)
    no_kv_labels = labels_per_op(space, kv_readers=False)
    kv = len(space.kv_sources)
    total = 0
    for shape in wiring_shapes(space):
        cycles = automorphism_cycles(shape)
        total += kv * orbits(cycles, all_labels) - (kv - 1) * orbits(cycles, no_kv_labels)
    return total * _preprocess_count(space)
