"""Supergraph specs, the supergraph cell, and the alpha/beta derivation."""

from __future__ import annotations

import pytest
import torch

from nas.cell import AttentionCell
from nas.space import Genotype
from nas.supergraph import (
    SupergraphCell,
    SupergraphWeights,
    architecture_parameters,
    derive,
    derived_state_dict,
    load_supergraph,
    network_parameters,
    parse_supergraph,
)
from tests.conftest import ROOT

SUPERGRAPHS = sorted((ROOT / "supergraphs").glob("*.yaml"))

SMALL = parse_supergraph(
    {
        "schema": "attention-nas/supergraph@1",
        "name": "small",
        "kv_source": "cell_input",
        "preprocess": {"channels": 0.5, "height": 3, "width": 4, "frames": 3},
        "levels": [
            [{"kind": "dot_product", "choices": {"dimension": "temporal"}},
             {"kind": "dot_product", "choices": {"dimension": "spatial"}},
             {"kind": "map", "choices": {"dimension": "spatiotemporal", "activation": "sigmoid"}}],
            [{"kind": "dot_product", "choices": {"dimension": "temporal", "activation": "sigmoid"}},
             {"kind": "dot_product", "choices": {"dimension": "spatiotemporal"}}],
        ],
    }
)

# Hand-set weights: nodes 1-3 on level 0, nodes 4-5 on level 1 (they read 0, 1, 2, 3).
WEIGHTS = SupergraphWeights(
    SMALL,
    edges={1: {0: 1.0}, 2: {0: 1.0}, 3: {0: 1.0},
           4: {0: 0.1, 1: 0.6, 2: 0.2, 3: 0.1},
           5: {0: 0.4, 1: 0.1, 2: 0.1, 3: 0.4}},  # a tie between the cell input and node 3
    gating={1: 0.9, 2: 0.5, 3: 0.7, 4: 0.2, 5: 0.51},  # 0.5 exactly is not "above one half"
    sink={1: 0.05, 2: 0.05, 3: 0.1, 4: 0.5, 5: 0.3},
)


def cell(ops, outputs, weights) -> Genotype:
    """A derived genotype written out by hand: ops as (id, [(input, weight)], gating)."""
    by_id = {n.id: n for n in SMALL.nodes}
    return Genotype.from_json({
        "schema": "attention-nas/genotype@1",
        "kv_source": "cell_input",
        "preprocess": {"channels": 0.5, "height": 3, "width": 4, "frames": 3},
        "ops": [{"id": i, "kind": by_id[i].kind, "choices": dict(by_id[i].choices), "gating": g,
                 "inputs": [{"from": s, "weight": w} for s, w in ins]} for i, ins, g in ops],
        "combine": {"mode": "sum", "outputs": outputs, "weights": weights},
    })


def assert_same_cell(derived: Genotype, expected: Genotype) -> None:
    """Equal structure, kinds, choices and gating; weights equal to float rounding."""
    strip = lambda g: [(o.id, o.kind, dict(o.choices), o.gating, [e.source for e in o.inputs]) for o in g.ops]
    assert strip(derived) == strip(expected)
    for a, b in zip(derived.ops, expected.ops):
        assert [e.weight for e in a.inputs] == pytest.approx([e.weight for e in b.inputs], abs=1e-12)
    assert derived.combine.outputs == expected.combine.outputs and derived.combine.mode == expected.combine.mode
    assert derived.combine.weights == pytest.approx(expected.combine.weights, abs=1e-12)


def test_derive_alpha2_beta2_by_hand():
    expected = cell(
        [(1, [(0, 1.0)], True), (2, [(0, 1.0)], False), (3, [(0, 1.0)], True),
         (4, [(1, 0.75), (2, 0.25)], False), (5, [(0, 0.5), (3, 0.5)], True)],
        [4, 5], [0.625, 0.375],
    )
    derived = derive(WEIGHTS, alpha=2, beta=2)
    assert_same_cell(derived, expected)
    assert Genotype.from_json(derived.to_json()) == derived


def test_derive_beta1_breaks_the_tie_towards_the_cell_input_and_drops_what_nobody_reads():
    # node 5's tie (cell input vs node 3) goes to the cell input, so node 3, read by no kept
    # node any more, is dropped; node 4 keeps node 1 only, so node 2 is dropped too.
    expected = cell([(1, [(0, 1.0)], True), (4, [(1, 1.0)], False), (5, [(0, 1.0)], True)], [4, 5], [0.625, 0.375])
    assert_same_cell(derive(WEIGHTS, alpha=2, beta=1), expected)


