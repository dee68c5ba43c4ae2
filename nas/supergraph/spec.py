"""Supergraphs as data: levels of attention nodes, read from validated YAML.

Schema ``attention-nas/supergraph@1``::

    schema: attention-nas/supergraph@1
    name: sg1
    description: free text
    kv_source: cell_input            # keys/values of dot-product nodes: cell_input | op_input
    preprocess: {channels: 0.25, height: 7, width: 7, frames: 8, pad_short_maps: false}
    levels: 2                        # this many levels, each with the nodes below
    nodes:
      - {kind: dot_product, choices: {dimension: temporal}}
      - ...

or ``levels: [[node, ...], [node, ...]]`` for levels that differ.  Nodes are numbered 1..M
in level order; a node reads a softmax-weighted sum of the cell input (node 0) and of every
node of the earlier levels.  ``pad_short_maps: false`` (optional, default true as for a cell
genotype, `nas.cell`) leaves a feature map shorter than ``frames`` unpadded; the cells derived
from the supergraph inherit it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from nas.io import load_yaml
from nas.space.genotype import KV_SOURCES, ChoiceValue, Preprocess
from nas.space.limits import MAX_LEVELS, MAX_NODES
from nas.space.schema import Fields
from nas.space.validate import parse_preprocess

SUPERGRAPH_SCHEMA = "attention-nas/supergraph@1"


@dataclass(frozen=True)
class NodeSpec:
    """One node of a supergraph: an op kind with fixed choices, at a level."""

    id: int
    level: int
    kind: str
    choices: Mapping[str, ChoiceValue]


@dataclass(frozen=True)
class Supergraph:
    """A validated supergraph (see the module docstring for the YAML form)."""

    name: str
    kv_source: str
    preprocess: Preprocess
    nodes: tuple[NodeSpec, ...]
    description: str = ""
    _by_id: dict[int, NodeSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {n.id: n for n in self.nodes})

    @property
    def num_levels(self) -> int:
        """Number of levels."""
        return max(n.level for n in self.nodes) + 1

    def node(self, node_id: int) -> NodeSpec:
        """The node with id `node_id`."""
        return self._by_id[node_id]

    def candidates(self, node_id: int) -> tuple[int, ...]:
        """What node `node_id` can read: the cell input 0 and every node of earlier levels."""
        level = self.node(node_id).level
        return (0, *(n.id for n in self.nodes if n.level < level))


def parse_supergraph(data: Any, source: str = "supergraph") -> Supergraph:
    """A validated `Supergraph` from a parsed YAML document; errors name the bad field."""
    from nas.ops import OPS

    doc = Fields(data, "", source).only(("schema", "name", "description", "kv_source", "preprocess", "levels", "nodes"))
    doc.schema(SUPERGRAPH_SCHEMA)
    kv_source = doc.one_of("kv_source", KV_SOURCES)
    preprocess = parse_preprocess(doc.sub("preprocess"))
    nodes = []
    levels = _levels(doc)
    if len(levels) > MAX_LEVELS:
        raise doc.fail("levels", f"at most {MAX_LEVELS} levels, got {len(levels)}")
    if sum(len(items) for items in levels) > MAX_NODES:
        raise doc.fail("levels", f"at most {MAX_NODES} nodes in all, got {sum(len(items) for items in levels)}")
    for level, items in enumerate(levels):
        if not items:
            raise doc.fail(f"levels[{level}]" if not doc.has("nodes") else "nodes", "a level needs at least one node")
        for item in items:
            item.only(("kind", "choices"))
            kind = item.get("kind", str)
            choices = OPS.resolve_choices(kind, item.sub("choices", {}).data, where=f"{source}: {item.where()}")
            nodes.append(NodeSpec(len(nodes) + 1, level, kind, choices))
    return Supergraph(doc.get("name", str), kv_source, preprocess, tuple(nodes), doc.get("description", str, ""))


def _levels(doc: Fields) -> list[list[Fields]]:
    """The node documents of each level, from either form of `levels`."""
    if not doc.has("levels"):
        raise doc.fail("levels", "missing required key")
    levels = doc.data["levels"]
    if isinstance(levels, int) and not isinstance(levels, bool):
        if not 1 <= levels <= MAX_LEVELS:
            raise doc.fail("levels", f"must be in 1 .. {MAX_LEVELS}, got {levels}")
        nodes = doc.items_of("nodes")
        return [[Fields(n.data, f"{n.path}", n.source) for n in nodes] for _ in range(levels)]
    raw = doc.get("levels", list)
    if doc.has("nodes"):
        raise doc.fail("nodes", "give nodes per level inside `levels`, or `levels: N` with `nodes`")
    if not raw:
        raise doc.fail("levels", "must not be empty")
    out = []
    for i, level in enumerate(raw):
        if not isinstance(level, list):
            raise doc.fail(f"levels[{i}]", "expected a list of nodes")
        out.append([Fields(n, f"levels[{i}][{j}]", doc.source) for j, n in enumerate(level)])
    return out


def load_supergraph(path: str) -> Supergraph:
    """Read and validate a supergraph YAML file (bad input raises a one-line `UserError`)."""
    return parse_supergraph(load_yaml(path, "supergraph"), source=str(path))

