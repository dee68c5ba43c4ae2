"""The supergraph cell: every candidate node at once, mixed by learnable architecture weights.

It shares the fixed cell's pre-processing and combination tail (`nas.cell.CellInput`,
`CellOutput`) and builds its nodes from the same op registry (`nas.ops.OPS`), so a supergraph
whose weights are one-hot computes exactly the cell `derive` returns (see
`derived_state_dict`).  Per node: input = sum_j softmax(a_node)_j f_j over the cell input and
every node of earlier levels; output = y + p_gate * (gate(y) - y) with p_gate the second entry
of a two-way softmax.  Sink: sum_i softmax(s)_i f_i, then the cell's 1x1x1 conv and BatchNorm.

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


class SupergraphCell(nn.Module):
    """A supergraph at one insertion point, for feature maps with `channels` channels."""

    def __init__(self, graph: Supergraph, channels: int) -> None:
        super().__init__()
        self.graph = graph
        self.input = CellInput(channels, graph.preprocess)
        shape = self.input.shape
        self.nodes = nn.ModuleDict(
            {str(n.id): OPS.build(OpSpec(n.id, n.kind, n.choices, (OpInput(0),)), shape, graph.kv_source) for n in graph.nodes}
        )
        self.gates = nn.ModuleDict({str(n.id): ChannelGate(shape.channels) for n in graph.nodes})
        self.arch = ArchitectureWeights(graph)
        self.output = CellOutput(shape.channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f0, layout = self.input(x)  # (N*G, Cr, Tg, Hr, Wr)
        outputs = [f0]
        for node in self.graph.nodes:
            key = str(node.id)
            if key in self.arch.edges:
                weights = torch.softmax(self.arch.edges[key], dim=0)  # (candidates,)
                candidates = torch.stack(outputs[: len(weights)], dim=0)  # (candidates, N*G, Cr, Tg, Hr, Wr)
                mixed = torch.tensordot(weights, candidates, dims=1)  # (N*G, Cr, Tg, Hr, Wr)
            else:
                mixed = f0
            y = self.nodes[key](mixed, f0)
            p_gate = torch.softmax(self.arch.gating[key], dim=0)[1]
            outputs.append(y + p_gate * (self.gates[key](y) - y))
        sink = torch.softmax(self.arch.sink, dim=0)  # (M,)
        y = torch.tensordot(sink, torch.stack(outputs[1:], dim=0), dims=1)  # (N*G, Cr, Tg, Hr, Wr)
        return x + self.output(y, layout)

    def weights(self) -> SupergraphWeights:
        """The current architecture weights as probabilities (detached)."""
        edges, gating = {}, {}
        for node in self.graph.nodes:
            logits = self.arch.edges[str(node.id)].detach() if str(node.id) in self.arch.edges else torch.zeros(1)
            edges[node.id] = dict(zip(self.graph.candidates(node.id), torch.softmax(logits, dim=0).tolist()))
            gating[node.id] = torch.softmax(self.arch.gating[str(node.id)].detach(), dim=0)[1].item()
        sink = torch.softmax(self.arch.sink.detach(), dim=0).tolist()
        return SupergraphWeights(self.graph, edges, gating, dict(zip((n.id for n in self.graph.nodes), sink)))


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