def test_derive_alpha_larger_than_the_node_count_keeps_every_node():
    derived = derive(WEIGHTS, alpha=10, beta=10)
    assert [op.id for op in derived.ops] == [1, 2, 3, 4, 5]
    assert derived.combine.outputs == (1, 2, 3, 4, 5)
    assert derived.combine.weights == pytest.approx((0.05, 0.05, 0.1, 0.5, 0.3))
    assert [e.source for e in derived.op(4).inputs] == [0, 1, 2, 3]


def test_derive_sink_tie_goes_to_the_earlier_node():
    tied = SupergraphWeights(SMALL, WEIGHTS.edges, WEIGHTS.gating, {1: 0.1, 2: 0.1, 3: 0.3, 4: 0.3, 5: 0.2})
    derived = derive(tied, alpha=1, beta=1)
    assert derived.combine.outputs == (3,) and [op.id for op in derived.ops] == [3]


def test_weights_round_trip_through_json():
    assert SupergraphWeights.from_dict(SMALL, WEIGHTS.to_dict()) == WEIGHTS


def one_hot_supergraph(seed: int = 0) -> SupergraphCell:
    """SMALL with large logits: node 4 reads nodes 1 and 2 half-half, node 5 reads node 3,
    nodes 1 and 5 are gated, the sink takes nodes 4 and 5 half-half."""
    torch.manual_seed(seed)
    sg = SupergraphCell(SMALL, channels=8).double().eval()
    big = 60.0
    with torch.no_grad():
        for p in sg.arch.parameters():
            p.zero_()
        sg.arch.edges["4"][1] = sg.arch.edges["4"][2] = big
        sg.arch.edges["5"][3] = big
        for node in ("1", "5"):
            sg.arch.gating[node][1] = big
        for node in ("2", "3", "4"):
            sg.arch.gating[node][0] = big
        sg.arch.sink[3] = sg.arch.sink[4] = big
        torch.nn.init.normal_(sg.output.norm.weight)
        for bn in (m for m in sg.modules() if isinstance(m, torch.nn.BatchNorm3d)):
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)
    return sg


