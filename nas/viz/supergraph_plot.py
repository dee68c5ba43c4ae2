"""Supergraph runs: the architecture weights of every position, epoch by epoch.

`nas search diff` logs each epoch's weights under ``architecture`` in ``metrics.jsonl``
(position -> `SupergraphWeights.to_dict()`).  The figure has, per position, a panel of the
sink weights, a panel for every node that chooses among several inputs (its connection
weights), and a panel of the gating probabilities (the 0.5 line is the derivation's
threshold, labelled).  A node is drawn alike in every panel: colour by attention dimension
(colour-blind-safe), line style by level, marker by op kind, hollow for the second of two twins;
the cell input is black.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from nas.errors import UserError
from nas.supergraph import Supergraph, SupergraphWeights

COLUMNS = 4
PANEL = (3.1, 2.2)  # inches
LEGEND_COLUMNS = 5


def weight_history(
    graph: Supergraph, records: Iterable[Mapping[str, Any]]
) -> tuple[list[int], dict[str, list[SupergraphWeights]]]:
    """Epoch numbers and, per position, each epoch's weights, from metrics.jsonl records."""
    epochs: list[int] = []
    history: dict[str, list[SupergraphWeights]] = {}
    for record in records:
        if "architecture" not in record:
            raise UserError(f"epoch {record.get('epoch')} has no architecture weights: not a supergraph run")
        epochs.append(int(record["epoch"]))
        for position, weights in record["architecture"].items():
            history.setdefault(position, []).append(SupergraphWeights.from_dict(graph, weights))
    if not epochs:
        raise UserError("the run has no finished epoch yet")
    return epochs, history


def node_name(graph: Supergraph, node_id: int) -> str:
    """Short name of a node: "in" for the cell input, else its id and dimension (or kind)."""
    if node_id == 0:
        return "in"
    node = graph.node(node_id)
    return f"{node_id} {node.choices.get('dimension', node.kind)}"


DIMENSION_COLOURS = {"temporal": "#0072B2", "spatial": "#D55E00", "spatiotemporal": "#009E73"}
"""Okabe-Ito colours per attention dimension (other kinds cycle through the rest of the palette)."""
OTHER_COLOURS = ("#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
KIND_MARKERS = ("o", "s", "^", "D", "v")


def node_style(graph: Supergraph, node_id: int) -> dict[str, Any]:
    """How a node is drawn in every panel: colour by its dimension, line style by its level,
    marker by its kind, filled or hollow by its rank among its twins (same dimension, kind, level);
    the cell input is black.  Twelve nodes stay distinguishable without a 20-colour legend."""
    if node_id == 0:
        return {"color": "black", "linestyle": "-", "marker": "o", "markerfacecolor": "black"}
    node = graph.node(node_id)
    dimension = node.choices.get("dimension", node.kind)
    kinds = sorted({n.kind for n in graph.nodes})
    colour = DIMENSION_COLOURS.get(dimension) or OTHER_COLOURS[sorted(
        {n.choices.get("dimension", n.kind) for n in graph.nodes} - set(DIMENSION_COLOURS)).index(dimension)
        % len(OTHER_COLOURS)]
    twins = [n.id for n in graph.nodes
             if (n.level, n.kind, n.choices.get("dimension", n.kind)) == (node.level, node.kind, dimension)]
    return {"color": colour, "linestyle": ("-", "--", "-.", ":")[node.level % 4],
            "marker": KIND_MARKERS[kinds.index(node.kind) % len(KIND_MARKERS)],
            "markerfacecolor": colour if twins.index(node_id) % 2 == 0 else "white"}


def _panel(
    ax: Axes, graph: Supergraph, epochs: Sequence[int], series: Mapping[int, Sequence[float]], title: str
) -> None:
    """One panel: a line per node over the epochs."""
    for node_id, values in series.items():
        ax.plot(epochs, values, markersize=3.5, linewidth=1.2, **node_style(graph, node_id))
    ax.set_title(title, fontsize=8.5)
    top = max(max(values) for values in series.values())
    ax.set_ylim(0.0, min(1.02, 1.12 * top))  # probabilities; the top follows the data so small ones stay visible
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def panels(graph: Supergraph, history: Sequence[SupergraphWeights]) -> list[tuple[str, dict[int, list[float]]]]:
    """(title, node -> values per epoch) of one position's panels: sink, connections, gating."""
    out = [("sink weights", {n.id: [w.sink[n.id] for w in history] for n in graph.nodes})]
    for node in graph.nodes:
        candidates = graph.candidates(node.id)
        if len(candidates) > 1:
            series = {c: [w.edges[node.id][c] for w in history] for c in candidates}
            out.append((f"inputs of node {node_name(graph, node.id)}", series))
    out.append(("gating probability", {n.id: [w.gating[n.id] for w in history] for n in graph.nodes}))
    return out


def supergraph_weights_figure(
    graph: Supergraph,
    epochs: Sequence[int],
    history: Mapping[str, Sequence[SupergraphWeights]],
    title: str | None = None,
) -> Figure:
    """Sink, connection and gating weights per epoch, a block of panels per position."""
    blocks = {position: panels(graph, weights) for position, weights in history.items()}
    rows = sum(-(-len(block) // COLUMNS) for block in blocks.values())
    legend_rows = -(-(len(graph.nodes) + 2) // LEGEND_COLUMNS)
    head, foot = (0.65 if title else 0.35), 0.65 + 0.2 * legend_rows  # inches
    height = PANEL[1] * rows + head + foot
    figure = Figure(figsize=(PANEL[0] * COLUMNS, height))
    grid = figure.add_gridspec(rows, COLUMNS, hspace=0.75, wspace=0.25, top=1 - head / height,
                               bottom=foot / height, left=0.05, right=0.98)
    row = 0
    for position, block in blocks.items():
        for index, (name, series) in enumerate(block):
            ax = figure.add_subplot(grid[row + index // COLUMNS, index % COLUMNS])
            _panel(ax, graph, epochs, series, f"{position}: {name}")
            if name == "gating probability":
                ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
            if index % COLUMNS == 0:
                ax.set_ylabel("weight", fontsize=8)
            if index // COLUMNS == (len(block) - 1) // COLUMNS:
                ax.set_xlabel("epoch", fontsize=8)
        row += -(-len(block) // COLUMNS)
    nodes = (0, *(node.id for node in graph.nodes))
    handles = [Line2D([], [], markersize=4.5, label=f"{node_name(graph, n)} (level {graph.node(n).level + 1})"
                      if n else "in (cell input)", **node_style(graph, n)) for n in nodes]
    handles.append(Line2D([], [], color="grey", linestyle=":", label="gating threshold 0.5 (gate kept above)"))
    figure.legend(handles=handles, loc="lower center", ncol=LEGEND_COLUMNS, fontsize=7.5, frameon=False)
    if title:
        figure.suptitle(title, fontsize=11, y=1 - 0.08 / height, va="top")
    return figure
