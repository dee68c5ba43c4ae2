"""The supergraph cell: every candidate node at once, mixed by learnable architecture weights.

It shares the fixed cell's pre-processing and combination tail (`nas.cell.CellInput`,
`CellOutput`) and builds its nodes from the same op registry (`nas.ops.OPS`), so a supergraph
whose weights are one-hot computes exactly the cell `derive` returns (see
`derived_state_dict`).  Per node: input = sum_j softmax(a_node)_j f_j over the cell input and
every node of earlier levels; output = y + p_gate * (gate(y) - y) with p_gate the second entry
of a two-way softmax.  Sink: sum_i softmax(s)_i f_i, then the cell's 1x1x1 conv and BatchNorm.

The forward computes exactly that, without stacking the candidates: the gate blend is the
per-channel factor 1 + p_gate (g - 1) (g the gate's sigmoid), folded into the weight of each
term of the weighted sums, and the inputs of all nodes of a level (they read the same
candidates) are one batched matmul over one stack of the candidates, as is the sink (`mix`):
no per-node stack, no gated copy of a node's output.  The shipped supergraphs leave maps shorter than T_group
unpadded (``pad_short_maps: false``, `nas.cell`), so no node computes on padding frames.

The architecture weights are parameters of an `ArchitectureWeights` submodule (`.arch`), so
they are in the state dict, synchronised by DistributedDataParallel like any parameter, and
`architecture_parameters(model)` / `network_parameters(model)` split them for two optimizers.
"""

from __future__ import annotations

import torch
from torch import nn

from nas.cell import CellInput, CellOutput
from nas.ops import OPS
from nas.ops.gating import ChannelGate
from nas.space.genotype import Genotype, OpInput, OpSpec
from nas.supergraph.derive import SupergraphWeights
from nas.supergraph.pruning import Pruning, quiet_nodes, to_prune
from nas.supergraph.spec import Supergraph


class ArchitectureWeights(nn.Module):
    """Logits of the connection, gating and sink distributions of one supergraph cell.

    Nodes of the first level have one possible input (the cell input), so no connection logits.
    """

    def __init__(self, graph: Supergraph) -> None:
        super().__init__()
        self.edges = nn.ParameterDict(
            {str(n.id): nn.Parameter(torch.zeros(len(c))) for n in graph.nodes if len(c := graph.candidates(n.id)) > 1}
        )
        self.gating = nn.ParameterDict({str(n.id): nn.Parameter(torch.zeros(2)) for n in graph.nodes})
        self.sink = nn.Parameter(torch.zeros(len(graph.nodes)))


def mix(weights: torch.Tensor, maps: list[torch.Tensor], scales: list[torch.Tensor]) -> torch.Tensor:
    """The inputs of J nodes at once: input_j = sum_i weights_ji * scales_i * maps_i.

    weights (J, I); maps I tensors (B, C, T, H, W); scales I per-channel factors (B, C).  One
    stack of the I maps and one batched matmul for a whole level, instead of a stack per node
    or a multiply-add per node and candidate: at the cell's small maps (7 x 7 x T_group) the
    number of ops weighs as much as their arithmetic (benchmarks/supergraph_cost.py).
    Returns (J, B, C, T, H, W).
    """
    b, c, t, h, w = maps[0].shape
    stacked = torch.stack(maps, dim=2).view(b, c, len(maps), t * h * w)  # (B, C, I, THW)
    coefficients = weights * torch.stack(scales, dim=-1)[:, :, None, :]  # (B, C, J, I)
    mixed = torch.matmul(coefficients, stacked)  # (B, C, J, THW)
    return mixed.movedim(2, 0).reshape(len(weights), b, c, t, h, w)  # (J, B, C, T, H, W)


