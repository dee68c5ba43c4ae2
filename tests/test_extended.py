"""The extended space and supergraph, the non_local op kind, and FLOPs of the seed operators."""

from __future__ import annotations

import json
import math

import pytest
import torch

from nas.cell import AttentionCell
from nas.models import build_model
from nas.ops import OPS, FeatureShape
from nas.ops.cost import op_flops, op_module
from nas.ops.non_local import NonLocalBlock
from nas.space import load_space
from nas.supergraph import SupergraphCell, build_supergraph_model, derive, derive_model, load_supergraph
from tests.conftest import ROOT, assert_one_line_error, run_nas

EXTENDED = ROOT / "search_spaces" / "extended.yaml"
SG_EXTENDED = ROOT / "supergraphs" / "sg_extended.yaml"
SEED_KINDS = {"aligned_temporal", "relational", "patch_shift", "channel_shift", "divided_st", "non_local"}


def test_extended_space_is_the_paper_space_plus_every_op_kind():
    space, paper = load_space(str(EXTENDED)), load_space(str(ROOT / "search_spaces" / "attentionnas_gpb.yaml"))
    assert {kc.kind for kc in space.kinds} == set(OPS.names()) == {"dot_product", "map"} | SEED_KINDS
    assert [kc for kc in space.kinds if kc.kind in ("dot_product", "map")] == list(paper.kinds)
    assert (space.num_ops, space.min_inputs, space.max_inputs, space.kv_sources, space.gating) == (
        paper.num_ops, paper.min_inputs, paper.max_inputs, paper.kv_sources, paper.gating)  # fmt: skip
    code, out, err = run_nas("space", "validate", EXTENDED)
    assert code == 0 and out.startswith("ok: extended: 4 ops, kinds dot_product, map, aligned_temporal"), err


def test_extended_samples_cover_every_kind_encode_and_build():
    space = load_space(str(EXTENDED))
    seen, built = set(), set()
    for seed in range(60):
        genotype = space.sample(seed)
        assert space.decode(space.encode(genotype)) == genotype and space.contains(genotype)
        kinds = {op.kind for op in genotype.ops}
        seen |= kinds
        if not kinds <= built:  # build and run one cell per new kind
            torch.manual_seed(seed)
            cell = AttentionCell(genotype, channels=16)
            torch.nn.init.ones_(cell.output.norm.weight)
            x = torch.randn(1, 16, 9, 10, 10)
            y = cell(x)
            assert y.shape == x.shape and not torch.allclose(y, x)
            built |= kinds
    assert seen == built == set(OPS.names())
    genotype = space.sample(0)
    for seed in range(30):  # neighbours for the GP bandit's candidate pool stay in the space
        child = space.mutate(genotype, seed)
        assert space.contains(child) and child.key() != genotype.key()
        genotype = child


def test_sg_extended_trains_and_derives_cells_that_build():
    graph = load_supergraph(str(SG_EXTENDED))
    assert {n.kind for n in graph.nodes} == set(OPS.names()) - {"map"} and len(graph.nodes) == 12
    torch.manual_seed(0)
    model = build_supergraph_model("tiny", graph, num_classes=5)
    cells = [m for m in model.modules() if isinstance(m, SupergraphCell)]
    for cell in cells:  # past the identity at init, so that every node's weights get a gradient
        torch.nn.init.ones_(cell.output.norm.weight)
    clips, labels = torch.randn(2, 3, 8, 32, 32), torch.tensor([1, 3])
    torch.nn.functional.cross_entropy(model(clips), labels).backward()
    assert len(cells) == 2
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    with torch.no_grad():
        for cell in cells:
            for p in cell.arch.parameters():
                p.normal_()
    derived = derive_model(model, alpha=3, beta=2)
    fixed = build_model("tiny", derived, num_classes=5)
    assert fixed(clips).shape == (2, 5)
    # every node kind, chosen alone, derives a cell that builds
    for node in graph.nodes:
        sink = {n.id: 1.0 if n.id == node.id else 0.0 for n in graph.nodes}
        weights = cells[0].weights()
        genotype = derive(type(weights)(graph, weights.edges, weights.gating, sink), alpha=1, beta=1)
        assert node.id in [op.id for op in genotype.ops]
        assert AttentionCell(genotype, channels=16)(torch.randn(1, 16, 8, 7, 7)).shape == (1, 16, 8, 7, 7)


