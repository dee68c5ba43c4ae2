"""Canonical form of a cell: the same key for the same DAG under any renumbering of its ops.

Method (exact, not a hash heuristic): each op gets a structural hash from its label and its
inputs' hashes (bottom-up) and from its readers' hashes (top-down).  Any isomorphism maps an
op to an op with the same hashes, so sorting by hash fixes the order up to ties; the canonical
form is the smallest serialisation over all orderings of the tied ops.  Tied ops are rare and
small in practice (identical ops on identical inputs), so the search over ties stays tiny.

The key also folds away choices that cannot change the computation: the cell-level
key/value source is dropped when no op reads it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nas.space.genotype import Genotype

_MAX_TIE_ORDERINGS = 40_320  # 8!; beyond this the tie-break falls back to list order


def _digest(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _output_weights(genotype: "Genotype") -> list[float]:
    """The combination weight of each output (1.0 each for concat)."""
    combine = genotype.combine
    return list(combine.weights) if combine.weights is not None else [1.0] * len(combine.outputs)


def structural_hashes(genotype: "Genotype") -> dict[int, str]:
    """A hash per op id that any renumbering-isomorphism preserves."""
    up: dict[int, str] = {0: "input"}
    for spec in genotype.ops:
        up[spec.id] = _digest([spec.label(), sorted((up[e.source], e.weight) for e in spec.inputs)])
    outputs = dict(zip(genotype.combine.outputs, _output_weights(genotype)))
    down: dict[int, str] = {}
    readers: dict[int, list[tuple[str, float]]] = {spec.id: [] for spec in genotype.ops}
    for spec in reversed(genotype.ops):
        mark = ["out", outputs[spec.id]] if spec.id in outputs else None
        down[spec.id] = _digest([spec.label(), mark, sorted(readers[spec.id])])
        for edge in spec.inputs:
            if edge.source:
                readers[edge.source].append((down[spec.id], edge.weight))
    return {spec.id: up[spec.id] + down[spec.id] for spec in genotype.ops}


def _serialise(genotype: "Genotype", order: list[int]) -> str:
    index = {0: 0, **{op_id: i + 1 for i, op_id in enumerate(order)}}
    ops = []
    for op_id in order:
        spec = genotype.op(op_id)
        ops.append([spec.label(), sorted((index[e.source], e.weight) for e in spec.inputs)])
    weights = _output_weights(genotype)
    combine = [genotype.combine.mode, sorted((index[o], w) for o, w in zip(genotype.combine.outputs, weights))]
    return json.dumps([ops, combine])


def canonical_order(genotype: "Genotype") -> list[int]:
    """Op ids in canonical order (a topological order: inputs come before readers)."""
    hashes = structural_hashes(genotype)
    depth: dict[int, int] = {0: 0}
    for spec in genotype.ops:
        depth[spec.id] = 1 + max(depth[e.source] for e in spec.inputs)
    ranked = sorted(hashes, key=lambda i: (depth[i], hashes[i]))
    groups = [list(g) for _, g in itertools.groupby(ranked, key=lambda i: (depth[i], hashes[i]))]
    count = 1
    for group in groups:
        for n in range(2, len(group) + 1):
            count *= n
    if count > _MAX_TIE_ORDERINGS:
        return ranked
    best: tuple[str, list[int]] | None = None
    for choice in itertools.product(*(itertools.permutations(g) for g in groups)):
        order = [op_id for group in choice for op_id in group]
        text = _serialise(genotype, order)
        if best is None or text < best[0]:
            best = (text, order)
    assert best is not None
    return best[1]


def uses_kv_source(genotype: "Genotype") -> bool:
    """Whether any op of the cell reads the cell-level key/value source."""
    from nas.ops import OPS

    return any(OPS.get(spec.kind).uses_kv_source for spec in genotype.ops)


def canonical_key(genotype: "Genotype") -> str:
    """The canonical key of a cell (hex string); equal for isomorphic cells."""
    order = canonical_order(genotype)
    kv = genotype.kv_source if uses_kv_source(genotype) else None
    pre = genotype.preprocess
    sizes = [pre.channels, pre.height, pre.width, pre.frames] + ([] if pre.pad_short_maps else ["unpadded"])  # old keys unchanged
    return _digest([kv, sizes, _serialise(genotype, order)])


def canonicalise(genotype: "Genotype") -> "Genotype":
    """The same cell renumbered 1..K in canonical order (isomorphic cells become equal)."""
    from dataclasses import replace

    from nas.space.genotype import Combine, OpInput

    order = canonical_order(genotype)
    new_id = {0: 0, **{op_id: i + 1 for i, op_id in enumerate(order)}}
    ops = []
    for op_id in order:
        spec = genotype.op(op_id)
        inputs = tuple(sorted((OpInput(new_id[e.source], e.weight) for e in spec.inputs), key=lambda e: e.source))
        ops.append(replace(spec, id=new_id[op_id], inputs=inputs))
    combine = genotype.combine
    outputs = [new_id[o] for o in combine.outputs]
    if combine.weights is None:
        combine = Combine(combine.mode, tuple(sorted(outputs)), None)
    else:
        pairs = sorted(zip(outputs, combine.weights))
        combine = Combine(combine.mode, tuple(o for o, _ in pairs), tuple(w for _, w in pairs))
    return replace(genotype, ops=tuple(ops), combine=combine)