class SupergraphCell(nn.Module):
    """A supergraph at one insertion point, for feature maps with `channels` channels.

    With `pruning`, nodes the weights have given up on stop being computed (`nas.supergraph.pruning`;
    call `prune()` after each epoch).
    """

    def __init__(self, graph: Supergraph, channels: int, pruning: Pruning | None = None) -> None:
        super().__init__()
        self.graph = graph
        self.pruning = pruning
        self.input = CellInput(channels, graph.preprocess)
        shape = self.input.shape
        self.nodes = nn.ModuleDict(
            {str(n.id): OPS.build(OpSpec(n.id, n.kind, n.choices, (OpInput(0),)), shape, graph.kv_source) for n in graph.nodes}
        )
        self.gates = nn.ModuleDict({str(n.id): ChannelGate(shape.channels) for n in graph.nodes})
        self.arch = ArchitectureWeights(graph)
        self.output = CellOutput(shape.channels, channels)
        if pruning is not None:  # in the state dict, so that a resumed search keeps what it pruned
            self.register_buffer("alive", torch.ones(len(graph.nodes), dtype=torch.bool))
            self.register_buffer("quiet_epochs", torch.zeros(len(graph.nodes), dtype=torch.long))

    def live(self) -> set[int]:
        """The ids of the nodes still computed (every node without pruning)."""
        if self.pruning is None:
            return {n.id for n in self.graph.nodes}
        return {n.id for n, on in zip(self.graph.nodes, self.alive.tolist()) if on}

    def softmax(self, logits: torch.Tensor, ids: tuple[int, ...] | list[int], live: set[int]) -> torch.Tensor:
        """softmax over the entries `ids` of `logits` that are live (0, the cell input, always is)."""
        if len(live) < len(self.graph.nodes):
            dead = torch.tensor([i != 0 and i not in live for i in ids], device=logits.device)
            logits = logits.masked_fill(dead, float("-inf"))
        return torch.softmax(logits, dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f0, layout = self.input(x)  # (N*G, Cr, Tg, Hr, Wr)
        live = self.live()
        # node i's output is maps[i] * scales[i]: its op's output times the gate blend
        # y + p (gate(y) - y) = y (1 + p (g - 1)), a per-channel factor folded into the sums
        maps, scales = [f0], [torch.ones(f0.shape[:2], dtype=f0.dtype, device=f0.device)]  # live candidates so far
        for level in range(self.graph.num_levels):
            nodes = [n for n in self.graph.nodes if n.level == level and n.id in live]
            if not nodes:  # all pruned
                continue
            if level > 0:  # every node of a level reads the same candidates: the live ones in `maps`
                weights = torch.stack([self.input_weights(n.id, live) for n in nodes])  # (J, candidates)
                inputs = mix(weights, maps, scales)  # (J, N*G, Cr, Tg, Hr, Wr)
            for j, node in enumerate(nodes):
                key = str(node.id)
                y = self.nodes[key](inputs[j] if level > 0 else f0, f0)  # (N*G, Cr, Tg, Hr, Wr)
                p_gate = torch.softmax(self.arch.gating[key], dim=0)[1]
                maps.append(y)
                scales.append(1.0 + p_gate * (self.gates[key].weights(y) - 1.0))  # (N*G, Cr)
        sink = self.softmax(self.arch.sink, [n.id for n in self.graph.nodes], live)  # (M,)
        sink = sink[[i for i, n in enumerate(self.graph.nodes) if n.id in live]]  # (M_live,)
        y = mix(sink[None], maps[1:], scales[1:])[0]  # (N*G, Cr, Tg, Hr, Wr)
        return x + self.output(y, layout)

    def input_weights(self, node_id: int, live: set[int]) -> torch.Tensor:
        """Node `node_id`'s softmax over its live candidates, in candidate order, (live candidates,)."""
        candidates = self.graph.candidates(node_id)
        weights = self.softmax(self.arch.edges[str(node_id)], candidates, live)
        if len(live) == len(self.graph.nodes):
            return weights
        return weights[[i for i, c in enumerate(candidates) if c == 0 or c in live]]

    def weights(self) -> SupergraphWeights:
        """The current architecture weights as probabilities (detached; a pruned node's are zero)."""
        live = self.live()
        edges, gating = {}, {}
        for node in self.graph.nodes:
            candidates = self.graph.candidates(node.id)
            logits = self.arch.edges[str(node.id)].detach() if str(node.id) in self.arch.edges else torch.zeros(1)
            edges[node.id] = dict(zip(candidates, self.softmax(logits, candidates, live).tolist()))
            gating[node.id] = torch.softmax(self.arch.gating[str(node.id)].detach(), dim=0)[1].item()
        sink = self.softmax(self.arch.sink.detach(), [n.id for n in self.graph.nodes], live).tolist()
        return SupergraphWeights(self.graph, edges, gating, dict(zip((n.id for n in self.graph.nodes), sink)))

    def prune(self) -> list[int]:
        """One epoch of pruning bookkeeping (nothing without `pruning`); returns the nodes pruned now."""
        if self.pruning is None:
            return []
        live = self.live()
        quiet = quiet_nodes(self.weights(), self.pruning.threshold, live)
        counts = {}
        for index, node in enumerate(self.graph.nodes):
            if node.id in live:
                self.quiet_epochs[index] = self.quiet_epochs[index] + 1 if node.id in quiet else 0
                counts[node.id] = int(self.quiet_epochs[index])
        pruned = to_prune(self.weights(), counts, self.pruning)
        for index, node in enumerate(self.graph.nodes):
            if node.id in pruned:
                self.alive[index] = False
        return pruned


def architecture_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every architecture weight in `model` (the parameters of its `ArchitectureWeights`)."""
    return [p for m in model.modules() if isinstance(m, ArchitectureWeights) for p in m.parameters()]


def network_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every other parameter of `model`."""
    arch = {id(p) for p in architecture_parameters(model)}
    return [p for p in model.parameters() if id(p) not in arch]


def derived_state_dict(cell: SupergraphCell, genotype: Genotype) -> dict[str, torch.Tensor]:
    """The supergraph's weights renamed for `nas.cell.AttentionCell(genotype, channels)`.

    Pre-processing, combination tail and the kept nodes' op (and gate) weights carry over.
    """
    state: dict[str, torch.Tensor] = {}
    for name, tensor in cell.state_dict().items():
        if name.startswith(("input.", "output.")):
            state[name] = tensor
    kept = {spec.id: spec.gating for spec in genotype.ops}
    for node_id, gated in kept.items():
        op_prefix = f"ops.{node_id}.op." if gated else f"ops.{node_id}."
        for name, tensor in cell.nodes[str(node_id)].state_dict().items():
            state[op_prefix + name] = tensor
        if gated:
            for name, tensor in cell.gates[str(node_id)].state_dict().items():
                state[f"ops.{node_id}.gate.{name}"] = tensor
    return state
