"""Cell diagrams: the graphs of `nas.viz.cell_graph` drawn in layers, one panel per position.

The layout is layered top to bottom (Sugiyama style): the cell input on top, every op one
layer below its deepest input, the output at the bottom.  An edge that jumps layers passes
through a narrow empty slot in every layer it crosses, so it never runs through a box.
Within a layer, nodes and slots are ordered by the mean horizontal position of what they
read (the barycentre heuristic; ties by op id), which keeps most edges from crossing.
Weights are written on the edges that have them.  Key/value edges are not drawn: every box
of a kind that reads keys and values says where from ("k/v: cell input").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import networkx as nx
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from nas.viz.cell_graph import DIMENSION_COLOURS, KIND_COLOURS, OTHER_COLOUR, edge_label, position_title

SLOT_WIDTH = 1.9  # inches per box in the widest layer
PASS_WIDTH = 0.35  # width of a slot an edge passes through, in box slots
LAYER_HEIGHT = 1.45  # inches per layer
MAX_COLUMNS = 3  # panels per row

Point = tuple[float, float]


@dataclass(frozen=True)
class Layout:
    """Where the boxes go and the points every drawn edge passes through (source to target)."""

    positions: dict[str, Point]
    routes: dict[tuple[str, str, str], list[Point]]
    width: float  # of the widest layer, in box slots
    layers: int


def _slots(graph: nx.MultiDiGraph) -> tuple[dict[int, list[object]], dict[object, list[object]]]:
    """The items of every layer (node names, and (edge, depth) pass-through slots) and what each reads."""
    layers: dict[int, list[object]] = {}
    reads: dict[object, list[object]] = {}
    for node, depth in graph.nodes(data="depth"):
        layers.setdefault(depth, []).append(node)
        reads.setdefault(node, [])
    for source, target, key in graph.edges(keys=True):
        if key == "kv":
            continue
        previous = source
        for depth in range(graph.nodes[source]["depth"] + 1, graph.nodes[target]["depth"]):
            slot = ((source, target, key), depth)
            layers[depth].append(slot)
            reads[slot] = [previous]
            previous = slot
        reads[target].append(previous)
    return layers, reads


def _order_layers(graph: nx.MultiDiGraph, layers: dict[int, list[object]], reads: dict[object, list[object]]) -> None:
    """Order every layer in place: by op id, then barycentre sweeps down, up and down again."""
    def op_id(item: object) -> float:
        node = item if isinstance(item, str) else item[0][1]  # a slot goes where its target would
        return graph.nodes[node].get("op_id", 1e9 if node == "output" else 0) - (0 if isinstance(item, str) else 0.5)

    feeds: dict[object, list[object]] = {item: [] for item in reads}
    for item, sources in reads.items():
        for source in sources:
            feeds[source].append(item)
    index: dict[object, float] = {}

    def place(depth: int, neighbours: dict[object, list[object]]) -> None:
        def barycentre(item: object) -> float:
            xs = [index[n] for n in neighbours[item] if n in index]
            return sum(xs) / len(xs) if xs else index.get(item, 0.0)

        layers[depth].sort(key=barycentre)  # stable: ties keep the previous order
        index.update({item: i - (len(layers[depth]) - 1) / 2 for i, item in enumerate(layers[depth])})

    depths = sorted(layers)
    for depth in depths:
        layers[depth].sort(key=op_id)
    for sweep, neighbours in ((depths, reads), (depths[::-1], feeds), (depths, reads)):
        for depth in sweep:
            place(depth, neighbours)


def layout(graph: nx.MultiDiGraph) -> Layout:
    """The layered layout of one cell graph (see the module docstring)."""
    layers, reads = _slots(graph)
    _order_layers(graph, layers, reads)
    where: dict[object, Point] = {}
    width = 1.0
    for depth in sorted(layers):
        sizes = [1.0 if isinstance(item, str) else PASS_WIDTH for item in layers[depth]]
        width = max(width, sum(sizes))
        x = -sum(sizes) / 2
        for item, size in zip(layers[depth], sizes):
            where[item] = (x + size / 2, -float(depth))
            x += size
    routes = {}
    for source, target, key in graph.edges(keys=True):
        if key != "kv":
            passes = [where[((source, target, key), d)]
                      for d in range(graph.nodes[source]["depth"] + 1, graph.nodes[target]["depth"])]
            routes[(source, target, key)] = [where[source], *passes, where[target]]
    positions = {node: where[node] for node in graph.nodes}
    return Layout(positions, routes, width, len(layers))


def draw_cell(ax: Axes, graph: nx.MultiDiGraph, title: str) -> None:
    """Draw one cell's graph into `ax`."""
    plan = layout(graph)
    boxes = {}
    for node, data in graph.nodes(data=True):
        x, y = plan.positions[node]
        boxes[node] = ax.text(
            x, y, data["label"], ha="center", va="center", fontsize=7.5, zorder=2,
            bbox={"boxstyle": "round,pad=0.35", "facecolor": data["colour"], "edgecolor": "#444444", "linewidth": 0.8},
        )
    for (source, target, key), points in plan.routes.items():
        if len(points) > 2:  # the part through pass-through slots, starting under the source box
            ax.plot([p[0] for p in points[:-1]], [p[1] for p in points[:-1]], color="#555555", linewidth=0.9, zorder=1)
        (x0, y0), (x1, y1) = points[-2], points[-1]
        ax.annotate(
            "", xy=(x1, y1), xytext=(x0, y0), zorder=3,  # drawn after the boxes, so clipped to their outlines
            arrowprops={"arrowstyle": "-|>", "color": "#555555", "linewidth": 0.9, "shrinkA": 1, "shrinkB": 1,
                        "patchA": boxes[source].get_bbox_patch() if len(points) == 2 else None,
                        "patchB": boxes[target].get_bbox_patch()},
        )
        text = edge_label(graph.edges[source, target, key])
        if text:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, text, fontsize=7, color="#08306b", zorder=4, ha="center",
                    va="center", bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"})
    xs = [x for x, _ in plan.positions.values()]
    ys = [y for _, y in plan.positions.values()]
    half = max(plan.width / 2, max(abs(x) for x in xs) + 0.5)
    ax.set_xlim(-half - 0.05, half + 0.05)
    ax.set_ylim(min(ys) - 0.55, max(ys) + 0.55)
    ax.set_title(title, fontsize=10)
    ax.axis("off")


