"""Optional op choices (the reference-exact variants): left out of genotypes and search spaces at
their default, so every cell written before them keeps its JSON and canonical key."""

from __future__ import annotations

import pytest
import torch

from nas.errors import UserError
from nas.ops import OPS, FeatureShape
from nas.ops.cost import op_flops, op_module
from nas.space.dsl import parse_space
from nas.space.genotype import Genotype

OPTIONAL = {
    "patch_shift": {"direction": "reference", "tiling": "window", "shift_window": 7},
    "relational": {"identity": "learned", "norm": "reference"},
    "non_local": {"pool_rounding": "floor"},
    "divided_st": {"temporal_init": "zero"},
}

CELL = {
    "schema": "attention-nas/genotype@1", "kv_source": "cell_input",
    "preprocess": {"channels": 16, "height": 7, "width": 7, "frames": 8},
    "ops": [{"id": 1, "kind": "relational", "inputs": [{"from": 0}]},
            {"id": 2, "kind": "patch_shift", "inputs": [{"from": 1}]},
            {"id": 3, "kind": "non_local", "inputs": [{"from": 0}]},
            {"id": 4, "kind": "divided_st", "inputs": [{"from": 2}, {"from": 3}]}],
    "combine": {"mode": "concat", "outputs": [4]},
}  # fmt: skip
KEY_BEFORE_THE_OPTIONS = "eb4caec1893de9e7"  # Genotype.from_json(CELL).key() at commit 8f399e7


def cell(**choices_by_op: dict) -> Genotype:
    ops = [{**op, "choices": choices_by_op.get(op["kind"], {})} for op in CELL["ops"]]
    return Genotype.from_json({**CELL, "ops": ops})


TODAY = {"direction": "forward", "tiling": "map", "shift_window": 7, "identity": "constant", "norm": "max",
         "pool_rounding": "ceil", "temporal_init": "default"}


def test_every_reference_option_is_optional_with_todays_behaviour_as_default():
    for kind, options in OPTIONAL.items():
        entry = OPS.get(kind)
        assert all(entry.choice_by_name[name].optional for name in options), kind
        complete = entry.complete({})  # what the op's module receives when a genotype names none
        assert {name: complete[name] for name in options} == {name: TODAY[name] for name in options}


@pytest.mark.parametrize("kind", sorted(OPTIONAL))
def test_defaults_are_left_out_and_other_values_kept(kind):
    options = OPTIONAL[kind]
    searched = OPS.resolve_choices(kind, {})
    assert not set(searched) & set(options)  # nothing optional at its default
    defaults = {name: OPS.get(kind).choice_by_name[name].default for name in options}
    assert OPS.resolve_choices(kind, defaults) == searched
    chosen = OPS.resolve_choices(kind, options)
    assert {n: v for n, v in chosen.items() if n in options} == {n: v for n, v in options.items() if v != defaults[n]}


def test_default_cells_keep_their_json_and_key():
    explicit = cell(relational={"identity": "constant", "norm": "max"}, non_local={"pool_rounding": "ceil"},
                    patch_shift={"direction": "forward", "tiling": "map", "shift_window": 7},
                    divided_st={"temporal_init": "default"})
    assert cell().key() == explicit.key() == KEY_BEFORE_THE_OPTIONS
    assert explicit.to_json() == cell().to_json()
    assert '"identity"' not in explicit.to_json()
    for kind, options in OPTIONAL.items():
        changed = cell(**{kind: options})
        assert changed.key() != KEY_BEFORE_THE_OPTIONS
        assert Genotype.from_json(changed.to_json()) == changed  # round trip keeps the option


def test_bad_values_are_refused_with_the_choice_named():
    with pytest.raises(UserError, match="choices.identity: must be one of 'constant', 'learned'"):
        OPS.resolve_choices("relational", {"identity": "trainable"})
    with pytest.raises(UserError, match="choices.shift_window: must be a positive integer"):
        OPS.resolve_choices("patch_shift", {"shift_window": 0})


def space(kinds: dict) -> dict:
    return {
        "schema": "attention-nas/space@1", "name": "t", "cell": {"num_ops": 2, "inputs_per_op": 1, "kv_source": ["cell_input"]},
        "preprocess": {"channels": [8], "height": [7], "width": [7], "frames": [4]},
        "ops": {"gating": [False], "kinds": kinds},
    }  # fmt: skip


def test_a_space_varies_an_optional_choice_only_when_it_names_it():
    plain = parse_space(space({"relational": {"window": ["3x3x3"]}}))
    assert [v.name for v in plain.variables() if "identity" in v.name] == []
    named = parse_space(space({"relational": {"window": ["3x3x3"], "identity": ["constant", "learned"]}}))
    cells = [named.sample(seed) for seed in range(16)]
    stored = {spec.choices.get("identity", "left out") for c in cells for spec in c.ops}
    assert stored == {"left out", "learned"}  # the default is left out, as in a genotype file
    for c in cells:
        assert named.contains(c) and named.to_params(c) and named.from_params(named.to_params(c)) == c
    default_cell = next(c for c in cells if all("identity" not in s.choices for s in c.ops))
    assert plain.contains(default_cell)  # same cell, same key, whichever space it came from
    assert not plain.contains(next(c for c in cells if any("identity" in s.choices for s in c.ops)))


def test_options_reach_the_built_op():
    shape = FeatureShape(16, 8, 7, 7)
    pool = op_module("non_local", {"pool_rounding": "floor"}, shape).op.block.pool
    assert pool(torch.zeros(1, 16, 8, 7, 7)).shape[-2:] == (3, 3)
    assert op_module("relational", {"identity": "learned"}, shape).op.identity.shape == (2, 2)  # c = 16 / 8
    assert op_module("relational", {"norm": "reference"}, shape).op.norm == "reference"
    assert op_module("divided_st", {"temporal_init": "zero"}, shape).op.temporal_out.weight.abs().sum() == 0
    reference = op_module("patch_shift", {"direction": "reference"}, shape).op
    assert torch.equal(reference.offsets, -op_module("patch_shift", {}, shape).op.offsets)
    # floor pooling: the keys of a 7x7 map are 3x3 = 9 positions instead of 16 (the matmuls scale with them)
    ceil, floor = (op_flops("non_local", {"pool_rounding": r}, shape).by_category["matmul"] for r in ("ceil", "floor"))
    assert floor * 16 == ceil * 9


def test_readme_numbers_of_the_options():
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    shape = FeatureShape(120, 8, 7, 7)  # I3D 4a after the paper's pre-processing, batch 32
    floor = op_flops("non_local", {"pool_rounding": "floor"}, shape, batch=32)
    line = (f"at 32x120x8x7x7: {floor.flops / 1e6:.2f} MFLOPs (multiply-add = 2 FLOPs), {floor.params} parameters")
    assert f"non_local (pool=1x2x2, pool_rounding=floor; keys/values from cell_input) {line}" in readme
    assert f"matmul {floor.by_category['matmul'] / 1e6:.2f}, pool {floor.by_category['pool'] / 1e6:.2f}" in readme
    learned = op_flops("relational", {"window": "3x5x5", "identity": "learned"}, shape).params
    assert learned - op_flops("relational", {"window": "3x5x5"}, shape).params == 225 == 15**2
    assert "c^2 more parameters per op: 225 at C = 120, L = 8" in readme
