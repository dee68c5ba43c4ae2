"""A cell genotype as a networkx graph, and a set of such graphs as Graphviz text.

The graph (`cell_graph`) is what the diagrams draw and what the tests check, node for node
and edge for edge.  It is a `networkx.MultiDiGraph` because one op may read the cell input
twice: once as its data input and once for its keys and values.

Nodes: ``"input"`` (the pre-processed cell input f_0), ``"op<id>"`` for every operation, and
``"output"`` (the combination, the 1x1x1 convolution back to C and the residual).  Every node
has ``role`` ("input" | "op" | "output"), ``label`` (the text of its box), ``depth`` (its
layer: the input is 0, an op is one below its deepest input, the output is last) and
``colour``.  Op nodes also carry ``op_id``, ``kind`` and ``dimension`` (None for op kinds
without that choice, such as ``channel_shift``).

Edges have ``role`` and ``weight``; the edge key is the role:
- ``"data"``: op k reads node j with the genotype's input weight;
- ``"kv"``: a kind that reads the cell-level key/value source takes its keys and values
  from the cell input (``kv_source: cell_input``); weight None;
- ``"combine"``: an op output the cell combines; the sum weight for ``sum`` cells,
  None for ``concat`` cells.
"""

from __future__ import annotations

from typing import Mapping

import networkx as nx

from nas.ops import OPS
from nas.space.genotype import EVERYWHERE, Genotype, OpSpec

DIMENSION_COLOURS = {"temporal": "#f4a582", "spatial": "#92c5de", "spatiotemporal": "#b8e186"}
"""Fill colour of an op by its attention dimension (kinds with a ``dimension`` choice)."""

KIND_COLOURS = {
    "aligned_temporal": "#fddbc7", "relational": "#d8b5e6", "patch_shift": "#fee08b",
    "channel_shift": "#e0e0e0", "divided_st": "#a6dba0", "non_local": "#f1b6da",
}  # fmt: skip
"""Fill colour of an op of a kind without a ``dimension`` choice (others: `OTHER_COLOUR`)."""

OTHER_COLOUR = "#d9d9d9"
TERMINAL_COLOUR = "#ffffff"  # the cell input and output boxes

KIND_NAMES = {"dot_product": "dot-product", "map": "map-based"}
"""How an op kind is written in a label (other kinds: their registry name)."""


def op_colour(spec: OpSpec) -> str:
    """The fill colour of an op: by dimension where the kind has one, else by kind."""
    dimension = spec.choices.get("dimension")
    if dimension in DIMENSION_COLOURS:
        return DIMENSION_COLOURS[str(dimension)]
    return KIND_COLOURS.get(spec.kind, OTHER_COLOUR)


def reads_kv_source(kind: str) -> bool:
    """Whether ops of `kind` take their keys and values from the cell-level source."""
    return kind in OPS and OPS.get(kind).uses_kv_source


def _choice_text(name: str, value: object) -> str:
    if isinstance(value, bool):
        return name if value else f"no {name}"
    return f"{name} {value}"


def op_label(spec: OpSpec, kv_source: str) -> str:
    """The text of an op's box: id and kind, dimension, activation, other choices, gating, k/v."""
    lines = [f"{spec.id}: {KIND_NAMES.get(spec.kind, spec.kind)}"]
    for name in ("dimension", "activation"):
        if name in spec.choices:
            lines.append(str(spec.choices[name]) if name == "dimension" else f"act {spec.choices[name]}")
    others = [_choice_text(n, v) for n, v in spec.choices.items() if n not in ("dimension", "activation")]
    if others:  # one line when it fits in a box, else a line each
        lines += [", ".join(others)] if len(", ".join(others)) <= 24 else others
    lines.append("gating" if spec.gating else "no gating")
    if reads_kv_source(spec.kind):
        lines.append("k/v: " + kv_source.replace("_", " "))
    return "\n".join(lines)


def input_label(genotype: Genotype) -> str:
    """The cell input's box: the pre-processing that makes f_0."""
    pre = genotype.preprocess
    channels = f"{pre.channels:g} C" if isinstance(pre.channels, float) else f"{pre.channels}"
    return f"cell input f0\n1x1x1 conv to {channels} ch\nresize {pre.height}x{pre.width}, {pre.frames}-frame groups"