@pytest.mark.parametrize("pool", ["1x2x2", "2x2x2", "1x1x1"])
def test_non_local_op_is_the_block_with_a_unit_bn_scale(pool):
    torch.manual_seed(0)
    op = op_module("non_local", {"pool": pool}, FeatureShape(8, 4, 6, 6), kv_source="cell_input").op.double().eval()
    block = NonLocalBlock(8, pool=tuple(int(p) for p in pool.split("x"))).double().eval()
    assert torch.equal(op.block.bn.weight, torch.ones(8, dtype=torch.float64))
    block.load_state_dict(op.block.state_dict())
    x = torch.randn(2, 8, 4, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(op(x, torch.randn_like(x)), block(x))
    assert not torch.allclose(op(x, x), x)


B, C, T, H, W = 2, 8, 4, 3, 5
N = T * H * W


def flops(kind: str, **choices) -> dict[str, int]:
    report = op_flops(kind, choices, FeatureShape(C, T, H, W), batch=B)
    assert report == op_flops(kind, choices, FeatureShape(C, T, H, W), batch=B) and report.flops == sum(report.by_category.values())
    return {k: v for k, v in report.by_category.items() if v}


def test_flops_of_the_seed_operators_match_their_formulas():
    conv3 = 3 * 2 * B * N * C * C  # query, key, value 1x1x1 convolutions
    assert flops("divided_st") == {"conv": 2 * conv3, "matmul": 2 * 2 * B * H * W * T * T * C + 2 * 2 * B * T * (H * W) ** 2 * C}
    assert flops("patch_shift", attention="frame") == {"conv": conv3, "matmul": 2 * 2 * B * T * (H * W) ** 2 * C}
    assert flops("patch_shift", attention="temporal") == {"conv": conv3, "matmul": 2 * 2 * B * T * T * H * W * C}
    assert flops("channel_shift", fraction=0.25) == {}
    m, wide = 3 * 5 * 5, 16  # 16 channels: D >= 2 (with D = 1 einsum multiplies elementwise, which is not counted)
    for queries, latent in [(2, 1.0), (4, 0.5), (8, 1.0)]:
        c = math.ceil(wide / queries)
        L, D = math.ceil(wide / c), max(1, round(latent * c))
        expected_conv = 2 * B * N * wide * (L * c + 2 * c) + 2 * B * N * m * (c * D + c * D + c * c)  # embeddings; H1, H2, G
        expected_matmul = 2 * B * N * (L * c * D + L * D * c + L * c * c)  # kernel, kernel V_H^T, times V_G (no c x D context)
        report = op_flops("relational", {"window": "3x5x5", "queries": queries, "latent": latent}, FeatureShape(wide, T, H, W), B)
        assert {k: v for k, v in report.by_category.items() if v} == {"conv": expected_conv, "matmul": expected_matmul}
    pooled = T * 2 * 3  # 1x2x2 max pooling with SAME padding of 3 x 5
    inner = C // 2
    assert flops("non_local") == {"conv": 2 * B * N * C * inner + 2 * 2 * B * pooled * C * inner + 2 * B * N * inner * C,
                                  "matmul": 2 * 2 * B * N * pooled * inner, "pool": B * C * pooled * 4}  # fmt: skip


def test_nas_flops_op_text_json_and_errors():
    shape = f"{C}x{T}x{H}x{W}"
    code, out, err = run_nas("flops", "--op", "relational", "--choice", "window=3x5x5", "--feature-shape", shape, "--batch", B, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["op"] == "relational" and data["choices"] == {"window": "3x5x5", "queries": 8, "latent": 1.0}
    assert data["flops"] == op_flops("relational", {"window": "3x5x5"}, FeatureShape(C, T, H, W), batch=B).flops
    assert data["input_shape"] == [B, C, T, H, W] and data["convention"] == "multiply-add = 2 FLOPs"
    code, out, _ = run_nas("flops", "--op", "divided_st")
    assert code == 0 and out.startswith("divided_st (activation=softmax, scale=True; keys/values from cell_input) at 1x120x8x7x7:")
    for args, fragment in [
        (("--op", "warp"), "unknown op kind 'warp'"),
        (("--op", "relational", "--choice", "window=2x2x2"), "relational.choices.window: must be one of"),
        (("--op", "relational", "--choice", "heads=2"), "relational.choices.heads: op kind 'relational' has no such choice"),
        (("--op", "map", "--choice", "dimension"), "--choice expects NAME=VALUE"),
        (("--op", "map", "--feature-shape", "8x4x0x5"), "--feature-shape must be four positive sizes"),
        (("--op", "map", "--frames", "16", "--nonlocal"), "drop --nonlocal, --frames"),
    ]:
        code, _, err = run_nas("flops", *args)
        assert_one_line_error(code, err, fragment)


def test_results_ops_md_flops_and_params_are_those_of_this_code():
    """The FLOPs and parameter columns of results/ops.md (times are measurements, not checked)."""
    import yaml

    text = (ROOT / "results" / "ops.md").read_text()
    assert "Made by `python benchmarks/ops_table.py -o results/ops.md" in text
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| `")]
    assert {row[0].strip(" `") for row in rows} == set(OPS.names())
    for row in rows:
        kind = row[0].strip(" `")
        choices = {k: yaml.safe_load(v) for k, v in (pair.split("=") for pair in row[1].strip().split(", ") if "=" in pair)}
        report = op_flops(kind, choices, FeatureShape(120, 8, 7, 7), batch=8)
        mflops = [report.flops] + [report.by_category[k] for k in ("conv", "matmul", "pool")]
        assert [c.strip() for c in row[2:7]] == [f"{v / 1e6:.1f}" for v in mflops] + [str(report.params)], row
