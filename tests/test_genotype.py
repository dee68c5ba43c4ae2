"""Genotype JSON, validation, canonical keys and model genotypes."""

from __future__ import annotations

import json
import random

import pytest

from nas.errors import UserError
from nas.space import Genotype, ModelGenotype, load_space
from nas.space.canonical import canonicalise
from tests.conftest import ROOT, SPACES


def renumber(genotype: Genotype, seed: int) -> Genotype:
    """The same cell with new op ids, another topological order and shuffled lists."""
    rng = random.Random(seed)
    doc = genotype.to_dict()
    new_ids = rng.sample(range(10, 99), len(doc["ops"]))
    mapping = {0: 0, **{op["id"]: new for op, new in zip(doc["ops"], new_ids)}}
    ops = []
    remaining = list(doc["ops"])
    while remaining:  # a random topological order
        ready = [op for op in remaining if all(e["from"] == 0 or e["from"] in {o["id"] for o in ops} for e in op["inputs"])]
        pick = rng.choice(ready)
        remaining.remove(pick)
        ops.append(pick)
    doc["ops"] = [
        {**op, "id": mapping[op["id"]], "inputs": rng.sample([{**e, "from": mapping[e["from"]]} for e in op["inputs"]], len(op["inputs"]))}
        for op in ops
    ]
    doc["combine"]["outputs"] = rng.sample([mapping[o] for o in doc["combine"]["outputs"]], len(doc["combine"]["outputs"]))
    return Genotype.from_json(doc)


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.stem)
def test_thousand_samples_are_valid_round_trip_and_reproducible(path):
    space = load_space(str(path))
    keys = set()
    for seed in range(1000):
        genotype = space.sample(seed)
        again = Genotype.from_json(genotype.to_json())
        assert again == genotype
        assert space.contains(again)
        assert space.sample(seed) == genotype
        keys.add(genotype.key())
    assert len(keys) > 990  # distinct cells, a space of millions


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.stem)
def test_renumbering_keeps_the_key_and_changes_do_not(path):
    space = load_space(str(path))
    for seed in range(50):
        genotype = space.sample(seed)
        other = renumber(genotype, seed)
        assert other != genotype or len(genotype.ops) == 1
        assert other.key() == genotype.key()
        assert canonicalise(other) == canonicalise(genotype)
        assert space.mutate(genotype, seed).key() != genotype.key()


def test_key_sees_wiring_labels_and_kv_only_when_read():
    base = {
        "schema": "attention-nas/genotype@1",
        "kv_source": "op_input",
        "preprocess": {"channels": 0.25, "height": 7, "width": 7, "frames": 8},
        "ops": [
            {"id": 1, "kind": "map", "choices": {"dimension": "temporal"}, "inputs": [{"from": 0}]},
            {"id": 2, "kind": "map", "choices": {"dimension": "spatial"}, "inputs": [{"from": 1}]},
        ],
        "combine": {"mode": "concat", "outputs": [2], "weights": None},
    }
    g = Genotype.from_json(base)
    swapped = json.loads(json.dumps(base))
    swapped["ops"][0]["choices"]["dimension"], swapped["ops"][1]["choices"]["dimension"] = "spatial", "temporal"
    assert Genotype.from_json(swapped).key() != g.key()  # temporal then spatial is not spatial then temporal
    no_kv = json.loads(json.dumps(base))
    no_kv["kv_source"] = "cell_input"
    assert Genotype.from_json(no_kv).key() == g.key()  # map ops do not read keys/values
    dot = json.loads(json.dumps(base))
    dot["ops"][0]["kind"] = "dot_product"
    dot_cell = json.loads(json.dumps(dot))
    dot_cell["kv_source"] = "cell_input"
    assert Genotype.from_json(dot).key() != Genotype.from_json(dot_cell).key()


def test_omitted_choices_take_defaults_and_keep_the_key():
    explicit = {
        "schema": "attention-nas/genotype@1",
        "kv_source": "op_input",
        "preprocess": {"channels": 16, "height": 7, "width": 7, "frames": 8},
        "ops": [{"id": 1, "kind": "dot_product", "choices": {"dimension": "spatiotemporal", "activation": "softmax", "scale": True},
                 "gating": False, "inputs": [{"from": 0, "weight": 1.0}]}],
        "combine": {"mode": "concat", "outputs": [1], "weights": None},
    }
    short = json.loads(json.dumps(explicit))
    short["ops"][0]["choices"] = {}
    del short["ops"][0]["gating"]
    assert Genotype.from_json(short) == Genotype.from_json(explicit)


def test_model_genotype_everywhere_and_per_position(gpb_space):
    a, b = gpb_space.sample(0), gpb_space.sample(1)
    everywhere = ModelGenotype.everywhere(a)
    assert everywhere.resolve(["s2", "s3"]) == {"s2": a, "s3": a}
    per = ModelGenotype({"s3": b, "s2": a})
    assert list(per.resolve(["s2", "s3"])) == ["s2", "s3"]
    assert ModelGenotype.from_json(per.to_json()) == per
    assert ModelGenotype.from_json(a.to_json()) == everywhere  # a plain cell means everywhere
    with pytest.raises(UserError, match="position '4a'"):
        ModelGenotype({"4a": a}).resolve(["s2", "s3"])


def test_read_genotype_says_whether_it_read_a_cell_or_a_model(gpb_space, tmp_path):
    from nas.space import load_genotype, read_genotype

    cell = gpb_space.sample(3)
    model = ModelGenotype({"s2": cell, "s3": gpb_space.sample(4)})
    (tmp_path / "cell.json").write_text(cell.to_json())
    (tmp_path / "model.json").write_text(model.to_json())
    for source in (tmp_path / "cell.json", str(tmp_path / "cell.json"), cell.to_json(), cell.to_dict()):
        read = read_genotype(source)
        assert read.kind == "cell" and isinstance(read, Genotype) and read == cell
    for source in (tmp_path / "model.json", model.to_json(), model.to_dict()):
        read = read_genotype(source)
        assert read.kind == "model" and isinstance(read, ModelGenotype) and read == model
    # a GP-bandit search's best_genotype.json is a model genotype with one cell everywhere
    best = ROOT / "results" / "search" / "gp_bandit" / "best_genotype.json"
    assert read_genotype(best).kind == "model"
    assert load_genotype(best) == read_genotype(best).cells["*"]
    with pytest.raises(UserError, match="a cell per position \\(s2, s3\\)"):
        load_genotype(tmp_path / "model.json")


@pytest.mark.parametrize("source, message", [
    ({"schema": "attention-nas/space@1"}, "genotype: schema: neither a cell genotype"),
    ('{"ops": []}', "genotype JSON: schema: neither a cell genotype .* got None"),
    ("[1, 2]", "genotype JSON: document: expected a mapping"),
    ("no/such/file.json", "not found"),
    (3.5, "a file path, JSON text or a dict, not float"),
])
def test_read_genotype_refuses_what_is_neither_in_one_line(source, message):
    from nas.space import read_genotype

    with pytest.raises(UserError, match=message) as caught:
        read_genotype(source)
    assert "\n" not in str(caught.value)
