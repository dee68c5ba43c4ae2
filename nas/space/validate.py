"""Parsing and validation of genotype documents (see `nas.space.genotype` for the format)."""

from __future__ import annotations

import math
from typing import Any

import networkx as nx

from nas.io import short
from nas.space.genotype import (
    COMBINE_MODES,
    EVERYWHERE,
    GENOTYPE_SCHEMA,
    KV_SOURCES,
    MODEL_SCHEMA,
    Combine,
    Genotype,
    ModelGenotype,
    OpInput,
    OpSpec,
    Preprocess,
)
from nas.space.limits import MAX_OPS, MAX_POSITIONS, MAX_SIZE
from nas.space.schema import Fields

_SCALAR = (str, int, float, bool)


def parse_genotype(doc: Fields, check_ops: bool = True, require_schema: bool = True) -> Genotype:
    """Build a `Genotype` from a document, raising `UserError` that names the bad field."""
    doc.only(("schema", "kv_source", "preprocess", "ops", "combine", "meta"))
    if require_schema or doc.has("schema"):
        doc.schema(GENOTYPE_SCHEMA)
    kv_source = doc.one_of("kv_source", KV_SOURCES)
    preprocess = parse_preprocess(doc.sub("preprocess"))
    items = _non_empty(doc, "ops")
    if len(items) > MAX_OPS:
        raise doc.fail("ops", f"at most {MAX_OPS} ops per cell, got {len(items)}")
    ops = tuple(_parse_op(item, check_ops) for item in items)
    _check_graph(doc, ops)
    combine = _parse_combine(doc.sub("combine"), ops)
    genotype = Genotype(kv_source, preprocess, ops, combine, dict(doc.get("meta", dict, {})))
    _check_all_ops_used(doc, genotype)
    return genotype


def parse_preprocess(doc: Fields) -> Preprocess:
    """C_reduction (integer >= 1 or fraction in (0, 1)), H_resize, W_resize, T_group and the
    optional `pad_short_maps` (a boolean, default true)."""
    doc.only(("channels", "height", "width", "frames", "pad_short_maps"))
    values = {}
    for name in ("channels", "height", "width", "frames"):
        values[name] = doc.get(name, (int, float) if name == "channels" else int)
        problem = preprocess_problem(name, values[name])
        if problem:
            raise doc.fail(name, problem)
    return Preprocess(**values, pad_short_maps=doc.get("pad_short_maps", bool, True))


def preprocess_problem(name: str, value: int | float) -> str | None:
    """Why `value` is not a valid pre-processing size `name`, or None."""
    if name == "channels" and isinstance(value, float):
        return None if 0.0 < value < 1.0 else f"a fraction must lie in (0, 1), got {value}"
    if value < 1:
        return f"must be at least 1, got {value}"
    return None if value <= MAX_SIZE else f"must be at most {MAX_SIZE}, got {value}"


def _non_empty(doc: Fields, key: str) -> list[Fields]:
    items = doc.items_of(key)
    if not items:
        raise doc.fail(key, "must not be empty")
    return items


def _parse_op(doc: Fields, check_ops: bool) -> OpSpec:
    doc.only(("id", "kind", "choices", "gating", "inputs"))
    op_id = doc.get("id", int)
    if op_id < 1:
        raise doc.fail("id", f"op ids are positive integers (0 is the cell input), got {op_id}")
    kind = doc.get("kind", str)
    choices_doc = doc.sub("choices", {})
    for name, value in choices_doc.data.items():
        if not isinstance(value, _SCALAR):
            raise choices_doc.fail(str(name), f"a choice must be a string, number or boolean, got {short(value)}")
    choices = dict(choices_doc.data)
    if check_ops:
        from nas.ops import OPS

        choices = OPS.resolve_choices(kind, choices, where=f"{doc.source}: {doc.where()}")
    gating = doc.get("gating", bool, False)
    inputs = []
    for edge in _non_empty(doc, "inputs"):
        edge.only(("from", "weight"))
        source = edge.get("from", int)
        weight = float(edge.get("weight", float, 1.0))
        if source < 0:
            raise edge.fail("from", f"must be 0 (the cell input) or an op id, got {source}")
        if not (math.isfinite(weight) and weight > 0):
            raise edge.fail("weight", f"must be a positive finite number, got {weight}")
        if any(e.source == source for e in inputs):
            raise edge.fail("from", f"node {source} is already an input of this op")
        inputs.append(OpInput(source, weight))
    return OpSpec(op_id, kind, choices, tuple(inputs), gating)