def test_one_hot_supergraph_equals_the_derived_cell_with_copied_weights():
    sg = one_hot_supergraph()
    genotype = derive(sg.weights(), alpha=2, beta=2)
    # with beta = 2 node 5 also keeps its second-best input, the cell input, at weight ~e^-60
    assert [(op.id, [e.source for e in op.inputs], op.gating) for op in genotype.ops] == [
        (1, [0], True), (2, [0], False), (3, [0], False), (4, [1, 2], False), (5, [0, 3], True)
    ]
    assert genotype.op(5).inputs[0].weight < 1e-20
    fixed = AttentionCell(genotype, channels=8).double().eval()
    fixed.load_state_dict(derived_state_dict(sg, genotype), strict=True)
    x = torch.randn(2, 8, 7, 5, 6, dtype=torch.float64)
    out = sg(x)
    assert not torch.allclose(out, x)
    torch.testing.assert_close(fixed(x), out, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("path", SUPERGRAPHS, ids=lambda p: p.stem)
def test_supergraph_cell_is_identity_at_init_and_trains_everything(path):
    graph = load_supergraph(str(path))
    torch.manual_seed(0)
    sg = SupergraphCell(graph, channels=16)
    x = torch.randn(2, 16, 11, 6, 9)
    assert torch.equal(sg(x), x)
    torch.nn.init.ones_(sg.output.norm.weight)
    (sg(x) * torch.randn_like(x)).sum().backward()
    for name, param in sg.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    arch = architecture_parameters(sg)
    edges = sum(len(graph.candidates(n.id)) for n in graph.nodes if n.level > 0)  # level 0 reads only the input
    assert sum(p.numel() for p in arch) == edges + 2 * len(graph.nodes) + len(graph.nodes)
    assert {id(p) for p in arch}.isdisjoint(id(p) for p in network_parameters(sg))
    assert len(arch) + len(network_parameters(sg)) == len(list(sg.parameters()))
    assert any(k.startswith("arch.") for k in sg.state_dict())


def test_shipped_supergraphs_match_the_supplementary():
    sg1, sg2, sg3 = (load_supergraph(str(ROOT / "supergraphs" / f"sg{i}.yaml")) for i in (1, 2, 3))
    for graph in (sg1, sg2, sg3):
        assert graph.num_levels == 2 and len(graph.nodes) == 12
    level = lambda g: [(n.kind, n.choices["dimension"]) for n in g.nodes if n.level == 0]
    dims = ["temporal", "temporal", "spatial", "spatial", "spatiotemporal", "spatiotemporal"]
    assert level(sg1) == [("dot_product", d) for d in dims] == level(sg3)
    assert sorted(level(sg2)) == sorted((k, d) for k in ("dot_product", "map") for d in dims[::2])
    assert (sg1.kv_source, sg2.kv_source, sg3.kv_source) == ("cell_input", "cell_input", "op_input")


BAD = {
    "unknown key": ({"colour": "red"}, "colour: unknown key"),
    "unknown op kind": ({"nodes": [{"kind": "warp"}]}, "nodes[0].kind: unknown op kind 'warp'"),
    "bad choice": ({"nodes": [{"kind": "map", "choices": {"dimension": "up"}}]}, "nodes[0].choices.dimension: must be one of"),
    "empty level": ({"nodes": []}, "nodes: a level needs at least one node"),
    "wrong type": ({"levels": "two"}, "levels: expected list, got string"),
    "bad kv": ({"kv_source": "memory"}, "kv_source: must be one of"),
    "bad preprocess": ({"preprocess": {"channels": 0.25, "height": 0, "width": 7, "frames": 8}}, "preprocess.height: must be at least 1"),
    "mixed forms": ({"levels": [[{"kind": "map"}]]}, "nodes: give nodes per level inside `levels`"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_supergraph_gives_one_line_and_exit_2(tmp_path, case):
    import yaml

    from tests.conftest import assert_one_line_error, run_nas

    doc = yaml.safe_load((ROOT / "supergraphs" / "sg1.yaml").read_text())
    edit, fragment = BAD[case]
    doc.update(edit)
    path = tmp_path / "sg.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, out, err = run_nas("supergraph", "validate", path)
    assert_one_line_error(code, err, str(path), fragment)
    code, _, err = run_nas("supergraph", "validate", tmp_path / "missing.yaml")
    assert_one_line_error(code, err, "supergraph not found")


def test_validate_prints_the_levels():
    from tests.conftest import run_nas

    code, out, _ = run_nas("supergraph", "validate", ROOT / "supergraphs" / "sg2.yaml")
    assert code == 0 and "sg2: 2 levels of 6/6 nodes" in out


def test_supergraph_model_derives_one_cell_per_position():
    from nas.models import build_model
    from nas.supergraph import build_supergraph_model, derive_model, supergraph_cells

    graph = load_supergraph(str(ROOT / "supergraphs" / "sg1.yaml"))
    torch.manual_seed(0)
    model = build_supergraph_model("tiny", graph, num_classes=5)
    assert list(supergraph_cells(model)) == ["s2", "s3"]
    with torch.no_grad():
        supergraph_cells(model)["s3"].arch.sink[5] = 5.0  # node 6 (spatiotemporal) first at s3
    derived = derive_model(model, alpha=2, beta=1)
    assert set(derived.cells) == {"s2", "s3"}
    assert derived.cells["s2"].combine.outputs == (1, 2) and derived.cells["s3"].combine.outputs == (1, 6)
    fixed = build_model("tiny", derived, num_classes=5)
    assert fixed(torch.randn(1, 3, 8, 32, 32)).shape == (1, 5)


def test_a_supergraph_beyond_the_node_limit_is_refused():
    from nas.errors import UserError
    from nas.space.limits import MAX_LEVELS, MAX_NODES
    from nas.supergraph.spec import parse_supergraph

    node = {"kind": "dot_product", "choices": {"dimension": "spatial"}}
    base = {"schema": "attention-nas/supergraph@1", "name": "big", "kv_source": "cell_input",
            "preprocess": {"channels": 0.25, "height": 7, "width": 7, "frames": 8}}
    with pytest.raises(UserError, match=f"at most {MAX_NODES} nodes in all, got 5000"):
        parse_supergraph({**base, "levels": [[node] * 2500, [node] * 2500]})
    with pytest.raises(UserError, match=f"must be in 1 .. {MAX_LEVELS}, got 1000"):
        parse_supergraph({**base, "levels": 1000, "nodes": [node]})
