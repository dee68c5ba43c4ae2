"""`nas viz` cell diagrams: the graph of a cell node for node and edge for edge, valid PNG/SVG/dot
files for every shipped genotype, sampled cells of every space and derived cells of every
supergraph, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from nas.ops import OPS
from nas.space import Genotype, load_model_genotype, load_space
from nas.supergraph import SupergraphWeights, derive, load_supergraph
from nas.viz import cell_figure, cell_graph, model_graphs, to_dot
from nas.viz.cell_graph import DIMENSION_COLOURS, KIND_COLOURS
from nas.viz.draw import layout
from tests.conftest import ROOT, SPACES, assert_one_line_error, run_nas

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_PNG_BYTES = 300_000


def is_genotype_file(path: Path) -> bool:
    """Whether a JSON file is a cell or model genotype (results/ also holds other JSON)."""
    return str(json.loads(path.read_text()).get("schema", "")).startswith(("attention-nas/genotype@",
                                                                           "attention-nas/model-genotype@"))


RESULT_GENOTYPES = sorted(p for p in (ROOT / "results").rglob("*.json") if is_genotype_file(p))
SUPERGRAPHS = sorted((ROOT / "supergraphs").glob("*.yaml"))
FIG_A_LIKE = ROOT / "results" / "genotypes" / "gpb_fig_a_like.json"


def expected_edges(genotype: Genotype) -> set[tuple[str, str, str, float | None]]:
    """The edges a cell's graph must have, written from the genotype's definition."""
    name = {0: "input", **{op.id: f"op{op.id}" for op in genotype.ops}}
    edges = {(name[e.source], name[op.id], "data", e.weight) for op in genotype.ops for e in op.inputs}
    if genotype.kv_source == "cell_input":
        edges |= {("input", name[op.id], "kv", None) for op in genotype.ops if OPS.get(op.kind).uses_kv_source}
    weights = genotype.combine.weights or [None] * len(genotype.combine.outputs)
    edges |= {(name[i], "output", "combine", w) for i, w in zip(genotype.combine.outputs, weights)}
    return edges


def assert_graph_of(genotype: Genotype) -> None:
    graph = cell_graph(genotype)
    assert set(graph.nodes) == {"input", "output", *(f"op{op.id}" for op in genotype.ops)}
    got = {(u, v, k, d["weight"]) for u, v, k, d in graph.edges(keys=True, data=True)}
    assert got == expected_edges(genotype)
    for op in genotype.ops:
        node = graph.nodes[f"op{op.id}"]
        assert node["kind"] == op.kind and node["dimension"] == op.choices.get("dimension")
        assert node["depth"] == 1 + max(graph.nodes["input" if e.source == 0 else f"op{e.source}"]["depth"] for e in op.inputs)
        assert str(op.choices.get("dimension", op.kind if op.kind not in ("dot_product", "map") else "")) in node["label"]
        assert ("no gating" in node["label"]) == (not op.gating)
    assert graph.nodes["output"]["depth"] == 1 + max(graph.nodes[f"op{i}"]["depth"] for i in genotype.combine.outputs)
    plan = layout(graph)  # every drawn edge runs through one point per layer between its ends
    for (u, v, _), points in plan.routes.items():
        assert [-y for _, y in points] == list(range(graph.nodes[u]["depth"], graph.nodes[v]["depth"] + 1))
    for depth in {d for _, d in graph.nodes(data="depth")}:  # no two boxes of a layer overlap
        xs = sorted(x for n, (x, y) in plan.positions.items() if y == -depth)
        assert all(b - a >= 1.0 - 1e-9 for a, b in zip(xs, xs[1:]))


def random_derived(path, seed: int) -> Genotype:
    """A cell derived from random architecture weights of the supergraph at `path`."""
    graph, rng = load_supergraph(str(path)), np.random.default_rng(seed)

    def softmax(ids):
        w = np.exp(rng.normal(size=len(ids)) * 2)
        return {i: float(x) for i, x in zip(ids, w / w.sum())}

    weights = SupergraphWeights(graph, {n.id: softmax(graph.candidates(n.id)) for n in graph.nodes},
                                {n.id: float(rng.uniform()) for n in graph.nodes}, softmax([n.id for n in graph.nodes]))
    return derive(weights, alpha=3, beta=2)


def test_the_fig_a_like_cell_has_exactly_its_nodes_edges_and_layers():
    graph = cell_graph(load_model_genotype(str(FIG_A_LIKE)).cells["*"])
    assert sorted(graph.nodes) == ["input", "op1", "op2", "op3", "op4", "output"]
    assert sorted(graph.edges(keys=True)) == [
        ("input", "op1", "data"), ("input", "op1", "kv"), ("input", "op3", "data"), ("input", "op3", "kv"),
        ("op1", "op2", "data"), ("op2", "output", "combine"), ("op3", "op4", "data"), ("op4", "output", "combine"),
    ]
    assert {n: d for n, d in graph.nodes(data="depth")} == {"input": 0, "op1": 1, "op3": 1, "op2": 2, "op4": 2, "output": 3}
    assert graph.nodes["op1"]["label"] == "1: dot-product\nspatial\nact softmax\nscale\nno gating\nk/v: cell input"
    assert graph.nodes["op2"]["label"] == "2: map-based\ntemporal\nact sigmoid\ngating"  # map ops read no keys/values
    assert graph.nodes["op3"]["colour"] == DIMENSION_COLOURS["spatiotemporal"]
    assert all(d["weight"] in (1.0, None) for _, _, d in graph.edges(data=True))


def test_a_derived_cell_carries_its_input_and_sum_weights_and_op_input_kv_draws_no_kv_edge():
    cell = Genotype.from_json({
        "schema": "attention-nas/genotype@1", "kv_source": "op_input",
        "preprocess": {"channels": 8, "height": 4, "width": 4, "frames": 4},
        "ops": [{"id": 1, "kind": "dot_product", "choices": {"dimension": "temporal"}, "inputs": [{"from": 0, "weight": 1.0}]},
                {"id": 3, "kind": "map", "choices": {"dimension": "spatial"}, "gating": True,
                 "inputs": [{"from": 0, "weight": 0.25}, {"from": 1, "weight": 0.75}]}],
        "combine": {"mode": "sum", "outputs": [1, 3], "weights": [0.4, 0.6]},
    })
    graph = cell_graph(cell)
    assert {(u, v, d["weight"]) for u, v, d in graph.edges(data=True)} == {
        ("input", "op1", 1.0), ("input", "op3", 0.25), ("op1", "op3", 0.75), ("op1", "output", 0.4), ("op3", "output", 0.6)}
    assert "k/v: op input" in graph.nodes["op1"]["label"] and "8 ch" in graph.nodes["input"]["label"]
    assert graph.nodes["output"]["label"].startswith("weighted sum")
    dot = to_dot({"*": graph})
    assert '"*/input" -> "*/op3" [label="0.25"];' in dot and '"*/op3" -> "*/output" [label="0.60"];' in dot
    assert '"*/input" -> "*/op1" [label=""];' in dot  # a plain weight of one is not written


@pytest.mark.parametrize("path", RESULT_GENOTYPES, ids=lambda p: str(p.relative_to(ROOT / "results")))
def test_every_genotype_in_results_has_the_right_graph(path):
    for cell in load_model_genotype(str(path)).cells.values():
        assert_graph_of(cell)


@pytest.mark.parametrize("space_path", SPACES, ids=lambda p: p.stem)
def test_sampled_cells_of_every_space_have_the_right_graph(space_path):
    space = load_space(str(space_path))
    for seed in range(20):
        assert_graph_of(space.sample(seed=seed))


@pytest.mark.parametrize("path", SUPERGRAPHS, ids=lambda p: p.stem)
def test_derived_cells_of_every_supergraph_have_the_right_graph(path):
    for seed in range(10):
        assert_graph_of(random_derived(path, seed))


def test_every_op_kind_of_the_registry_is_labelled_and_coloured():
    ops = [{"id": i, "kind": kind, "choices": {}, "inputs": [{"from": 0, "weight": 1.0}]}
           for i, kind in enumerate(OPS.names(), start=1)]
    cell = Genotype.from_json({"schema": "attention-nas/genotype@1", "kv_source": "cell_input",
                               "preprocess": {"channels": 0.25, "height": 7, "width": 7, "frames": 8},
                               "ops": ops, "combine": {"mode": "concat", "outputs": [op["id"] for op in ops]}})
    graph = cell_graph(cell)
    for op in cell.ops:
        node = graph.nodes[f"op{op.id}"]
        if "dimension" in op.choices:
            assert node["colour"] == DIMENSION_COLOURS[op.choices["dimension"]]
        else:
            assert node["dimension"] is None and node["colour"] == KIND_COLOURS[op.kind] and op.kind in node["label"]
        for name, value in op.choices.items():
            assert str(value) in node["label"] or (isinstance(value, bool) and name in node["label"])
    figure = cell_figure(model_graphs({"*": cell}))
    labels = {t.get_text() for t in figure.legends[0].get_texts()}
    dimensions = {op.choices["dimension"] for op in cell.ops if "dimension" in op.choices}
    assert labels == dimensions | (set(OPS.names()) - {"dot_product", "map"})


def svg_texts(path) -> str:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return " ".join("".join(e.itertext()) for e in root.iter("{http://www.w3.org/2000/svg}text"))


@pytest.mark.parametrize("path", RESULT_GENOTYPES, ids=lambda p: str(p.relative_to(ROOT / "results")))
def test_nas_viz_draws_every_genotype_in_results_as_png_svg_and_dot(path, tmp_path):
    model = load_model_genotype(str(path))
    code, out, err = run_nas("viz", path, "-o", tmp_path / "cell.png")
    assert code == 0, err
    data = (tmp_path / "cell.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) < MAX_PNG_BYTES
    assert run_nas("viz", path, "-o", tmp_path / "cell.svg")[0] == 0
    text = svg_texts(tmp_path / "cell.svg")
    for cell in model.cells.values():
        assert all(f"{op.id}: " in text for op in cell.ops)
    assert run_nas("viz", path, "-o", tmp_path / "cell.txt", "--format", "dot")[0] == 0
    dot = (tmp_path / "cell.txt").read_text()
    assert dot.startswith("digraph") and dot.count("{") == dot.count("}")
    assert dot.count(" -> ") == sum(len(expected_edges(c)) for c in model.cells.values())


def test_a_position_specific_model_gets_one_panel_per_position(tmp_path):
    space = load_space(str(ROOT / "search_spaces" / "extended.yaml"))
    cells = {position: space.sample(seed=i) for i, position in enumerate(("4a", "4b", "4c", "4d", "4e"))}
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"schema": "attention-nas/model-genotype@1",
                                "cells": {p: {k: v for k, v in c.to_dict().items() if k != "schema"} for p, c in cells.items()}}))
    assert run_nas("viz", path, "-o", tmp_path / "model.svg", "--title", "five cells")[0] == 0
    text = svg_texts(tmp_path / "model.svg")
    assert all(f"position {p}" in text for p in cells) and "five cells" in text
    assert run_nas("viz", path, "-o", tmp_path / "model.png")[0] == 0
    assert (tmp_path / "model.png").read_bytes().startswith(PNG_MAGIC)
    assert (tmp_path / "model.png").stat().st_size < MAX_PNG_BYTES
    assert run_nas("viz", path, "-o", tmp_path / "model.dot")[0] == 0
    assert len(re.findall(r"subgraph cluster_\d+", (tmp_path / "model.dot").read_text())) == 5


def test_the_same_genotype_gives_the_same_files(tmp_path):
    for suffix in ("svg", "png"):
        for name in ("a", "b"):
            assert run_nas("viz", FIG_A_LIKE, "-o", tmp_path / f"{name}.{suffix}", "--title", "x")[0] == 0
        assert (tmp_path / f"a.{suffix}").read_bytes() == (tmp_path / f"b.{suffix}").read_bytes()


@pytest.mark.parametrize("content, fragments", [
    ("{not json", ("invalid JSON", "line 1")),
    ('{"schema": "attention-nas/genotype@1", "kv_source": "cell_input"}', ("preprocess",)),
    (FIG_A_LIKE.read_text().replace('"map"', '"mapp"', 1), ("ops[1].kind", "mapp")),
])
def test_a_malformed_genotype_is_one_line_and_writes_nothing(tmp_path, content, fragments):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, _, err = run_nas("viz", bad, "-o", tmp_path / "cell.png")
    assert_one_line_error(code, err, str(bad), *fragments)
    assert list(tmp_path.iterdir()) == [bad]


@pytest.mark.parametrize("args, fragment", [
    (["missing.json", "-o", "cell.png"], "not found: missing.json"),
    ([str(FIG_A_LIKE), "-o", "cell.jpg"], "name it .png, .svg or .dot"),
    ([str(FIG_A_LIKE), "-o", "cell.svg", "--format", "png"], "does not match"),
    ([str(FIG_A_LIKE), "--run", "somewhere", "-o", "cell.png"], "not both"),
    (["-o", "cell.png"], "not both"),
])
def test_bad_viz_arguments_are_one_line(tmp_path, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_nas("viz", *args)
    assert_one_line_error(code, err, fragment)
    assert list(tmp_path.iterdir()) == []
