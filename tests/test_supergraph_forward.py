"""The supergraph forward without stacking (against the previous formula), on short maps, and
the optional pruning of nodes."""

from __future__ import annotations

import pytest
import torch

from nas.supergraph import SupergraphCell, architecture_parameters, derive, load_supergraph
from nas.supergraph.pruning import Pruning, quiet_nodes
from tests.conftest import ROOT
from tests.test_supergraph import SMALL, WEIGHTS

SG1 = load_supergraph(str(ROOT / "supergraphs" / "sg1.yaml"))
SG3 = load_supergraph(str(ROOT / "supergraphs" / "sg3.yaml"))


def previous_forward(sg: SupergraphCell, x: torch.Tensor, dead: frozenset[int] = frozenset()) -> torch.Tensor:
    """The forward as it was written before (torch.stack, tensordot, gate(y) computed in full);
    `dead` nodes' logits are -inf (what pruning does)."""
    def softmax(logits, ids):
        mask = torch.tensor([i in dead for i in ids])
        return torch.softmax(logits.masked_fill(mask, float("-inf")), dim=0)

    f0, layout = sg.input(x)
    outputs = [f0]
    for node in sg.graph.nodes:
        key = str(node.id)
        if key in sg.arch.edges:
            weights = softmax(sg.arch.edges[key], sg.graph.candidates(node.id))
            mixed = torch.tensordot(weights, torch.stack(outputs[: len(weights)], dim=0), dims=1)
        else:
            mixed = f0
        y = sg.nodes[key](mixed, f0)
        p_gate = torch.softmax(sg.arch.gating[key], dim=0)[1]
        outputs.append(y + p_gate * (sg.gates[key](y) - y))
    sink = softmax(sg.arch.sink, [n.id for n in sg.graph.nodes])
    return x + sg.output(torch.tensordot(sink, torch.stack(outputs[1:], dim=0), dims=1), layout)


def trained_looking(graph, channels: int = 8, seed: int = 0, pruning: Pruning | None = None) -> SupergraphCell:
    """A supergraph cell with random architecture weights and a non-zero output BatchNorm."""
    torch.manual_seed(seed)
    sg = SupergraphCell(graph, channels, pruning).double()
    for p in architecture_parameters(sg):
        torch.nn.init.normal_(p, std=1.5)
    torch.nn.init.normal_(sg.output.norm.weight)
    return sg


@pytest.mark.parametrize("graph,frames", [(SG1, 11), (SG1, 4), (SG3, 8), (SMALL, 7)], ids=["sg1-t11", "sg1-t4", "sg3-t8", "small-t7"])
def test_forward_and_gradients_equal_the_previous_formula(graph, frames):
    sg = trained_looking(graph)
    x = torch.randn(2, 8, frames, 5, 6, dtype=torch.float64)
    out = sg(x)
    expected = previous_forward(sg, x)
    assert (out - x).abs().max() > 1e-3
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    probe = torch.randn_like(out)
    new = torch.autograd.grad((out * probe).sum(), list(sg.parameters()))
    old = torch.autograd.grad((expected * probe).sum(), list(sg.parameters()))
    for (name, _), a, b in zip(sg.named_parameters(), new, old):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10, msg=name)  # expand.bias: ~0 under BatchNorm


def test_sg1_nodes_see_the_unpadded_short_map():
    sg = trained_looking(SG1)
    seen = []
    for node in sg.nodes.values():
        node.register_forward_hook(lambda module, args, out: seen.append(tuple(args[0].shape)))
    sg(torch.randn(2, 8, 4, 14, 14, dtype=torch.float64))
    assert seen == [(2, 2, 4, 7, 7)] * 12  # T = 4 < T_group = 8, C_reduction 8 * 0.25


# --- pruning ---------------------------------------------------------------------------------

def test_pruning_options_are_validated():
    for bad in ({"threshold": 0.0}, {"threshold": 1.0}, {"threshold": 0.5, "epochs": 0}, {"threshold": 0.5, "keep": 0}):
        with pytest.raises(ValueError, match="pruning"):
            Pruning(**bad)


def test_quiet_nodes_by_hand():
    # WEIGHTS: sink {1: .05, 2: .05, 3: .1, 4: .5, 5: .3}; node 4 reads {0: .1, 1: .6, 2: .2, 3: .1},
    # node 5 {0: .4, 1: .1, 2: .1, 3: .4}.  Threshold 0.9 of uniform: sink below 0.18 (nodes 1-3),
    # edges below 0.225: node 1 has 0.6 into node 4, node 3 has 0.4 into node 5, node 2 is quiet
    assert quiet_nodes(WEIGHTS, 0.9, {1, 2, 3, 4, 5}) == {2}
    # threshold 0.5: node 2's 0.2 into node 4 is above 0.125, node 3's sink 0.1 is not below 0.1
    assert quiet_nodes(WEIGHTS, 0.5, {1, 2, 3, 4, 5}) == set()
    # with node 1 gone the uniform weights count the live entries: sink 1/4, node 4's inputs 1/3
    assert quiet_nodes(WEIGHTS, 0.9, {2, 3, 4, 5}) == {2}
    assert quiet_nodes(WEIGHTS, 0.3, {2, 3, 4, 5}) == set()  # 0.05 < 0.075 but 0.2 >= 0.1