def panel_size(graph: nx.MultiDiGraph) -> tuple[float, float]:
    """(width, height) in inches one cell's panel needs."""
    plan = layout(graph)
    return SLOT_WIDTH * max(plan.width, 1.6), LAYER_HEIGHT * (plan.layers + 0.4)


def legend_handles(graphs: Mapping[str, nx.MultiDiGraph]) -> list[Patch]:
    """Legend entries for the colours that occur in `graphs`: dimensions, then other kinds."""
    dimensions, kinds = set(), set()
    for graph in graphs.values():
        for _, data in graph.nodes(data=True):
            if data["role"] == "op":
                if data["dimension"] in DIMENSION_COLOURS:
                    dimensions.add(data["dimension"])
                else:
                    kinds.add(data["kind"])
    handles = [Patch(facecolor=colour, edgecolor="#444444", label=name)
               for name, colour in DIMENSION_COLOURS.items() if name in dimensions]
    handles += [Patch(facecolor=KIND_COLOURS.get(kind, OTHER_COLOUR), edgecolor="#444444", label=kind)
                for kind in sorted(kinds)]
    return handles


def cell_figure(graphs: Mapping[str, nx.MultiDiGraph], title: str | None = None) -> Figure:
    """One figure with a panel per position (at most three per row) and a shared legend."""
    if not graphs:
        raise ValueError("no cells to draw")
    items = list(graphs.items())
    columns = min(MAX_COLUMNS, len(items))
    rows = [items[i:i + columns] for i in range(0, len(items), columns)]
    sizes = [[panel_size(graph) for _, graph in row] for row in rows]
    width = max(sum(w for w, _ in row) for row in sizes)
    heights = [max(h for _, h in row) for row in sizes]
    handles = legend_handles(graphs)
    legend_columns = max(1, min(len(handles), int(width / 1.6)))
    legend_rows = -(-len(handles) // legend_columns)
    head, foot = 0.45 + (0.35 if title else 0.0), 0.25 + 0.22 * legend_rows  # inches: titles, legend
    total = sum(heights) + head + foot
    figure = Figure(figsize=(width, total))
    top, bottom = 1 - head / total, foot / total
    y = top
    for row, row_sizes, height in zip(rows, sizes, heights):
        share = height / sum(heights) * (top - bottom)
        x = (1 - sum(w for w, _ in row_sizes) / width) / 2
        for (position, graph), (w, _) in zip(row, row_sizes):
            draw_cell(figure.add_axes((x, y - share, w / width, share)), graph, position_title(position))
            x += w / width
        y -= share
    if handles:
        figure.legend(handles=handles, loc="lower center", ncol=legend_columns, fontsize=8, frameon=False)
    if title:
        figure.suptitle(title, fontsize=11, y=1 - 0.1 / total, va="top")
    return figure