def output_label(genotype: Genotype) -> str:
    """The output's box: the combination, then the way back to the input shape."""
    how = "concat" if genotype.combine.mode == "concat" else "weighted sum"
    return f"{how}\n1x1x1 conv to C, BN\n+ cell input"


def op_depths(genotype: Genotype) -> dict[int, int]:
    """Layer of every node id: 0 for the cell input, 1 + the deepest input for an op."""
    depth = {0: 0}
    for spec in genotype.ops:  # ops are listed in topological order
        depth[spec.id] = 1 + max(depth[edge.source] for edge in spec.inputs)
    return depth


def node_name(node_id: int) -> str:
    """Graph node name of a genotype node id (0 is the cell input)."""
    return "input" if node_id == 0 else f"op{node_id}"


def cell_graph(genotype: Genotype) -> nx.MultiDiGraph:
    """The graph of one cell (see the module docstring for nodes, edges and attributes)."""
    depth = op_depths(genotype)
    graph = nx.MultiDiGraph()
    graph.add_node("input", role="input", label=input_label(genotype), depth=0, colour=TERMINAL_COLOUR)
    for spec in genotype.ops:
        graph.add_node(
            node_name(spec.id), role="op", label=op_label(spec, genotype.kv_source), depth=depth[spec.id],
            colour=op_colour(spec), op_id=spec.id, kind=spec.kind, dimension=spec.choices.get("dimension"),
        )
        for edge in spec.inputs:
            graph.add_edge(node_name(edge.source), node_name(spec.id), key="data", role="data", weight=edge.weight)
        if reads_kv_source(spec.kind) and genotype.kv_source == "cell_input":
            graph.add_edge("input", node_name(spec.id), key="kv", role="kv", weight=None)
    last = 1 + max(depth[op_id] for op_id in genotype.combine.outputs)
    graph.add_node("output", role="output", label=output_label(genotype), depth=last, colour=TERMINAL_COLOUR)
    weights = genotype.combine.weights or (None,) * len(genotype.combine.outputs)
    for op_id, weight in zip(genotype.combine.outputs, weights):
        graph.add_edge(node_name(op_id), "output", key="combine", role="combine", weight=weight)
    return graph


def model_graphs(cells: Mapping[str, Genotype]) -> dict[str, nx.MultiDiGraph]:
    """One graph per insertion position of a model genotype's cells, in the given order."""
    return {position: cell_graph(cell) for position, cell in cells.items()}


def edge_label(data: Mapping[str, object]) -> str:
    """The text on an edge: its weight where it is not a plain 1, "k/v" for key/value edges."""
    if data["role"] == "kv":
        return "k/v"
    weight = data["weight"]
    if weight is None or (data["role"] == "data" and weight == 1.0):
        return ""
    return f"{float(weight):.2f}"


def position_title(position: str) -> str:
    """A panel title for an insertion position ("*": every position)."""
    return "every insertion position" if position == EVERYWHERE else f"position {position}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graphs: Mapping[str, nx.MultiDiGraph], name: str = "cells") -> str:
    """Graphviz text of the graphs: one cluster per position, the diagram's labels and colours."""
    lines = [
        f"digraph {_quote(name)} {{",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for index, (position, graph) in enumerate(graphs.items()):
        lines += [f"  subgraph cluster_{index} {{", f"    label={_quote(position_title(position))};"]
        def name(node: str) -> str:
            return _quote(f"{position}/{node}")  # node names are unique across the clusters

        for node, data in graph.nodes(data=True):
            lines.append(f"    {name(node)} [label={_quote(data['label'])}, fillcolor={_quote(data['colour'])}];")
        for source, target, data in graph.edges(data=True):
            attributes = [f"label={_quote(edge_label(data))}"] + (["style=dashed"] if data["role"] == "kv" else [])
            lines.append(f"    {name(source)} -> {name(target)} [{', '.join(attributes)}];")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