def pruned_small(epochs: int = 2, keep: int = 2) -> SupergraphCell:
    """SMALL with pruning, node 1 given up on: low sink weight, low weight into nodes 4 and 5."""
    sg = trained_looking(SMALL, pruning=Pruning(threshold=0.5, epochs=epochs, keep=keep))
    with torch.no_grad():
        for logits in (sg.arch.sink, sg.arch.edges["4"], sg.arch.edges["5"]):
            logits.clamp_(-1.0, 1.0)
        sg.arch.sink[0] = -8.0  # node 1 is entry 0 of the sink and entry 1 of the inputs of 4, 5
        sg.arch.edges["4"][1] = sg.arch.edges["5"][1] = -8.0
    return sg


def test_a_node_quiet_for_the_given_epochs_is_pruned_and_no_longer_computed():
    sg = pruned_small()
    assert sg.prune() == [] and sg.quiet_epochs.tolist() == [1, 0, 0, 0, 0]
    assert sg.prune() == [1] and sg.alive.tolist() == [False, True, True, True, True]
    weights = sg.weights()
    assert weights.sink[1] == 0.0 and weights.edges[4][1] == 0.0 and weights.edges[5][1] == 0.0
    assert sum(weights.sink.values()) == pytest.approx(1.0)
    calls = []
    sg.nodes["1"].register_forward_hook(lambda *args: calls.append(1))
    x = torch.randn(2, 8, 7, 5, 6, dtype=torch.float64)
    out = sg(x)
    assert calls == []
    torch.testing.assert_close(out, previous_forward(sg, x, dead=frozenset({1})), rtol=1e-12, atol=1e-12)
    assert 1 not in {op.id for op in derive(weights, alpha=5, beta=4).ops}
    assert sg.prune() == []  # pruning is for good; nothing else is quiet


def test_a_node_that_recovers_starts_counting_again():
    sg = pruned_small(epochs=2)
    sg.prune()
    with torch.no_grad():
        sg.arch.sink[0] = 2.0
    assert sg.prune() == [] and sg.quiet_epochs.tolist() == [0, 0, 0, 0, 0]


def test_pruning_keeps_at_least_keep_nodes_dropping_the_quietest_first():
    sg = trained_looking(SMALL, pruning=Pruning(threshold=0.9, epochs=1, keep=4))
    with torch.no_grad():
        sg.arch.sink.copy_(torch.tensor([-6.0, -5.0, 3.0, 3.0, 3.0]))  # nodes 1 and 2 quiet
        sg.arch.edges["4"].copy_(torch.tensor([3.0, -6.0, -6.0, 3.0]))
        sg.arch.edges["5"].copy_(torch.tensor([3.0, -6.0, -6.0, 3.0]))
    assert sg.prune() == [1]  # keep 4 of 5: only the lower sink weight goes
    assert sg.live() == {2, 3, 4, 5}


def test_pruning_state_is_in_the_state_dict_and_absent_without_pruning():
    sg = pruned_small()
    sg.prune(), sg.prune()
    fresh = SupergraphCell(SMALL, 8, Pruning(threshold=0.5)).double()
    fresh.load_state_dict(sg.state_dict(), strict=True)
    assert fresh.live() == {2, 3, 4, 5}
    x = torch.randn(2, 8, 3, 5, 6, dtype=torch.float64)
    torch.testing.assert_close(fresh(x), sg(x))
    assert not any(k in ("alive", "quiet_epochs") for k in SupergraphCell(SMALL, 8).state_dict())
    assert SupergraphCell(SMALL, 8).prune() == []


def test_a_level_whose_nodes_are_all_pruned_is_skipped():
    sg = trained_looking(SMALL, pruning=Pruning(threshold=0.5, keep=1))
    with torch.no_grad():
        sg.alive.copy_(torch.tensor([True, False, True, False, False]))  # level 1 (nodes 4, 5) all gone
    x = torch.randn(2, 8, 3, 5, 6, dtype=torch.float64)
    torch.testing.assert_close(sg(x), previous_forward(sg, x, dead=frozenset({2, 4, 5})), rtol=1e-12, atol=1e-12)