def _check_graph(doc: Fields, ops: tuple[OpSpec, ...]) -> None:
    """Ids unique; inputs name the cell input or an earlier op; a cycle is named as such."""
    position = {}
    for i, spec in enumerate(ops):
        if spec.id in position:
            raise doc.fail(f"ops[{i}].id", f"duplicate op id {spec.id}")
        position[spec.id] = i
    graph = nx.DiGraph()
    graph.add_nodes_from([0, *position])
    for spec in ops:
        graph.add_edges_from((e.source, spec.id) for e in spec.inputs if e.source in position or e.source == 0)
    for i, spec in enumerate(ops):
        for j, edge in enumerate(spec.inputs):
            where = f"ops[{i}].inputs[{j}].from"
            if edge.source == 0:
                continue
            if edge.source not in position:
                raise doc.fail(where, f"no op has id {edge.source}")
            if position[edge.source] >= i:
                try:
                    cycle = nx.find_cycle(graph, source=spec.id)
                except nx.NetworkXNoCycle:
                    raise doc.fail(
                        where, f"op {spec.id} reads op {edge.source}, which comes later (list ops in topological order)"
                    ) from None
                path = " -> ".join(str(u) for u, _ in cycle) + f" -> {cycle[0][0]}"
                raise doc.fail(where, f"the ops form a cycle: {path}")


def _parse_combine(doc: Fields, ops: tuple[OpSpec, ...]) -> Combine:
    doc.only(("mode", "outputs", "weights"))
    mode = doc.one_of("mode", COMBINE_MODES)
    outputs = doc.get("outputs", list)
    ids = {spec.id for spec in ops}
    if not outputs:
        raise doc.fail("outputs", "must name at least one op")
    for i, out in enumerate(outputs):
        if isinstance(out, bool) or not isinstance(out, int) or out not in ids:
            raise doc.fail(f"outputs[{i}]", f"must be the id of an op, got {short(out)}")
    if len(set(outputs)) != len(outputs):
        raise doc.fail("outputs", "an op is listed twice")
    weights = doc.get("weights", list, None, allow_none=True)
    if mode == "concat" and weights is not None:
        raise doc.fail("weights", "concat combines without weights; use null")
    if mode == "sum":
        if weights is None or len(weights) != len(outputs):
            raise doc.fail("weights", "sum needs one weight per output")
        for i, w in enumerate(weights):
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not (math.isfinite(w) and w > 0):
                raise doc.fail(f"weights[{i}]", f"must be a positive finite number, got {short(w)}")
        weights = tuple(float(w) for w in weights)
    return Combine(mode, tuple(outputs), weights)


def _check_all_ops_used(doc: Fields, genotype: Genotype) -> None:
    """Every op must reach the combination, otherwise it computes for nothing."""
    useful = set(genotype.combine.outputs)
    for spec in reversed(genotype.ops):
        if spec.id in useful:
            useful.update(e.source for e in spec.inputs)
    for i, spec in enumerate(genotype.ops):
        if spec.id not in useful:
            raise doc.fail(f"ops[{i}]", f"op {spec.id} reaches no output (list it in combine.outputs or remove it)")


def parse_model_genotype(doc: Fields) -> ModelGenotype:
    """A model genotype document, or a single cell genotype meaning that cell everywhere."""
    schema = doc.get("schema", str, None)
    if schema == GENOTYPE_SCHEMA:
        return ModelGenotype.everywhere(parse_genotype(doc))
    if schema != MODEL_SCHEMA:
        raise doc.fail("schema", f"expected {MODEL_SCHEMA!r} or {GENOTYPE_SCHEMA!r}, got {short(schema)}")
    doc.only(("schema", "cells", "meta"))
    cells_doc = doc.sub("cells")
    if not cells_doc.data:
        raise cells_doc.fail(None, "must map at least one insertion position to a cell")
    if len(cells_doc.data) > MAX_POSITIONS:
        raise cells_doc.fail(None, f"at most {MAX_POSITIONS} positions, got {len(cells_doc.data)}")
    if EVERYWHERE in cells_doc.data and len(cells_doc.data) > 1:
        raise cells_doc.fail(EVERYWHERE, "'*' (every position) cannot be mixed with named positions")
    cells = {
        str(position): parse_genotype(cells_doc.sub(str(position)), require_schema=False)
        for position in cells_doc.data
    }
    meta: dict[str, Any] = dict(doc.get("meta", dict, {}))
    return ModelGenotype(cells, meta)
